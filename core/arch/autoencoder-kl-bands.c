/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* A tiled run keeps the latent-resolution part whole (the mid-block
 * attention needs every token), and the levels next to it when they fit.
 * Those maps can be large: a 4096^2 SD decode's mid block works on 512
 * channels of 512 x 512, 512 MiB a map.  So there the ResNet blocks and
 * the attention run in bands of rows.  Each GroupNorm takes its statistics
 * from its whole input first (exact, as the untiled run's), then every
 * band is normalised with them and convolved with the rows of context its
 * kernel needs above and below.  A ResNet block holds its input and the
 * conv1 output, two maps instead of three (with a 1x1 shortcut, the new
 * output too); the attention holds its input and its output, two maps
 * instead of five: keys and values are made again, a band at a time, for
 * each band of queries, which costs 4 n C^2 FLOPs per query band against
 * the attention's 4 n^2 C (3 % more at 4096^2, 16 query bands). */

#include <string.h>

#include "../vae-error.h"

#include "autoencoder-kl-private.h"

/* Key bands are half as tall as query bands: the attention's working set
 * is a query band's queries, normalised input and running output, and
 * one key band's keys and values. */
static gsize
key_rows (gsize h)
{
  return MAX (VAE_BAND_MIN_ROWS, vae_band_rows (h) / 2);
}

/* Whole-map GroupNorm statistics of @x, for normalising it a band at a
 * time. */
static VaeNormStats *
whole_stats (VaeRun           *run,
             const VaeTensor  *x,
             GError          **error)
{
  VaeNormStats *stats = vae_norm_stats_new ();

  vae_norm_stats_begin (stats, VAE_NORM_STATS_COLLECT, 1, 1, 0, 0, 1, 1);
  if (! vae_norm_stats_add (stats, run, x, GROUPS, error))
    g_clear_pointer (&stats, vae_norm_stats_free);

  return stats;
}

/* Rows [y0, y1) of @x normalised with @stats, then SiLU with @silu, into a
 * scratch map. */
static VaeTensor *
band_normalised (VaeRun              *run,
                 VaeScratch          *scratch,
                 VaeNormStats        *stats,
                 const VaeTensor     *x,
                 gsize                y0,
                 gsize                y1,
                 const VaeGroupNorm  *norm,
                 gboolean             silu,
                 GError             **error)
{
  VaeNormStats *saved = run->norm_stats;
  VaeTensor    *t = vae_rows_copy (scratch, x, y0, y1, error);
  gboolean      ok;

  if (t == NULL)
    return NULL;
  vae_norm_stats_begin (stats, VAE_NORM_STATS_APPLY, 1, 1, 0, 0, 1, 1);
  run->norm_stats = stats;
  ok = silu ? vae_kl_norm_silu (run, norm, t, t, error)
            : vae_op_group_norm (run, norm, t, VAE_ACT_NONE, t, error);
  run->norm_stats = saved;
  if (! ok)
    {
      vae_scratch_put (scratch, t);
      return NULL;
    }

  return t;
}

/* conv (silu (norm (x))) for output rows [y0, y1), into a scratch map
 * that starts *skip rows earlier (its context rows, to be dropped). */
static VaeTensor *
band_conv (VaeRun              *run,
           VaeScratch          *scratch,
           VaeNormStats        *stats,
           const VaeTensor     *x,
           const VaeGroupNorm  *norm,
           const VaeConv2d     *conv,
           gsize                y0,
           gsize                y1,
           gsize               *skip,
           GError             **error)
{
  VaeTensor *t, *u;
  gsize      a, b;

  vae_band_input (y0, y1, VAE_T_H (x), conv->kernel / 2, &a, &b);
  t = band_normalised (run, scratch, stats, x, a, b, norm, TRUE, error);
  if (t == NULL)
    return NULL;
  u = vae_scratch_get (scratch, conv->c_out, b - a, VAE_T_W (x), error);
  if (u && ! vae_op_conv2d (run, conv, t, NULL, VAE_ACT_NONE, &u, error))
    {
      vae_scratch_put (scratch, u);
      u = NULL;
    }
  vae_scratch_put (scratch, t);
  *skip = y0 - a;

  return u;
}

/* vae_kl_resnet_forward() in bands. */
gboolean
vae_kl_resnet_banded (VaeRun        *run,
                      VaeScratch    *scratch,
                      const Resnet  *r,
                      VaeTensor    **x,
                      GError       **error)
{
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), rows = vae_band_rows (h);
  VaeNormStats *stats;
  VaeTensor    *u = NULL, *y = NULL, *band = NULL, *s_in = NULL, *s_out = NULL;
  gboolean      ok = FALSE;
  gsize         y0, y1, skip;

  /* u = conv1 (silu (norm1 (x))) */
  stats = whole_stats (run, *x, error);
  if (stats == NULL ||
      (u = vae_scratch_get (scratch, r->conv1.c_out, h, w, error)) == NULL)
    goto out;
  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      band = band_conv (run, scratch, stats, *x, &r->norm1, &r->conv1, y0, y1,
                        &skip, error);
      if (band == NULL)
        goto out;
      vae_rows_put (u, band, y0, y1, skip, FALSE);
      vae_scratch_put (scratch, g_steal_pointer (&band));
    }
  vae_norm_stats_free (stats);

  /* shortcut (x) + conv2 (silu (norm2 (u))); conv2 reads u only, so
   * without a shortcut the sum goes into x itself. */
  stats = whole_stats (run, u, error);
  if (stats == NULL)
    goto out;
  if (r->has_shortcut &&
      (y = vae_scratch_get (scratch, r->conv2.c_out, h, w, error)) == NULL)
    goto out;
  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      band = band_conv (run, scratch, stats, u, &r->norm2, &r->conv2, y0, y1,
                        &skip, error);
      if (band == NULL)
        goto out;
      if (r->has_shortcut)
        {
          s_in = vae_rows_copy (scratch, *x, y0, y1, error);
          if (s_in == NULL ||
              (s_out = vae_scratch_get (scratch, r->shortcut.c_out, y1 - y0, w,
                                        error)) == NULL ||
              ! vae_op_conv2d (run, &r->shortcut, s_in, NULL, VAE_ACT_NONE, &s_out,
                               error))
            goto out;
          vae_rows_put (y, s_out, y0, y1, 0, FALSE);
          vae_rows_put (y, band, y0, y1, skip, TRUE);
          vae_scratch_put (scratch, g_steal_pointer (&s_in));
          vae_scratch_put (scratch, g_steal_pointer (&s_out));
        }
      else
        {
          vae_rows_put (*x, band, y0, y1, skip, TRUE);
        }
      vae_scratch_put (scratch, g_steal_pointer (&band));
    }
  if (r->has_shortcut)
    {
      vae_scratch_put (scratch, *x);
      *x = g_steal_pointer (&y);
    }
  ok = TRUE;

