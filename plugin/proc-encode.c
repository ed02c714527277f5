/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filters ▸ VAE ▸ Encode Layer to Latents: runs the encoder on the selected
 * layer (the selection's bounding box when there is a selection) and adds
 * a layer above it that shows the latents projected to RGB, scaled up to
 * the encoded area, and carries the latent tensor as a parasite.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

/* Largest side of the image the dialog's latent preview encodes. */
#define PREVIEW_SIDE 256

static GimpValueArray * encode_run    (const VaePluginRun   *run);
static gboolean         encode_dialog (const VaePluginRun   *run,
                                       GimpDrawable         *drawable);

GimpProcedure *
vae_encode_procedure_new (GimpPlugIn  *plug_in,
                          const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_plugin_image_procedure_new (plug_in, name, encode_run,
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLE,
                                              _("_Encode Layer to Latents..."),
                                              _("Encode a layer into latents"),
                                              _("Runs the chosen model's "
                                                "encoder on the selected "
                                                "layer, or on the bounding "
                                                "box of the selection.  The "
                                                "result is a new layer above "
                                                "it that shows the latents as "
                                                "colours and carries the "
                                                "latent tensor, kept in XCF "
                                                "files.  The latents can also "
                                                "be written to a .latent "
                                                "file."));
  gimp_procedure_add_file_argument (procedure, "latent-file",
                                    _("Also save to _file"),
                                    _("Also write the latents to this "
                                      ".latent file (optional)"),
                                    GIMP_FILE_CHOOSER_ACTION_SAVE,
                                    TRUE, NULL,
                                    G_PARAM_READWRITE);

  gimp_procedure_add_layer_return_value (procedure, "latent-layer",
                                         _("Latent layer"),
                                         _("The new layer that carries the "
                                           "latents"),
                                         FALSE,
                                         G_PARAM_READWRITE);

  return procedure;
}

/* The RGB projection of @latent, scaled up to the encoded area. */
static VaeTensor *
latent_picture (VaeModel         *model,
                const VaeLatent  *latent,
                gsize             width,
                gsize             height,
                GCancellable     *cancellable,
                GError          **error)
{
  g_autoptr (VaeLatentProjection) projection = NULL;
  g_autoptr (VaeTensor)           small = NULL;

  projection = vae_latent_projection_new (model,
                                          vae_latent_get_channels (latent),
                                          cancellable, error);
  if (projection == NULL)
    return NULL;

  small = vae_latent_projection_apply (projection, latent, error);
  if (small == NULL)
    return NULL;

  return vae_image_resize (small, width, height, error);
}

static GimpValueArray *
encode_run (const VaePluginRun *run)
{
  g_autoptr (VaeModel)  model   = NULL;
  g_autoptr (VaeLatent) latent  = NULL;
  g_autoptr (VaeTensor) picture = NULL;
  GimpDrawable         *drawable;
  GimpLayer            *layer;
  GimpLayer            *parent;
  GFile                *file   = NULL;
  GError               *error  = NULL;
  VaePluginPixels       pixels = { NULL, };
  VaePluginProgress     progress;
  gchar                *name;
  gchar                *base;
  gint                  position;
  gboolean              attached;

  drawable = vae_plugin_source_layer (run->drawables, &error);
  if (drawable == NULL)
    return vae_plugin_return_error (run->procedure, error);

  if (vae_plugin_interactive (run->run_mode) &&
      ! encode_dialog (run, drawable))
    return vae_plugin_return_cancel (run->procedure);

  model = vae_plugin_config_load_model (run->config, &error);
  if (model == NULL || ! vae_plugin_check_encoder (model, &error))
    return vae_plugin_return_error (run->procedure, error);

  if (! vae_plugin_pixels_read (drawable, TRUE, &pixels, &error))
    return vae_plugin_return_error (run->procedure, error);

  gimp_progress_init_printf (_("Encoding “%s” with %s"),
                             gimp_item_get_name (GIMP_ITEM (drawable)),
                             vae_plugin_model_label (model));
  vae_plugin_progress_span (&progress, 0.0, 0.9);
  if (! vae_model_encode (model, pixels.rgb, &latent, NULL, NULL,
                          vae_plugin_progress_func, &progress, &error))
    goto fail;

  picture = latent_picture (model, latent,
                            vae_tensor_get_dim (pixels.rgb, 2),
                            vae_tensor_get_dim (pixels.rgb, 1),
                            NULL, &error);
  if (picture == NULL)
    goto fail;
  gimp_progress_update (0.95);

  g_object_get (run->config, "latent-file", &file, NULL);
  if (file != NULL && ! vae_plugin_latent_save_file (latent, file, &error))
    goto fail;

  base = vae_plugin_base_name (gimp_item_get_name (GIMP_ITEM (drawable)));
  name = g_strdup_printf (_("%s (latents, %s)"), base,
                          vae_plugin_model_label (model));
  g_free (base);

  gimp_image_undo_group_start (run->image);
  vae_plugin_position_above (run->image, GIMP_ITEM (drawable),
                             &parent, &position);
  layer = vae_plugin_layer_add (run->image, name, picture, pixels.alpha,
                                parent, position, &error);
  attached = FALSE;
  if (layer != NULL)
    {
      gimp_layer_set_offsets (layer, pixels.x, pixels.y);
      attached = vae_plugin_latent_attach (GIMP_ITEM (layer), latent, &error);
      if (attached)
        {
          const GimpLayer *keep[] = { GIMP_LAYER (drawable), NULL };

          vae_plugin_latent_preview_mark (layer);
          /* The source stays selected, so that the next filter (say
           * Reconstruct) works on the photo and not on this picture of
           * its latents. */
          gimp_image_set_selected_layers (run->image, keep);
        }
      else
        {
          gimp_image_remove_layer (run->image, layer);
        }
    }
  gimp_image_undo_group_end (run->image);
  g_free (name);

  if (! attached)
    goto fail;

  g_clear_object (&file);
  vae_plugin_pixels_clear (&pixels);

  return vae_plugin_return_layer (run->procedure, layer);

 fail:
  g_clear_object (&file);
  vae_plugin_pixels_clear (&pixels);

  return vae_plugin_return_error (run->procedure, error);
}


/*  Below is only UI stuff  */

typedef struct
{
  GtkWidget *preview;
  VaeTensor *small;
} EncodeDialog;

typedef struct
{
  VaeModel  *model;
  VaeTensor *image;
} EncodePreviewJob;

static void
encode_preview_job_free (gpointer data)
{
  EncodePreviewJob *job = data;

  vae_model_unref (job->model);
  vae_tensor_unref (job->image);
  g_free (job);
}

static gboolean
encode_preview_render (VaeUiRender  *render,
                       gpointer      data,
                       GError      **error)
{
  EncodePreviewJob      *job         = data;
  GCancellable          *cancellable = vae_ui_render_get_cancellable (render);
  g_autoptr (VaeLatent)  latent      = NULL;
  g_autoptr (VaeTensor)  picture     = NULL;
  gchar                 *message;

  if (! vae_model_encode (job->model, job->image, &latent, NULL,
                          cancellable, NULL, NULL, error))
    return FALSE;

  picture = latent_picture (job->model, latent,
                            vae_tensor_get_dim (job->image, 2),
                            vae_tensor_get_dim (job->image, 1),
                            cancellable, error);
  if (picture == NULL)
    return FALSE;

  vae_plugin_render_picture (render, 0, picture);

  message = g_strdup_printf (_("Preview of %u × %u pixels: %u × %u latents "
                               "of %u channels"),
                             (guint) vae_tensor_get_dim (job->image, 2),
                             (guint) vae_tensor_get_dim (job->image, 1),
                             vae_latent_get_width (latent),
                             vae_latent_get_height (latent),
                             vae_latent_get_channels (latent));
  vae_ui_render_set_message (render, message);
  g_free (message);

  return TRUE;
}

static void
encode_model_changed (VaeModel *model,
                      gpointer  data)
{
  EncodeDialog     *dialog = data;
  EncodePreviewJob *job;
  GError           *error = NULL;

  if (model == NULL || dialog->small == NULL || ! vae_model_can_encode (model))
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->preview));
      vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->preview),
                                  model != NULL && dialog->small != NULL ?
                                  _("This model has no encoder.") : NULL);
      return;
    }

  job = g_new0 (EncodePreviewJob, 1);
  job->model = vae_model_ref (model);
  job->image = vae_image_shrink (dialog->small, PREVIEW_SIDE,
                                 vae_model_get_factor (model), &error);
  if (job->image == NULL)
    {
      vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->preview),
                                  error->message);
      g_error_free (error);
      encode_preview_job_free (job);
      return;
    }

  vae_ui_preview_render (VAE_UI_PREVIEW (dialog->preview),
                         encode_preview_render, job, encode_preview_job_free);
}

