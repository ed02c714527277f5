/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* out [cols, rows] = in [rows, cols]^T: the layout change between a
 * channel-major feature map [D, h w] and token-major rows [h w, D] (either
 * direction, both are this transpose).  Done in square tiles so that both
 * the reads and the writes of a tile touch only TILE cache lines each; a
 * plain loop would stride one of them through the whole matrix.  One task
 * is a band of TILE input rows. */

#include "../vae-error-private.h"
#include "ops.h"

#define TILE 32

typedef struct
{
  const gfloat *in;
  gfloat       *out;
  gsize         rows;
  gsize         cols;
} TransposeJob;

static void
transpose_band (gsize    index,
                gint     thread,
                gpointer data)
{
  const TransposeJob *job = data;
  const gsize         r0 = index * TILE;
  const gsize         r1 = MIN (r0 + TILE, job->rows);
  gsize               c0, r, c;

  for (c0 = 0; c0 < job->cols; c0 += TILE)
    {
      const gsize c1 = MIN (c0 + TILE, job->cols);

      for (c = c0; c < c1; c++)
        for (r = r0; r < r1; r++)
          job->out[c * job->rows + r] = job->in[r * job->cols + c];
    }
}

void
vae_transpose_reference (const gfloat *in,
                         gsize         rows,
                         gsize         cols,
                         gfloat       *out)
{
  gsize r, c;

  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++)
      out[c * rows + r] = in[r * cols + c];
}

gboolean
vae_op_transpose (VaeRun        *run,
                  const gfloat  *in,
                  gsize          rows,
                  gsize          cols,
                  gfloat        *out,
                  GError       **error)
{
  TransposeJob job = { in, out, rows, cols };

  if (in == out && rows > 1 && cols > 1)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "transpose cannot work in place");

  if (run->reference)
    vae_transpose_reference (in, rows, cols, out);
  else
    vae_parallel_for (run, (rows + TILE - 1) / TILE, transpose_band, &job);

  return vae_run_check (run, error);
}