out:
  if (stats)
    vae_norm_stats_free (stats);
  vae_scratch_put (scratch, u);
  vae_scratch_put (scratch, y);
  vae_scratch_put (scratch, band);
  vae_scratch_put (scratch, s_in);
  vae_scratch_put (scratch, s_out);

  return ok;
}

/* Rows [y0, y1) of @x normalised for the attention and projected by
 * @linear into token-major @out. */
static gboolean
band_project (VaeRun           *run,
              VaeScratch       *scratch,
              VaeNormStats     *stats,
              const Attention  *a,
              const VaeTensor  *x,
              gsize             y0,
              gsize             y1,
              const VaeLinear  *linear,
              gfloat           *out,
              GError          **error)
{
  VaeTensor *t;
  ProjJob    job = { 0, };
  gboolean   ok;

  t = band_normalised (run, scratch, stats, x, y0, y1, &a->norm, FALSE, error);
  if (t == NULL)
    return FALSE;
  job.linear = linear;
  job.in = t->data;
  job.n = (y1 - y0) * VAE_T_W (x);
  job.stride = job.n;
  job.out = out;
  ok = vae_kl_project (run, &job, FALSE, error);
  vae_scratch_put (scratch, t);

  return ok;
}

/* attention_forward() in bands of queries, against keys and values made a
 * band at a time; *x is replaced by a new map. */
