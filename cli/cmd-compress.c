/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae compress [MODEL] IMAGE|IN.latent -o OUT.vaez [--bpp B | --quality Q]
 * vae decompress IN.vaez -o OUT.png
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli-image.h"
#include "vae-cli.h"

/**
 * cli_open_codec_model:
 * @ctx: the command's context
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the registered codec model, for a
 *   command that compresses and was given no MODEL.
 */
VaeModel *
cli_open_codec_model (CliContext  *ctx,
                      GError     **error)
{
  g_autoptr (VaeRegistry)  registry = NULL;
  const VaeRegistryEntry  *entry;
  VaeModel                *model;

  registry = vae_registry_new (error);
  if (registry == NULL)
    return NULL;

  entry = vae_registry_get_default_codec (registry);
  if (entry == NULL)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "%s: no MODEL given, and no codec model is registered",
                   ctx->command);
      return NULL;
    }
  model = vae_registry_load (registry, entry, error);
  if (model == NULL)
    g_prefix_error (error, "%s: no MODEL given, and the codec model %s "
                    "cannot be used: ", ctx->command,
                    vae_registry_entry_get_id (entry));

  return model;
}

/* Finds the model a .vaez file names (@id, and the first 16 hex digits of
 * its @hash) through the registry and the search path; when it is not
 * there, says whether other weights have its name. */
static VaeModel *
open_model_of (CliContext   *ctx,
               const gchar  *id,
               const gchar  *hash,
               const gchar  *what,
               GError      **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  g_autoptr (GError)      local = NULL;
  g_autoptr (VaeModel)    same_name = NULL;
  VaeModel               *model;

  registry = vae_registry_new (error);
  if (registry == NULL)
    return NULL;

  model = vae_registry_resolve_made_by (registry, id, hash, NULL);
  if (model != NULL)
    return model;

  same_name = vae_registry_resolve (registry, id, &local);
  if (same_name == NULL)
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 "'%s' was made by the model %s, which is not installed "
                 "(%s); install it (see 'vae models') or name its files as "
                 "MODEL", what, id, local->message);
  else
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 "'%s' was made by the model %s with hash %s, but the %s "
                 "found (%s) has hash %s: other weights under the same "
                 "name", what, id, hash, id, vae_model_get_path (same_name),
                 vae_model_get_hash (same_name));

  return NULL;
}

/* --bpp (0 when not given) and --quality (below 0 when not given) as
 * libvae's settings. */
static void
settings_init (VaeCompressSettings *settings,
               gdouble              bpp,
               gdouble              quality)
{
  vae_compress_settings_init (settings);
  if (quality >= 0.0)
    settings->quality = quality;
  settings->target_bpp = bpp;
}

/**
 * cli_run_compress:
 * @ctx: the command's context
 * @model: a model
 * @image: the image
 * @bpp: a target rate, or 0
 * @quality: a quality (0 to 100), or below 0 for the default
 * @error: return location for a #GError
 *
 * Compresses with @model's entropy model, or, for a model without one,
 * encodes and codes the latents with the generic coder.
 *
 * Returns: (transfer full) (nullable): the bytes of a .vaez file.
 */
GBytes *
cli_run_compress (CliContext       *ctx,
                  VaeModel         *model,
                  const VaeTensor  *image,
                  gdouble           bpp,
                  gdouble           quality,
                  GError          **error)
{
  g_autoptr (VaeLatent) latent = NULL;
  VaeCompressSettings   settings;
  GBytes               *file;

  settings_init (&settings, bpp, quality);

  if (vae_model_can_compress (model))
    {
      file = vae_compress_image (model, image, &settings, &ctx->options,
                                 ctx->cancellable, cli_progress, ctx, error);
      cli_progress_clear (ctx);
    }
  else
    {
      latent = cli_run_encode (ctx, model, image, NULL, error);
      file = latent ? vae_compress_latent (latent, &settings, error) : NULL;
    }

  return file;
}

