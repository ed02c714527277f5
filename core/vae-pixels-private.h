/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * The one rule for values that leave the model's range, shared by the pixel
 * adapter (vae-pixels.c), the 8-bit quantiser PSNR is quoted on
 * (vae-metrics.c) and the decoder's output (vae-model.c): whatever path an
 * image takes out of libvae, a value lands on the same level.
 */

#pragma once

#include <math.h>

#include <glib.h>

G_BEGIN_DECLS

/* NaN fails both comparisons and lands on 0: a NaN that reached a file
 * would be whatever the integer cast makes of it. */
static inline gfloat
vae_pixel_clamp (gfloat v)
{
  return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
}

/* The nearest of the levels 0 .. @max, ties to even as numpy.round and
 * torch.round do (the references' rule); v * max + 0.5 would round ties
 * up and, in float, round some values just below a tie up too. */
static inline gfloat
vae_pixel_level (gfloat v,
                 gfloat max)
{
  return nearbyintf (vae_pixel_clamp (v) * max);
}

G_END_DECLS