gboolean
vae_kl_attention_banded (VaeRun           *run,
                         VaeScratch       *scratch,
                         const Attention  *a,
                         VaeTensor       **x,
                         GError          **error)
{
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), n = h * w;
  const gsize        c = a->channels, rows_q = vae_band_rows (h), rows_k = key_rows (h);
  VaeNormStats      *stats;
  VaeTensor         *y = NULL;
  gfloat            *q = NULL, *k = NULL, *v = NULL;
  VaeAttentionState  state = { 0, };
  gboolean           ok = FALSE;
  gsize              q0, q1, k0, k1;

  stats = whole_stats (run, *x, error);
  if (stats == NULL ||
      (y = vae_scratch_get (scratch, c, h, w, error)) == NULL)
    goto out;
  q = g_try_malloc (MIN (rows_q, h) * w * c * sizeof (gfloat));
  state.acc = g_try_malloc (MIN (rows_q, h) * w * c * sizeof (gfloat));
  state.max = g_try_malloc (MIN (rows_q, h) * w * sizeof (gfloat));
  state.sum = g_try_malloc (MIN (rows_q, h) * w * sizeof (gfloat));
  k = g_try_malloc (MIN (rows_k, h) * w * c * sizeof (gfloat));
  v = g_try_malloc (MIN (rows_k, h) * w * c * sizeof (gfloat));
  if (! q || ! state.acc || ! state.max || ! state.sum || ! k || ! v)
    {
      g_set_error_literal (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                           "out of memory for attention buffers");
      goto out;
    }
  /* The residual: the output projection adds to it. */
  memcpy (y->data, (*x)->data, c * n * sizeof (gfloat));

  for (q0 = 0; q0 < h; q0 = q1)
    {
      ProjJob job = { 0, };

      q1 = MIN (q0 + rows_q, h);
      state.n_q = (q1 - q0) * w;
      if (! band_project (run, scratch, stats, a, *x, q0, q1, &a->q, q, error))
        goto out;
      vae_attention_state_init (&a->attn, &state);
      for (k0 = 0; k0 < h; k0 = k1)
        {
          k1 = MIN (k0 + rows_k, h);
          if (! band_project (run, scratch, stats, a, *x, k0, k1, &a->k, k, error) ||
              ! band_project (run, scratch, stats, a, *x, k0, k1, &a->v, v, error) ||
              ! vae_op_attention_partial (run, &a->attn, q, k, v, (k1 - k0) * w,
                                          &state, error))
            goto out;
        }
      vae_attention_state_finish (&a->attn, &state);

      job.linear = &a->out;
      job.in = state.acc;
      job.n = state.n_q;
      job.stride = n;
      job.out = y->data + q0 * w;
      if (! vae_kl_project (run, &job, TRUE, error))
        goto out;
    }

  vae_scratch_put (scratch, *x);
  *x = g_steal_pointer (&y);
  ok = TRUE;

out:
  if (stats)
    vae_norm_stats_free (stats);
  vae_scratch_put (scratch, y);
  g_free (q);
  g_free (state.acc);
  g_free (state.max);
  g_free (state.sum);
  g_free (k);
  g_free (v);

  return ok;
}

/* y = conv (x) into a fresh scratch map, which replaces x. */
/* A conv run in bands over h rows (vae_kl_resnet_banded()): context rows
 * included. */
gdouble
vae_kl_banded_conv_flops (const VaeConv2d *conv,
                          gsize            h,
                          gsize            w)
{
  const gsize rows = vae_band_rows (h);
  gdouble     flops = 0.0;
  gsize       y0, y1, a, b;

  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      vae_band_input (y0, y1, h, conv->kernel / 2, &a, &b);
      flops += vae_conv2d_flops (conv, b - a, w);
    }

  return flops;
}

/* vae_kl_attention_banded(): each query band's projection, the keys and
 * values made again for it, its share of the attention and its output
 * projection, in the terms its ops count them. */
gdouble
vae_kl_attention_banded_flops (gint  c,
                               gsize h,
                               gsize w)
{
  const gsize rows_q = vae_band_rows (h), rows_k = key_rows (h);
  gdouble     flops = 0.0;
  gsize       q0, q1, k0, k1;

  for (q0 = 0; q0 < h; q0 = q1)
    {
      const gsize nq = (MIN (q0 + rows_q, h) - q0) * w;

      q1 = MIN (q0 + rows_q, h);
      flops += 2.0 * nq * c * c;
      for (k0 = 0; k0 < h; k0 = k1)
        {
          const gsize nk = (MIN (k0 + rows_k, h) - k0) * w;

          k1 = MIN (k0 + rows_k, h);
          flops += 2 * (2.0 * nk * c * c) + 4.0 * (gdouble) nq * (gdouble) nk * 1 * c;
        }
      flops += 2.0 * nq * c * c;
    }

  return flops;
}

