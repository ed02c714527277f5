/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Nearest-neighbour upsampling by an integer factor, as PyTorch's
 * interpolate (mode="nearest", scale_factor=f): out[y][x] = in[y/f][x/f].
 * Convs that follow an upsample fold it into their gather instead
 * (VaeConv2d.upsample); this op is for the cases where the upsampled map
 * itself is needed. */

#include <string.h>

#include "../vae-error-private.h"
#include "ops.h"

typedef struct
{
  const VaeTensor *in;
  VaeTensor       *out;
  gint             factor;
} UpJob;

static void
upsample_row (gsize    index,
              gint     thread,
              gpointer data)
{
  UpJob        *job = data;
  const gsize   w = VAE_T_W (job->in), h = VAE_T_H (job->in);
  const gsize   wo = w * job->factor;
  const gsize   c = index / h, y = index % h;
  const gfloat *src = job->in->data + (c * h + y) * w;
  gfloat       *dst = job->out->data + (c * h * job->factor + y * job->factor) * wo;
  gsize         x;
  gint          f, r;

  for (x = 0; x < w; x++)
    for (f = 0; f < job->factor; f++)
      dst[x * job->factor + f] = src[x];
  for (r = 1; r < job->factor; r++)
    memcpy (dst + r * wo, dst, wo * sizeof (gfloat));
}

VaeTensor *
vae_op_upsample_nearest (VaeRun           *run,
                         const VaeTensor  *in,
                         gint              factor,
                         GError          **error)
{
  UpJob job;

  if (factor < 1 || in->n_dims != 3)
    return vae_fail_null (error, VAE_ERROR_SHAPE,
                          "upsample expects a [C, H, W] tensor and a "
                          "positive factor");

  job.in = in;
  job.factor = factor;
  job.out = vae_tensor_new_3d_uninit (VAE_T_C (in), VAE_T_H (in) * factor,
                                      VAE_T_W (in) * factor, error);
  if (job.out == NULL)
    return NULL;

  vae_parallel_for (run, VAE_T_C (in) * VAE_T_H (in), upsample_row, &job);

  return job.out;
}
