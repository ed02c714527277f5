/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Export As .latent: the image, merged and flattened as GIMP's own
 * exporters prepare it, encoded by any model into a .latent file that
 * ComfyUI's Load Latent and File ▸ Open read.  The procedure is
 * vae-file-common.c's; this is what is particular to the format.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"

static gboolean
latent_export_write (const VaeFileExportRun  *run,
                     VaeModel                *model,
                     GError                 **error)
{
  g_autoptr (VaeLatent) latent = NULL;

  return vae_model_encode (model, run->rgb, &latent, NULL, NULL,
                           vae_plugin_progress_func, run->progress, error) &&
         vae_plugin_latent_save_file (latent, run->file, error);
}


/*  Below is only UI stuff  */

static gboolean
latent_export_dialog (const VaeFileExportRun *run)
{
  GtkWidget *dialog;
  GtkWidget *choice;

  dialog = gimp_export_procedure_dialog_new (GIMP_EXPORT_PROCEDURE (run->procedure),
                                             run->config, run->image);
  /* Not filled: the only argument is the model, which our chooser shows. */

  choice = vae_plugin_model_choice_new (run->config,
                                        gimp_image_get_width (run->image),
                                        gimp_image_get_height (run->image),
                                        NULL, NULL, NULL);
  vae_plugin_dialog_pack (dialog, choice, 0);

  return vae_plugin_dialog_run (dialog);
}

const VaeFileExport vae_latent_export =
{
  .format    = &vae_latent_format,
  .blurb     = N_("Export the image's latents as a .latent file"),
  .help      = N_("Encodes the image (visible layers merged and "
                  "flattened) with the chosen model and writes the "
                  "latents as a .latent file, which File ▸ Open decodes "
                  "again and ComfyUI's Load Latent reads.  The image is "
                  "not changed."),
  .progress  = N_("Encoding “%s” with %s"),
  .arguments = vae_plugin_add_model_argument,
  .dialog    = latent_export_dialog,
  .write     = latent_export_write,
};
