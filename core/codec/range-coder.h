/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: a byte-oriented range coder (32-bit range, carries propagated
 * through a pending byte and a run of 0xff bytes), with three kinds of
 * symbols: from a static cumulative frequency table of 16-bit total, from
 * an adaptive binary model, and equiprobable bits.  Only integer
 * arithmetic: a stream decodes to the same symbols on every machine.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VAE_RC_FREQ_BITS 16
#define VAE_RC_FREQ_TOTAL (1u << VAE_RC_FREQ_BITS)

/* An adaptive probability that the next bit is 0, 16-bit fixed point: the
 * mean of a fast and a slow estimate, so that it follows both short runs
 * and long-term statistics. */
typedef struct
{
  guint16 fast;
  guint16 slow;
} VaeBitModel;

void      vae_bit_model_init      (VaeBitModel   *model);

typedef struct
{
  guint64     low;
  guint32     range;
  guint8      cache;
  guint64     cache_size;
  gboolean    started;
  GByteArray *out;
} VaeRangeEncoder;

void      vae_range_encoder_init   (VaeRangeEncoder *enc,
                                    GByteArray      *out);
/* Codes the symbol whose cumulative frequencies are [cum, cum + freq) of
 * VAE_RC_FREQ_TOTAL; freq >= 1. */
void      vae_range_encode         (VaeRangeEncoder *enc,
                                    guint32          cum,
                                    guint32          freq);
void      vae_range_encode_bit     (VaeRangeEncoder *enc,
                                    VaeBitModel     *model,
                                    guint            bit);
void      vae_range_encode_bypass  (VaeRangeEncoder *enc,
                                    guint32          value,
                                    guint            n_bits);
void      vae_range_encoder_finish (VaeRangeEncoder *enc);

typedef struct
{
  guint32       range;
  guint32       code;
  const guint8 *data;
  gsize         size;
  gsize         pos;
} VaeRangeDecoder;

void      vae_range_decoder_init   (VaeRangeDecoder *dec,
                                    const guint8    *data,
                                    gsize            size);
/* The symbol s with cdf[s] <= target < cdf[s + 1] among n_symbols, where
 * cdf[0] = 0 and cdf[n_symbols] = VAE_RC_FREQ_TOTAL, strictly increasing.
 * Damaged streams decode to some symbol, never out of range. */
guint     vae_range_decode         (VaeRangeDecoder *dec,
                                    const guint32   *cdf,
                                    guint            n_symbols);
guint     vae_range_decode_bit     (VaeRangeDecoder *dec,
                                    VaeBitModel     *model);
guint32   vae_range_decode_bypass  (VaeRangeDecoder *dec,
                                    guint            n_bits);

G_END_DECLS