static gboolean
encode_dialog (const VaePluginRun *run,
               GimpDrawable       *drawable)
{
  EncodeDialog     state = { NULL, NULL };
  VaePluginPixels  pixels;
  GtkWidget       *dialog;
  GtkWidget       *choice;
  gint             width = 0;
  gint             height = 0;
  gboolean         accepted;

  /* The preview encodes a small copy of the layer, read once here: the
   * worker thread must not call libgimp.
   */
  if (vae_plugin_pixels_read (drawable, TRUE, &pixels, NULL))
    {
      width = vae_tensor_get_dim (pixels.rgb, 2);
      height = vae_tensor_get_dim (pixels.rgb, 1);
      state.small = vae_image_shrink (pixels.rgb, 2 * PREVIEW_SIDE, 1,
                                      NULL);
      vae_plugin_pixels_clear (&pixels);
    }

  dialog = gimp_procedure_dialog_new (run->procedure, run->config,
                                      _("Encode Layer to Latents"));
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "latent-file", NULL);

  state.preview = vae_ui_preview_new (1, PREVIEW_SIDE);
  choice = vae_plugin_model_choice_new (run->config, width, height, NULL,
                                        encode_model_changed, &state);
  vae_plugin_dialog_pack (dialog, choice, 0);
  vae_plugin_dialog_pack (dialog, state.preview, -1);
  encode_model_changed (vae_plugin_model_choice_get_model (choice), &state);

  accepted = vae_plugin_dialog_run (dialog);
  vae_tensor_unref (state.small);

  return accepted;
}
