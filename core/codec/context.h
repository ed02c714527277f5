/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: the integer contexts of the latent coders (docs/compression.md).
 * Channels are coded one after the other, each in raster order, so a value
 * knows its own channel above and to the left, and the whole channel
 * before it.  Everything here is integer arithmetic: encoder and decoder
 * find the same contexts on every machine.
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

/* The activity bucket of position (y, x) of a plane [height, width]:
 * the bit length of 2 (|left| + |up|) + |up-left| + |up-right|, at most
 * @max.  Only positions coded before (y, x) are read; outside the map
 * counts as 0.  Values are at most 2^22 and prediction residuals 2^23 in
 * magnitude, so the sum fits 32 bits. */
static inline guint
vae_codec_activity (const gint32 *plane,
                    guint         y,
                    guint         x,
                    guint         width,
                    guint         max)
{
  const gint32 *p = plane + (gsize) y * width + x;
  guint32       act = 0;

  if (x > 0)
    act += 2 * vae_codec_magnitude (p[-1]);
  if (y > 0)
    {
      act += 2 * vae_codec_magnitude (p[-(gssize) width]);
      if (x > 0)
        act += vae_codec_magnitude (p[-(gssize) width - 1]);
      if (x + 1 < width)
        act += vae_codec_magnitude (p[-(gssize) width + 1]);
    }

  return MIN (vae_codec_bit_length (act), max);
}

/* The bucket of position (y, x) in the previous channel's plane @prev
 * (all of it coded): half the bit length, rounded up, of 2 |p| + |p left|
 * + |p right| + |p up| + |p down|, at most @max; 0 when @prev is NULL
 * (channel 0). */
static inline guint
vae_codec_cross (const gint32 *prev,
                 guint         y,
                 guint         x,
                 guint         height,
                 guint         width,
                 guint         max)
{
  const gint32 *r;
  guint32       act;

  if (prev == NULL)
    return 0;
  r = prev + (gsize) y * width + x;
  act = 2 * vae_codec_magnitude (r[0]);
  if (x > 0)
    act += vae_codec_magnitude (r[-1]);
  if (x + 1 < width)
    act += vae_codec_magnitude (r[1]);
  if (y > 0)
    act += vae_codec_magnitude (r[-(gssize) width]);
  if (y + 1 < height)
    act += vae_codec_magnitude (r[width]);

  return MIN ((vae_codec_bit_length (act) + 1) / 2, max);
}

/* LOCO-I's median edge detector on a plane's coded neighbours (0 outside
 * the map): the smaller of left and up above an edge, the larger below,
 * else left + up - up-left. */
static inline gint32
vae_codec_predict (const gint32 *plane,
                   guint         y,
                   guint         x,
                   guint         width)
{
  const gint32 *p = plane + (gsize) y * width + x;
  gint64        a = x > 0 ? p[-1] : 0;
  gint64        b = y > 0 ? p[-(gssize) width] : 0;
  gint64        c = x > 0 && y > 0 ? p[-(gssize) width - 1] : 0;
  gint64        v;

  if (c >= MAX (a, b))
    v = MIN (a, b);
  else if (c <= MIN (a, b))
    v = MAX (a, b);
  else
    v = a + b - c;

  return (gint32) v;
}

G_END_DECLS
