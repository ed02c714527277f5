/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A model combo (the models the plug-in found, plus "Other…" for a file
 * chooser) with a line of information about the chosen model.  Its
 * "value" property is what the procedure's "model" argument holds, so the
 * two are simply bound together.
 */

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "vae-ui-model-chooser.h"

#define OTHER_ID "\001other"

struct _VaeUiModelChooser
{
  GtkBox     parent_instance;

  GtkWidget  *combo;
  GtkWidget  *info;
  gchar      *value;
  gchar     **suffixes;   /* of model files, for the file chooser */
  gboolean    updating;
};

enum
{
  PROP_0,
  PROP_VALUE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

G_DEFINE_TYPE (VaeUiModelChooser, vae_ui_model_chooser, GTK_TYPE_BOX)

static gboolean
combo_has_id (GtkComboBox *combo,
              const gchar *id)
{
  GtkTreeModel *model = gtk_combo_box_get_model (combo);
  GtkTreeIter   iter;
  gint          id_column = gtk_combo_box_get_id_column (combo);
  gboolean      valid;

  for (valid = gtk_tree_model_get_iter_first (model, &iter);
       valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gchar    *other = NULL;
      gboolean  same;

      gtk_tree_model_get (model, &iter, id_column, &other, -1);
      same = g_strcmp0 (other, id) == 0;
      g_free (other);
      if (same)
        return TRUE;
    }

  return FALSE;
}

/* Keeps "Other…" last: custom paths go just before it. */
static void
combo_insert_custom (VaeUiModelChooser *chooser,
                     const gchar       *path)
{
  GtkComboBox  *combo = GTK_COMBO_BOX (chooser->combo);
  GtkTreeModel *model = gtk_combo_box_get_model (combo);
  gint          n     = gtk_tree_model_iter_n_children (model, NULL);
  gchar        *base  = g_path_get_basename (path);

  gtk_combo_box_text_insert (GTK_COMBO_BOX_TEXT (combo), MAX (n - 1, 0),
                             path, base);
  g_free (base);
}

static void
select_value (VaeUiModelChooser *chooser)
{
  GtkComboBox *combo = GTK_COMBO_BOX (chooser->combo);
  const gchar *value = chooser->value != NULL ? chooser->value : "";

  if (! combo_has_id (combo, value))
    combo_insert_custom (chooser, value);

  chooser->updating = TRUE;
  gtk_combo_box_set_active_id (combo, value);
  chooser->updating = FALSE;
}

static gchar *
choose_file (VaeUiModelChooser *chooser)
{
  GtkWidget     *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (chooser));
  GtkWidget     *dialog;
  GtkFileFilter *filter;
  gchar         *path = NULL;
  guint          i;

  dialog = gtk_file_chooser_dialog_new (_("Choose a Model"),
                                        GTK_IS_WINDOW (toplevel) ?
                                        GTK_WINDOW (toplevel) : NULL,
                                        GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Cancel"), GTK_RESPONSE_CANCEL,
                                        _("_Open"),   GTK_RESPONSE_ACCEPT,
                                        NULL);

  if (chooser->suffixes != NULL)
    {
      filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("Model weights"));
      for (i = 0; chooser->suffixes[i] != NULL; i++)
        {
          gchar *pattern = g_strconcat ("*", chooser->suffixes[i], NULL);

          gtk_file_filter_add_pattern (filter, pattern);
          g_free (pattern);
        }
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
    }

  if (gtk_dialog_run (GTK_DIALOG (dialog)) == GTK_RESPONSE_ACCEPT)
    path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (dialog));
  gtk_widget_destroy (dialog);

  return path;
}

static void
combo_changed (GtkComboBox       *combo,
               VaeUiModelChooser *chooser)
{
  const gchar *id = gtk_combo_box_get_active_id (combo);

  if (chooser->updating || id == NULL)
    return;

  if (g_strcmp0 (id, OTHER_ID) == 0)
    {
      gchar *path = choose_file (chooser);

      if (path != NULL)
        vae_ui_model_chooser_set_value (chooser, path);
      else
        select_value (chooser);
      g_free (path);
      return;
    }

  if (g_strcmp0 (id, chooser->value) != 0)
    {
      g_free (chooser->value);
      chooser->value = g_strdup (id);
      g_object_notify_by_pspec (G_OBJECT (chooser), props[PROP_VALUE]);
    }
}

static void
vae_ui_model_chooser_set_property (GObject      *object,
                                   guint         property_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  VaeUiModelChooser *chooser = VAE_UI_MODEL_CHOOSER (object);

  switch (property_id)
    {
    case PROP_VALUE:
      vae_ui_model_chooser_set_value (chooser, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, property_id, pspec);
    }
}

static void
vae_ui_model_chooser_get_property (GObject    *object,
                                   guint       property_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  VaeUiModelChooser *chooser = VAE_UI_MODEL_CHOOSER (object);

  switch (property_id)
    {
    case PROP_VALUE:
      g_value_set_string (value, chooser->value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, property_id, pspec);
    }
}

