/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Open for .vaez compressed images, and their thumbnails: the model
 * the file names decodes it, exactly as `vae decompress` does.  The layer
 * carries the decompressed latents, so Filters ▸ VAE can edit them.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"

static GimpValueArray * vaez_load_run  (GimpProcedure         *procedure,
                                        GimpRunMode            run_mode,
                                        GFile                 *file,
                                        GimpMetadata          *metadata,
                                        GimpMetadataLoadFlags *flags,
                                        GimpProcedureConfig   *config,
                                        gpointer               run_data);
static GimpValueArray * vaez_thumb_run (GimpProcedure         *procedure,
                                        GFile                 *file,
                                        gint                   size,
                                        GimpProcedureConfig   *config,
                                        gpointer               run_data);

GimpProcedure *
vae_vaez_load_procedure_new (GimpPlugIn  *plug_in,
                             const gchar *name)
{
  GimpProcedure *procedure;

  procedure = gimp_load_procedure_new (plug_in, name,
                                       GIMP_PDB_PROC_TYPE_PLUGIN,
                                       vaez_load_run, NULL, NULL);
  vae_file_procedure_setup (procedure,
                            _("Autoencoder compressed image"),
                            _("Open a .vaez compressed image"),
                            _("Decompresses a .vaez file with the model it "
                              "names.  The layer carries the decompressed "
                              "latents."));
  gimp_file_procedure_set_format_name (GIMP_FILE_PROCEDURE (procedure),
                                       "VAEZ");
  gimp_file_procedure_set_mime_types (GIMP_FILE_PROCEDURE (procedure),
                                      "image/x-vaez");
  gimp_file_procedure_set_extensions (GIMP_FILE_PROCEDURE (procedure),
                                      "vaez");
  /* The magic and format version 1 (docs/compression.md). */
  gimp_file_procedure_set_magics (GIMP_FILE_PROCEDURE (procedure),
                                  "0,string,VAEZ\\001");
  gimp_load_procedure_set_thumbnail_loader (GIMP_LOAD_PROCEDURE (procedure),
                                            VAE_PROC_VAEZ_THUMB);

  return procedure;
}

GimpProcedure *
vae_vaez_thumb_procedure_new (GimpPlugIn  *plug_in,
                              const gchar *name)
{
  GimpProcedure *procedure;

  procedure = gimp_thumbnail_procedure_new (plug_in, name,
                                            GIMP_PDB_PROC_TYPE_PLUGIN,
                                            vaez_thumb_run, NULL, NULL);
  vae_file_procedure_setup (procedure, NULL,
                            _("Thumbnail of a .vaez file"),
                            _("Decompresses a .vaez file and scales the "
                              "picture down."));

  return procedure;
}

static VaeTensor *
vaez_decode (GFile       *file,
             gboolean     progress,
             VaeLatent  **latent,
             GError     **error)
{
  g_autoptr (VaeModel) model = NULL;
  g_autoptr (GBytes)   bytes = NULL;
  g_autofree gchar    *path = NULL;
  VaeCompressedInfo    info = { 0, };
  VaePluginProgress    span;
  VaeTensor           *rgb = NULL;
  GError              *local_error = NULL;

  *latent = NULL;
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

  model = vae_file_model_for_vaez (&info, error);
  vae_compressed_info_clear (&info);
  if (model == NULL)
    return NULL;

  /* vae_decompress_image() in two steps, to keep the latents. */
  *latent = vae_decompress_latent (model, bytes, error);
  if (*latent == NULL)
    return NULL;

  if (progress)
    {
      gimp_progress_init_printf (_("Decompressing “%s” with %s"),
                                 gimp_file_get_utf8_name (file),
                                 vae_plugin_model_label (model));
      vae_plugin_progress_span (&span, 0.0, 1.0);
    }
  if (! vae_model_decode (model, *latent, &rgb, NULL, NULL,
                          progress ? vae_plugin_progress_func : NULL, &span,
                          error))
    return NULL;

  return rgb;
}

static GimpValueArray *
vaez_load_run (GimpProcedure         *procedure,
               GimpRunMode            run_mode,
               GFile                 *file,
               GimpMetadata          *metadata,
               GimpMetadataLoadFlags *flags,
               GimpProcedureConfig   *config,
               gpointer               run_data)
{
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  GimpValueArray       *return_values;
  GimpImage            *image = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  rgb = vaez_decode (file, TRUE, &latent, &error);
  if (rgb != NULL)
    image = vae_file_image_new (file, rgb, latent, &error);
  if (image == NULL)
    return vae_plugin_return_error (procedure, error);

  gimp_progress_update (1.0);
  return_values = gimp_procedure_new_return_values (procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_values, 1, image);

  return return_values;
}

static GimpValueArray *
vaez_thumb_run (GimpProcedure       *procedure,
                GFile               *file,
                gint                 size,
                GimpProcedureConfig *config,
                gpointer             run_data)
{
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  rgb = vaez_decode (file, FALSE, &latent, &error);
  if (rgb == NULL)
    return gimp_procedure_new_return_values (procedure,
                                             GIMP_PDB_EXECUTION_ERROR, error);

  return vae_file_thumbnail_return (procedure, rgb, size);
}