/* Floats that vae_kl_resnet_banded() holds on h x w: input and conv1 output
 * (and the new output with a shortcut), and a band's buffers. */
gsize
vae_kl_resnet_banded_memory (const Resnet *r,
                             gsize         h,
                             gsize         w)
{
  const gsize c_in = r->conv1.c_in, c_out = r->conv1.c_out;
  const gsize band = MIN (vae_band_rows (h) + 2, h) * w;
  gsize       floats = (c_in + c_out) * h * w + (MAX (c_in, c_out) + c_out) * band;

  if (r->has_shortcut)
    floats += c_out * h * w + (c_in + c_out) * band;

  return floats;
}

/* ... vae_kl_attention_banded(): input, output, a query band's queries,
 * normalised input and running state, a key band's keys and values. */
static gsize
attention_banded_memory (gsize c,
                         gsize h,
                         gsize w)
{
  const gsize nq = MIN (vae_band_rows (h), h) * w, nk = MIN (key_rows (h), h) * w;

  return 2 * c * h * w + (3 * c + 2) * nq + 3 * c * nk;
}

gsize
vae_kl_mid_banded_memory (const Half *half,
                          gsize       h,
                          gsize       w)
{
  gsize peak = MAX (vae_kl_resnet_banded_memory (&half->mid1, h, w),
                    vae_kl_resnet_banded_memory (&half->mid2, h, w));

  if (half->has_attention)
    peak = MAX (peak, attention_banded_memory (half->attention.channels, h, w));

  return peak;
}


/* --- the whole part: levels, mid block and heads, banded or not ---------- */

static gboolean
resnet_step (VaeRun        *run,
             VaeScratch    *scratch,
             const Resnet  *r,
             gboolean       banded,
             VaeTensor    **x,
             GError       **error)
{
  return banded ? vae_kl_resnet_banded (run, scratch, r, x, error)
                : vae_kl_resnet_forward (run, scratch, r, x, error);
}

/* The mid block, @banded or not. */
static gboolean
mid_forward (VaeRun      *run,
             VaeScratch  *scratch,
             const Half  *half,
             gboolean     banded,
             VaeTensor  **x,
             GError     **error)
{
  if (! resnet_step (run, scratch, &half->mid1, banded, x, error))
    return FALSE;
  if (half->has_attention &&
      ! (banded ? vae_kl_attention_banded (run, scratch, &half->attention, x, error)
                : vae_kl_attention_forward (run, scratch, &half->attention, *x, error)))
    return FALSE;

  return resnet_step (run, scratch, &half->mid2, banded, x, error);
}

/* Levels [first, last), the resampling conv of the last one only with
 * @last_resample; the ResNet blocks @banded or not. */
gboolean
vae_kl_levels_forward (VaeRun      *run,
                       VaeScratch  *scratch,
                       const Half  *half,
                       gint         first,
                       gint         last,
                       gboolean     last_resample,
                       gboolean     banded,
                       VaeTensor  **x,
                       GError     **error)
{
  gint i, j;

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        if (! resnet_step (run, scratch, &level->resnets[j], banded, x, error))
          return FALSE;
      if (level->has_resample && (i + 1 < last || last_resample) &&
          ! vae_op_conv2d_step (run, scratch, &level->resample, VAE_ACT_NONE,
                                x, error))
        return FALSE;
    }

  return TRUE;
}

/* The encoder's latent-resolution part on @x (consumed): mid, norm_out,
 * conv_out, quant_conv.  Returns the z means. */