gboolean
cli_compress (CliContext  *ctx,
              gint         argc,
              gchar      **argv,
              GError     **error)
{
  g_autofree gchar      *output = NULL;
  gdouble                bpp = 0.0;
  gdouble                quality = -1.0;
  GOptionEntry           entries[] =
  {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where to write the compressed image (required)", "OUT.vaez" },
    { "bpp", 0, 0, G_OPTION_ARG_DOUBLE, &bpp,
      "Aim at this many bits per pixel: the file comes as close as it can "
      "without going over", "B" },
    { "quality", 0, 0, G_OPTION_ARG_DOUBLE, &quality,
      "Quality from 0 (smallest) to 100 (best; default 75)", "Q" },
    { NULL }
  };
  g_auto (GStrv)          positional = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (CliImage)    image = NULL;
  g_autoptr (VaeLatent)   latent = NULL;
  g_autoptr (GBytes)      file = NULL;
  const gchar            *model_spec;
  gchar                 **rest;
  VaeCompressedInfo       info;
  gdouble                 start;

  if (!cli_parse_options (ctx, "[MODEL] IMAGE|IN.latent",
                          "Compresses an image into a .vaez file, or the "
                          "latents of any model.",
                          "An image is encoded by MODEL (left out: the "
                          "registered codec model, seed-f16-codec).  A codec "
                          "model codes its latents with its own trained "
                          "entropy model; any other model's latents, and a "
                          ".latent file of any model (no MODEL needed), are "
                          "coded by libvae's generic adaptive coder.  'vae "
                          "decompress' decodes the file with the model it "
                          "names.  --bpp picks the quality whose file comes "
                          "closest to B bits per pixel without going over.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 1, "IMAGE", &model_spec, &rest,
                            error))
    return FALSE;

  if (!cli_require_output (output, "compress", "OUT.vaez", error))
    return FALSE;
  if (bpp != 0.0 && quality >= 0.0)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--bpp and --quality cannot be given together");
      return FALSE;
    }
  if (bpp < 0.0 || bpp > 64.0 || !isfinite (bpp))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--bpp must be a number of bits per pixel above 0");
      return FALSE;
    }
  if (quality > 100.0 || !isfinite (quality) || (quality < 0.0 && quality != -1.0))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--quality must be between 0 and 100");
      return FALSE;
    }
  if (!cli_check_output (output, model_spec, rest[0], error))
    return FALSE;

  start = cli_seconds ();
  if (cli_is_latent_file (rest[0]))
    {
      VaeCompressSettings settings;

      latent = vae_latent_load (rest[0], error);
      if (latent == NULL)
        return FALSE;
      if (model_spec != NULL)
        cli_note (ctx, "note: latents are coded by the generic coder; MODEL "
                  "'%s' is not used", model_spec);
      settings_init (&settings, bpp, quality);
      file = vae_compress_latent (latent, &settings, error);
    }
  else
    {
      model = model_spec ? cli_model_open (ctx, model_spec, NULL, error)
                         : cli_open_codec_model (ctx, error);
      if (model == NULL)
        return FALSE;
      image = cli_image_load (ctx, rest[0], error);
      if (image == NULL)
        return FALSE;
      if (image->alpha != NULL)
        cli_note (ctx, "note: the alpha channel of '%s' is not kept", rest[0]);
      file = cli_run_compress (ctx, model, image->rgb, bpp, quality, error);
    }
  if (file == NULL || !vae_compressed_read_info (file, &info, error))
    return FALSE;

  if (!vae_compressed_save (file, output, error))
    {
      vae_compressed_info_clear (&info);
      return FALSE;
    }

  if (bpp > 0.0 && info.bpp > bpp)
    cli_note (ctx, "note: %.4f bpp is the smallest this image compresses to",
              info.bpp);
  printf ("%" G_GSIZE_FORMAT " bytes  %.4f bpp  quality %.1f  %ux%u\n",
          info.size, info.bpp, info.quality, info.width, info.height);
  cli_note (ctx, "compressed in %.2f s, wrote %s", cli_seconds () - start,
            output);
  vae_compressed_info_clear (&info);

  return TRUE;
}

/**
 * cli_load_compressed:
 * @ctx: the command's context
 * @path: a .vaez file
 * @model: (out): the model that decodes it
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the file's bytes, checked.
 */
GBytes *
cli_load_compressed (CliContext   *ctx,
                     const gchar  *path,
                     VaeModel    **model,
                     GError      **error)
{
  g_autoptr (GBytes) file = NULL;
  VaeCompressedInfo  info;

  /* loading names the file; the header's complaints do not */
  file = vae_compressed_load (path, error);
  if (file == NULL)
    return NULL;
  if (!vae_compressed_read_info (file, &info, error))
    {
      g_prefix_error (error, "'%s': ", path);
      return NULL;
    }

  *model = open_model_of (ctx, info.model_id, info.model_hash, path, error);
  vae_compressed_info_clear (&info);
  if (*model == NULL)
    return NULL;

  return g_steal_pointer (&file);
}

gboolean
cli_decompress (CliContext  *ctx,
                gint         argc,
                gchar      **argv,
                GError     **error)
{
  g_autofree gchar      *output = NULL;
  gint                   depth = 8;
  GOptionEntry           entries[] =
  {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where to write the image (required)", "OUT.png" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
      "Bits per channel of OUT: 8 (default) or 16", "8|16" },
    { NULL }
  };
  g_auto (GStrv)          positional = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (GBytes)      file = NULL;
  g_autoptr (VaeTensor)   image = NULL;
  gdouble                 start;

  if (!cli_parse_options (ctx, "IN.vaez",
                          "Decompresses a .vaez file into an image.",
                          "The model that decodes it is the one the file "
                          "names, found like a MODEL argument (registry, "
                          "search path); its hash must match.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (g_strv_length (positional) != 1)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "decompress: expected IN.vaez (see 'vae decompress --help')");
      return FALSE;
    }
  if (!cli_require_output (output, "decompress", "OUT.png", error) ||
      !cli_check_depth (depth, error) ||
      !cli_image_check_output (output, depth, error) ||
      !cli_check_output (output, positional[0], NULL, error))
    return FALSE;

  file = cli_load_compressed (ctx, positional[0], &model, error);
  if (file == NULL)
    return FALSE;

  start = cli_seconds ();
  image = vae_decompress_image (model, file, &ctx->options, ctx->cancellable,
                                cli_progress, ctx, error);
  cli_progress_clear (ctx);
  if (image == NULL)
    {
      g_prefix_error (error, "'%s': ", positional[0]);
      return FALSE;
    }
  if (depth == 8)
    vae_image_quantize_8bit (image);
  if (!cli_image_save (output, image, NULL, depth, error))
    return FALSE;

  cli_note (ctx, "decompressed %ux%u in %.2f s, wrote %s",
            (guint) vae_tensor_get_dim (image, 2),
            (guint) vae_tensor_get_dim (image, 1), cli_seconds () - start,
            output);

  return TRUE;
}
