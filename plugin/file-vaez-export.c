/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Export As .vaez: the image, merged and flattened as GIMP's own
 * exporters prepare it, compressed at a quality or a target rate.
 *
 * Without a model argument the registry's codec model compresses (its
 * trained entropy model makes the smallest files); when none is
 * registered or installed, the default model's latents go through
 * libvae's generic coder, and the dialog and the log say so.  The dialog
 * compresses and decompresses the image (or, for a large one, a crop of
 * it) in the background and shows the file size and PSNR the settings
 * give, with a detail of the result, before anything is written.
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"
#include "vae-models.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

/* Images up to this many pixels are estimated whole (the exact file);
 * larger ones from a centre crop of ESTIMATE_CROP pixels square. */
#define ESTIMATE_WHOLE   (1024 * 1024)
#define ESTIMATE_CROP    768
#define DETAIL_SIDE      224

enum
{
  RATE_QUALITY,
  RATE_BPP
};

static void
vaez_export_arguments (GimpProcedure *procedure)
{
  gimp_procedure_add_choice_argument (procedure, "rate",
                                      _("_Aim at"),
                                      _("Choose the quality, or the file "
                                        "size in bits per pixel"),
                                      gimp_choice_new_with_values (
                                        "quality", RATE_QUALITY,
                                        _("Quality"), NULL,
                                        "bpp", RATE_BPP,
                                        _("Bits per pixel"), NULL,
                                        NULL),
                                      "quality",
                                      G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "quality",
                                      _("_Quality"),
                                      _("From 0 (smallest file) to 100 (best "
                                        "picture)"),
                                      0.0, 100.0, 75.0,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "bpp",
                                      _("_Bits per pixel"),
                                      _("The file comes as close to this many "
                                        "bits per image pixel as it can "
                                        "without going over"),
                                      0.01, 24.0, 0.5,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_string_argument (procedure, "model",
                                      _("_Model"),
                                      _("Empty for the codec model (or the "
                                        "default model with the generic "
                                        "coder when no codec model is "
                                        "installed), or a model name or "
                                        "path"),
                                      "",
                                      G_PARAM_READWRITE);
}

/* The model for @requested ("" for the codec model).  @fallback tells
 * whether the codec model was wanted but is not at hand. */
static VaeModel *
export_model (const gchar  *requested,
              gboolean     *fallback,
              GError      **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  const VaeRegistryEntry *codec;
  VaeModel               *model = NULL;

  *fallback = FALSE;
  if (requested != NULL && requested[0] != '\0')
    return vae_plugin_models_load (requested, error);

  registry = vae_registry_new (NULL);
  codec = registry != NULL ? vae_registry_get_default_codec (registry) : NULL;
  if (codec != NULL && vae_registry_is_available (registry, codec))
    model = vae_registry_load (registry, codec, NULL);
  if (model != NULL && vae_model_can_compress (model))
    return model;

  g_clear_pointer (&model, vae_model_unref);
  *fallback = TRUE;

  return vae_plugin_models_load (NULL, error);
}

static void
config_settings (GimpProcedureConfig *config,
                 VaeCompressSettings *settings)
{
  gdouble quality;
  gdouble bpp;

  g_object_get (config, "quality", &quality, "bpp", &bpp, NULL);
  vae_compress_settings_init (settings);
  if (gimp_procedure_config_get_choice_id (config, "rate") == RATE_BPP)
    settings->target_bpp = bpp;
  else
    settings->quality = quality;
}

/* A codec model codes its image with its own entropy model; any other
 * model's latents go through the generic coder. */
static GBytes *
compress (VaeModel                  *model,
          const VaeTensor           *rgb,
          const VaeCompressSettings *settings,
          GCancellable              *cancellable,
          VaeProgressFunc            progress,
          gpointer                   progress_data,
          GError                   **error)
{
  g_autoptr (VaeLatent) latent = NULL;

  if (vae_model_can_compress (model))
    return vae_compress_image (model, rgb, settings, NULL, cancellable,
                               progress, progress_data, error);

  if (! vae_model_encode (model, rgb, &latent, NULL, cancellable,
                          progress, progress_data, error))
    return NULL;

  return vae_compress_latent (latent, settings, error);
}

/* The fallback is said in the dialog; a script's log says it here. */
static VaeModel *
vaez_export_model (const VaeFileExportRun  *run,
                   GError                 **error)
{
  g_autofree gchar *requested = NULL;
  VaeModel         *model;
  gboolean          fallback;

  g_object_get (run->config, "model", &requested, NULL);
  model = export_model (requested, &fallback, error);
  if (model != NULL && fallback && run->run_mode != GIMP_RUN_INTERACTIVE)
    g_message (_("No codec model is installed: “%s” is compressed with "
                 "%s and the generic coder, which makes larger files."),
               gimp_file_get_utf8_name (run->file),
               vae_plugin_model_label (model));

  return model;
}

static gboolean
vaez_export_write (const VaeFileExportRun  *run,
                   VaeModel                *model,
                   GError                 **error)
{
  g_autoptr (GBytes)  bytes = NULL;
  VaeCompressSettings settings;
  GError             *local_error = NULL;

  config_settings (run->config, &settings);
  bytes = compress (model, run->rgb, &settings, NULL,
                    vae_plugin_progress_func, run->progress, error);
  if (bytes == NULL)
    return FALSE;

  if (! vae_compressed_save (bytes, run->path, &local_error))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Could not write “%s”: %s"),
                   gimp_file_get_utf8_name (run->file), local_error->message);
      g_error_free (local_error);
      return FALSE;
    }

  return TRUE;
}


