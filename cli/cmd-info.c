/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae info MODEL
 */

#include <stdio.h>
#include <string.h>

#include "cli-image.h"
#include "vae-cli.h"

/* The reference size for the cost figures, the one most models are
 * quoted at.
 */
#define INFO_SIDE 1024

static const gchar *
or_unknown (const gchar *text)
{
  return text != NULL && *text != '\0' ? text : "(unknown)";
}

static gchar *
group_digits (guint64 n)
{
  g_autofree gchar *plain = g_strdup_printf ("%" G_GUINT64_FORMAT, n);
  GString          *out = g_string_new (NULL);
  gsize             len = strlen (plain);
  gsize             i;

  for (i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append_c (out, ',');
      g_string_append_c (out, plain[i]);
    }

  return g_string_free (out, FALSE);
}

/* vae info IN.vaez: what the file's header says */
static gboolean
info_compressed (const gchar  *path,
                 GError      **error)
{
  g_autoptr (GBytes) file = NULL;
  VaeCompressedInfo  info;

  file = vae_compressed_load (path, error);
  if (file == NULL)
    return FALSE;
  if (!vae_compressed_read_info (file, &info, error))
    {
      g_prefix_error (error, "'%s': ", path);
      return FALSE;
    }

  printf ("file             %s\n", path);
  printf ("kind             %s\n",
          info.kind == VAE_COMPRESS_LEARNED
            ? "image, coded with its model's entropy model"
            : "latents, coded with the generic coder");
  printf ("model            %s (hash %s...)\n", info.model_id, info.model_hash);
  printf ("image            %u x %u\n", info.width, info.height);
  printf ("latent           %u x %u x %u\n", info.channels,
          info.latent_height, info.latent_width);
  printf ("quality          %.1f\n", info.quality);
  printf ("size             %" G_GSIZE_FORMAT " bytes, %.4f bits per pixel\n",
          info.size, info.bpp);
  vae_compressed_info_clear (&info);

  return TRUE;
}

gboolean
cli_info (CliContext  *ctx,
          gint         argc,
          gchar      **argv,
          GError     **error)
{
  const gchar          *model_spec;
  g_auto (GStrv)        positional = NULL;
  g_autoptr (VaeModel)  model = NULL;
  g_autofree gchar     *params = NULL;
  gchar               **rest;
  guint                 factor;
  guint                 latent_w;
  guint                 latent_h;
  gdouble               scale;
  gdouble               shift;

  if (!cli_parse_options (ctx, "[MODEL | IN.vaez]",
                          "Shows what a model is: its architecture, latent "
                          "space, size, license, and what encoding and "
                          "decoding a 1024x1024 image costs; or what a .vaez "
                          "file holds.",
                          NULL, NULL, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 0, NULL, &model_spec, &rest,
                            error))
    return FALSE;

  if (model_spec != NULL && cli_is_compressed_file (model_spec))
    return info_compressed (model_spec, error);

  model = cli_model_open (ctx, model_spec, NULL, error);
  if (model == NULL)
    return FALSE;

  factor = vae_model_get_factor (model);
  latent_w = (INFO_SIDE + factor - 1) / factor;
  latent_h = latent_w;
  params = group_digits (vae_model_get_n_params (model));
  vae_model_get_latent_scaling (model, &scale, &shift);

  printf ("path             %s\n", or_unknown (vae_model_get_path (model)));
  printf ("name             %s\n", or_unknown (vae_model_get_name (model)));
  printf ("architecture     %s\n", or_unknown (vae_model_get_architecture (model)));
  printf ("variant          %s\n", or_unknown (vae_model_get_id (model)));
  printf ("latent channels  %u\n", vae_model_get_latent_channels (model));
  printf ("factor           %u\n", factor);
  printf ("latent scaling   scale %g, shift %g\n", scale, shift);
  printf ("parameters       %s\n", params);
  printf ("can encode       %s\n", vae_model_can_encode (model) ? "yes" : "no");
  printf ("can decode       %s\n", vae_model_can_decode (model) ? "yes" : "no");
  printf ("content hash     %s\n", or_unknown (vae_model_get_hash (model)));
  printf ("license          %s\n", or_unknown (vae_model_get_license (model)));
  printf ("at %dx%d:\n", INFO_SIDE, INFO_SIDE);
  printf ("  latent         %u x %u x %u (%u tokens)\n",
          vae_model_get_latent_channels (model), latent_h, latent_w,
          latent_w * latent_h);
  if (vae_model_can_encode (model))
    printf ("  encode         %.2f GFLOP\n",
            vae_model_get_gflops (model, FALSE, INFO_SIDE, INFO_SIDE));
  if (vae_model_can_decode (model))
    printf ("  decode         %.2f GFLOP\n",
            vae_model_get_gflops (model, TRUE, INFO_SIDE, INFO_SIDE));

  return TRUE;
}
