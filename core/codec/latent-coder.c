/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include "../vae-error-private.h"
#include "context.h"
#include "entropy-model.h"
#include "latent-coder.h"
#include "range-coder.h"

#define N1 5                /* same-channel activity buckets */
#define N2 4                /* previous-channel activity buckets */
#define UNARY 14            /* magnitudes 1..UNARY+1 in unary, then escape */
#define MAX_ESCAPE_PREFIX 24

/* The adaptive models of one context. */
typedef struct
{
  VaeBitModel zero;
  VaeBitModel greater[UNARY];
} Context;

static Context *
contexts_new (guint channels)
{
  gsize    n = (gsize) channels * N1 * N2;
  Context *ctx = g_new (Context, n);
  gsize    i;
  guint    k;

  for (i = 0; i < n; i++)
    {
      vae_bit_model_init (&ctx[i].zero);
      for (k = 0; k < UNARY; k++)
        vae_bit_model_init (&ctx[i].greater[k]);
    }

  return ctx;
}

static inline Context *
pick (Context      *ctx,
      const gint32 *q,
      guint         c,
      guint         y,
      guint         x,
      guint         height,
      guint         width)
{
  gsize plane = (gsize) height * width;
  guint b1 = vae_codec_activity (q + c * plane, y, x, width, N1 - 1);
  guint b2 = vae_codec_cross (c > 0 ? q + (c - 1) * plane : NULL, y, x,
                              height, width, N2 - 1);

  return &ctx[(c * N1 + b1) * N2 + b2];
}

void
vae_latent_coder_encode (const gint32 *q,
                         guint         channels,
                         guint         height,
                         guint         width,
                         GByteArray   *out)
{
  g_autofree Context *ctx = contexts_new (channels);
  VaeRangeEncoder     enc;
  guint               c;
  guint               y;
  guint               x;

  vae_range_encoder_init (&enc, out);
  for (c = 0; c < channels; c++)
    for (y = 0; y < height; y++)
      for (x = 0; x < width; x++)
        {
          Context *m = pick (ctx, q, c, y, x, height, width);
          gint32   v = q[((gsize) c * height + y) * width + x];
          guint32  mag = vae_codec_magnitude (v);
          guint    k;

          vae_range_encode_bit (&enc, &m->zero, mag != 0);
          if (mag == 0)
            continue;
          vae_range_encode_bypass (&enc, v < 0, 1);
          for (k = 0; k < UNARY; k++)
            {
              vae_range_encode_bit (&enc, &m->greater[k], mag > k + 1);
              if (mag <= k + 1)
                break;
            }
          if (k == UNARY)
            {
              guint32 u = mag - UNARY;      /* >= 1 */
              guint   n = vae_codec_bit_length (u) - 1;

              vae_range_encode_bypass (&enc, (1u << n) - 1, n);
              vae_range_encode_bypass (&enc, 0, 1);
              vae_range_encode_bypass (&enc, u & ((1u << n) - 1), n);
            }
        }
  vae_range_encoder_finish (&enc);
}

gboolean
vae_latent_coder_decode (const guint8  *data,
                         gsize          size,
                         guint          channels,
                         guint          height,
                         guint          width,
                         gint32        *q,
                         GError       **error)
{
  g_autofree Context *ctx = contexts_new (channels);
  VaeRangeDecoder     dec;
  guint               c;
  guint               y;
  guint               x;

  vae_range_decoder_init (&dec, data, size);
  for (c = 0; c < channels; c++)
    for (y = 0; y < height; y++)
      for (x = 0; x < width; x++)
        {
          Context *m = pick (ctx, q, c, y, x, height, width);
          gint32  *out = &q[((gsize) c * height + y) * width + x];
          guint32  mag;
          guint    negative;
          guint    k;

          if (!vae_range_decode_bit (&dec, &m->zero))
            {
              *out = 0;
              continue;
            }
          negative = vae_range_decode_bypass (&dec, 1);
          mag = 1;
          for (k = 0; k < UNARY; k++)
            {
              if (!vae_range_decode_bit (&dec, &m->greater[k]))
                break;
              mag++;
            }
          if (k == UNARY)
            {
              guint   n = 0;
              guint32 u;

              while (vae_range_decode_bypass (&dec, 1))
                if (++n >= MAX_ESCAPE_PREFIX)
                  return vae_fail (error, VAE_ERROR_FORMAT,
                                   "the coded latents are damaged");
              u = (1u << n) | vae_range_decode_bypass (&dec, n);
              mag = MIN (UNARY + u, (guint32) VAE_CODEC_MAX_MAGNITUDE);
            }
          *out = negative ? -(gint32) mag : (gint32) mag;
        }

  return TRUE;
}
