/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "../vae-error-private.h"
#include "context.h"
#include "entropy-model.h"
#include "range-coder.h"

/* Context buckets (docs/compression.md, tools/train/codec.py) */
#define B1 8        /* this channel: left, up, up-left, up-right */
#define B2 4        /* the previous channel around the same place */

/* Longest Exp-Golomb prefix an escape may have: VAE_CODEC_MAX_MAGNITUDE
 * needs 23. */
#define MAX_ESCAPE_PREFIX 24

struct _VaeEntropyModel
{
  guint    channels;
  guint    levels;
  guint    n_scales;
  gfloat  *mean;          /* [C] */
  gfloat  *log_gain;      /* [K, C] */
  guint8  *scale_index;   /* [K, C, B1, B2] */
  guint32 *cdf;           /* all tables, one after the other */
  guint32 *cdf_offset;    /* [S]: where table s starts in cdf */
  guint32 *cdf_half;      /* [S]: table s codes -half..half, then escape */
  guint8  *predict;       /* [C]: 1 where a channel codes prediction residuals */
};

/* The codec tensor @name, of @n numbers in any shape; @what is "table"
 * or "tensor" in the errors. */
static const gfloat *
get_data (VaeWeights   *weights,
          const gchar  *name,
          gsize         n,
          const gchar  *what,
          GError      **error)
{
  const VaeWeight *w = vae_weights_lookup (weights, name);

  if (w == NULL || w->n_elements != n)
    {
      vae_set_error (error, VAE_ERROR_FORMAT, "%s: the codec %s '%s' is %s",
                     vae_weights_get_display_name (weights), what, name,
                     w == NULL ? "missing" : "of the wrong size");
      return NULL;
    }

  return vae_weights_get (weights, name, w->n_dims, w->shape, error);
}

/* Reads an F32 tensor of whole numbers in [lo, hi]: the tables are
 * integers, stored as floats (exact below 2^24) because libvae widens every
 * tensor to f32. */
static gboolean
get_integers (VaeWeights   *weights,
              const gchar  *name,
              gsize         n,
              guint32       lo,
              guint32       hi,
              guint32      *out,
              GError      **error)
{
  const gfloat *data = get_data (weights, name, n, "table", error);
  gsize         i;

  if (data == NULL)
    return FALSE;
  for (i = 0; i < n; i++)
    {
      if (!(data[i] >= lo && data[i] <= hi) || data[i] != floorf (data[i]))
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: the codec table '%s' holds %g, not a whole "
                         "number in [%u, %u]",
                         vae_weights_get_display_name (weights), name,
                         data[i], lo, hi);
      out[i] = (guint32) data[i];
    }

  return TRUE;
}

static const gfloat *
get_floats (VaeWeights   *weights,
            const gchar  *name,
            gsize         n,
            GError      **error)
{
  const gfloat *data = get_data (weights, name, n, "tensor", error);
  gsize         i;

  if (data == NULL)
    return NULL;
  for (i = 0; i < n; i++)
    if (!isfinite (data[i]) || fabsf (data[i]) > 30.0f)
      return vae_fail_null (error, VAE_ERROR_FORMAT,
                            "%s: the codec tensor '%s' holds %g",
                            vae_weights_get_display_name (weights), name,
                            data[i]);

  return data;
}

/**
 * vae_entropy_model_new:
 * @weights: a model's weights
 * @channels: its latent channels
 * @error: return location for a #GError
 *
 * Reads and checks the codec tables (`codec.*`): every table a cumulative
 * distribution from 0 to VAE_RC_FREQ_TOTAL with no empty symbol, every
 * index within range, so that coding can never fail on them.
 *
 * Returns: the entropy model; %NULL without an error when @weights hold no
 *   codec tables, %NULL with one when they are damaged.
 */
