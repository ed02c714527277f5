/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-models.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

typedef struct
{
  GimpProcedureConfig   *config;
  GtkWidget             *chooser;
  VaeModel              *model;
  gint                   width;
  gint                   height;
  VaeLatent             *latent;
  VaePluginModelChanged  changed;
  gpointer               changed_data;
} ModelChoice;

/**
 * vae_plugin_dialog_pack:
 * @dialog: a #GimpProcedureDialog, already filled
 * @widget: a widget of ours
 * @position: where among the dialog's rows; -1 for the end
 *
 * Adds @widget to the rows gimp_procedure_dialog_fill() made.
 */
void
vae_plugin_dialog_pack (GtkWidget *dialog,
                        GtkWidget *widget,
                        gint       position)
{
  GtkWidget *content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));

  gtk_box_pack_start (GTK_BOX (content), widget, FALSE, FALSE, 0);
  if (position >= 0)
    gtk_box_reorder_child (GTK_BOX (content), widget, position);
  gtk_widget_show (widget);
}

/**
 * vae_plugin_dialog_run:
 * @dialog: (transfer full): the dialog
 *
 * Runs @dialog and destroys it, which also cancels its previews.
 *
 * Returns: %TRUE when the user pressed OK.
 */
gboolean
vae_plugin_dialog_run (GtkWidget *dialog)
{
  gboolean run;

  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);

  return run;
}

/**
 * vae_plugin_dialog_run_watching:
 * @dialog: (transfer full): the dialog
 * @config: the procedure's config
 * @notify: a #GObject::notify handler for @config
 * @data: its user data
 *
 * vae_plugin_dialog_run (), with @notify called on every change of
 * @config while the dialog runs, and only then: @data lives no longer.
 *
 * Returns: %TRUE when the user pressed OK.
 */
gboolean
vae_plugin_dialog_run_watching (GtkWidget           *dialog,
                                GimpProcedureConfig *config,
                                GCallback            notify,
                                gpointer             data)
{
  gulong   handler;
  gboolean run;

  handler = g_signal_connect (config, "notify", notify, data);
  run = vae_plugin_dialog_run (dialog);
  g_signal_handler_disconnect (config, handler);

  return run;
}

static void
model_choice_free (gpointer data)
{
  ModelChoice *choice = data;

  vae_model_unref (choice->model);
  vae_latent_unref (choice->latent);
  g_free (choice);
}

static gchar *
model_info (ModelChoice *choice)
{
  VaeModel *model  = choice->model;
  guint     factor = vae_model_get_factor (model);
  GString  *text   = g_string_new (NULL);
  gchar    *escaped;

  escaped = g_markup_escape_text (vae_model_get_name (model), -1);
  g_string_append_printf (text,
                          _("<b>%s</b>: downscales by %u, %u latent "
                            "channels, %.2f million parameters"),
                          escaped, factor,
                          vae_model_get_latent_channels (model),
                          vae_model_get_n_params (model) / 1e6);
  g_free (escaped);

  if (choice->latent != NULL)
    {
      guint w = vae_latent_get_width (choice->latent);
      guint h = vae_latent_get_height (choice->latent);

      g_string_append_c (text, '\n');
      g_string_append_printf (text,
                              _("These latents: %u × %u × %u = %u tokens"),
                              vae_latent_get_channels (choice->latent),
                              w, h, w * h);
    }
  else if (choice->width > 0 && choice->height > 0)
    {
      guint w = (choice->width + factor - 1) / factor;
      guint h = (choice->height + factor - 1) / factor;

      g_string_append_c (text, '\n');
      g_string_append_printf (text,
                              _("This layer (%d × %d) becomes %u × %u "
                                "latents = %u tokens"),
                              choice->width, choice->height, w, h, w * h);
    }

  return g_string_free (text, FALSE);
}

static void
model_value_changed (GObject     *chooser,
                     GParamSpec  *pspec,
                     ModelChoice *choice)
{
  const gchar *value  = vae_ui_model_chooser_get_value (VAE_UI_MODEL_CHOOSER (chooser));
  GError      *error  = NULL;
  gchar       *markup;

  g_clear_pointer (&choice->model, vae_model_unref);

  if (choice->latent != NULL)
    choice->model = vae_plugin_models_load_for (value, choice->latent, &error);
  else
    choice->model = vae_plugin_models_load (value, &error);

  if (choice->model != NULL && choice->latent != NULL &&
      ! vae_plugin_check_latent_model (choice->model, choice->latent, &error))
    g_clear_pointer (&choice->model, vae_model_unref);

  if (choice->model != NULL)
    {
      markup = model_info (choice);
    }
  else
    {
      gchar *escaped = g_markup_escape_text (error->message, -1);

      markup = g_strdup_printf ("<span foreground=\"#c01c28\">%s</span>",
                                escaped);
      g_free (escaped);
      g_clear_error (&error);
    }
  vae_ui_model_chooser_set_info (VAE_UI_MODEL_CHOOSER (chooser), markup);
  g_free (markup);

  if (choice->changed != NULL)
    choice->changed (choice->model, choice->changed_data);
}

