/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: the integer contexts of the latent coders (docs/compression.md).
 * Channels are coded one after the other, each in raster order, so a value
 * knows its own channel above and to the left, and the whole channel
 * before it.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline guint
vae_codec_bit_length (guint32 value)
{
  return value == 0 ? 0 : 32 - (guint) __builtin_clz (value);
}

static inline guint32
vae_codec_magnitude (gint32 v)
{
  return v < 0 ? (guint32) -(gint64) v : (guint32) v;
}

/* Activity buckets of value (c, y, x) of q [C, height, width]:
 *   *b1 = bit length of 2 (|left| + |up|) + |up-left| + |up-right|, at most
 *         max1;
 *   *b2 = half the bit length (rounded up) of 2 |p| + |p left| + |p right|
 *         + |p up| + |p down|, p the previous channel at (y, x), at most
 *         max2 (0 for channel 0).
 * Neighbours outside the map count as 0.  Magnitudes are at most 2^22, so
 * the sums fit 32 bits. */
static inline void
vae_codec_context (const gint32 *q,
                   guint         c,
                   guint         y,
                   guint         x,
                   guint         height,
                   guint         width,
                   guint         max1,
                   guint         max2,
                   guint        *b1,
                   guint        *b2)
{
  gsize         plane = (gsize) height * width;
  const gint32 *p = q + c * plane + (gsize) y * width + x;
  guint32       act1 = 0;
  guint32       act2 = 0;

  if (x > 0)
    act1 += 2 * vae_codec_magnitude (p[-1]);
  if (y > 0)
    {
      act1 += 2 * vae_codec_magnitude (p[-(gssize) width]);
      if (x > 0)
        act1 += vae_codec_magnitude (p[-(gssize) width - 1]);
      if (x + 1 < width)
        act1 += vae_codec_magnitude (p[-(gssize) width + 1]);
    }
  *b1 = MIN (vae_codec_bit_length (act1), max1);

  *b2 = 0;
  if (c > 0)
    {
      const gint32 *r = p - plane;

      act2 = 2 * vae_codec_magnitude (r[0]);
      if (x > 0)
        act2 += vae_codec_magnitude (r[-1]);
      if (x + 1 < width)
        act2 += vae_codec_magnitude (r[1]);
      if (y > 0)
        act2 += vae_codec_magnitude (r[-(gssize) width]);
      if (y + 1 < height)
        act2 += vae_codec_magnitude (r[width]);
      *b2 = MIN ((vae_codec_bit_length (act2) + 1) / 2, max2);
    }
}

G_END_DECLS
