/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Multi-head scaled dot-product attention, softmax (q k^T * scale) v per
 * head, without ever holding the [tokens x tokens] score matrix: at 1024^2
 * the KL VAE's mid-block attends over 16384 tokens, whose score matrix
 * alone would be 1 GiB.
 *
 * One task is a block of queries of one head.  It walks the keys in blocks:
 * one sgemm gives the block's scores S = q k^T * scale, each row of S is
 * turned into exp (S - running max) while the running max and sum of the
 * row are updated (the accumulator is rescaled by exp (old max - new max)
 * whenever the max grows), and a second sgemm adds P v to the accumulator.
 * At the end each row is divided by its sum.  Memory is one S block and one
 * accumulator per thread; the result equals the plain softmax up to float
 * rounding, and no exp ever sees a positive argument, so large scores
 * cannot overflow.  The exps use vae_fast_exp (), which vectorises.
 */

#include <math.h>
#include <string.h>

#include "../vae-blas.h"
#include "../vae-error-private.h"
#include "fast-exp.h"
#include "ops.h"

/* Query and key block sizes: the S block (BLOCK_Q x BLOCK_K) and the
 * accumulator (BLOCK_Q x head_dim) are 1 MiB each per thread at the KL
 * mid-block's head_dim of 512.  Measured on 4096 tokens x 512, one core:
 * 64 x 256 blocks 87 GFLOPS, 256 x 256 106, 512 x 512 118; the sgemms
 * want the larger M. */
#define BLOCK_Q     512
#define BLOCK_K     512
#define BLOCK_Q_MIN 16

/* Reductions over a row keep LANES partial results: a single running
 * max or sum is a dependency chain the compiler may not reorder into
 * vectors (float addition is not associative), LANES independent ones are
 * a vector register. */
#define LANES 16

/* The largest of m and row[0 .. n); a NaN never wins. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static gfloat
row_max (const gfloat *row,
         gsize         n,
         gfloat        m)
{
  gfloat part[LANES];
  gsize  j, k;

  for (k = 0; k < LANES; k++)
    part[k] = m;
  for (j = 0; j + LANES <= n; j += LANES)
    for (k = 0; k < LANES; k++)
      part[k] = row[j + k] > part[k] ? row[j + k] : part[k];
  for (; j < n; j++)
    m = row[j] > m ? row[j] : m;
  for (k = 0; k < LANES; k++)
    m = part[k] > m ? part[k] : m;

  return m;
}

/* row[j] = e^(row[j] - max) for j < n; returns their sum. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static gfloat
exp_row (gfloat *row,
         gsize   n,
         gfloat  max)
{
  gfloat part[LANES] = { 0.0f, };
  gfloat sum = 0.0f;
  gsize  j, k;

  for (j = 0; j + LANES <= n; j += LANES)
    for (k = 0; k < LANES; k++)
      {
        gfloat e = vae_fast_exp (row[j + k] - max);

        row[j + k] = e;
        part[k] += e;
      }
  for (; j < n; j++)
    {
      gfloat e = vae_fast_exp (row[j] - max);

      row[j] = e;
      sum += e;
    }
  for (k = 0; k < LANES; k++)
    sum += part[k];

  return sum;
}

typedef struct
{
  const VaeAttention *attn;
  const gfloat       *q;
  const gfloat       *k;
  const gfloat       *v;
  gfloat             *out;
  gsize               n_q;
  gsize               n_kv;
  gsize               block_q;
  gsize               n_q_blocks;
  gfloat            **scores;   /* per thread: [block_q, BLOCK_K] */
  gfloat            **acc;      /* per thread: [block_q, head_dim] */
  gfloat            **stats;    /* per thread: running max, then sum, [block_q] each */
  /* vae_op_attention_partial: the caller's running state instead of the
   * per-thread one, carried from call to call */
  VaeAttentionState  *state;
} AttnJob;

