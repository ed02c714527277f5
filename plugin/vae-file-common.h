/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the File ▸ Open and File ▸ Export procedures share: finding the
 * model a file needs (with a message that says where to get it), new
 * images from decoded pixels, and the pixels an export writes.
 */

#pragma once

#include <libgimp/gimp.h>

#include "vae.h"

G_BEGIN_DECLS

#define VAE_PROC_LATENT_LOAD        "file-vae-latent-load"
#define VAE_PROC_LATENT_THUMB       "file-vae-latent-load-thumb"
#define VAE_PROC_LATENT_EXPORT      "file-vae-latent-export"
#define VAE_PROC_VAEZ_LOAD          "file-vaez-load"
#define VAE_PROC_VAEZ_THUMB         "file-vaez-load-thumb"
#define VAE_PROC_VAEZ_EXPORT        "file-vaez-export"

GimpProcedure * vae_latent_load_procedure_new   (GimpPlugIn   *plug_in,
                                                 const gchar  *name);
GimpProcedure * vae_latent_thumb_procedure_new  (GimpPlugIn   *plug_in,
                                                 const gchar  *name);
GimpProcedure * vae_latent_export_procedure_new (GimpPlugIn   *plug_in,
                                                 const gchar  *name);
GimpProcedure * vae_vaez_load_procedure_new     (GimpPlugIn   *plug_in,
                                                 const gchar  *name);
GimpProcedure * vae_vaez_thumb_procedure_new    (GimpPlugIn   *plug_in,
                                                 const gchar  *name);
GimpProcedure * vae_vaez_export_procedure_new   (GimpPlugIn   *plug_in,
                                                 const gchar  *name);

void        vae_file_procedure_setup   (GimpProcedure    *procedure,
                                        const gchar      *menu_label,
                                        const gchar      *blurb,
                                        const gchar      *help);

gchar     * vae_file_model_missing     (const gchar      *model_id);
VaeModel  * vae_file_model_for_latent  (const VaeLatent  *latent,
                                        const gchar      *requested,
                                        gboolean          interactive,
                                        GError          **error);
VaeModel  * vae_file_model_for_vaez    (const VaeCompressedInfo *info,
                                        GError          **error);

GimpImage * vae_file_image_new         (GFile            *file,
                                        const VaeTensor  *rgb,
                                        const VaeLatent  *latent,
                                        GError          **error);
GimpValueArray *
            vae_file_thumbnail_return  (GimpProcedure    *procedure,
                                        const VaeTensor  *rgb,
                                        gint              size);

VaeTensor * vae_file_export_pixels     (GimpImage        *image,
                                        GimpExportOptions *options,
                                        GError          **error);

gchar     * vae_file_local_path        (GFile            *file,
                                        GError          **error);

G_END_DECLS
