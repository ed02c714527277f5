/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the File ▸ Open and File ▸ Export procedures share: one load, one
 * thumbnail and the start of one export procedure for every format, made
 * from the format's description; finding the model a file needs (with a
 * message that says where to get it), and the pixels an export writes.
 */

#pragma once

#include <libgimp/gimp.h>

#include "vae.h"

G_BEGIN_DECLS

/**
 * VaeFileReadFunc:
 * @file: the file to open
 * @requested: (nullable): the model a script named, for a format whose
 *   load procedure takes one
 * @interactive: whether the user may be asked which model
 * @model: (out) (transfer full): the model that decodes the latents
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the latents in @file.
 */
typedef VaeLatent * (* VaeFileReadFunc) (GFile        *file,
                                         const gchar  *requested,
                                         gboolean      interactive,
                                         VaeModel    **model,
                                         GError      **error);

/**
 * VaeFileFormat:
 * @format_name: GIMP's name of the format
 * @mime_type: its MIME type
 * @extension: its file name extension
 * @magics: how GIMP tells its files by their first bytes
 * @thumb_procedure: the name of its thumbnail procedure
 * @label: N_() the format in File ▸ Open's and Export As' lists
 * @load_blurb: N_() what its load procedure does, in one line
 * @load_help: N_() what its load procedure does, in full
 * @thumb_blurb: N_() what its thumbnail procedure does, in one line
 * @thumb_help: N_() what its thumbnail procedure does, in full
 * @model_help: (nullable): N_() the load procedure's "model" argument;
 *   %NULL when the file names its model and there is no argument
 * @progress: N_() the progress bar while decoding: a file's name and a
 *   model's for its two "%s"
 * @complete_latents: whether the latents read may lack the model that made
 *   them and their image's size (ComfyUI's do), which the layer's latents
 *   are then given, so that Decode and Edit need not ask again
 * @read: reads the latents and finds their model
 */
typedef struct
{
  const gchar     *format_name;
  const gchar     *mime_type;
  const gchar     *extension;
  const gchar     *magics;
  const gchar     *thumb_procedure;
  const gchar     *label;
  const gchar     *load_blurb;
  const gchar     *load_help;
  const gchar     *thumb_blurb;
  const gchar     *thumb_help;
  const gchar     *model_help;
  const gchar     *progress;
  gboolean         complete_latents;
  VaeFileReadFunc  read;
} VaeFileFormat;

extern const VaeFileFormat vae_latent_format;
extern const VaeFileFormat vae_vaez_format;

GimpProcedure * vae_file_open_procedure_new     (GimpPlugIn          *plug_in,
                                                 const gchar         *name,
                                                 const VaeFileFormat *format);
GimpProcedure * vae_file_export_procedure_new   (GimpPlugIn          *plug_in,
                                                 const gchar         *name,
                                                 const VaeFileFormat *format,
                                                 GimpRunExportFunc    run,
                                                 const gchar         *blurb,
                                                 const gchar         *help);
GimpProcedure * vae_latent_export_procedure_new (GimpPlugIn          *plug_in,
                                                 const gchar         *name);
GimpProcedure * vae_vaez_export_procedure_new   (GimpPlugIn          *plug_in,
                                                 const gchar         *name);

gchar     * vae_file_model_missing     (const gchar      *model_id);
VaeModel  * vae_file_model_for_latent  (const VaeLatent  *latent,
                                        const gchar      *requested,
                                        gboolean          interactive,
                                        GError          **error);
VaeModel  * vae_file_model_for_vaez    (const VaeCompressedInfo *info,
                                        GError          **error);

VaeTensor * vae_file_export_pixels     (GimpImage        *image,
                                        GimpExportOptions *options,
                                        GError          **error);

gchar     * vae_file_local_path        (GFile            *file,
                                        GError          **error);

G_END_DECLS
