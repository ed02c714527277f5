/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Export As .latent: the image, merged and flattened as GIMP's own
 * exporters prepare it, encoded by any model into a .latent file that
 * ComfyUI's Load Latent and File ▸ Open read.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"

static GimpValueArray * latent_export_run    (GimpProcedure        *procedure,
                                              GimpRunMode           run_mode,
                                              GimpImage            *image,
                                              GFile                *file,
                                              GimpExportOptions    *options,
                                              GimpMetadata         *metadata,
                                              GimpProcedureConfig  *config,
                                              gpointer              run_data);
static gboolean         latent_export_dialog (GimpProcedure        *procedure,
                                              GimpProcedureConfig  *config,
                                              GimpImage            *image);

GimpProcedure *
vae_latent_export_procedure_new (GimpPlugIn  *plug_in,
                                 const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_file_export_procedure_new (plug_in, name,
                                             &vae_latent_format,
                                             latent_export_run,
                                             _("Export the image's latents "
                                               "as a .latent file"),
                                             _("Encodes the image (visible "
                                               "layers merged and flattened) "
                                               "with the chosen model and "
                                               "writes the latents as a "
                                               ".latent file, which File ▸ "
                                               "Open decodes again and "
                                               "ComfyUI's Load Latent reads.  "
                                               "The image is not changed."));
  vae_plugin_add_model_argument (procedure);

  return procedure;
}

static GimpValueArray *
latent_export_run (GimpProcedure        *procedure,
                   GimpRunMode           run_mode,
                   GimpImage            *image,
                   GFile                *file,
                   GimpExportOptions    *options,
                   GimpMetadata         *metadata,
                   GimpProcedureConfig  *config,
                   gpointer              run_data)
{
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  g_autoptr (VaeLatent) latent = NULL;
  VaePluginProgress     progress;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  if (vae_plugin_interactive (run_mode) &&
      ! latent_export_dialog (procedure, config, image))
    return vae_plugin_return_cancel (procedure);

  model = vae_plugin_config_load_model (config, &error);
  if (model == NULL || ! vae_plugin_check_encoder (model, &error))
    return vae_plugin_return_error (procedure, error);

  rgb = vae_file_export_pixels (image, options, &error);
  if (rgb == NULL)
    return vae_plugin_return_error (procedure, error);

  gimp_progress_init_printf (_("Encoding “%s” with %s"),
                             gimp_file_get_utf8_name (file),
                             vae_plugin_model_label (model));
  vae_plugin_progress_span (&progress, 0.0, 0.95);
  if (! vae_model_encode (model, rgb, &latent, NULL, NULL,
                          vae_plugin_progress_func, &progress, &error) ||
      ! vae_plugin_latent_save_file (latent, file, &error))
    return vae_plugin_return_error (procedure, error);
  gimp_progress_update (1.0);

  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}


/*  Below is only UI stuff  */

static gboolean
latent_export_dialog (GimpProcedure       *procedure,
                      GimpProcedureConfig *config,
                      GimpImage           *image)
{
  GtkWidget *dialog;
  GtkWidget *choice;

  dialog = gimp_export_procedure_dialog_new (GIMP_EXPORT_PROCEDURE (procedure),
                                             config, image);
  /* Not filled: the only argument is the model, which our chooser shows. */

  choice = vae_plugin_model_choice_new (config,
                                        gimp_image_get_width (image),
                                        gimp_image_get_height (image),
                                        NULL, NULL, NULL);
  vae_plugin_dialog_pack (dialog, choice, 0);

  return vae_plugin_dialog_run (dialog);
}