/*  Below is only UI stuff  */

typedef struct
{
  GimpProcedureConfig *config;
  GtkWidget           *chooser;
  GtkWidget           *preview;
  VaeTensor           *region;      /* what the estimate compresses */
  gint                 width;       /* the whole image */
  gint                 height;
  gboolean             whole;
  gchar               *model_name;  /* of @model */
  VaeModel            *model;
} ExportDialog;

typedef struct
{
  VaeModel            *model;
  VaeTensor           *region;
  VaeCompressSettings  settings;
  gint                 width;
  gint                 height;
  gboolean             whole;
} EstimateJob;

static void
estimate_job_free (gpointer data)
{
  EstimateJob *job = data;

  vae_model_unref (job->model);
  vae_tensor_unref (job->region);
  g_free (job);
}

/* A DETAIL_SIDE square from the middle of @image, at 100 %. */
static VaeTensor *
detail (const VaeTensor *image)
{
  gint height = vae_tensor_get_dim (image, 1);
  gint width  = vae_tensor_get_dim (image, 2);
  gint side_x = MIN (width, DETAIL_SIDE);
  gint side_y = MIN (height, DETAIL_SIDE);

  return vae_image_crop (image, (width - side_x) / 2, (height - side_y) / 2,
                         side_x, side_y, NULL);
}

static gboolean
estimate_render (VaeUiRender  *render,
                 gpointer      data,
                 GError      **error)
{
  EstimateJob           *job = data;
  GCancellable          *cancellable = vae_ui_render_get_cancellable (render);
  g_autoptr (GBytes)     bytes = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  g_autoptr (VaeTensor)  result = NULL;
  g_autoptr (VaeTensor)  original8 = NULL;
  g_autoptr (VaeTensor)  part = NULL;
  g_autofree gchar      *size_text = NULL;
  g_autofree gchar      *message = NULL;
  VaeCompressedInfo      info;
  gdouble                psnr;
  gdouble                bytes_estimate;

  bytes = compress (job->model, job->region, &job->settings, cancellable,
                    NULL, NULL, error);
  if (bytes == NULL || ! vae_compressed_read_info (bytes, &info, error))
    return FALSE;

  latent = vae_decompress_latent (job->model, bytes, error);
  if (latent == NULL ||
      ! vae_model_decode (job->model, latent, &result, NULL, cancellable,
                          NULL, NULL, error))
    {
      vae_compressed_info_clear (&info);
      return FALSE;
    }

  vae_image_quantize_8bit (result);
  original8 = vae_tensor_copy (job->region, error);
  if (original8 == NULL)
    {
      vae_compressed_info_clear (&info);
      return FALSE;
    }
  vae_image_quantize_8bit (original8);
  if (! vae_psnr (original8, result, &psnr, error))
    {
      vae_compressed_info_clear (&info);
      return FALSE;
    }

  part = detail (job->region);
  if (part != NULL)
    vae_plugin_render_picture (render, 0, part);
  g_clear_pointer (&part, vae_tensor_unref);
  part = detail (result);
  if (part != NULL)
    vae_plugin_render_picture (render, 1, part);

  bytes_estimate = job->whole ? (gdouble) info.size
                              : info.bpp * job->width * job->height / 8.0;
  size_text = g_format_size ((guint64) bytes_estimate);
  if (job->whole)
    message = g_strdup_printf (_("The file: %s (%.3f bpp, quality %.1f), "
                                 "PSNR %.2f dB.  Left the original, right "
                                 "the result (middle, 100 %%)."),
                               size_text, info.bpp, info.quality, psnr);
  else
    message = g_strdup_printf (_("Estimated from a %u × %u crop: about %s "
                                 "(%.3f bpp, quality %.1f), PSNR %.2f dB.  "
                                 "Left the original, right the result "
                                 "(middle, 100 %%)."),
                               info.width, info.height, size_text, info.bpp,
                               info.quality, psnr);
  vae_ui_render_set_message (render, message);
  vae_compressed_info_clear (&info);

  return TRUE;
}

