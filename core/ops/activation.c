/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Activations in place: any of them through vae_activate_scalar () (ops.h),
 * and SiLU, x * sigmoid (x) = x / (1 + e^-x), on its own.  The generic
 * path calls libm's expf per element, which does not vectorise; after
 * every GroupNorm of a KL VAE that was ~6 % of a whole decode.  The SiLU
 * pass uses vae_fast_exp () and runs at memory speed. */

#include <math.h>

#include "fast-exp.h"
#include "ops.h"

#define CHUNK (64 * 1024)

typedef struct
{
  gfloat        *a;
  gsize          n;
  VaeActivation  act;
} ActJob;

static void
activate_chunk (gsize    index,
                gint     thread,
                gpointer data)
{
  ActJob *job = data;
  gsize   start = index * CHUNK;
  gsize   end = MIN (start + CHUNK, job->n);
  gsize   i;

  if (job->act == VAE_ACT_RELU)
    {
      for (i = start; i < end; i++)
        job->a[i] = job->a[i] > 0.0f ? job->a[i] : 0.0f;
    }
  else
    {
      for (i = start; i < end; i++)
        job->a[i] = vae_activate_scalar (job->a[i], job->act);
    }
}

void
vae_op_activate (VaeRun        *run,
                 VaeTensor     *t,
                 VaeActivation  act)
{
  ActJob job = { t->data, t->n_elements, act };

  if (act == VAE_ACT_NONE)
    return;
  vae_parallel_for (run, (job.n + CHUNK - 1) / CHUNK, activate_chunk, &job);
}

typedef struct
{
  gfloat *x;
  gsize   n;
} SiluJob;

__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
silu_chunk (gsize    index,
            gint     thread,
            gpointer data)
{
  SiluJob *job = data;
  gfloat  *x = job->x;
  gsize    start = index * CHUNK;
  gsize    end = MIN (start + CHUNK, job->n);
  gsize    i;

  for (i = start; i < end; i++)
    {
      /* Below -88, e^-x is past float and the result under 1e-36: 0.
       * The mask keeps the loop free of branches. */
      union { gfloat f; gint32 i; } y;
      const gint32 tiny = -(gint32) (x[i] < -88.0f);

      y.f = x[i] / (1.0f + vae_fast_exp (-x[i]));
      y.i &= ~tiny;
      x[i] = y.f;
    }
}

void
vae_op_silu (VaeRun    *run,
             VaeTensor *t)
{
  SiluJob job = { t->data, t->n_elements };

  if (run->reference)
    {
      vae_op_activate (run, t, VAE_ACT_SILU);
      return;
    }

  vae_parallel_for (run, (job.n + CHUNK - 1) / CHUNK, silu_chunk, &job);
}