static GdkPixbuf *
tensor_to_pixbuf (const VaeTensor *rgb)
{
  gint       h = vae_tensor_get_dim (rgb, 1);
  gint       w = vae_tensor_get_dim (rgb, 2);
  GdkPixbuf *pixbuf;

  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, w, h);
  /* A preview-sized [3, h, w] tensor with a pixbuf of its size: the
   * conversion cannot fail. */
  vae_tensor_to_pixels (rgb, NULL, 0, h, gdk_pixbuf_get_pixels (pixbuf),
                        VAE_PIXEL_FORMAT_RGB_U8,
                        gdk_pixbuf_get_rowstride (pixbuf), NULL);

  return pixbuf;
}

/**
 * vae_plugin_render_picture:
 * @render: a preview computation
 * @slot: which of the preview's pictures
 * @rgb: [3, h, w] R'G'B' in [0, 1]
 *
 * Shows @rgb in the preview.  Call it from the render function.
 */
void
vae_plugin_render_picture (VaeUiRender     *render,
                           guint            slot,
                           const VaeTensor *rgb)
{
  GdkPixbuf *pixbuf = tensor_to_pixbuf (rgb);

  vae_ui_render_deliver (render, slot, pixbuf);
  g_object_unref (pixbuf);
}

/**
 * vae_plugin_model_choice_new:
 * @config: the procedure config with a "model" property
 * @width: the layer's width, to tell how many tokens it makes; 0 if none
 * @height: the layer's height
 * @latent: (nullable): latents to decode; the chooser then checks the model
 *   against them and an empty choice means "the model that made them"
 * @changed: (nullable): called with the loaded model after each later
 *   change (not for the first model)
 * @data: data for @changed
 *
 * Returns: (transfer floating): the model chooser, listing the models in
 *   the search path and bound to @config's "model".
 */
GtkWidget *
vae_plugin_model_choice_new (GimpProcedureConfig   *config,
                             gint                   width,
                             gint                   height,
                             const VaeLatent       *latent,
                             VaePluginModelChanged  changed,
                             gpointer               data)
{
  ModelChoice               *choice;
  GPtrArray                 *entries;
  const VaePluginModelEntry *fallback;
  gchar                     *text;
  guint                      i;

  choice = g_new0 (ModelChoice, 1);
  choice->config       = config;
  choice->width        = width;
  choice->height       = height;
  choice->latent       = latent != NULL ? vae_latent_ref ((VaeLatent *) latent)
                                        : NULL;
  choice->chooser      = vae_ui_model_chooser_new (_("_Model"));
  vae_ui_model_chooser_set_file_suffixes (VAE_UI_MODEL_CHOOSER (choice->chooser),
                                          vae_weight_file_suffixes ());
  g_object_set_data_full (G_OBJECT (choice->chooser), "vae-model-choice",
                          choice, model_choice_free);

  entries = vae_plugin_models_find ();
  fallback = vae_plugin_models_default (entries);

  if (latent != NULL)
    text = g_strdup (_("The model that made the latents"));
  else if (fallback != NULL)
    text = g_strdup_printf (_("Default (%s)"), fallback->name);
  else
    text = g_strdup (_("Default (none installed)"));
  vae_ui_model_chooser_append (VAE_UI_MODEL_CHOOSER (choice->chooser), "", text);
  g_free (text);

  for (i = 0; i < entries->len; i++)
    {
      const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);

      vae_ui_model_chooser_append (VAE_UI_MODEL_CHOOSER (choice->chooser),
                                   entry->name, entry->name);
    }
  g_ptr_array_unref (entries);

  g_signal_connect (choice->chooser, "notify::value",
                    G_CALLBACK (model_value_changed), choice);
  g_object_bind_property (config, "model", choice->chooser, "value",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  model_value_changed (G_OBJECT (choice->chooser), NULL, choice);

  /* Only from now on: the caller's state is not complete before this
   * returns.
   */
  choice->changed      = changed;
  choice->changed_data = data;

  return choice->chooser;
}

/**
 * vae_plugin_model_choice_set_latent:
 * @choice: a chooser from vae_plugin_model_choice_new()
 * @latent: (nullable): the latents to decode now
 *
 * Switches the chooser to other latents (another .latent file was picked):
 * the model is looked up and checked again and the changed callback runs.
 */
void
vae_plugin_model_choice_set_latent (GtkWidget       *choice,
                                    const VaeLatent *latent)
{
  ModelChoice *data = g_object_get_data (G_OBJECT (choice), "vae-model-choice");

  g_clear_pointer (&data->latent, vae_latent_unref);
  if (latent != NULL)
    data->latent = vae_latent_ref ((VaeLatent *) latent);
  model_value_changed (G_OBJECT (choice), NULL, data);
}

/**
 * vae_plugin_model_choice_get_model:
 * @choice: a chooser from vae_plugin_model_choice_new()
 *
 * Returns: (transfer none) (nullable): the chosen model, loaded.
 */
VaeModel *
vae_plugin_model_choice_get_model (GtkWidget *choice)
{
  ModelChoice *data = g_object_get_data (G_OBJECT (choice), "vae-model-choice");

  return data != NULL ? data->model : NULL;
}