/* What the export will do with the chosen model, for the chooser's
 * information line. */
static void
update_model_info (ExportDialog *state,
                   gboolean      fallback,
                   GError       *error)
{
  gchar *markup;
  gchar *escaped;

  if (state->model == NULL)
    {
      escaped = g_markup_escape_text (error->message, -1);
      markup = g_strdup_printf ("<span foreground=\"#c01c28\">%s</span>",
                                escaped);
    }
  else
    {
      escaped = g_markup_escape_text (vae_plugin_model_label (state->model), -1);
      if (vae_model_can_compress (state->model))
        markup = g_strdup_printf (_("<b>%s</b> is a codec model: its trained "
                                    "entropy model codes the latents."),
                                  escaped);
      else if (fallback)
        markup = g_strdup_printf (_("No codec model is installed: the latents "
                                    "of <b>%s</b> go through the generic "
                                    "coder, which makes larger files than "
                                    "a codec model."), escaped);
      else
        markup = g_strdup_printf (_("<b>%s</b> has no entropy model: its "
                                    "latents go through the generic coder."),
                                  escaped);
    }
  vae_ui_model_chooser_set_info (VAE_UI_MODEL_CHOOSER (state->chooser),
                                 markup);
  g_free (escaped);
  g_free (markup);
}

static void
estimate (ExportDialog *state)
{
  EstimateJob *job;

  if (state->model == NULL || ! vae_model_can_encode (state->model))
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (state->preview));
      vae_ui_preview_set_message (VAE_UI_PREVIEW (state->preview),
                                  state->model != NULL ?
                                  _("This model has no encoder.") : NULL);
      return;
    }

  job = g_new0 (EstimateJob, 1);
  job->model  = vae_model_ref (state->model);
  job->region = vae_tensor_ref (state->region);
  job->width  = state->width;
  job->height = state->height;
  job->whole  = state->whole;
  config_settings (state->config, &job->settings);

  vae_ui_preview_render (VAE_UI_PREVIEW (state->preview), estimate_render,
                         job, estimate_job_free);
}

static void
model_changed (GObject      *chooser,
               GParamSpec   *pspec,
               ExportDialog *state)
{
  const gchar *value = vae_ui_model_chooser_get_value (VAE_UI_MODEL_CHOOSER (chooser));
  GError      *error = NULL;
  gboolean     fallback = FALSE;

  if (state->model_name != NULL && g_strcmp0 (state->model_name, value) == 0)
    return;

  g_clear_pointer (&state->model, vae_model_unref);
  g_free (state->model_name);
  state->model_name = g_strdup (value);
  state->model = export_model (value, &fallback, &error);
  update_model_info (state, fallback, error);
  g_clear_error (&error);

  estimate (state);
}

static void
settings_changed (GObject      *config,
                  GParamSpec   *pspec,
                  ExportDialog *state)
{
  if (g_strcmp0 (pspec->name, "model") != 0)
    estimate (state);
}

static GtkWidget *
model_chooser_new (void)
{
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  const VaeRegistryEntry *codec;
  GtkWidget              *chooser;
  GPtrArray              *entries;
  gchar                  *text;
  guint                   i;

  chooser = vae_ui_model_chooser_new (_("_Model"));

  codec = registry != NULL ? vae_registry_get_default_codec (registry) : NULL;
  if (codec != NULL && vae_registry_is_available (registry, codec))
    text = g_strdup_printf (_("Codec model (%s)"),
                            vae_registry_entry_get_id (codec));
  else
    text = g_strdup (_("Default model with the generic coder"));
  vae_ui_model_chooser_append (VAE_UI_MODEL_CHOOSER (chooser), "", text);
  g_free (text);

  entries = vae_plugin_models_find ();
  for (i = 0; i < entries->len; i++)
    {
      const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);

      vae_ui_model_chooser_append (VAE_UI_MODEL_CHOOSER (chooser),
                                   entry->name, entry->name);
    }
  g_ptr_array_unref (entries);

  return chooser;
}

