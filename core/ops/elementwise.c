/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Elementwise ops.  They are memory bound, so they split the tensor into
 * large chunks across threads and otherwise stay plain loops the compiler
 * vectorises. */

#include <math.h>

#include "../vae-error-private.h"
#include "ops.h"

#define CHUNK (64 * 1024)

typedef struct
{
  gfloat        *a;
  const gfloat  *b;
  gsize          n;
  gfloat         limit;
} EltJob;

static void
tanh_chunk (gsize    index,
            gint     thread,
            gpointer data)
{
  EltJob *job = data;
  gsize   start = index * CHUNK;
  gsize   end = MIN (start + CHUNK, job->n);
  gfloat  inv = 1.0f / job->limit;
  gsize   i;

  for (i = start; i < end; i++)
    job->a[i] = tanhf (job->a[i] * inv) * job->limit;
}

void
vae_op_tanh_clamp (VaeRun    *run,
                   VaeTensor *t,
                   gfloat     limit)
{
  EltJob job = { t->data, NULL, t->n_elements, limit };

  vae_parallel_for (run, (job.n + CHUNK - 1) / CHUNK, tanh_chunk, &job);
}

static void
add_chunk (gsize    index,
           gint     thread,
           gpointer data)
{
  EltJob *job = data;
  gsize   start = index * CHUNK;
  gsize   end = MIN (start + CHUNK, job->n);
  gsize   i;

  for (i = start; i < end; i++)
    job->a[i] += job->b[i];
}

gboolean
vae_op_add (VaeRun           *run,
            VaeTensor        *a,
            const VaeTensor  *b,
            GError          **error)
{
  EltJob job = { a->data, b->data, a->n_elements, 0.0f };

  if (! vae_tensor_same_shape (a, b))
    return vae_fail (error, VAE_ERROR_SHAPE, "add: tensors differ in shape");
  vae_parallel_for (run, (job.n + CHUNK - 1) / CHUNK, add_chunk, &job);

  return TRUE;
}