static void
vae_ui_model_chooser_finalize (GObject *object)
{
  VaeUiModelChooser *chooser = VAE_UI_MODEL_CHOOSER (object);

  g_free (chooser->value);
  g_strfreev (chooser->suffixes);

  G_OBJECT_CLASS (vae_ui_model_chooser_parent_class)->finalize (object);
}

static void
vae_ui_model_chooser_class_init (VaeUiModelChooserClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = vae_ui_model_chooser_set_property;
  object_class->get_property = vae_ui_model_chooser_get_property;
  object_class->finalize     = vae_ui_model_chooser_finalize;

  props[PROP_VALUE] =
    g_param_spec_string ("value", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
vae_ui_model_chooser_init (VaeUiModelChooser *chooser)
{
  chooser->value = g_strdup ("");
}

/**
 * vae_ui_model_chooser_new:
 * @label: the label with a mnemonic, e.g. "_Model"
 *
 * Returns: (transfer floating): a chooser with only "Other…" in it; add the
 *   known models with vae_ui_model_chooser_append().
 */
GtkWidget *
vae_ui_model_chooser_new (const gchar *label)
{
  VaeUiModelChooser *chooser;
  GtkWidget         *hbox;
  GtkWidget         *title;

  chooser = g_object_new (VAE_UI_TYPE_MODEL_CHOOSER,
                          "orientation", GTK_ORIENTATION_VERTICAL,
                          "spacing",     4,
                          NULL);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (chooser), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  title = gtk_label_new_with_mnemonic (label);
  gtk_box_pack_start (GTK_BOX (hbox), title, FALSE, FALSE, 0);
  gtk_widget_show (title);

  chooser->combo = gtk_combo_box_text_new ();
  gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (chooser->combo), OTHER_ID,
                             _("Other…"));
  gtk_label_set_mnemonic_widget (GTK_LABEL (title), chooser->combo);
  gtk_box_pack_start (GTK_BOX (hbox), chooser->combo, TRUE, TRUE, 0);
  gtk_widget_show (chooser->combo);
  g_signal_connect (chooser->combo, "changed",
                    G_CALLBACK (combo_changed), chooser);

  chooser->info = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (chooser->info), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (chooser->info), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (chooser->info), 48);
  gtk_label_set_selectable (GTK_LABEL (chooser->info), TRUE);
  gtk_box_pack_start (GTK_BOX (chooser), chooser->info, FALSE, FALSE, 0);
  gtk_widget_show (chooser->info);

  return GTK_WIDGET (chooser);
}

/**
 * vae_ui_model_chooser_append:
 * @chooser: the chooser
 * @value: what the "value" property becomes when this entry is chosen
 * @text: what the combo shows
 */
void
vae_ui_model_chooser_append (VaeUiModelChooser *chooser,
                             const gchar       *value,
                             const gchar       *text)
{
  GtkComboBox  *combo = GTK_COMBO_BOX (chooser->combo);
  GtkTreeModel *model = gtk_combo_box_get_model (combo);
  gint          n     = gtk_tree_model_iter_n_children (model, NULL);

  g_return_if_fail (VAE_UI_IS_MODEL_CHOOSER (chooser));

  gtk_combo_box_text_insert (GTK_COMBO_BOX_TEXT (combo), MAX (n - 1, 0),
                             value, text);
  if (g_strcmp0 (value, chooser->value) == 0)
    select_value (chooser);
}

const gchar *
vae_ui_model_chooser_get_value (VaeUiModelChooser *chooser)
{
  g_return_val_if_fail (VAE_UI_IS_MODEL_CHOOSER (chooser), NULL);

  return chooser->value;
}

void
vae_ui_model_chooser_set_value (VaeUiModelChooser *chooser,
                                const gchar       *value)
{
  g_return_if_fail (VAE_UI_IS_MODEL_CHOOSER (chooser));

  if (value == NULL)
    value = "";

  if (g_strcmp0 (value, chooser->value) != 0)
    {
      g_free (chooser->value);
      chooser->value = g_strdup (value);
      g_object_notify_by_pspec (G_OBJECT (chooser), props[PROP_VALUE]);
    }
  select_value (chooser);
}

/**
 * vae_ui_model_chooser_set_file_suffixes:
 * @chooser: the chooser
 * @suffixes: (array zero-terminated=1): the endings of model files, with
 *   their dot (".safetensors"), that "Other…" offers
 */
void
vae_ui_model_chooser_set_file_suffixes (VaeUiModelChooser   *chooser,
                                        const gchar * const *suffixes)
{
  g_return_if_fail (VAE_UI_IS_MODEL_CHOOSER (chooser));

  g_strfreev (chooser->suffixes);
  chooser->suffixes = g_strdupv ((gchar **) suffixes);
}

/**
 * vae_ui_model_chooser_set_info:
 * @chooser: the chooser
 * @markup: Pango markup describing the chosen model
 */
void
vae_ui_model_chooser_set_info (VaeUiModelChooser *chooser,
                               const gchar       *markup)
{
  g_return_if_fail (VAE_UI_IS_MODEL_CHOOSER (chooser));

  gtk_label_set_markup (GTK_LABEL (chooser->info), markup);
}