/* The whole image when it is small, else a centre crop whose sides are
 * multiples of 16 (every model's factor divides it, so the crop codes
 * like the same pixels inside the whole image would). */
static VaeTensor *
estimate_region (const VaeTensor *rgb,
                 gboolean        *whole)
{
  gint       height = vae_tensor_get_dim (rgb, 1);
  gint       width  = vae_tensor_get_dim (rgb, 2);
  gint       side_x = MIN (width, ESTIMATE_CROP) / 16 * 16;
  gint       side_y = MIN (height, ESTIMATE_CROP) / 16 * 16;
  VaeTensor *crop = NULL;

  *whole = (gint64) width * height <= ESTIMATE_WHOLE ||
           side_x == 0 || side_y == 0;
  if (! *whole)
    crop = vae_image_crop (rgb, (width - side_x) / 2 / 16 * 16,
                           (height - side_y) / 2 / 16 * 16, side_x, side_y,
                           NULL);
  if (crop == NULL)
    {
      *whole = TRUE;
      crop = vae_tensor_ref ((VaeTensor *) rgb);
    }

  return crop;
}

/* The pixels are read before, for the estimate to compress. */
static gboolean
vaez_export_dialog (const VaeFileExportRun *run)
{
  ExportDialog  state = { NULL, };
  GtkWidget    *dialog;
  GValue        value = G_VALUE_INIT;
  gboolean      confirmed;

  state.config = run->config;
  state.width  = vae_tensor_get_dim (run->rgb, 2);
  state.height = vae_tensor_get_dim (run->rgb, 1);
  state.region = estimate_region (run->rgb, &state.whole);

  dialog = gimp_export_procedure_dialog_new (GIMP_EXPORT_PROCEDURE (run->procedure),
                                             run->config, run->image);

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_static_string (&value, "quality");
  gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog),
                                             "quality", NULL, "rate",
                                             gimp_value_array_new_from_values (&value, 1),
                                             TRUE);
  g_value_set_static_string (&value, "bpp");
  gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog),
                                             "bpp", NULL, "rate",
                                             gimp_value_array_new_from_values (&value, 1),
                                             TRUE);
  g_value_unset (&value);
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "quality", 1.0);
  gimp_procedure_dialog_get_spin_scale (GIMP_PROCEDURE_DIALOG (dialog),
                                        "bpp", 1.0);
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "rate", "quality", "bpp", NULL);

  state.chooser = model_chooser_new ();
  vae_plugin_dialog_pack (dialog, state.chooser, 0);
  state.preview = vae_ui_preview_new (2, DETAIL_SIDE);
  vae_plugin_dialog_pack (dialog, state.preview, -1);

  g_signal_connect (state.chooser, "notify::value",
                    G_CALLBACK (model_changed), &state);
  g_object_bind_property (run->config, "model", state.chooser, "value",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  model_changed (G_OBJECT (state.chooser), NULL, &state);

  confirmed = vae_plugin_dialog_run_watching (dialog, run->config,
                                              G_CALLBACK (settings_changed),
                                              &state);
  vae_tensor_unref (state.region);
  g_clear_pointer (&state.model, vae_model_unref);
  g_free (state.model_name);

  return confirmed;
}

const VaeFileExport vae_vaez_export =
{
  .format    = &vae_vaez_format,
  .blurb     = N_("Export the image as a .vaez compressed image"),
  .help      = N_("Compresses the image (visible layers merged and "
                  "flattened) with an autoencoder: the registered codec "
                  "model, or the default model with libvae's generic "
                  "coder when no codec model is installed, or the model "
                  "named.  Aims at a quality or at a number of bits per "
                  "pixel.  The image is not changed."),
  .progress  = N_("Compressing “%s” with %s"),
  .arguments = vaez_export_arguments,
  .dialog    = vaez_export_dialog,
  .model     = vaez_export_model,
  .write     = vaez_export_write,
};