VaeTensor *
vae_kl_encoder_tail (VaeRun      *run,
                     VaeScratch  *scratch,
                     const Half  *e,
                     gboolean     banded,
                     VaeTensor  **x,
                     GError     **error)
{
  VaeTensor *y, *z = NULL;

  if (! mid_forward (run, scratch, e, banded, x, error) ||
      ! (y = vae_kl_head_forward (run, e, &e->conv_out, *x, error)))
    return NULL;
  if (! e->has_quant)
    return y;

  if (! vae_op_conv2d (run, &e->quant, y, NULL, VAE_ACT_NONE, &z, error))
    z = NULL;
  vae_tensor_unref (y);

  return z;
}

/* The decoder's latent-resolution part: post_quant_conv, conv_in, mid.
 * Returns a scratch map. */
VaeTensor *
vae_kl_decoder_head (VaeRun           *run,
                     VaeScratch       *scratch,
                     const Half       *d,
                     gboolean          banded,
                     const VaeTensor  *latent,
                     GError          **error)
{
  VaeTensor *x;

  if (d->has_quant)
    {
      x = vae_scratch_get (scratch, d->z, VAE_T_H (latent), VAE_T_W (latent),
                           error);
      if (x == NULL ||
          ! vae_op_conv2d (run, &d->quant, latent, NULL, VAE_ACT_NONE, &x, error) ||
          ! vae_op_conv2d_step (run, scratch, &d->conv_in, VAE_ACT_NONE, &x,
                                error))
        goto fail;
    }
  else
    {
      x = vae_scratch_get (scratch, d->conv_in.c_out, VAE_T_H (latent),
                           VAE_T_W (latent), error);
      if (x == NULL ||
          ! vae_op_conv2d (run, &d->conv_in, latent, NULL, VAE_ACT_NONE, &x,
                           error))
        goto fail;
    }

  if (mid_forward (run, scratch, d, banded, &x, error))
    return x;

fail:
  if (x)
    vae_tensor_unref (x);

  return NULL;
}

/* The rest on @x (consumed): levels, norm_out, conv_out.  Returns the
 * image in [-1, 1]. */
VaeTensor *
vae_kl_decoder_tail (VaeRun      *run,
                     VaeScratch  *scratch,
                     const Half  *d,
                     VaeTensor  **x,
                     GError     **error)
{
  if (! vae_kl_levels_forward (run, scratch, d, 0, d->n_levels, TRUE, FALSE, x, error))
    return NULL;

  return vae_kl_head_forward (run, d, &d->conv_out, *x, error);
}

static gdouble
resnet_step_flops (const Resnet *r,
                   gboolean      banded,
                   gsize         h,
                   gsize         w)
{
  if (! banded)
    return vae_kl_resnet_flops (r, h, w);

  return vae_kl_banded_conv_flops (&r->conv1, h, w) +
         vae_kl_banded_conv_flops (&r->conv2, h, w) +
         (r->has_shortcut ? vae_kl_banded_conv_flops (&r->shortcut, h, w) : 0.0);
}

static gdouble
mid_flops (const Half *half,
           gboolean    banded,
           gsize       h,
           gsize       w)
{
  gdouble flops = resnet_step_flops (&half->mid1, banded, h, w) +
                  resnet_step_flops (&half->mid2, banded, h, w);
  gint    c = half->attention.channels;

  if (half->has_attention && banded)
    flops += vae_kl_attention_banded_flops (c, h, w);
  else if (half->has_attention)
    flops += 4 * 2.0 * h * w * c * c +
             vae_attention_flops (&half->attention.attn, h * w);

  return flops;
}

/* The same levels on an input of *h x *w, which they update to their
 * output size. */
gdouble
vae_kl_levels_flops (const Half *half,
                     gint        first,
                     gint        last,
                     gboolean    last_resample,
                     gboolean    banded,
                     gsize      *h,
                     gsize      *w)
{
  gdouble flops = 0.0;
  gsize   ho, wo;
  gint    i, j;

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        flops += resnet_step_flops (&level->resnets[j], banded, *h, *w);
      if (level->has_resample && (i + 1 < last || last_resample))
        {
          flops += vae_conv2d_flops (&level->resample, *h, *w);
          vae_conv2d_out_size (&level->resample, *h, *w, &ho, &wo);
          *h = ho;
          *w = wo;
        }
    }

  return flops;
}

