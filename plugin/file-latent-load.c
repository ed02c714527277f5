/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * File ▸ Open for .latent files (ours and ComfyUI's), and their
 * thumbnails: the latents are decoded by the model that made them into a
 * new image of the size they were encoded from, whose layer carries the
 * latents as Encode's layers do, so Decode, Edit and Interpolate take it.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"

static GimpValueArray * latent_load_run  (GimpProcedure         *procedure,
                                          GimpRunMode            run_mode,
                                          GFile                 *file,
                                          GimpMetadata          *metadata,
                                          GimpMetadataLoadFlags *flags,
                                          GimpProcedureConfig   *config,
                                          gpointer               run_data);
static GimpValueArray * latent_thumb_run (GimpProcedure         *procedure,
                                          GFile                 *file,
                                          gint                   size,
                                          GimpProcedureConfig   *config,
                                          gpointer               run_data);

/* Our files and ComfyUI's are safetensors (an 8-byte header length, then
 * JSON) whose header starts with the metadata or the latent tensors.
 * Model weights are safetensors too, so the JSON's first key decides;
 * ComfyUI writes its metadata keys in any order. */
#define LATENT_MAGICS \
  "8,string,{\"__metadata__\":{\"latent_format_version_0\"," \
  "8,string,{\"__metadata__\":{\"prompt\"," \
  "8,string,{\"__metadata__\":{\"workflow\"," \
  "8,string,{\"latent_"

GimpProcedure *
vae_latent_load_procedure_new (GimpPlugIn  *plug_in,
                               const gchar *name)
{
  GimpProcedure *procedure;

  procedure = gimp_load_procedure_new (plug_in, name,
                                       GIMP_PDB_PROC_TYPE_PLUGIN,
                                       latent_load_run, NULL, NULL);
  vae_file_procedure_setup (procedure,
                            _("Autoencoder latents"),
                            _("Open a .latent file by decoding it"),
                            _("Decodes a .latent file (gimp-vae's or "
                              "ComfyUI's) with the model that made it into "
                              "an image of the size it was encoded from.  "
                              "The layer carries the latents, as the layers "
                              "of Filters ▸ VAE ▸ Encode Layer to Latents "
                              "do.  A file that "
                              "does not name its model is decoded by the "
                              "installed model that takes its latents; when "
                              "several do, an interactive run asks and a "
                              "script names one in “model”."));
  gimp_file_procedure_set_format_name (GIMP_FILE_PROCEDURE (procedure),
                                       "Latent");
  gimp_file_procedure_set_mime_types (GIMP_FILE_PROCEDURE (procedure),
                                      "application/x-vae-latent");
  gimp_file_procedure_set_extensions (GIMP_FILE_PROCEDURE (procedure),
                                      "latent");
  gimp_file_procedure_set_magics (GIMP_FILE_PROCEDURE (procedure),
                                  LATENT_MAGICS);
  gimp_load_procedure_set_thumbnail_loader (GIMP_LOAD_PROCEDURE (procedure),
                                            VAE_PROC_LATENT_THUMB);

  gimp_procedure_add_string_argument (procedure, "model",
                                      _("_Model"),
                                      _("The model to decode with: empty for "
                                        "the model that made the latents, or "
                                        "a model name or path"),
                                      "",
                                      G_PARAM_READWRITE);

  return procedure;
}

GimpProcedure *
vae_latent_thumb_procedure_new (GimpPlugIn  *plug_in,
                                const gchar *name)
{
  GimpProcedure *procedure;

  procedure = gimp_thumbnail_procedure_new (plug_in, name,
                                            GIMP_PDB_PROC_TYPE_PLUGIN,
                                            latent_thumb_run, NULL, NULL);
  vae_file_procedure_setup (procedure, NULL,
                            _("Thumbnail of a .latent file"),
                            _("Decodes a .latent file with the model that "
                              "made it and scales the picture down."));

  return procedure;
}

/* Reads @file and decodes it; @latent gets the latents, with the model
 * and size filled in when the file did not record them. */
static VaeTensor *
latent_decode (GFile         *file,
               const gchar   *requested,
               gboolean       interactive,
               gboolean       progress,
               VaeLatent    **latent,
               GError       **error)
{
  g_autoptr (VaeModel) model = NULL;
  VaePluginProgress    span;
  VaeTensor           *rgb = NULL;
  GError              *local_error = NULL;

  *latent = vae_plugin_latent_load_file (file, error);
  if (*latent == NULL)
    return NULL;

  model = vae_file_model_for_latent (*latent, requested, interactive,
                                     &local_error);
  if (model == NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }

  if (progress)
    {
      gimp_progress_init_printf (_("Decoding “%s” with %s"),
                                 gimp_file_get_utf8_name (file),
                                 vae_plugin_model_label (model));
      vae_plugin_progress_span (&span, 0.0, 1.0);
    }
  if (! vae_model_decode (model, *latent, &rgb, NULL, NULL,
                          progress ? vae_plugin_progress_func : NULL, &span,
                          error))
    return NULL;

  /* ComfyUI's files say neither; the layer's latents should, so that
   * Decode and Edit need not ask again. */
  if (vae_latent_get_model_id (*latent) == NULL ||
      vae_latent_get_model_id (*latent)[0] == '\0')
    vae_latent_set_model (*latent, vae_model_get_id (model),
                          vae_model_get_hash (model));
  if (! vae_latent_get_image_size (*latent, NULL, NULL))
    vae_latent_set_image_size (*latent, vae_tensor_get_dim (rgb, 2),
                               vae_tensor_get_dim (rgb, 1));

  return rgb;
}

static GimpValueArray *
latent_load_run (GimpProcedure         *procedure,
                 GimpRunMode            run_mode,
                 GFile                 *file,
                 GimpMetadata          *metadata,
                 GimpMetadataLoadFlags *flags,
                 GimpProcedureConfig   *config,
                 gpointer               run_data)
{
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  g_autofree gchar     *requested = NULL;
  GimpValueArray       *return_values;
  GimpImage            *image = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  g_object_get (config, "model", &requested, NULL);
  rgb = latent_decode (file, requested, run_mode == GIMP_RUN_INTERACTIVE,
                       TRUE, &latent, &error);
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
latent_thumb_run (GimpProcedure       *procedure,
                  GFile               *file,
                  gint                 size,
                  GimpProcedureConfig *config,
                  gpointer             run_data)
{
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  rgb = latent_decode (file, NULL, FALSE, FALSE, &latent, &error);
  if (rgb == NULL)
    return gimp_procedure_new_return_values (procedure,
                                             GIMP_PDB_EXECUTION_ERROR, error);

  return vae_file_thumbnail_return (procedure, rgb, size);
}
