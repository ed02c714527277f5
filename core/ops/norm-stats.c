/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Whole-image GroupNorm statistics gathered over tiles (see ops.h).  Each
 * GroupNorm call of a forward pass, in call order, owns a running count,
 * mean and sum of squared deviations per group; tiles' contributions are
 * merged with Chan et al.'s pairwise formula, which stays accurate however
 * many tiles there are. */

#include <math.h>

#include "../vae-error-private.h"
#include "ops.h"

typedef struct
{
  gint     groups;
  gdouble *count;
  gdouble *mean;
  gdouble *m2;
  gdouble *var;      /* filled on first APPLY lookup */
} NormLayer;

struct _VaeNormStats
{
  VaeNormStatsMode mode;
  GArray          *layers;
  guint            next;
  gsize            base_w, base_h;
  gsize            x0, y0, x1, y1;
};

typedef struct
{
  const VaeTensor *in;
  gsize            rx0, ry0, rx1, ry1;
  gdouble         *mean;   /* per channel */
  gdouble         *m2;
} RegionJob;

static void
layer_clear (gpointer data)
{
  NormLayer *layer = data;

  g_free (layer->count);
  g_free (layer->mean);
  g_free (layer->m2);
  g_free (layer->var);
}

VaeNormStats *
vae_norm_stats_new (void)
{
  VaeNormStats *stats = g_new0 (VaeNormStats, 1);

  stats->layers = g_array_new (FALSE, TRUE, sizeof (NormLayer));
  g_array_set_clear_func (stats->layers, layer_clear);

  return stats;
}

void
vae_norm_stats_free (VaeNormStats *stats)
{
  if (stats)
    {
      g_array_unref (stats->layers);
      g_free (stats);
    }
}

VaeNormStatsMode
vae_norm_stats_get_mode (VaeNormStats *stats)
{
  return stats->mode;
}

void
vae_norm_stats_begin (VaeNormStats     *stats,
                      VaeNormStatsMode  mode,
                      gsize             base_w,
                      gsize             base_h,
                      gsize             x0,
                      gsize             y0,
                      gsize             x1,
                      gsize             y1)
{
  stats->mode = mode;
  stats->next = 0;
  stats->base_w = MAX (base_w, 1);
  stats->base_h = MAX (base_h, 1);
  stats->x0 = x0;
  stats->y0 = y0;
  stats->x1 = MAX (x1, x0);
  stats->y1 = MAX (y1, y0);
}

static void
region_sums (gsize    c,
             gint     thread,
             gpointer data)
{
  RegionJob    *job = data;
  const gsize   w = VAE_T_W (job->in), h = VAE_T_H (job->in);
  const gfloat *plane = job->in->data + c * h * w;
  const gfloat  k = plane[job->ry0 * w + job->rx0];
  const gdouble n = (gdouble) (job->ry1 - job->ry0) * (job->rx1 - job->rx0);
  gdouble       s = 0.0, s2 = 0.0;
  gsize         y;

  for (y = job->ry0; y < job->ry1; y++)
    vae_shifted_sums (plane + y * w + job->rx0, job->rx1 - job->rx0, k, &s, &s2);

  job->mean[c] = k + s / n;
  job->m2[c] = MAX (s2 - s * s / n, 0.0);
}

static gboolean
scale_region (VaeNormStats     *stats,
              const VaeTensor  *in,
              RegionJob        *job,
              GError          **error)
{
  const gsize h = VAE_T_H (in), w = VAE_T_W (in);
  const gsize kh = h / stats->base_h, kw = w / stats->base_w;

  if (kh == 0 || kw == 0 || kh * stats->base_h != h || kw * stats->base_w != w ||
      stats->x1 > stats->base_w || stats->y1 > stats->base_h)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "group norm statistics: a %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                     " map is not a multiple of the tile's %" G_GSIZE_FORMAT "x%"
                     G_GSIZE_FORMAT " grid", w, h, stats->base_w, stats->base_h);

  job->rx0 = stats->x0 * kw;
  job->rx1 = stats->x1 * kw;
  job->ry0 = stats->y0 * kh;
  job->ry1 = stats->y1 * kh;

  return TRUE;
}

static NormLayer *
next_layer (VaeNormStats  *stats,
            gint           groups,
            gboolean       create,
            GError       **error)
{
  guint      index = stats->next++;
  NormLayer *layer;

  if (index == stats->layers->len && create)
    {
      NormLayer fresh = { groups, g_new0 (gdouble, groups), g_new0 (gdouble, groups),
                          g_new0 (gdouble, groups), NULL };

      g_array_append_val (stats->layers, fresh);
    }
  if (index >= stats->layers->len)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "group norm statistics: no statistics for call %u",
                          index);

  layer = &g_array_index (stats->layers, NormLayer, index);
  if (layer->groups != groups)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "group norm statistics: call %u has %d groups, %d "
                          "recorded", index, groups, layer->groups);

  return layer;
}

gboolean
vae_norm_stats_add (VaeNormStats     *stats,
                    VaeRun           *run,
                    const VaeTensor  *in,
                    gint              groups,
                    GError          **error)
{
  const gsize channels = VAE_T_C (in);
  const gsize per_group = channels / groups;
  RegionJob   job = { in, };
  NormLayer  *layer;
  gdouble     n;
  gsize       g;

  layer = next_layer (stats, groups, TRUE, error);
  if (layer == NULL || ! scale_region (stats, in, &job, error))
    return FALSE;
  if (job.rx1 == job.rx0 || job.ry1 == job.ry0)
    return TRUE;

  n = (gdouble) (job.rx1 - job.rx0) * (job.ry1 - job.ry0);
  job.mean = g_new (gdouble, channels);
  job.m2 = g_new (gdouble, channels);
  vae_parallel_for (run, channels, region_sums, &job);

  for (g = 0; g < (gsize) groups; g++)
    {
      gdouble mean, m2, count = n * per_group, delta, total;

      vae_norm_pool_channels (job.mean, job.m2, g * per_group, per_group, n,
                              &mean, &m2);
      total = layer->count[g] + count;
      delta = mean - layer->mean[g];
      layer->mean[g] += delta * count / total;
      layer->m2[g] += m2 + delta * delta * layer->count[g] * count / total;
      layer->count[g] = total;
    }

  g_free (job.mean);
  g_free (job.m2);

  return TRUE;
}

void
vae_norm_pool_channels (const gdouble  *mean,
                        const gdouble  *m2,
                        gsize           c0,
                        gsize           per_group,
                        gdouble         n,
                        gdouble        *group_mean,
                        gdouble        *group_m2)
{
  gdouble m = 0.0, s = 0.0;
  gsize   c;

  for (c = c0; c < c0 + per_group; c++)
    m += mean[c];
  m /= per_group;
  for (c = c0; c < c0 + per_group; c++)
    s += m2[c] + n * (mean[c] - m) * (mean[c] - m);
  *group_mean = m;
  *group_m2 = s;
}

gboolean
vae_norm_stats_lookup (VaeNormStats     *stats,
                       const VaeTensor  *in,
                       gint              groups,
                       const gdouble   **mean,
                       const gdouble   **var,
                       GError          **error)
{
  NormLayer *layer = next_layer (stats, groups, FALSE, error);
  gint       g;

  if (layer == NULL)
    return FALSE;

  if (layer->var == NULL)
    {
      layer->var = g_new (gdouble, groups);
      for (g = 0; g < groups; g++)
        layer->var[g] = layer->count[g] > 0 ? layer->m2[g] / layer->count[g] : 1.0;
    }
  *mean = layer->mean;
  *var = layer->var;

  return TRUE;
}