VaeEntropyModel *
vae_entropy_model_new (VaeWeights  *weights,
                       guint        channels,
                       GError     **error)
{
  VaeEntropyModel *m;
  const VaeWeight *w_gain;
  const VaeWeight *w_cdf;
  const VaeWeight *w_offset;
  const gfloat    *mean;
  const gfloat    *log_gain;
  guint32         *index = NULL;
  guint32         *predict = NULL;
  gsize            n_index;
  guint            s;
  gsize            i;

  if (!vae_weights_has (weights, "codec.cdf"))
    return NULL;

  w_gain = vae_weights_lookup (weights, "codec.log_gain");
  w_cdf = vae_weights_lookup (weights, "codec.cdf");
  w_offset = vae_weights_lookup (weights, "codec.cdf_offset");
  if (w_gain == NULL || w_gain->n_dims != 2 || w_gain->shape[1] != channels ||
      w_gain->shape[0] < 2 || w_gain->shape[0] > 64 ||
      w_offset == NULL || w_offset->n_elements < 1 ||
      w_offset->n_elements > 256 ||
      w_cdf->n_elements < 3 || w_cdf->n_elements > (1u << 22))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: the codec tables do not fit a model of %u "
                          "latent channels",
                          vae_weights_get_display_name (weights), channels);

  m = g_new0 (VaeEntropyModel, 1);
  m->channels = channels;
  m->levels = w_gain->shape[0];
  m->n_scales = w_offset->n_elements;
  m->cdf = g_new (guint32, w_cdf->n_elements);
  m->cdf_offset = g_new (guint32, m->n_scales);
  m->cdf_half = g_new (guint32, m->n_scales);
  n_index = (gsize) m->levels * channels * B1 * B2;
  index = g_new (guint32, n_index);
  predict = g_new (guint32, channels);

  mean = get_floats (weights, "codec.mean", channels, error);
  log_gain = mean ? get_floats (weights, "codec.log_gain",
                                (gsize) m->levels * channels, error) : NULL;
  if (log_gain == NULL ||
      !get_integers (weights, "codec.cdf", w_cdf->n_elements, 0,
                     VAE_RC_FREQ_TOTAL, m->cdf, error) ||
      !get_integers (weights, "codec.cdf_offset", m->n_scales, 0,
                     w_cdf->n_elements - 1, m->cdf_offset, error) ||
      !get_integers (weights, "codec.cdf_half", m->n_scales, 0, 1 << 16,
                     m->cdf_half, error) ||
      !get_integers (weights, "codec.scale_index", n_index, 0,
                     m->n_scales - 1, index, error) ||
      !get_integers (weights, "codec.predict", channels, 0, 1, predict, error))
    goto fail;

  for (s = 0; s < m->n_scales; s++)
    {
      guint64  n_symbols = 2 * (guint64) m->cdf_half[s] + 2;
      guint32 *cdf = m->cdf + m->cdf_offset[s];

      if (m->cdf_offset[s] + n_symbols + 1 > w_cdf->n_elements ||
          cdf[0] != 0 || cdf[n_symbols] != VAE_RC_FREQ_TOTAL)
        goto bad_table;
      for (i = 0; i < n_symbols; i++)
        if (cdf[i + 1] <= cdf[i])
          goto bad_table;
    }

  m->mean = g_memdup2 (mean, channels * sizeof (gfloat));
  m->log_gain = g_memdup2 (log_gain,
                           (gsize) m->levels * channels * sizeof (gfloat));
  m->scale_index = g_new (guint8, n_index);
  for (i = 0; i < n_index; i++)
    m->scale_index[i] = (guint8) index[i];
  m->predict = g_new (guint8, channels);
  for (i = 0; i < channels; i++)
    m->predict[i] = (guint8) predict[i];
  g_free (index);
  g_free (predict);

  return m;

bad_table:
  g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
               "%s: codec table %u is not a cumulative distribution",
               vae_weights_get_display_name (weights), s);
fail:
  g_free (index);
  g_free (predict);
  vae_entropy_model_free (m);

  return NULL;
}

void
vae_entropy_model_free (VaeEntropyModel *model)
{
  if (model == NULL)
    return;

  g_free (model->mean);
  g_free (model->log_gain);
  g_free (model->scale_index);
  g_free (model->cdf);
  g_free (model->cdf_offset);
  g_free (model->cdf_half);
  g_free (model->predict);
  g_free (model);
}

guint
vae_entropy_model_get_levels (const VaeEntropyModel *model)
{
  return model->levels;
}

/* A quality between two trained levels: level k and the fraction f / 1000
 * of the way to level k + 1. */
static void
split_quality (const VaeEntropyModel *model,
               guint                  quality,
               guint                 *k,
               guint                 *f)
{
  guint num = MIN (quality, VAE_CODEC_QUALITY_MAX) * (model->levels - 1);

  *k = num / VAE_CODEC_QUALITY_MAX;
  *f = num % VAE_CODEC_QUALITY_MAX;
  if (*k == model->levels - 1)
    {
      *k = model->levels - 2;
      *f = VAE_CODEC_QUALITY_MAX;
    }
}

