/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Open for .vaez compressed images, and their thumbnails: the model
 * the file names decodes it, exactly as `vae decompress` does.  The layer
 * carries the decompressed latents, so Filters ▸ VAE can edit them.  The
 * procedures are vae-file-common.c's; this is what is particular to the
 * format.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"

/* vae_decompress_image() in two steps, to keep the latents. */
static VaeLatent *
vaez_read (GFile        *file,
           const gchar  *requested,
           gboolean      interactive,
           VaeModel    **model,
           GError      **error)
{
  g_autoptr (GBytes)   bytes = NULL;
  g_autofree gchar    *path = NULL;
  VaeCompressedInfo    info = { 0, };
  VaeLatent           *latent;
  GError              *local_error = NULL;

  path = vae_file_local_path (file, error);
  if (path == NULL)
    return NULL;

  bytes = vae_compressed_load (path, &local_error);
  if (bytes == NULL || ! vae_compressed_read_info (bytes, &info, &local_error))
    {
      g_set_error (error, VAE_ERROR, local_error->code,
                   _("Could not read “%s”: %s"),
                   gimp_file_get_utf8_name (file), local_error->message);
      g_error_free (local_error);
      return NULL;
    }

  *model = vae_file_model_for_vaez (&info, error);
  vae_compressed_info_clear (&info);
  if (*model == NULL)
    return NULL;

  latent = vae_decompress_latent (*model, bytes, error);
  if (latent == NULL)
    g_clear_pointer (model, vae_model_unref);

  return latent;
}

const VaeFileFormat vae_vaez_format =
{
  .format_name      = "VAEZ",
  .mime_type        = "image/x-vaez",
  .extension        = "vaez",
  /* The magic and format version 1 (docs/compression.md). */
  .magics           = "0,string,VAEZ\\001",
  .thumb_procedure  = VAE_PROC_VAEZ_THUMB,
  .label            = N_("Autoencoder compressed image"),
  .load_blurb       = N_("Open a .vaez compressed image"),
  .load_help        = N_("Decompresses a .vaez file with the model it "
                         "names.  The layer carries the decompressed "
                         "latents."),
  .thumb_blurb      = N_("Thumbnail of a .vaez file"),
  .thumb_help       = N_("Decompresses a .vaez file and scales the "
                         "picture down."),
  .model_help       = NULL,
  .progress         = N_("Decompressing “%s” with %s"),
  .complete_latents = FALSE,
  .read             = vaez_read,
};
