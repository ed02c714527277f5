/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* LayerNorm over the features of each token of a token-major [n, dim]
 * matrix: y = (x - mean) / sqrt (var + eps) * gamma + beta, with the
 * biased variance (divided by dim), as torch.nn.LayerNorm.
 *
 * A row is at most a few KiB, so it stays in L1 across the two passes
 * (mean, then the sum of squared deviations around it).  Tasks are blocks of rows. */

#include <math.h>

#include "../vae-error-private.h"
#include "ops.h"

#define ROWS_PER_TASK 64

typedef struct
{
  const VaeLayerNorm *norm;
  const gfloat       *in;
  gfloat             *out;
  gsize               n_tokens;
} LnJob;

static void
norm_rows (gsize    index,
           gint     thread,
           gpointer data)
{
  const LnJob        *job = data;
  const VaeLayerNorm *norm = job->norm;
  const gsize         dim = norm->dim;
  const gsize         r0 = index * ROWS_PER_TASK;
  const gsize         r1 = MIN (r0 + ROWS_PER_TASK, job->n_tokens);
  gsize               r, i;

  for (r = r0; r < r1; r++)
    {
      const gfloat *x = job->in + r * dim;
      gfloat       *y = job->out + r * dim;
      const gfloat  k = x[0];
      gdouble       s = 0.0, s2 = 0.0;
      gfloat        m, inv;

      /* Around the row's first value: x - k is exact when x is near k, so
       * a mean that is large against the spread (1000 +- 0.1) keeps its
       * digits, which x - mean with mean rounded to float would not. */
      for (i = 0; i < dim; i++)
        s += x[i] - k;
      m = (gfloat) (s / dim);
      for (i = 0; i < dim; i++)
        {
          gfloat d = (x[i] - k) - m;

          s2 += d * d;
        }
      inv = (gfloat) (1.0 / sqrt (s2 / dim + norm->eps));

      for (i = 0; i < dim; i++)
        y[i] = ((x[i] - k) - m) * inv * norm->gamma[i] + norm->beta[i];
    }
}

/* Textbook, all in double. */
void
vae_layer_norm_reference (const VaeLayerNorm *norm,
                          const gfloat       *in,
                          gsize               n_tokens,
                          gfloat             *out)
{
  const gsize dim = norm->dim;
  gsize       r, i;

  for (r = 0; r < n_tokens; r++)
    {
      const gfloat *x = in + r * dim;
      gdouble       mean = 0.0, var = 0.0;

      for (i = 0; i < dim; i++)
        mean += x[i];
      mean /= dim;
      for (i = 0; i < dim; i++)
        var += (x[i] - mean) * (x[i] - mean);
      var /= dim;

      for (i = 0; i < dim; i++)
        out[r * dim + i] = (gfloat) ((x[i] - mean) / sqrt (var + norm->eps) *
                                     norm->gamma[i] + norm->beta[i]);
    }
}

gboolean
vae_op_layer_norm (VaeRun              *run,
                   const VaeLayerNorm  *norm,
                   const gfloat        *in,
                   gsize                n_tokens,
                   gfloat              *out,
                   GError             **error)
{
  LnJob job = { norm, in, out, n_tokens };

  if (norm->dim == 0 || ! (norm->eps >= 0.0f) || norm->gamma == NULL ||
      norm->beta == NULL)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "layer norm: %" G_GSIZE_FORMAT " features, eps %g",
                     norm->dim, (gdouble) norm->eps);

  if (run->reference)
    vae_layer_norm_reference (norm, in, n_tokens, out);
  else
    vae_parallel_for (run, (n_tokens + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                      norm_rows, &job);

  return vae_run_check (run, error);
}