/* The decoder's latent-resolution part: post_quant_conv, conv_in, mid. */
gdouble
vae_kl_decoder_head_flops (const Half *d,
                           gboolean    banded,
                           gsize       h,
                           gsize       w)
{
  return (d->has_quant ? vae_conv2d_flops (&d->quant, h, w) : 0.0) +
         vae_conv2d_flops (&d->conv_in, h, w) + mid_flops (d, banded, h, w);
}

/* ... and the rest, levels and conv_out, on h x w latent pixels. */
static gdouble
decoder_tail_flops (const Half *d,
                    gsize       h,
                    gsize       w,
                    gboolean    with_out)
{
  gdouble flops = vae_kl_levels_flops (d, 0, d->n_levels, TRUE, FALSE, &h, &w);

  return flops + (with_out ? vae_conv2d_flops (&d->conv_out, h, w) : 0.0);
}

/* The encoder up to its latent resolution: conv_in and the levels, on an
 * H x W image. */
static gdouble
encoder_body_flops (const Half *e,
                    gsize       h,
                    gsize       w)
{
  gdouble flops = vae_conv2d_flops (&e->conv_in, h, w);

  return flops + vae_kl_levels_flops (e, 0, e->n_levels, TRUE, FALSE, &h, &w);
}

/* ... and the rest on h x w latent pixels: mid, conv_out, quant_conv. */
gdouble
vae_kl_encoder_tail_flops (const Half *e,
                           gboolean    banded,
                           gsize       h,
                           gsize       w)
{
  return mid_flops (e, banded, h, w) + vae_conv2d_flops (&e->conv_out, h, w) +
         (e->has_quant ? vae_conv2d_flops (&e->quant, h, w) : 0.0);
}

/* What a half costs on an input of h x w (image for the encoder, latent
 * for the decoder). */
gdouble
vae_kl_half_flops (const Half *half,
                   gboolean    decoder,
                   gsize       h,
                   gsize       w)
{
  if (decoder)
    return vae_kl_decoder_head_flops (half, FALSE, h, w) +
           decoder_tail_flops (half, h, w, TRUE);

  return encoder_body_flops (half, h, w) +
         vae_kl_encoder_tail_flops (half, FALSE, h / half->factor, w / half->factor);
}

static gsize
mid_memory (const Half *half,
            gsize       n)
{
  gsize peak = MAX (vae_kl_resnet_memory (&half->mid1, n),
                    vae_kl_resnet_memory (&half->mid2, n));

  if (half->has_attention)
    peak = MAX (peak, 5 * (gsize) half->attention.channels * n);

  return peak;
}

static gsize
levels_memory (const Half *half,
               gboolean    decoder,
               gsize      *n)
{
  gsize peak = 0;
  gint  i, j;

  for (i = 0; i < half->n_levels; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        peak = MAX (peak, vae_kl_resnet_memory (&level->resnets[j], *n));
      if (level->has_resample)
        {
          gsize out = decoder ? *n * 4 : *n / 4;

          peak = MAX (peak, (gsize) level->resample.c_in * *n +
                            (gsize) level->resample.c_out * out);
          *n = out;
        }
    }

  return peak;
}

/* Bytes, for choose_tile(). */
gsize
vae_kl_memory (gpointer self,
               gboolean decoder,
               gsize    width,
               gsize    height)
{
  const Kl   *kl = self;
  const Half *half = decoder ? &kl->decoder : &kl->encoder;
  gsize       n, peak, levels;

  if (! half->present)
    return 0;

  /* levels_memory() moves n on: not inside MAX (). */
  if (decoder)
    {
      n = (height / half->factor) * (width / half->factor);
      peak = ((gsize) half->z * (half->has_quant ? 2 : 1) +
              (gsize) half->conv_in.c_out) * n;
      peak = MAX (peak, mid_memory (half, n));
      levels = levels_memory (half, TRUE, &n);
      peak = MAX (peak, levels);
      peak = MAX (peak, ((gsize) half->conv_out.c_in + 3) * n);
    }
  else
    {
      n = height * width;
      peak = (3 + (gsize) half->conv_in.c_out) * n;
      levels = levels_memory (half, FALSE, &n);
      peak = MAX (peak, levels);
      peak = MAX (peak, mid_memory (half, n));
      peak = MAX (peak, ((gsize) half->conv_out.c_in + 4 * (gsize) half->z) * n);
    }

  return peak * sizeof (gfloat);
}