/* The gains interpolate in the log domain.  They only scale values, so the
 * float arithmetic here cannot make encoder and decoder disagree about the
 * symbols; it is written once for both anyway. */
static void
gains (const VaeEntropyModel *model,
       guint                  quality,
       gfloat                *gain)
{
  const gfloat *lg;
  guint         k;
  guint         f;
  guint         c;

  split_quality (model, quality, &k, &f);
  lg = model->log_gain + (gsize) k * model->channels;
  for (c = 0; c < model->channels; c++)
    {
      gdouble a = lg[c];
      gdouble b = lg[c + model->channels];

      gain[c] = (gfloat) exp (a + (b - a) * f / VAE_CODEC_QUALITY_MAX);
    }
}

/* The table index of each context at this quality: integers only, the
 * decoder must find the very same. */
static void
scale_indices (const VaeEntropyModel *model,
               guint                  quality,
               guint8                *index)
{
  const guint8 *a;
  const guint8 *b;
  gsize         n = (gsize) model->channels * B1 * B2;
  guint         k;
  guint         f;
  gsize         i;

  split_quality (model, quality, &k, &f);
  a = model->scale_index + k * n;
  b = a + n;
  for (i = 0; i < n; i++)
    index[i] = (a[i] * (VAE_CODEC_QUALITY_MAX - f) + b[i] * f +
                VAE_CODEC_QUALITY_MAX / 2) / VAE_CODEC_QUALITY_MAX;
}

void
vae_entropy_model_quantize (const VaeEntropyModel *model,
                            guint                  quality,
                            const gfloat          *z,
                            gsize                  plane,
                            gint32                *q)
{
  g_autofree gfloat *gain = g_new (gfloat, model->channels);
  guint              c;
  gsize              i;

  gains (model, quality, gain);
  for (c = 0; c < model->channels; c++)
    for (i = 0; i < plane; i++)
      {
        gfloat v = nearbyintf ((z[c * plane + i] - model->mean[c]) * gain[c]);

        /* NaN fails both tests and becomes 0 */
        if (!(v > -VAE_CODEC_MAX_MAGNITUDE))
          v = isnan (v) ? 0.0f : -VAE_CODEC_MAX_MAGNITUDE;
        if (!(v < VAE_CODEC_MAX_MAGNITUDE))
          v = VAE_CODEC_MAX_MAGNITUDE;
        q[c * plane + i] = (gint32) v;
      }
}

void
vae_entropy_model_dequantize (const VaeEntropyModel *model,
                              guint                  quality,
                              const gint32          *q,
                              gsize                  plane,
                              gfloat                *z)
{
  g_autofree gfloat *gain = g_new (gfloat, model->channels);
  guint              c;
  gsize              i;

  gains (model, quality, gain);
  for (c = 0; c < model->channels; c++)
    for (i = 0; i < plane; i++)
      z[c * plane + i] = q[c * plane + i] / gain[c] + model->mean[c];
}

/* The table for value (y, x) of channel c: @act is the plane its activity
 * is read from (the values, or for a predicted channel its residuals),
 * @prev the previous channel's values (NULL for channel 0). */
static inline guint
table_index (const guint8 *index,
             guint         c,
             const gint32 *act,
             const gint32 *prev,
             guint         y,
             guint         x,
             guint         height,
             guint         width)
{
  guint b1 = vae_codec_activity (act, y, x, width, B1 - 1);
  guint b2 = vae_codec_cross (prev, y, x, height, width, B2 - 1);

  return index[(c * B1 + b1) * B2 + b2];
}

static void
encode_value (VaeRangeEncoder       *enc,
              const VaeEntropyModel *model,
              guint                  s,
              gint32                 v)
{
  const guint32 *cdf = model->cdf + model->cdf_offset[s];
  guint32        half = model->cdf_half[s];
  guint32        mag = vae_codec_magnitude (v);

  if (mag <= half)
    {
      guint sym = (guint) (v + (gint32) half);

      vae_range_encode (enc, cdf[sym], cdf[sym + 1] - cdf[sym]);
    }
  else
    {
      /* escape, sign, then |v| - half as Exp-Golomb */
      guint32 u = mag - half;
      guint   n = vae_codec_bit_length (u) - 1;

      vae_range_encode (enc, cdf[2 * half + 1],
                        cdf[2 * half + 2] - cdf[2 * half + 1]);
      vae_range_encode_bypass (enc, v < 0, 1);
      vae_range_encode_bypass (enc, (1u << n) - 1, n);
      vae_range_encode_bypass (enc, 0, 1);
      vae_range_encode_bypass (enc, u & ((1u << n) - 1), n);
    }
}

