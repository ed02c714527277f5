/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Per-channel gain and offset of latents: one row per channel, written to
 * two double-array properties of the procedure's config (an empty array
 * means "no per-channel change", which is also what Reset gives).
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "vae-ui-channel-editor.h"

struct _VaeUiChannelEditor
{
  GtkBox      parent_instance;

  GObject    *config;
  gchar      *gain_property;
  gchar      *offset_property;
  guint       n_channels;
  GPtrArray  *gains;     /* GtkAdjustment */
  GPtrArray  *offsets;   /* GtkAdjustment */
  gboolean    updating;
};

G_DEFINE_TYPE (VaeUiChannelEditor, vae_ui_channel_editor, GTK_TYPE_BOX)

/**
 * vae_ui_config_dup_doubles:
 * @config: a procedure config
 * @property: the name of one of its double-array properties
 * @length: (out): the number of values
 *
 * Reads a double-array property of @config.  An unset array reads as an
 * empty one.
 *
 * Returns: (transfer full) (nullable) (array length=length): the values,
 *   %NULL when there are none.
 */
gdouble *
vae_ui_config_dup_doubles (GObject     *config,
                           const gchar *property,
                           gsize       *length)
{
  GValue     value  = G_VALUE_INIT;
  GimpArray *array;
  gdouble   *values = NULL;

  *length = 0;
  g_value_init (&value, GIMP_TYPE_DOUBLE_ARRAY);
  g_object_get_property (config, property, &value);

  /* A double-array argument takes no default in GIMP 3.0: its default is
   * no array at all (NULL), not an empty one.  libgimp gives each argument
   * a caller leaves out its default, and GIMP's menus pass only run-mode,
   * image and drawables, so a run from the menu starts with NULL until a
   * run has stored last-used values; Reset to Factory Defaults sets NULL
   * again.  gimp_value_dup_double_array() (3.0.4) dereferences it
   * unchecked.
   */
  array = g_value_get_boxed (&value);
  if (array != NULL && array->length > 0)
    values = gimp_value_dup_double_array (&value, length);

  g_value_unset (&value);

  return values;
}

static void
write_array (GObject       *config,
             const gchar   *property,
             const gdouble *values,
             gsize          length)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, GIMP_TYPE_DOUBLE_ARRAY);
  gimp_value_set_double_array (&value, values, length);
  g_object_set_property (config, property, &value);
  g_value_unset (&value);
}

static void
store (VaeUiChannelEditor *editor,
       GPtrArray          *adjustments,
       const gchar        *property,
       gdouble             neutral)
{
  gdouble  *values = g_new (gdouble, editor->n_channels);
  gboolean  all_neutral = TRUE;
  guint     i;

  for (i = 0; i < editor->n_channels; i++)
    {
      values[i] = gtk_adjustment_get_value (g_ptr_array_index (adjustments, i));
      if (values[i] != neutral)
        all_neutral = FALSE;
    }

  write_array (editor->config, property, values,
               all_neutral ? 0 : editor->n_channels);
  g_free (values);
}

static void
adjustment_changed (GtkAdjustment      *adjustment,
                    VaeUiChannelEditor *editor)
{
  if (editor->updating)
    return;

  editor->updating = TRUE;
  store (editor, editor->gains, editor->gain_property, 1.0);
  store (editor, editor->offsets, editor->offset_property, 0.0);
  editor->updating = FALSE;
}

static void
load (VaeUiChannelEditor *editor)
{
  gsize    n_gains   = 0;
  gsize    n_offsets = 0;
  gdouble *gains     = vae_ui_config_dup_doubles (editor->config,
                                                  editor->gain_property,
                                                  &n_gains);
  gdouble *offsets   = vae_ui_config_dup_doubles (editor->config,
                                                  editor->offset_property,
                                                  &n_offsets);
  guint    i;

  editor->updating = TRUE;
  for (i = 0; i < editor->n_channels; i++)
    {
      gtk_adjustment_set_value (g_ptr_array_index (editor->gains, i),
                                i < n_gains ? gains[i] : 1.0);
      gtk_adjustment_set_value (g_ptr_array_index (editor->offsets, i),
                                i < n_offsets ? offsets[i] : 0.0);
    }
  editor->updating = FALSE;

  g_free (gains);
  g_free (offsets);
}

static void
config_notify (GObject            *config,
               GParamSpec         *pspec,
               VaeUiChannelEditor *editor)
{
  if (! editor->updating &&
      (g_strcmp0 (pspec->name, editor->gain_property) == 0 ||
       g_strcmp0 (pspec->name, editor->offset_property) == 0))
    load (editor);
}

static void
reset_clicked (GtkButton          *button,
               VaeUiChannelEditor *editor)
{
  write_array (editor->config, editor->gain_property, NULL, 0);
  write_array (editor->config, editor->offset_property, NULL, 0);
}