static void
attention_block (gsize    index,
                 gint     thread,
                 gpointer data)
{
  const AttnJob *job = data;
  const gsize    d = job->attn->head_dim;
  const gsize    ld = (gsize) job->attn->n_heads * d;
  const gsize    head = index / job->n_q_blocks;
  const gsize    q0 = (index % job->n_q_blocks) * job->block_q;
  const gsize    mq = MIN (job->block_q, job->n_q - q0);
  const gfloat  *q = job->q + q0 * ld + head * d;
  gfloat        *s = job->scores[thread];
  gfloat        *acc, *max, *sum;
  gsize          acc_ld, k0, i, j;

  if (job->state)
    {
      acc = job->state->acc + q0 * ld + head * d;
      acc_ld = ld;
      max = job->state->max + head * job->n_q + q0;
      sum = job->state->sum + head * job->n_q + q0;
    }
  else
    {
      acc = job->acc[thread];
      acc_ld = d;
      max = job->stats[thread];
      sum = max + job->block_q;
      for (i = 0; i < mq; i++)
        {
          max[i] = -INFINITY;
          sum[i] = 0.0f;
        }
      memset (acc, 0, mq * d * sizeof (gfloat));
    }

  for (k0 = 0; k0 < job->n_kv; k0 += BLOCK_K)
    {
      const gsize nk = MIN (BLOCK_K, job->n_kv - k0);

      vae_sgemm (FALSE, TRUE, (gint) mq, (gint) nk, (gint) d, job->attn->scale,
                 q, (gint) ld, job->k + k0 * ld + head * d, (gint) ld,
                 0.0f, s, BLOCK_K);

      for (i = 0; i < mq; i++)
        {
          gfloat *row = s + i * BLOCK_K;
          gfloat  m = row_max (row, nk, max[i]), correction;

          /* A NaN score never wins the comparison above; it still makes
           * its row's sum, and so its output, NaN through exp_row. */
          correction = max[i] == -INFINITY ? 0.0f : vae_fast_exp (max[i] - m);
          sum[i] = sum[i] * correction + exp_row (row, nk, m);
          max[i] = m;

          if (correction != 1.0f)
            {
              gfloat *a = acc + i * acc_ld;

              for (j = 0; j < d; j++)
                a[j] *= correction;
            }
        }

      vae_sgemm (FALSE, FALSE, (gint) mq, (gint) d, (gint) nk, 1.0f,
                 s, BLOCK_K, job->v + k0 * ld + head * d, (gint) ld,
                 1.0f, acc, (gint) acc_ld);
    }

  if (job->state)
    return;

  for (i = 0; i < mq; i++)
    {
      const gfloat  inv = 1.0f / sum[i];
      const gfloat *a = acc + i * d;
      gfloat       *o = job->out + (q0 + i) * ld + head * d;

      for (j = 0; j < d; j++)
        o[j] = a[j] * inv;
    }
}

/* row[j] = (q . k_j) * scale in double for @n_kv keys: @q is one query's
 * head_dim floats, the keys' rows are @ld floats apart. */
static void
scores_row (const gfloat *q,
            const gfloat *k,
            gsize         n_kv,
            gsize         ld,
            gsize         head_dim,
            gfloat        scale,
            gdouble      *row)
{
  gsize j, c;

  for (j = 0; j < n_kv; j++)
    {
      gdouble dot = 0.0;

      for (c = 0; c < head_dim; c++)
        dot += (gdouble) q[c] * (gdouble) k[j * ld + c];
      row[j] = dot * scale;
    }
}

/* One query's @row of scores against @n_kv keys (scores_row ()), folded
 * in double into its running max *m, sum *l and unnormalised output @a
 * (head_dim values): the online softmax of the optimized kernel without
 * its float rounding.  @v is the head's first column of the values, rows
 * @ld floats apart; @row is overwritten with the weights. */
static void
fold_row (gdouble      *row,
          gsize         n_kv,
          const gfloat *v,
          gsize         ld,
          gsize         head_dim,
          gdouble      *m,
          gdouble      *l,
          gdouble      *a)
{
  gdouble m_new = *m, correction, s = 0.0;
  gsize   j, c;

  for (j = 0; j < n_kv; j++)
    m_new = MAX (m_new, row[j]);
  correction = *m == -INFINITY ? 0.0 : exp (*m - m_new);
  for (j = 0; j < n_kv; j++)
    {
      row[j] = exp (row[j] - m_new);
      s += row[j];
    }
  for (c = 0; c < head_dim; c++)
    {
      gdouble sv = 0.0;

      for (j = 0; j < n_kv; j++)
        sv += row[j] * v[j * ld + c];
      a[c] = a[c] * correction + sv;
    }
  *l = *l * correction + s;
  *m = m_new;
}

