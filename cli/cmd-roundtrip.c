/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae roundtrip MODEL IMAGE [-o OUT.png] [--diff DIFF.png]
 */

#include <math.h>
#include <stdio.h>

#include "cli-image.h"
#include "vae-cli.h"

#define DEFAULT_GAIN 10.0

gboolean
cli_roundtrip (CliContext  *ctx,
               gint         argc,
               gchar      **argv,
               GError     **error)
{
  g_autofree gchar      *output = NULL;
  g_autofree gchar      *diff = NULL;
  g_autofree gchar      *diff_style = NULL;
  gdouble                gain = DEFAULT_GAIN;
  gdouble                bpp = 0.0;
  gdouble                level = -1.0;
  gint                   depth = 8;
  GOptionEntry           entries[] =
  {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Write the decoded image (with the input's alpha channel, if any)",
      "OUT.png" },
    { "diff", 0, 0, G_OPTION_ARG_FILENAME, &diff,
      "Write a picture of the differences", "DIFF.png" },
    { "diff-style", 0, 0, G_OPTION_ARG_STRING, &diff_style,
      "amplified: per-channel |difference| times the gain (default); "
      "heatmap: mean |difference| times the gain on a colour ramp",
      "amplified|heatmap" },
    { "gain", 'g', 0, G_OPTION_ARG_DOUBLE, &gain,
      "How much the differences are amplified (default 10)", "G" },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
      "Bits per channel of OUT: 8 (default) or 16", "8|16" },
    { "bpp", 0, 0, G_OPTION_ARG_DOUBLE, &bpp,
      "Go through a .vaez file of at most this many bits per pixel (see "
      "'vae compress')", "B" },
    { "quality", 0, 0, G_OPTION_ARG_DOUBLE, &level,
      "Go through a .vaez file of this quality, 0 to 100", "Q" },
    { NULL }
  };
  g_auto (GStrv)         positional = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autoptr (CliImage)   image = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  g_autoptr (VaeTensor)  decoded = NULL;
  g_autoptr (VaeTensor)  reference = NULL;
  const gchar           *model_spec;
  gchar                **rest;
  VaeDiffStyle           style = VAE_DIFF_AMPLIFIED;
  VaeQuality             quality;
  g_autoptr (GBytes)     file = NULL;
  gboolean               compress;
  gdouble                encode_s;
  gdouble                decode_s;

  if (!cli_parse_options (ctx, "[MODEL] IMAGE",
                          "Encodes and decodes an image and prints how close "
                          "the result is: PSNR, SSIM and MS-SSIM on 8-bit "
                          "RGB, and the times taken.",
                          "The decoded image is rounded to 8 bits before it "
                          "is measured (that is what an 8-bit file of it "
                          "holds).  Inputs with more than 8 bits per channel "
                          "are rounded to 8 bits too for the measurement, so "
                          "the figures compare with those of 8-bit files.  "
                          "Gray inputs are measured as R = G = B; alpha is "
                          "not measured.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 1, "IMAGE", &model_spec, &rest,
                            error))
    return FALSE;

  if (diff_style == NULL || g_str_equal (diff_style, "amplified"))
    style = VAE_DIFF_AMPLIFIED;
  else if (g_str_equal (diff_style, "heatmap"))
    style = VAE_DIFF_HEATMAP;
  else
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--diff-style must be amplified or heatmap, not '%s'",
                   diff_style);
      return FALSE;
    }
  if (!isfinite (gain) || gain <= 0.0 || gain > 1e6)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--gain must be a positive number");
      return FALSE;
    }
  if (!cli_check_depth (depth, error))
    return FALSE;
  if (output != NULL && !cli_image_check_output (output, depth, error))
    return FALSE;
  if (diff != NULL && !cli_image_check_output (diff, 8, error))
    return FALSE;
  {
    const gchar *outputs[] = { output, diff };
    const gchar *inputs[] = { model_spec, rest[0] };

    if (!cli_check_outputs (outputs, G_N_ELEMENTS (outputs),
                            inputs, G_N_ELEMENTS (inputs), error))
      return FALSE;
  }

  compress = bpp != 0.0 || level >= 0.0;
  if (compress && (!(bpp >= 0.0 && bpp <= 64.0) || level > 100.0 ||
                   (bpp != 0.0 && level >= 0.0)))
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "give one of --bpp (above 0) or --quality (0 to 100)");
      return FALSE;
    }

  /* compressing with no MODEL: the codec model, not the default one */
  model = compress && model_spec == NULL ? cli_open_codec_model (ctx, error)
                                         : cli_model_open (ctx, model_spec, NULL, error);
  if (model == NULL)
    return FALSE;

  image = cli_image_load (ctx, rest[0], error);
  if (image == NULL)
    return FALSE;

  if (compress)
    {
      VaeCompressedInfo info;

      encode_s = cli_seconds ();
      file = cli_run_compress (ctx, model, image->rgb, bpp, level, error);
      encode_s = cli_seconds () - encode_s;
      if (file == NULL || !vae_compressed_read_info (file, &info, error))
        return FALSE;
      printf ("%.4f bpp  %" G_GSIZE_FORMAT " bytes  quality %.1f\n",
              info.bpp, info.size, info.quality);
      vae_compressed_info_clear (&info);

      decode_s = cli_seconds ();
      decoded = vae_decompress_image (model, file, &ctx->options,
                                      ctx->cancellable, cli_progress, ctx,
                                      error);
      decode_s = cli_seconds () - decode_s;
      cli_progress_clear (ctx);
    }
  else
    {
      latent = cli_run_encode (ctx, model, image->rgb, &encode_s, error);
      if (latent == NULL)
        return FALSE;
      decoded = cli_run_decode (ctx, model, latent, &decode_s, error);
    }
  if (decoded == NULL)
    return FALSE;

  if (image->bits > 8)
    {
      reference = vae_tensor_copy (image->rgb, error);
      if (reference == NULL)
        return FALSE;
      vae_image_quantize_8bit (reference);
    }
  else
    {
      reference = vae_tensor_ref (image->rgb);
    }

  if (depth == 8)
    vae_image_quantize_8bit (decoded);

  if (output != NULL &&
      !cli_image_save (output, decoded, image->alpha, depth, error))
    return FALSE;

  /* measured on 8-bit values whatever --depth writes */
  if (depth != 8)
    vae_image_quantize_8bit (decoded);

  if (!vae_quality (reference, decoded, &quality, error))
    return FALSE;

  if (diff != NULL)
    {
      g_autoptr (VaeTensor) map = NULL;

      map = vae_difference_map (reference, decoded, style, gain, error);
      if (map == NULL || !cli_image_save (diff, map, NULL, 8, error))
        return FALSE;
    }

  if (isinf (quality.psnr))
    printf ("PSNR inf dB");
  else
    printf ("PSNR %.2f dB", quality.psnr);
  /* SSIM is undefined for images smaller than its 11x11 window */
  if (isnan (quality.ssim))
    printf ("  SSIM n/a");
  else
    printf ("  SSIM %.4f", quality.ssim);
  if (isnan (quality.ms_ssim))
    printf ("  MS-SSIM n/a\n");
  else
    printf ("  MS-SSIM %.4f\n", quality.ms_ssim);
  if (compress)
    printf ("time compress %.3f s  decompress %.3f s\n", encode_s, decode_s);
  else
    printf ("time encode %.3f s  decode %.3f s\n", encode_s, decode_s);

  return TRUE;
}
