/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include "range-coder.h"

#define TOP (1u << 24)

/* The two adaptation rates of a bit model: 1/16 and 1/128 of the distance
 * to the observed bit per update. */
#define FAST_SHIFT 4
#define SLOW_SHIFT 7

void
vae_bit_model_init (VaeBitModel *model)
{
  model->fast = 1u << 15;
  model->slow = 1u << 15;
}

static inline guint32
bit_model_p0 (const VaeBitModel *model)
{
  /* Both halves stay within [2^FAST_SHIFT - 1, 2^16 - 2^FAST_SHIFT] by
   * their update rule, so the mean is never 0 nor 2^16. */
  return ((guint32) model->fast + model->slow) >> 1;
}

static inline void
bit_model_update (VaeBitModel *model,
                  guint        bit)
{
  if (bit)
    {
      model->fast -= model->fast >> FAST_SHIFT;
      model->slow -= model->slow >> SLOW_SHIFT;
    }
  else
    {
      model->fast += (65536u - model->fast) >> FAST_SHIFT;
      model->slow += (65536u - model->slow) >> SLOW_SHIFT;
    }
}

/* --- encoder --------------------------------------------------------- */

void
vae_range_encoder_init (VaeRangeEncoder *enc,
                        GByteArray      *out)
{
  enc->low = 0;
  enc->range = 0xffffffffu;
  enc->cache = 0;
  enc->cache_size = 1;
  enc->started = FALSE;
  enc->out = out;
}

/* Moves the top byte of low out.  A byte is held back (cache, and the
 * 0xff bytes after it) until it is known whether a carry from below will
 * still add one to it. */
static void
shift_low (VaeRangeEncoder *enc)
{
  if ((guint32) enc->low < 0xff000000u || (enc->low >> 32) != 0)
    {
      guint8 carry = (guint8) (enc->low >> 32);
      guint8 byte = enc->cache;

      do
        {
          guint8 b = byte + carry;

          /* The first byte is always 0: low + range never passes 2^32
           * before it goes out, so nothing can carry into it.  The decoder
           * knows that and it is not stored. */
          if (enc->started)
            g_byte_array_append (enc->out, &b, 1);
          enc->started = TRUE;
          byte = 0xff;
        }
      while (--enc->cache_size != 0);
      enc->cache = (guint8) (enc->low >> 24);
    }
  enc->cache_size++;
  enc->low = (enc->low & 0x00ffffffu) << 8;
}

static inline void
encoder_normalize (VaeRangeEncoder *enc)
{
  while (enc->range < TOP)
    {
      enc->range <<= 8;
      shift_low (enc);
    }
}

void
vae_range_encode (VaeRangeEncoder *enc,
                  guint32          cum,
                  guint32          freq)
{
  guint32 r = enc->range >> VAE_RC_FREQ_BITS;

  g_return_if_fail (freq >= 1 && cum + freq <= VAE_RC_FREQ_TOTAL);

  enc->low += (guint64) r * cum;
  enc->range = r * freq;
  encoder_normalize (enc);
}

void
vae_range_encode_bit (VaeRangeEncoder *enc,
                      VaeBitModel     *model,
                      guint            bit)
{
  guint32 bound = (enc->range >> 16) * bit_model_p0 (model);

  if (bit)
    {
      enc->low += bound;
      enc->range -= bound;
    }
  else
    {
      enc->range = bound;
    }
  bit_model_update (model, bit);
  encoder_normalize (enc);
}

void
vae_range_encode_bypass (VaeRangeEncoder *enc,
                         guint32          value,
                         guint            n_bits)
{
  while (n_bits-- > 0)
    {
      enc->range >>= 1;
      if ((value >> n_bits) & 1)
        enc->low += enc->range;
      encoder_normalize (enc);
    }
}

void
vae_range_encoder_finish (VaeRangeEncoder *enc)
{
  gint i;

  for (i = 0; i < 5; i++)
    shift_low (enc);

  /* the decoder reads zeros past the end: trailing zeros need not be
   * stored */
  while (enc->out->len > 0 && enc->out->data[enc->out->len - 1] == 0)
    g_byte_array_set_size (enc->out, enc->out->len - 1);
}

/* --- decoder --------------------------------------------------------- */

static inline guint8
next_byte (VaeRangeDecoder *dec)
{
  /* past the end: zeros, as the encoder's flush would have written */
  guint8 b = dec->pos < dec->size ? dec->data[dec->pos] : 0;

  dec->pos++;
  return b;
}

void
vae_range_decoder_init (VaeRangeDecoder *dec,
                        const guint8    *data,
                        gsize            size)
{
  gint i;

  dec->data = data;
  dec->size = size;
  dec->pos = 0;
  dec->range = 0xffffffffu;
  dec->code = 0;
  /* after the implicit leading 0 byte (see shift_low ()) */
  for (i = 0; i < 4; i++)
    dec->code = (dec->code << 8) | next_byte (dec);
}

static inline void
decoder_normalize (VaeRangeDecoder *dec)
{
  while (dec->range < TOP)
    {
      dec->range <<= 8;
      dec->code = (dec->code << 8) | next_byte (dec);
    }
}

guint
vae_range_decode (VaeRangeDecoder *dec,
                  const guint32   *cdf,
                  guint            n_symbols)
{
  guint32 r = dec->range >> VAE_RC_FREQ_BITS;
  guint32 target = dec->code / r;
  guint   lo = 0;
  guint   hi = n_symbols;

  /* a damaged stream can point past the total */
  if (target >= VAE_RC_FREQ_TOTAL)
    target = VAE_RC_FREQ_TOTAL - 1;

  /* the last s with cdf[s] <= target */
  while (hi - lo > 1)
    {
      guint mid = (lo + hi) / 2;

      if (cdf[mid] <= target)
        lo = mid;
      else
        hi = mid;
    }

  dec->code -= r * cdf[lo];
  dec->range = r * (cdf[lo + 1] - cdf[lo]);
  decoder_normalize (dec);

  return lo;
}

guint
vae_range_decode_bit (VaeRangeDecoder *dec,
                      VaeBitModel     *model)
{
  guint32 bound = (dec->range >> 16) * bit_model_p0 (model);
  guint   bit;

  if (dec->code < bound)
    {
      dec->range = bound;
      bit = 0;
    }
  else
    {
      dec->code -= bound;
      dec->range -= bound;
      bit = 1;
    }
  bit_model_update (model, bit);
  decoder_normalize (dec);

  return bit;
}

guint32
vae_range_decode_bypass (VaeRangeDecoder *dec,
                         guint            n_bits)
{
  guint32 value = 0;

  while (n_bits-- > 0)
    {
      dec->range >>= 1;
      value <<= 1;
      if (dec->code >= dec->range)
        {
          dec->code -= dec->range;
          value |= 1;
        }
      decoder_normalize (dec);
    }

  return value;
}