/* The textbook version, a query at a time: its scores in double, their
 * softmax, then the weighted sum of v.  O(tokens^2) work: for tests, on
 * small sizes. */
void
vae_attention_reference (const VaeAttention *attn,
                         const gfloat       *q,
                         const gfloat       *k,
                         const gfloat       *v,
                         gsize               n_tokens,
                         gfloat             *out)
{
  const gsize  head_dim = attn->head_dim;
  const gsize  ld = (gsize) attn->n_heads * head_dim;
  gdouble     *row = g_new (gdouble, n_tokens);
  gdouble     *a = g_new (gdouble, head_dim);
  gsize        h, i, c;

  for (h = 0; h < (gsize) attn->n_heads; h++)
    for (i = 0; i < n_tokens; i++)
      {
        gdouble m = -INFINITY, l = 0.0;

        for (c = 0; c < head_dim; c++)
          a[c] = 0.0;
        scores_row (q + i * ld + h * head_dim, k + h * head_dim, n_tokens, ld,
                    head_dim, attn->scale, row);
        fold_row (row, n_tokens, v + h * head_dim, ld, head_dim, &m, &l, a);
        for (c = 0; c < head_dim; c++)
          out[i * ld + h * head_dim + c] = (gfloat) (a[c] / l);
      }

  g_free (row);
  g_free (a);
}

gdouble
vae_attention_flops (const VaeAttention *attn,
                     gsize               n_tokens)
{
  /* q k^T and P v, 2 flops per multiply-add each. */
  return 4.0 * (gdouble) n_tokens * (gdouble) n_tokens * attn->n_heads *
         attn->head_dim;
}

static gboolean
check_sizes (const VaeAttention  *attn,
             gsize                n_q,
             gsize                n_kv,
             GError             **error)
{
  const gint n_heads = attn->n_heads, head_dim = attn->head_dim;

  if (n_heads <= 0 || head_dim <= 0 ||
      MAX (n_q, n_kv) > (gsize) G_MAXINT / ((gsize) n_heads * head_dim) ||
      (gsize) n_heads * head_dim > G_MAXINT)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "attention: %" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT
                     " tokens of %d heads x %d is out of range", n_q, n_kv,
                     n_heads, head_dim);

  return TRUE;
}

/* Runs @job over its query blocks, with per-thread buffers (the running
 * state too, unless the job carries the caller's). */
static gboolean
run_job (VaeRun   *run,
         AttnJob  *job,
         GError  **error)
{
  const gboolean own_state = job->state == NULL;
  const gsize    n_heads = job->attn->n_heads;
  gboolean       ok = TRUE;
  gint           i;

  /* Smaller query blocks when there are few tokens, so that every thread
   * gets some. */
  job->block_q = BLOCK_Q;
  while (job->block_q > BLOCK_Q_MIN &&
         n_heads * ((job->n_q + job->block_q - 1) / job->block_q) <
         (gsize) run->n_threads * 4)
    job->block_q /= 2;
  job->block_q = MIN (job->block_q, job->n_q);
  job->n_q_blocks = (job->n_q + job->block_q - 1) / job->block_q;

  job->scores = g_new0 (gfloat *, run->n_threads);
  job->acc = g_new0 (gfloat *, run->n_threads);
  job->stats = g_new0 (gfloat *, run->n_threads);
  for (i = 0; i < run->n_threads && ok; i++)
    {
      job->scores[i] = g_try_malloc (job->block_q * BLOCK_K * sizeof (gfloat));
      ok = job->scores[i] != NULL;
      if (ok && own_state)
        {
          job->acc[i] = g_try_malloc (job->block_q * job->attn->head_dim *
                                      sizeof (gfloat));
          job->stats[i] = g_try_malloc (2 * job->block_q * sizeof (gfloat));
          ok = job->acc[i] && job->stats[i];
        }
    }

  if (ok)
    vae_parallel_for (run, n_heads * job->n_q_blocks, attention_block, job);

  for (i = 0; i < run->n_threads; i++)
    {
      g_free (job->scores[i]);
      g_free (job->acc[i]);
      g_free (job->stats[i]);
    }
  g_free (job->scores);
  g_free (job->acc);
  g_free (job->stats);

  if (! ok)
    return vae_fail (error, VAE_ERROR_NO_MEMORY,
                     "out of memory for attention buffers");

  return TRUE;
}