static gboolean
decode_value (VaeRangeDecoder       *dec,
              const VaeEntropyModel *model,
              guint                  s,
              gint32                *value,
              GError               **error)
{
  const guint32 *cdf = model->cdf + model->cdf_offset[s];
  guint32        half = model->cdf_half[s];
  guint          sym = vae_range_decode (dec, cdf, 2 * half + 2);
  guint          negative;
  guint          n = 0;
  guint32        u;

  if (sym <= 2 * half)
    {
      *value = (gint32) sym - (gint32) half;
      return TRUE;
    }

  negative = vae_range_decode_bypass (dec, 1);
  while (vae_range_decode_bypass (dec, 1))
    if (++n >= MAX_ESCAPE_PREFIX)
      return vae_fail (error, VAE_ERROR_FORMAT,
                       "the coded latents are damaged");
  u = (1u << n) | vae_range_decode_bypass (dec, n);
  *value = (gint32) MIN (half + u, (guint32) 2 * VAE_CODEC_MAX_MAGNITUDE);
  if (negative)
    *value = -*value;

  return TRUE;
}

/* Channel by channel, each in raster order.  A predicted channel codes
 * each value's difference from vae_codec_predict () of its neighbours, and
 * reads its activity from those differences. */
void
vae_entropy_model_encode (const VaeEntropyModel *model,
                          guint                  quality,
                          const gint32          *q,
                          guint                  height,
                          guint                  width,
                          GByteArray            *out)
{
  gsize              plane = (gsize) height * width;
  g_autofree guint8 *index = g_new (guint8, model->channels * B1 * B2);
  g_autofree gint32 *residual = g_new (gint32, plane);
  VaeRangeEncoder    enc;
  guint              c;
  guint              y;
  guint              x;

  scale_indices (model, quality, index);
  vae_range_encoder_init (&enc, out);
  for (c = 0; c < model->channels; c++)
    {
      const gint32 *values = q + c * plane;
      const gint32 *prev = c > 0 ? values - plane : NULL;
      const gint32 *act = model->predict[c] ? residual : values;

      for (y = 0; y < height; y++)
        for (x = 0; x < width; x++)
          {
            gsize  i = (gsize) y * width + x;
            gint32 v = values[i];

            if (model->predict[c])
              v = residual[i] = v - vae_codec_predict (values, y, x, width);
            encode_value (&enc, model,
                          table_index (index, c, act, prev, y, x, height, width),
                          v);
          }
    }
  vae_range_encoder_finish (&enc);
}

gboolean
vae_entropy_model_decode (const VaeEntropyModel *model,
                          guint                  quality,
                          const guint8          *data,
                          gsize                  size,
                          guint                  height,
                          guint                  width,
                          gint32                *q,
                          GError               **error)
{
  gsize              plane = (gsize) height * width;
  g_autofree guint8 *index = g_new (guint8, model->channels * B1 * B2);
  g_autofree gint32 *residual = g_new (gint32, plane);
  VaeRangeDecoder    dec;
  guint              c;
  guint              y;
  guint              x;

  scale_indices (model, quality, index);
  vae_range_decoder_init (&dec, data, size);
  for (c = 0; c < model->channels; c++)
    {
      gint32       *values = q + c * plane;
      const gint32 *prev = c > 0 ? values - plane : NULL;
      const gint32 *act = model->predict[c] ? residual : values;

      for (y = 0; y < height; y++)
        for (x = 0; x < width; x++)
          {
            gsize  i = (gsize) y * width + x;
            gint32 v;

            if (!decode_value (&dec, model,
                               table_index (index, c, act, prev, y, x, height,
                                            width),
                               &v, error))
              return FALSE;
            if (model->predict[c])
              {
                /* a damaged stream may point anywhere: keep the values
                 * within what the encoder writes */
                gint64 w = (gint64) vae_codec_predict (values, y, x, width) + v;

                residual[i] = v;
                v = (gint32) CLAMP (w, -VAE_CODEC_MAX_MAGNITUDE,
                                    VAE_CODEC_MAX_MAGNITUDE);
              }
            else
              {
                v = CLAMP (v, -VAE_CODEC_MAX_MAGNITUDE, VAE_CODEC_MAX_MAGNITUDE);
              }
            values[i] = v;
          }
    }

  return TRUE;
}
