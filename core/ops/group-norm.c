/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* GroupNorm (Wu & He): for each group of channels/groups consecutive
 * channels, y = (x - mean) / sqrt (var + eps) * gamma[c] + beta[c], mean
 * and (biased) variance over the group's channels and all pixels; then an
 * optional activation.
 *
 * Two passes: per-channel mean and sum of squared deviations (one parallel
 * task per channel), combined per group with Chan's formula, then one fused
 * normalise + affine + activation pass.  Each channel's sums are taken
 * around its first value, so a large mean next to a small spread does not
 * cancel away the variance. */

#include <math.h>

#include "../vae-error-private.h"
#include "fast-exp.h"
#include "ops.h"

typedef struct
{
  const VaeTensor *in;
  VaeTensor       *out;
  gdouble         *mean;    /* per channel */
  gdouble         *m2;      /* per channel: sum of squared deviations */
  gfloat          *center;  /* per channel: its first value, a shift */
  gfloat          *scale;   /* per channel: gamma / std */
  gfloat          *offset;  /* per channel: beta - (mean - center) * scale */
  VaeActivation    act;
} NormJob;

static void
channel_sums (gsize    c,
              gint     thread,
              gpointer data)
{
  NormJob      *job = data;
  const gsize   n = VAE_T_H (job->in) * VAE_T_W (job->in);
  const gfloat *x = job->in->data + c * n;
  const gfloat  k = x[0];
  gdouble       s = 0.0, s2 = 0.0;

  vae_shifted_sums (x, n, k, &s, &s2);
  job->mean[c] = k + s / n;
  job->m2[c] = MAX (s2 - s * s / n, 0.0);
}

__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
channel_apply (gsize    c,
               gint     thread,
               gpointer data)
{
  NormJob      *job = data;
  const gsize   n = VAE_T_H (job->in) * VAE_T_W (job->in);
  const gfloat *x = job->in->data + c * n;
  gfloat       *y = job->out->data + c * n;
  const gfloat  m = job->center[c], a = job->scale[c], b = job->offset[c];
  gsize         i;

  /* (x - m) * a + b with m a value of the channel itself: x - m is exact
   * when x is near m, so a mean that is large against the spread does not
   * cancel away the precision, as x * a + (b - mean * a) would. */
  switch (job->act)
    {
    case VAE_ACT_NONE:
      for (i = 0; i < n; i++)
        y[i] = (x[i] - m) * a + b;
      break;
    case VAE_ACT_RELU:
      for (i = 0; i < n; i++)
        {
          gfloat v = (x[i] - m) * a + b;
          y[i] = v > 0.0f ? v : 0.0f;
        }
      break;
    case VAE_ACT_SILU:
      for (i = 0; i < n; i++)
        {
          /* As vae_op_silu: vectorised exp, 0 below -88. */
          union { gfloat f; gint32 i; } v;
          const gfloat  t = (x[i] - m) * a + b;
          const gint32  tiny = -(gint32) (t < -88.0f);

          v.f = t / (1.0f + vae_fast_exp (-t));
          v.i &= ~tiny;
          y[i] = v.f;
        }
      break;
    default:
      for (i = 0; i < n; i++)
        y[i] = vae_activate_scalar ((x[i] - m) * a + b, job->act);
      break;
    }
}

/* The textbook two-pass version, in double: the reference the parallel
 * kernel is tested against (and what run->reference selects). */
void
vae_group_norm_reference (const VaeGroupNorm *norm,
                          const VaeTensor    *in,
                          VaeActivation       act,
                          VaeTensor          *out)
{
  const gsize channels = VAE_T_C (in);
  const gsize n = VAE_T_H (in) * VAE_T_W (in);
  const gsize per_group = channels / norm->groups;
  gsize       g, c, i;

  for (g = 0; g < (gsize) norm->groups; g++)
    {
      const gfloat *x = in->data + g * per_group * n;
      gdouble       mean = 0.0, var = 0.0;

      for (i = 0; i < per_group * n; i++)
        mean += x[i];
      mean /= per_group * n;
      for (i = 0; i < per_group * n; i++)
        var += (x[i] - mean) * (x[i] - mean);
      var /= per_group * n;

      for (c = g * per_group; c < (g + 1) * per_group; c++)
        for (i = 0; i < n; i++)
          {
            gdouble v = (in->data[c * n + i] - mean) / sqrt (var + norm->eps);

            v = v * (norm->gamma ? norm->gamma[c] : 1.0) +
                (norm->beta ? norm->beta[c] : 0.0);
            out->data[c * n + i] = vae_activate_scalar ((gfloat) v, act);
          }
    }
}

