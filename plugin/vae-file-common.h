/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the File ▸ Open and File ▸ Export procedures share: one load, one
 * thumbnail and one export procedure for every format, made from the
 * format's description and its export's parts; finding the model a file
 * needs (with a message that says where to get it), and the pixels an
 * export writes.
 */

#pragma once

#include <libgimp/gimp.h>

#include "vae.h"
#include "gimp-vae.h"

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

/**
 * VaeFileExportRun:
 * @procedure: the export procedure
 * @run_mode: how it runs
 * @image: the image GIMP exports
 * @file: the file to write
 * @path: @file's local path
 * @config: the procedure's settings
 * @rgb: the pixels the file gets (vae_file_export_pixels ())
 * @progress: the span of the progress bar that encoding moves
 *
 * What an export procedure's parts are given.
 */
typedef struct
{
  GimpProcedure       *procedure;
  GimpRunMode          run_mode;
  GimpImage           *image;
  GFile               *file;
  const gchar         *path;
  GimpProcedureConfig *config;
  const VaeTensor     *rgb;
  VaePluginProgress   *progress;
} VaeFileExportRun;

/**
 * VaeFileExport:
 * @format: the format it writes
 * @blurb: N_() what it does, in one line
 * @help: N_() what it does, in full
 * @progress: N_() the progress bar while encoding: a file's name and a
 *   model's for its two "%s"
 * @arguments: adds its arguments to the procedure
 * @dialog: shows its dialog; %FALSE when the user cancelled
 * @model: (nullable): the model the settings ask for; %NULL for the one
 *   the "model" argument names
 * @write: encodes the pixels with the model into the file
 *
 * An export procedure: every one reads the image's pixels before its
 * dialog (which may preview what they give), then loads an encoder and
 * writes, and only these parts differ.
 */
typedef struct
{
  const VaeFileFormat *format;
  const gchar         *blurb;
  const gchar         *help;
  const gchar         *progress;
  void              (* arguments) (GimpProcedure           *procedure);
  gboolean          (* dialog)    (const VaeFileExportRun  *run);
  VaeModel *        (* model)     (const VaeFileExportRun  *run,
                                   GError                 **error);
  gboolean          (* write)     (const VaeFileExportRun  *run,
                                   VaeModel                *model,
                                   GError                 **error);
} VaeFileExport;

extern const VaeFileExport vae_latent_export;
extern const VaeFileExport vae_vaez_export;

GimpProcedure * vae_file_open_procedure_new     (GimpPlugIn          *plug_in,
                                                 const gchar         *name,
                                                 const VaeFileFormat *format);
GimpProcedure * vae_file_export_procedure_new   (GimpPlugIn          *plug_in,
                                                 const gchar         *name,
                                                 const VaeFileExport *export);

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

G_END_DECLS
