/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Open for .latent files (ours and ComfyUI's), and their
 * thumbnails: the latents are decoded by the model that made them into a
 * new image of the size they were encoded from, whose layer carries the
 * latents as Encode's layers do, so Decode, Edit and Interpolate take it.
 * The procedures are vae-file-common.c's; this is what is particular to
 * the format.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"

/* Our files and ComfyUI's are safetensors (an 8-byte header length, then
 * JSON) whose header starts with the metadata or the latent tensors.
 * Model weights are safetensors too, so the JSON's first key decides;
 * ComfyUI writes its metadata keys in any order. */
#define LATENT_MAGICS \
  "8,string,{\"__metadata__\":{\"latent_format_version_0\"," \
  "8,string,{\"__metadata__\":{\"prompt\"," \
  "8,string,{\"__metadata__\":{\"workflow\"," \
  "8,string,{\"latent_"

static VaeLatent *
latent_read (GFile        *file,
             const gchar  *requested,
             gboolean      interactive,
             VaeModel    **model,
             GError      **error)
{
  VaeLatent *latent;

  latent = vae_plugin_latent_load_file (file, error);
  if (latent == NULL)
    return NULL;

  *model = vae_file_model_for_latent (latent, requested, interactive, error);
  if (*model == NULL)
    g_clear_pointer (&latent, vae_latent_unref);

  return latent;
}

const VaeFileFormat vae_latent_format =
{
  .format_name      = "Latent",
  .mime_type        = "application/x-vae-latent",
  .extension        = "latent",
  .magics           = LATENT_MAGICS,
  .thumb_procedure  = VAE_PROC_LATENT_THUMB,
  .label            = N_("Autoencoder latents"),
  .load_blurb       = N_("Open a .latent file by decoding it"),
  .load_help        = N_("Decodes a .latent file (gimp-vae's or "
                         "ComfyUI's) with the model that made it into "
                         "an image of the size it was encoded from.  "
                         "The layer carries the latents, as the layers "
                         "of Filters ▸ VAE ▸ Encode Layer to Latents "
                         "do.  A file that "
                         "does not name its model is decoded by the "
                         "installed model that takes its latents; when "
                         "several do, an interactive run asks and a "
                         "script names one in “model”."),
  .thumb_blurb      = N_("Thumbnail of a .latent file"),
  .thumb_help       = N_("Decodes a .latent file with the model that "
                         "made it and scales the picture down."),
  .model_help       = N_("The model to decode with: empty for "
                         "the model that made the latents, or "
                         "a model name or path"),
  .progress         = N_("Decoding “%s” with %s"),
  .complete_latents = TRUE,
  .read             = latent_read,
};