static void
vae_ui_channel_editor_dispose (GObject *object)
{
  VaeUiChannelEditor *editor = VAE_UI_CHANNEL_EDITOR (object);

  if (editor->config != NULL)
    {
      g_signal_handlers_disconnect_by_data (editor->config, editor);
      g_clear_object (&editor->config);
    }
  g_clear_pointer (&editor->gains, g_ptr_array_unref);
  g_clear_pointer (&editor->offsets, g_ptr_array_unref);

  G_OBJECT_CLASS (vae_ui_channel_editor_parent_class)->dispose (object);
}

static void
vae_ui_channel_editor_finalize (GObject *object)
{
  VaeUiChannelEditor *editor = VAE_UI_CHANNEL_EDITOR (object);

  g_free (editor->gain_property);
  g_free (editor->offset_property);

  G_OBJECT_CLASS (vae_ui_channel_editor_parent_class)->finalize (object);
}

static void
vae_ui_channel_editor_class_init (VaeUiChannelEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose  = vae_ui_channel_editor_dispose;
  object_class->finalize = vae_ui_channel_editor_finalize;
}

static void
vae_ui_channel_editor_init (VaeUiChannelEditor *editor)
{
  editor->gains   = g_ptr_array_new_with_free_func (g_object_unref);
  editor->offsets = g_ptr_array_new_with_free_func (g_object_unref);
}

static GtkWidget *
spin_for (GtkAdjustment *adjustment)
{
  GtkWidget *spin = gtk_spin_button_new (adjustment, 0.05, 2);

  gtk_entry_set_width_chars (GTK_ENTRY (spin), 5);

  return spin;
}

/**
 * vae_ui_channel_editor_new:
 * @config: the procedure config
 * @gain_property: its double-array property for per-channel gains
 * @offset_property: its double-array property for per-channel offsets
 * @n_channels: the number of latent channels
 *
 * Returns: (transfer floating): the editor.
 */
GtkWidget *
vae_ui_channel_editor_new (GObject     *config,
                           const gchar *gain_property,
                           const gchar *offset_property,
                           guint        n_channels)
{
  VaeUiChannelEditor *editor;
  GtkWidget          *scrolled;
  GtkWidget          *grid;
  GtkWidget          *label;
  GtkWidget          *button;
  guint               i;

  editor = g_object_new (VAE_UI_TYPE_CHANNEL_EDITOR,
                         "orientation", GTK_ORIENTATION_VERTICAL,
                         "spacing",     4,
                         NULL);
  editor->config          = g_object_ref (config);
  editor->gain_property   = g_strdup (gain_property);
  editor->offset_property = g_strdup (offset_property);
  editor->n_channels      = n_channels;

  scrolled = gtk_scrolled_window_new (NULL, NULL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scrolled),
                                              150);
  gtk_box_pack_start (GTK_BOX (editor), scrolled, TRUE, TRUE, 0);
  gtk_widget_show (scrolled);

  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 2);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  gtk_container_add (GTK_CONTAINER (scrolled), grid);
  gtk_widget_show (grid);

  label = gtk_label_new (_("Channel"));
  gtk_grid_attach (GTK_GRID (grid), label, 0, 0, 1, 1);
  label = gtk_label_new (_("Gain"));
  gtk_grid_attach (GTK_GRID (grid), label, 1, 0, 1, 1);
  label = gtk_label_new (_("Offset"));
  gtk_grid_attach (GTK_GRID (grid), label, 2, 0, 1, 1);

  for (i = 0; i < n_channels; i++)
    {
      GtkAdjustment *gain;
      GtkAdjustment *offset;
      gchar         *text = g_strdup_printf ("%u", i);

      gain   = gtk_adjustment_new (1.0, -4.0, 4.0, 0.05, 0.25, 0.0);
      offset = gtk_adjustment_new (0.0, -4.0, 4.0, 0.05, 0.25, 0.0);
      g_ptr_array_add (editor->gains, g_object_ref_sink (gain));
      g_ptr_array_add (editor->offsets, g_object_ref_sink (offset));

      label = gtk_label_new (text);
      g_free (text);
      gtk_grid_attach (GTK_GRID (grid), label, 0, i + 1, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), spin_for (gain), 1, i + 1, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), spin_for (offset), 2, i + 1, 1, 1);

      g_signal_connect (gain, "value-changed",
                        G_CALLBACK (adjustment_changed), editor);
      g_signal_connect (offset, "value-changed",
                        G_CALLBACK (adjustment_changed), editor);
    }
  gtk_widget_show_all (grid);

  button = gtk_button_new_with_mnemonic (_("Rese_t channels"));
  gtk_widget_set_halign (button, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (editor), button, FALSE, FALSE, 0);
  gtk_widget_show (button);
  g_signal_connect (button, "clicked", G_CALLBACK (reset_clicked), editor);

  load (editor);
  g_signal_connect (config, "notify", G_CALLBACK (config_notify), editor);

  return GTK_WIDGET (editor);
}
