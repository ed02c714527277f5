/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Axial 2-D rotary position embedding (RoPE) on token-major rows
 * [height * width, n_heads * head_dim], token n at (y, x) = (n / width,
 * n % width).  Within each head, pair p = (element 2p, element 2p + 1)
 * turns by the angle
 *
 *     a = y * base^(-p / q)         for p <  q
 *     a = x * base^(-(p - q) / q)   for p >= q,   q = head_dim / 4,
 *
 * (e0, e1) <- (e0 cos a - e1 sin a, e0 sin a + e1 cos a): the first half
 * of each head turns with the row, the second with the column.  Angles
 * are computed in double and rounded to float cos/sin tables once per
 * call, the way seed-f16's PyTorch definition builds them; the rotation
 * itself is float. */

#include <math.h>

#include "../vae-error-private.h"
#include "ops.h"

typedef struct
{
  gfloat       *x;
  gsize         width;
  gint          n_heads;
  gint          head_dim;
  gsize         q;
  const gfloat *cos_y;      /* [height, q] */
  const gfloat *sin_y;
  const gfloat *cos_x;      /* [width, q] */
  const gfloat *sin_x;
} RopeJob;

static inline void
rotate (gfloat       *e,
        const gfloat *c,
        const gfloat *s,
        gsize         n)
{
  gsize p;

  for (p = 0; p < n; p++)
    {
      const gfloat e0 = e[2 * p], e1 = e[2 * p + 1];

      e[2 * p] = e0 * c[p] - e1 * s[p];
      e[2 * p + 1] = e0 * s[p] + e1 * c[p];
    }
}

/* One task: one row of tokens. */
static void
rope_row (gsize    y,
          gint     thread,
          gpointer data)
{
  const RopeJob *job = data;
  const gsize    ld = (gsize) job->n_heads * job->head_dim;
  const gsize    q = job->q;
  gsize          x;
  gint           h;

  for (x = 0; x < job->width; x++)
    {
      gfloat *row = job->x + (y * job->width + x) * ld;

      for (h = 0; h < job->n_heads; h++)
        {
          gfloat *e = row + (gsize) h * job->head_dim;

          rotate (e, job->cos_y + y * q, job->sin_y + y * q, q);
          rotate (e + 2 * q, job->cos_x + x * q, job->sin_x + x * q, q);
        }
    }
}

static gboolean
check_args (gsize     height,
            gsize     width,
            gint      n_heads,
            gint      head_dim,
            gdouble   base,
            GError  **error)
{
  if (n_heads <= 0 || head_dim <= 0 || head_dim % 4 != 0 || ! (base > 0.0) ||
      ! isfinite (base) || height > G_MAXINT || width > G_MAXINT)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "2-D RoPE needs heads of a multiple of 4 features and a "
                     "positive base, not %d heads x %d, base %g",
                     n_heads, head_dim, base);

  return TRUE;
}

/* Every angle from scratch, in double, element by element. */
void
vae_rope_2d_reference (gfloat  *x,
                       gsize    height,
                       gsize    width,
                       gint     n_heads,
                       gint     head_dim,
                       gdouble  base)
{
  const gsize ld = (gsize) n_heads * head_dim;
  const gint  q = head_dim / 4;
  gsize       n;
  gint        h, p;

  for (n = 0; n < height * width; n++)
    for (h = 0; h < n_heads; h++)
      for (p = 0; p < 2 * q; p++)
        {
          gfloat  *e = x + n * ld + (gsize) h * head_dim + 2 * p;
          gdouble  pos = p < q ? (gdouble) (n / width) : (gdouble) (n % width);
          gdouble  a = pos * pow (base, -(gdouble) (p % q) / q);
          gfloat   c = (gfloat) cos (a), s = (gfloat) sin (a);
          gfloat   e0 = e[0], e1 = e[1];

          e[0] = e0 * c - e1 * s;
          e[1] = e0 * s + e1 * c;
        }
}

gboolean
vae_op_rope_2d (VaeRun   *run,
                gfloat   *x,
                gsize     height,
                gsize     width,
                gint      n_heads,
                gint      head_dim,
                gdouble   base,
                GError  **error)
{
  RopeJob  job;
  gdouble *freq;
  gfloat  *tables;
  gsize    q, i, p;

  if (! check_args (height, width, n_heads, head_dim, base, error))
    return FALSE;

  if (run->reference)
    {
      vae_rope_2d_reference (x, height, width, n_heads, head_dim, base);
      return vae_run_check (run, error);
    }

  q = head_dim / 4;
  freq = g_new (gdouble, q);
  for (p = 0; p < q; p++)
    freq[p] = pow (base, -(gdouble) p / q);

  tables = g_new (gfloat, 2 * q * (height + width));
  job.x = x;
  job.width = width;
  job.n_heads = n_heads;
  job.head_dim = head_dim;
  job.q = q;
  job.cos_y = tables;
  job.sin_y = tables + q * height;
  job.cos_x = tables + 2 * q * height;
  job.sin_x = tables + 2 * q * height + q * width;
  for (i = 0; i < height; i++)
    for (p = 0; p < q; p++)
      {
        tables[i * q + p] = (gfloat) cos (i * freq[p]);
        tables[q * height + i * q + p] = (gfloat) sin (i * freq[p]);
      }
  for (i = 0; i < width; i++)
    for (p = 0; p < q; p++)
      {
        tables[2 * q * height + i * q + p] = (gfloat) cos (i * freq[p]);
        tables[2 * q * height + q * width + i * q + p] = (gfloat) sin (i * freq[p]);
      }

  vae_parallel_for (run, height, rope_row, &job);

  g_free (tables);
  g_free (freq);

  return vae_run_check (run, error);
}