/* y = (x - mean_g) / sqrt (var_g + eps) * gamma + beta, then act, from
 * per-group statistics. */
static void
normalise (VaeRun             *run,
           const VaeGroupNorm *norm,
           const VaeTensor    *in,
           const gdouble      *group_mean,
           const gdouble      *group_var,
           VaeActivation       act,
           VaeTensor          *out)
{
  const gsize channels = VAE_T_C (in);
  const gsize n = VAE_T_H (in) * VAE_T_W (in);
  const gsize per_group = channels / norm->groups;
  NormJob     job = { 0, };
  gsize       c;

  job.in = in;
  job.out = out;
  job.act = act;
  job.center = g_new (gfloat, channels);
  job.scale = g_new (gfloat, channels);
  job.offset = g_new (gfloat, channels);

  for (c = 0; c < channels; c++)
    {
      const gsize   g = c / per_group;
      const gdouble inv_std = 1.0 / sqrt (group_var[g] + norm->eps);
      const gdouble gm = norm->gamma ? norm->gamma[c] : 1.0;
      const gdouble bt = norm->beta ? norm->beta[c] : 0.0;

      job.center[c] = in->data[c * n];
      job.scale[c] = (gfloat) (gm * inv_std);
      job.offset[c] = (gfloat) (bt - (group_mean[g] - job.center[c]) * gm * inv_std);
    }

  vae_parallel_for (run, channels, channel_apply, &job);

  g_free (job.center);
  g_free (job.scale);
  g_free (job.offset);
}

static gboolean
apply_stats (VaeRun              *run,
             const VaeGroupNorm  *norm,
             const VaeTensor     *in,
             VaeActivation        act,
             VaeTensor           *out,
             GError             **error)
{
  const gdouble *mean, *var;

  if (! vae_norm_stats_lookup (run->norm_stats, in, norm->groups, &mean, &var,
                               error))
    return FALSE;
  normalise (run, norm, in, mean, var, act, out);

  return vae_run_check (run, error);
}

gboolean
vae_op_group_norm (VaeRun              *run,
                   const VaeGroupNorm  *norm,
                   const VaeTensor     *in,
                   VaeActivation        act,
                   VaeTensor           *out,
                   GError             **error)
{
  NormJob     job;
  const gint  groups = norm->groups;
  const gsize channels = VAE_T_C (in);
  const gsize n = VAE_T_H (in) * VAE_T_W (in);
  gdouble    *group_mean, *group_var;
  gsize       per_group, g;

  if (in->n_dims != 3 || groups <= 0 || channels % groups != 0 ||
      ! vae_tensor_same_shape (in, out))
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "group norm: %" G_GSIZE_FORMAT " channels do not split "
                     "into %d groups, or output shape differs",
                     channels, groups);
  per_group = channels / groups;

  if (run->norm_stats &&
      vae_norm_stats_get_mode (run->norm_stats) == VAE_NORM_STATS_APPLY)
    return apply_stats (run, norm, in, act, out, error);
  if (run->norm_stats &&
      ! vae_norm_stats_add (run->norm_stats, run, in, groups, error))
    return FALSE;

  if (run->reference)
    {
      vae_group_norm_reference (norm, in, act, out);
      return vae_run_check (run, error);
    }

  job.in = in;
  job.mean = g_new (gdouble, channels);
  job.m2 = g_new (gdouble, channels);
  vae_parallel_for (run, channels, channel_sums, &job);

  group_mean = g_new (gdouble, groups);
  group_var = g_new (gdouble, groups);
  for (g = 0; g < (gsize) groups; g++)
    {
      vae_norm_pool_channels (job.mean, job.m2, g * per_group, per_group, n,
                              &group_mean[g], &group_var[g]);
      group_var[g] /= (gdouble) per_group * n;
    }
  g_free (job.mean);
  g_free (job.m2);

  normalise (run, norm, in, group_mean, group_var, act, out);
  g_free (group_mean);
  g_free (group_var);

  return vae_run_check (run, error);
}
