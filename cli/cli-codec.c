/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Encode and decode the way every subcommand does it.
 */

#include "vae-cli.h"

VaeLatent *
cli_run_encode (CliContext       *ctx,
                VaeModel         *model,
                const VaeTensor  *image,
                gdouble          *seconds,
                GError          **error)
{
  VaeLatent *latent = NULL;
  gdouble    start;
  gboolean   ok;

  if (!vae_model_can_encode (model))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "model '%s' has no encoder", vae_model_get_path (model));
      return NULL;
    }
  if (!cli_check_cancelled (ctx, error))
    return NULL;

  start = cli_seconds ();
  ok = vae_model_encode (model, image, &latent, &ctx->options,
                         ctx->cancellable, cli_progress, ctx, error);
  if (seconds != NULL)
    *seconds = cli_seconds () - start;
  cli_progress_clear (ctx);

  if (!ok)
    {
      g_clear_pointer (&latent, vae_latent_unref);
      return NULL;
    }

  return latent;
}

VaeTensor *
cli_run_decode (CliContext       *ctx,
                VaeModel         *model,
                const VaeLatent  *latent,
                gdouble          *seconds,
                GError          **error)
{
  VaeTensor *image = NULL;
  gdouble    start;
  gboolean   ok;

  if (!vae_model_can_decode (model))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "model '%s' has no decoder", vae_model_get_path (model));
      return NULL;
    }
  if (!cli_check_cancelled (ctx, error))
    return NULL;

  start = cli_seconds ();
  ok = vae_model_decode (model, latent, &image, &ctx->options,
                         ctx->cancellable, cli_progress, ctx, error);
  if (seconds != NULL)
    *seconds = cli_seconds () - start;
  cli_progress_clear (ctx);

  if (!ok)
    {
      g_clear_pointer (&image, vae_tensor_unref);
      return NULL;
    }

  return image;
}
