/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* The definition of conv2d, written for clarity: every output is a double
 * sum over its receptive field.  Tests hold the fast kernel to it. */

#include "ops.h"

void
vae_conv2d_reference (const VaeConv2d *conv,
                      const VaeTensor *in,
                      const VaeTensor *residual,
                      VaeActivation    act,
                      VaeTensor       *out)
{
  const gint   k = conv->kernel;
  const gsize  h_in = VAE_T_H (in), w_in = VAE_T_W (in);
  const gsize  h_out = VAE_T_H (out), w_out = VAE_T_W (out);
  const gssize hu = (gssize) h_in * conv->upsample;
  const gssize wu = (gssize) w_in * conv->upsample;
  gint         co, ci, ky, kx;
  gsize        y, x;

  for (co = 0; co < conv->c_out; co++)
    for (y = 0; y < h_out; y++)
      for (x = 0; x < w_out; x++)
        {
          gsize   o = ((gsize) co * h_out + y) * w_out + x;
          gdouble sum = conv->bias ? conv->bias[co] : 0.0;

          for (ci = 0; ci < conv->c_in; ci++)
            for (ky = 0; ky < k; ky++)
              for (kx = 0; kx < k; kx++)
                {
                  gssize iy = (gssize) y * conv->stride - conv->pad_top + ky;
                  gssize ix = (gssize) x * conv->stride - conv->pad_left + kx;
                  gfloat v;

                  if (iy < 0 || ix < 0 || iy >= hu || ix >= wu)
                    continue;
                  v = in->data[((gsize) ci * h_in + iy / conv->upsample) * w_in +
                               ix / conv->upsample];
                  sum += (gdouble) v *
                         conv->weight[(((gsize) co * conv->c_in + ci) * k + ky) * k + kx];
                }

          if (residual)
            sum += residual->data[o];
          out->data[o] = vae_activate_scalar ((gfloat) sum, act);
        }
}
