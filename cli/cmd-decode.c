/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae decode MODEL IN.latent -o OUT.png [--size WxH] [--force]
 */

#include "cli-image.h"
#include "vae-cli.h"

gboolean
cli_decode (CliContext  *ctx,
            gint         argc,
            gchar      **argv,
            GError     **error)
{
  g_autofree gchar      *output = NULL;
  g_autofree gchar      *size = NULL;
  gboolean               force = FALSE;
  gint                   depth = 8;
  GOptionEntry           entries[] =
  {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where to write the image (required; .png, .tif, .jpg or .webp)",
      "OUT.png" },
    { "size", 's', 0, G_OPTION_ARG_STRING, &size,
      "Resize the decoded image to this size", "WxH" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Decode latents even when another model made them", NULL },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
      "Bits per channel of the output: 8 (default) or 16", "8|16" },
    { NULL }
  };
  g_auto (GStrv)         positional = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  g_autoptr (VaeTensor)  decoded = NULL;
  const gchar           *model_spec;
  gchar                **rest;
  guint                  width = 0;
  guint                  height = 0;
  gdouble                seconds;

  if (!cli_parse_options (ctx, "[MODEL] IN.latent",
                          "Decodes a .latent file into an image.",
                          "The output has the size of the image the latents "
                          "were made from when the file records it (the "
                          "padding added on encode is cropped), else the "
                          "latent size times the model's factor; --size "
                          "resizes the result.  Without MODEL, the model that "
                          "made the latents decodes them (as the file records "
                          "it), else the default model.  Latents made by "
                          "another model are refused unless --force is given.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 1, "IN.latent", &model_spec,
                            &rest, error))
    return FALSE;

  if (!cli_require_output (output, "decode", "OUT.png", error) ||
      !cli_check_depth (depth, error) ||
      !cli_image_check_output (output, depth, error) ||
      !cli_check_output (output, model_spec, rest[0], error))
    return FALSE;
  if (size != NULL && !cli_parse_size (size, &width, &height, error))
    return FALSE;
  ctx->options.force = force;

  if (g_file_test (rest[0], G_FILE_TEST_IS_REGULAR) &&
      !cli_is_latent_file (rest[0]))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "'%s' is not a .latent file (to decode an image, encode "
                   "it first, or use 'vae roundtrip')", rest[0]);
      return FALSE;
    }

  latent = vae_latent_load (rest[0], error);
  if (latent == NULL)
    return FALSE;
  model = cli_model_open (ctx, model_spec, latent, error);
  if (model == NULL)
    return FALSE;
  if (!cli_check_latent_model (ctx, model, latent, rest[0], error))
    return FALSE;

  decoded = cli_run_decode (ctx, model, latent, &seconds, error);
  if (decoded == NULL)
    return FALSE;

  if (size != NULL &&
      (vae_tensor_get_dim (decoded, 2) != width ||
       vae_tensor_get_dim (decoded, 1) != height))
    {
      VaeTensor *resized = vae_image_resize (decoded, width, height, error);

      if (resized == NULL)
        return FALSE;
      vae_tensor_unref (decoded);
      decoded = resized;
    }

  if (!cli_image_save (output, decoded, NULL, depth, error))
    return FALSE;

  cli_note (ctx, "decoded %u x %u x %u -> %" G_GSIZE_FORMAT "x%"
            G_GSIZE_FORMAT " in %.2f s, wrote %s",
            vae_latent_get_channels (latent), vae_latent_get_height (latent),
            vae_latent_get_width (latent), vae_tensor_get_dim (decoded, 2),
            vae_tensor_get_dim (decoded, 1), seconds, output);

  return TRUE;
}
