/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* A linear layer on token-major rows, as torch.nn.Linear:
 *
 *     out [n, d_out] = act (in [n, d_in] W^T + bias + residual)
 *
 * with W [d_out, d_in] as stored.  One task is a block of tokens and one
 * single-threaded sgemm (the weights stay packed in the core's cache
 * across the block's rows); the residual enters as the sgemm's C with
 * beta 1, so it may be the output itself (the transformer's x = x + f (x)
 * updates the stream in place).  Bias and activation follow in one pass
 * over the block while it is still in cache.
 *
 * GELU gets a vectorisable form: libm's erff is a call per element, and
 * the MLP of a 64 x 64 token decoder runs 16 M of them per block. */

#include <math.h>
#include <string.h>

#include "../vae-blas.h"
#include "../vae-error-private.h"
#include "fast-exp.h"
#include "ops.h"

#define BLOCK_TOKENS     128
#define BLOCK_TOKENS_MIN 16

/* 0.5 x (1 + erf (x / sqrt 2)) with erf from Abramowitz & Stegun 7.1.26
 * (|error| <= 1.5e-7 for every x): for u = |x| / sqrt 2,
 * 1 - erf (u) = q = poly (1 / (1 + p u)) e^(-u^2).  Writing the negative
 * side as 0.5 x q, rather than 0.5 x (1 - (1 - q)), keeps its small
 * values accurate.  |gelu - exact| <= 0.5 |x| 1.5e-7. */
static inline gfloat
gelu_fast (gfloat x)
{
  const gfloat u = fabsf (x) * 0.70710678118654752f;
  const gfloat t = 1.0f / (1.0f + 0.3275911f * u);
  gfloat       q;

  q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  q = q * t * vae_fast_exp (-u * u);

  return 0.5f * x * (x >= 0.0f ? 2.0f - q : q);
}

typedef struct
{
  const VaeLinear *linear;
  const gfloat    *in;
  gsize            n_tokens;
  const gfloat    *residual;
  VaeActivation    act;
  gfloat          *out;
  gsize            block;
} LinearJob;

/* Bias and activation over m rows of n, in place; the GELU loop is the
 * one that matters (erf per element), so it gets AVX2 / AVX-512 clones. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
epilogue (gfloat        *out,
          gsize          m,
          gsize          n,
          const gfloat  *b,
          VaeActivation  act)
{
  gsize i, j;

  for (i = 0; i < m; i++)
    {
      gfloat *o = out + i * n;

      switch (act)
        {
        case VAE_ACT_NONE:
          if (b)
            for (j = 0; j < n; j++)
              o[j] += b[j];
          break;
        case VAE_ACT_GELU:
          if (b)
            for (j = 0; j < n; j++)
              o[j] = gelu_fast (o[j] + b[j]);
          else
            for (j = 0; j < n; j++)
              o[j] = gelu_fast (o[j]);
          break;
        default:
          for (j = 0; j < n; j++)
            o[j] = vae_activate_scalar (o[j] + (b ? b[j] : 0.0f), act);
          break;
        }
    }
}

static void
linear_block (gsize    index,
              gint     thread,
              gpointer data)
{
  const LinearJob *job = data;
  const VaeLinear *linear = job->linear;
  const gsize      d_out = linear->d_out;
  const gsize      t0 = index * job->block;
  const gsize      m = MIN (job->block, job->n_tokens - t0);
  gfloat          *out = job->out + t0 * d_out;

  if (job->residual && job->residual != job->out)
    memcpy (out, job->residual + t0 * d_out, m * d_out * sizeof (gfloat));

  vae_sgemm (FALSE, TRUE, (gint) m, linear->d_out, linear->d_in, 1.0f,
             job->in + t0 * linear->d_in, linear->d_in, linear->weight,
             linear->d_in, job->residual ? 1.0f : 0.0f, out, linear->d_out);

  epilogue (out, m, d_out, linear->bias, job->act);
}

/* Dot products in double, libm's activations. */
void
vae_linear_reference (const VaeLinear *linear,
                      const gfloat    *in,
                      gsize            n_tokens,
                      const gfloat    *residual,
                      VaeActivation    act,
                      gfloat          *out)
{
  const gint    d_in = linear->d_in, d_out = linear->d_out;
  const gfloat *weight = linear->weight, *bias = linear->bias;
  gsize         t;
  gint          o, i;

  for (t = 0; t < n_tokens; t++)
    for (o = 0; o < d_out; o++)
      {
        gdouble acc = bias ? bias[o] : 0.0;

        for (i = 0; i < d_in; i++)
          acc += (gdouble) in[t * d_in + i] * weight[(gsize) o * d_in + i];
        if (residual)
          acc += residual[t * d_out + o];
        out[t * d_out + o] = vae_activate_scalar ((gfloat) acc, act);
      }
}

gdouble
vae_linear_flops (const VaeLinear *linear,
                  gsize            n_tokens)
{
  return 2.0 * (gdouble) n_tokens * linear->d_in * linear->d_out;
}

gboolean
vae_op_linear (VaeRun           *run,
               const VaeLinear  *linear,
               const gfloat     *in,
               gsize             n_tokens,
               const gfloat     *residual,
               VaeActivation     act,
               gfloat           *out,
               GError          **error)
{
  LinearJob job = { linear, in, n_tokens, residual, act, out, BLOCK_TOKENS };

  if (linear->d_in <= 0 || linear->d_out <= 0 || n_tokens > (gsize) G_MAXINT)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "linear: %" G_GSIZE_FORMAT " tokens, %d -> %d features",
                     n_tokens, linear->d_in, linear->d_out);
  if (in == out)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "linear cannot write over its input");

  if (run->reference)
    {
      vae_linear_reference (linear, in, n_tokens, residual, act, out);
    }
  else
    {
      /* Few tokens: smaller blocks, so that every thread gets some. */
      while (job.block > BLOCK_TOKENS_MIN &&
             (n_tokens + job.block - 1) / job.block < (gsize) run->n_threads * 4)
        job.block /= 2;

      if (n_tokens > 0)
        vae_parallel_for (run, (n_tokens + job.block - 1) / job.block,
                          linear_block, &job);
    }

  return vae_run_advance (run, vae_linear_flops (linear, n_tokens), error);
}
