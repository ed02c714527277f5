/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae encode MODEL IMAGE -o OUT.latent
 */

#include "cli-image.h"
#include "vae-cli.h"

gboolean
cli_encode (CliContext  *ctx,
            gint         argc,
            gchar      **argv,
            GError     **error)
{
  g_autofree gchar      *output = NULL;
  GOptionEntry           entries[] =
  {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Where to write the latents (required)", "OUT.latent" },
    { NULL }
  };
  g_auto (GStrv)         positional = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autoptr (CliImage)   image = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  const gchar           *model_spec;
  gchar                **rest;
  gdouble                seconds;

  if (!cli_parse_options (ctx, "[MODEL] IMAGE",
                          "Encodes an image into latents and writes them as "
                          "a .latent file (safetensors, tensor "
                          "\"latent_tensor\", the layout ComfyUI reads), "
                          "recording the model and the image size.",
                          "The image may be in any format GEGL reads.  Gray "
                          "images are encoded as colour (R = G = B); an "
                          "alpha channel is not encoded.  Sizes that are not "
                          "a multiple of the model's factor are padded (see "
                          "--pad) and the padding is cropped again on decode.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 1, "IMAGE", &model_spec, &rest,
                            error))
    return FALSE;

  if (!cli_require_output (output, "encode", "OUT.latent", error) ||
      !cli_check_output (output, model_spec, rest[0], error))
    return FALSE;

  model = cli_model_open (ctx, model_spec, NULL, error);
  if (model == NULL)
    return FALSE;

  image = cli_image_load (ctx, rest[0], error);
  if (image == NULL)
    return FALSE;

  if (image->alpha != NULL)
    cli_note (ctx, "note: the alpha channel of '%s' is not encoded", rest[0]);

  latent = cli_run_encode (ctx, model, image->rgb, &seconds, error);
  if (latent == NULL)
    return FALSE;

  if (!vae_latent_save (latent, output, error))
    return FALSE;

  cli_note (ctx, "encoded %ux%u -> %u x %u x %u in %.2f s, wrote %s",
            image->width, image->height, vae_latent_get_channels (latent),
            vae_latent_get_height (latent), vae_latent_get_width (latent),
            seconds, output);

  return TRUE;
}