gboolean
vae_op_attention (VaeRun              *run,
                  const VaeAttention  *attn,
                  const gfloat        *q,
                  const gfloat        *k,
                  const gfloat        *v,
                  gsize                n_tokens,
                  gfloat              *out,
                  GError             **error)
{
  AttnJob job = { .attn = attn, .q = q, .k = k, .v = v, .out = out,
                  .n_q = n_tokens, .n_kv = n_tokens };

  if (! check_sizes (attn, n_tokens, n_tokens, error))
    return FALSE;
  if (n_tokens == 0)
    return vae_run_check (run, error);

  if (run->reference)
    vae_attention_reference (attn, q, k, v, n_tokens, out);
  else if (! run_job (run, &job, error))
    return FALSE;

  return vae_run_advance (run, vae_attention_flops (attn, n_tokens), error);
}

/* The reference kernels' form of one partial step: each query's scores
 * against these keys folded in double into its running state, which
 * stays in float between steps. */
static void
attention_partial_reference (const VaeAttention *attn,
                             const gfloat       *q,
                             const gfloat       *k,
                             const gfloat       *v,
                             gsize               n_kv,
                             VaeAttentionState  *state)
{
  const gsize  n_q = state->n_q, head_dim = attn->head_dim;
  const gsize  ld = (gsize) attn->n_heads * head_dim;
  gdouble     *row = g_new (gdouble, n_kv);
  gdouble     *a = g_new (gdouble, head_dim);
  gsize        h, i, c;

  for (h = 0; h < (gsize) attn->n_heads; h++)
    for (i = 0; i < n_q; i++)
      {
        gfloat  *acc = state->acc + i * ld + h * head_dim;
        gdouble  m = state->max[h * n_q + i], l = state->sum[h * n_q + i];

        for (c = 0; c < head_dim; c++)
          a[c] = acc[c];
        scores_row (q + i * ld + h * head_dim, k + h * head_dim, n_kv, ld,
                    head_dim, attn->scale, row);
        fold_row (row, n_kv, v + h * head_dim, ld, head_dim, &m, &l, a);
        for (c = 0; c < head_dim; c++)
          acc[c] = (gfloat) a[c];
        state->sum[h * n_q + i] = (gfloat) l;
        state->max[h * n_q + i] = (gfloat) m;
      }

  g_free (row);
  g_free (a);
}

void
vae_attention_state_init (const VaeAttention *attn,
                          VaeAttentionState  *state)
{
  const gsize n = state->n_q * attn->n_heads;
  gsize       i;

  for (i = 0; i < n; i++)
    {
      state->max[i] = -INFINITY;
      state->sum[i] = 0.0f;
    }
  memset (state->acc, 0, n * attn->head_dim * sizeof (gfloat));
}

gboolean
vae_op_attention_partial (VaeRun              *run,
                          const VaeAttention  *attn,
                          const gfloat        *q,
                          const gfloat        *k,
                          const gfloat        *v,
                          gsize                n_kv,
                          VaeAttentionState   *state,
                          GError             **error)
{
  AttnJob job = { .attn = attn, .q = q, .k = k, .v = v, .n_q = state->n_q,
                  .n_kv = n_kv, .state = state };

  if (! check_sizes (attn, state->n_q, n_kv, error))
    return FALSE;
  if (state->n_q == 0 || n_kv == 0)
    return vae_run_check (run, error);

  if (run->reference)
    {
      attention_partial_reference (attn, q, k, v, n_kv, state);
    }
  else if (! run_job (run, &job, error))
    {
      return FALSE;
    }

  return vae_run_advance (run, 4.0 * (gdouble) state->n_q * (gdouble) n_kv *
                               attn->n_heads * attn->head_dim, error);
}

void
vae_attention_state_finish (const VaeAttention *attn,
                            VaeAttentionState  *state)
{
  const gsize n_q = state->n_q, head_dim = attn->head_dim;
  const gsize ld = (gsize) attn->n_heads * head_dim;
  gsize       i, h, j;

  for (i = 0; i < n_q; i++)
    for (h = 0; h < (gsize) attn->n_heads; h++)
      {
        const gfloat inv = 1.0f / state->sum[h * n_q + i];
        gfloat      *a = state->acc + i * ld + h * head_dim;

        for (j = 0; j < head_dim; j++)
          a[j] *= inv;
      }
}
