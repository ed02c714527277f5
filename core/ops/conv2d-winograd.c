/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* 3x3, stride 1, padding 1 convolution with Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2015): each 4x4 block of outputs comes from a 6x6 input patch
 * with 36 multiplies per (input, output) channel pair instead of 144, so
 * the GEMM work drops 4x.  These convs are nearly all of the FLOPs of the
 * TAESD family and of AutoencoderKL's ResNet blocks.
 *
 *   U = G g G^T        per (c_out, c_in): the 3x3 filter as 6x6
 *   V = B^T d B        per (c_in, tile): the 6x6 input patch
 *   M[k] = U[k] V[k]   36 GEMMs [c_out x c_in] x [c_in x tiles]
 *   Y = A^T M A        per (c_out, tile): the 4x4 outputs
 *
 * with the interpolation points 0, 1, -1, 2, -2 and infinity:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
 *          0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 *
 * F(2x2, 3x3) was the first version here: exact to a few float ulps, but
 * with OpenBLAS's AVX2 kernels (OPENBLAS_CORETYPE=Haswell, as this
 * project's machines set it) its 16 small GEMMs left a 1024^2 TAEF2 decode
 * at only ~1.1x PyTorch's speed.  F(4x4, 3x3)'s larger constants cost some
 * float precision (errors of a few 1e-6 relative to the values, measured
 * against the double reference in tests/test-ops.c) for 1.8x less GEMM
 * work than F(2x2, 3x3).
 *
 * Work is split in batches of tiles along tile rows; each worker
 * transforms a batch into buffers of its own that stay in its L2, runs the
 * 36 small GEMMs (K = c_in, where OpenBLAS is at its best) and writes the
 * outputs through the shared conv epilogue.  A nearest 2x upsample before
 * the conv is folded into the reading of input rows.
 */

#include <string.h>

#include "../vae-blas.h"
#include "../vae-error.h"
#include "ops.h"

#define TILE     4              /* outputs per tile side */
#define PATCH    6              /* inputs per tile side */
#define POINTS   (PATCH * PATCH)
#define MAX_BATCH 32

typedef struct
{
  const VaeConv2d *conv;
  const gfloat    *in;
  const gfloat    *residual;
  gfloat          *out;
  VaeActivation    act;
  gsize            h_in, w_in;       /* input, before upsampling */
  gsize            h_out, w_out;
  gsize            tiles_x;
  gsize            n_tiles;
  gsize            batch;            /* tiles per task */
  const gfloat    *u;                /* [36][c_out][c_in] */
  gfloat         **v;                /* per thread: [36][c_in][batch] */
  gfloat         **m;                /* per thread: [36][c_out][batch] */
  gfloat         **rows;             /* per thread: [6 rows][4 phases][batch + 1] */
  gfloat         **y;                /* per thread: [c_out][4][4 * batch] */
} Winograd;

gboolean
vae_conv2d_winograd_applies (const VaeConv2d *conv)
{
  /* Narrow inputs (RGB) gain little and their GEMMs are tiny. */
  return conv->kernel == 3 && conv->stride == 1 &&
         conv->pad_top == 1 && conv->pad_left == 1 &&
         conv->pad_bottom == 1 && conv->pad_right == 1 &&
         (conv->upsample == 1 || conv->upsample == 2) &&
         conv->c_in >= 8 && conv->c_out >= 8;
}

static gfloat *
transform_weights (const VaeConv2d *conv)
{
  static const gdouble g_mat[PATCH][3] = {
    { 1.0 / 4, 0.0, 0.0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0.0, 0.0, 1.0 },
  };
  const gsize pairs = (gsize) conv->c_out * conv->c_in;
  gfloat     *u = g_try_malloc (POINTS * pairs * sizeof (gfloat));
  gsize       p;

  if (u == NULL)
    return NULL;

  for (p = 0; p < pairs; p++)
    {
      const gfloat *g = conv->weight + p * 9;
      gdouble       t[PATCH][3];
      gint          a, b, j, r;

      /* t = G g, then u = t G^T, in double: the weights are transformed
       * once per call and their rounding should not add to the
       * transform's. */
      for (a = 0; a < PATCH; a++)
        for (j = 0; j < 3; j++)
          {
            t[a][j] = 0.0;
            for (r = 0; r < 3; r++)
              t[a][j] += g_mat[a][r] * g[r * 3 + j];
          }
      for (a = 0; a < PATCH; a++)
        for (b = 0; b < PATCH; b++)
          u[(a * PATCH + b) * pairs + p] =
            (gfloat) (t[a][0] * g_mat[b][0] + t[a][1] * g_mat[b][1] +
                      t[a][2] * g_mat[b][2]);
    }

  return u;
}

/* The rows the next channel's load_rows () will read: they lie a whole
 * feature-map plane away, where the hardware prefetcher does not look,
 * and without this the transform waits on memory for most of its time. */
static inline void
prefetch_rows (const Winograd *job,
               const gfloat   *plane,
               gssize          y0,
               gssize          x0,
               gsize           len)
{
  const gint   up = job->conv->upsample;
  const gssize hu = (gssize) job->h_in * up;
  const gssize lo = MAX (x0, 0) / up;
  const gssize hi = MIN (x0 + (gssize) len, (gssize) job->w_in * up) / up;
  gint         r;

  for (r = 0; r < PATCH; r++)
    {
      const gssize y = y0 + r;
      gssize       x;

      if (y < 0 || y >= hu)
        continue;
      for (x = lo; x < hi; x += 16)
        __builtin_prefetch (plane + (gsize) (y / up) * job->w_in + x);
    }
}

/* The six input rows of a tile-row segment, each split into four phases so
 * that every transform loop below reads with unit stride and vectorises:
 * rows[(r * 4 + m) * n + j] = input at (y0 + r, x0 + 4 j + m), in padded,
 * upsampled coordinates, zero outside the image; j in [0, n). */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
load_rows (const Winograd *job,
           const gfloat   *plane,
           gssize          y0,
           gssize          x0,
           gsize           n,
           gfloat         *rows)
{
  const gint   up = job->conv->upsample;
  const gssize hu = (gssize) job->h_in * up;
  const gssize wu = (gssize) job->w_in * up;
  gint         r, m;

  for (r = 0; r < PATCH; r++)
    {
      const gssize  y = y0 + r;
      const gfloat *src;

      if (y < 0 || y >= hu)
        {
          memset (rows + (gsize) r * 4 * n, 0, 4 * n * sizeof (gfloat));
          continue;
        }
      src = plane + (gsize) (y / up) * job->w_in;

      for (m = 0; m < 4; m++)
        {
          gfloat *restrict d = rows + ((gsize) r * 4 + m) * n;
          const gssize     xm = x0 + m;
          gsize            lo = 0, hi = n, j;

          /* [lo, hi): the columns inside the image, copied without checks. */
          while (lo < n && xm + 4 * (gssize) lo < 0)
            lo++;
          while (hi > lo && xm + 4 * ((gssize) hi - 1) >= wu)
            hi--;

          for (j = 0; j < lo; j++)
            d[j] = 0.0f;
          if (up == 1)
            {
              const gfloat *restrict s = src + xm;

              for (j = lo; j < hi; j++)
                d[j] = s[4 * j];
            }
          else
            {
              /* Upsampled by 2: column xm + 4j reads input (xm + 4j) / 2
               * = xm / 2 + 2j for xm + 4j >= 0. */
              for (j = lo; j < hi; j++)
                d[j] = src[(xm + 4 * (gssize) j) >> 1];
            }
          for (j = hi; j < n; j++)
            d[j] = 0.0f;
        }
    }
}

/* B^T applied to six values. */
#define BT0(d0, d1, d2, d3, d4, d5) (4.0f * (d0) - 5.0f * (d2) + (d4))
#define BT1(d0, d1, d2, d3, d4, d5) (-4.0f * ((d1) + (d2)) + (d3) + (d4))
#define BT2(d0, d1, d2, d3, d4, d5) (4.0f * ((d1) - (d2)) - (d3) + (d4))
#define BT3(d0, d1, d2, d3, d4, d5) (2.0f * ((d3) - (d1)) - (d2) + (d4))
#define BT4(d0, d1, d2, d3, d4, d5) (2.0f * ((d1) - (d3)) - (d2) + (d4))
#define BT5(d0, d1, d2, d3, d4, d5) (4.0f * (d1) - 5.0f * (d3) + (d5))

/* V[6a + b][j] = (B^T d B)[a][b] for the count tiles of a segment; tile j
 * reads columns 4j .. 4j + 5 = phases 0..3 at j, then phases 0, 1 at
 * j + 1. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
input_transform (const gfloat *restrict rows,
                 gsize                  n,
                 gsize                  count,
                 gfloat       *restrict v,
                 gsize                  k_stride)
{
  gfloat c[4][MAX_BATCH + 1];
  gint   a, m;
  gsize  j;

  for (a = 0; a < PATCH; a++)
    {
      /* Row a of B^T d, phase by phase. */
      for (m = 0; m < 4; m++)
        {
          const gfloat *restrict d0 = rows + (0 * 4 + m) * n;
          const gfloat *restrict d1 = rows + (1 * 4 + m) * n;
          const gfloat *restrict d2 = rows + (2 * 4 + m) * n;
          const gfloat *restrict d3 = rows + (3 * 4 + m) * n;
          const gfloat *restrict d4 = rows + (4 * 4 + m) * n;
          const gfloat *restrict d5 = rows + (5 * 4 + m) * n;
          gfloat       *restrict cm = c[m];

          switch (a)
            {
#define ROW(k) \
            case k: \
              for (j = 0; j < n; j++) \
                cm[j] = BT##k (d0[j], d1[j], d2[j], d3[j], d4[j], d5[j]); \
              break;
            ROW (0) ROW (1) ROW (2) ROW (3) ROW (4) ROW (5)
#undef ROW
            }
        }

      /* ... times B, along the tile's six columns. */
      {
        gfloat *restrict v0 = v + (PATCH * a + 0) * k_stride;
        gfloat *restrict v1 = v + (PATCH * a + 1) * k_stride;
        gfloat *restrict v2 = v + (PATCH * a + 2) * k_stride;
        gfloat *restrict v3 = v + (PATCH * a + 3) * k_stride;
        gfloat *restrict v4 = v + (PATCH * a + 4) * k_stride;
        gfloat *restrict v5 = v + (PATCH * a + 5) * k_stride;

        for (j = 0; j < count; j++)
          {
            const gfloat i0 = c[0][j], i1 = c[1][j], i2 = c[2][j];
            const gfloat i3 = c[3][j], i4 = c[0][j + 1], i5 = c[1][j + 1];

            v0[j] = BT0 (i0, i1, i2, i3, i4, i5);
            v1[j] = BT1 (i0, i1, i2, i3, i4, i5);
            v2[j] = BT2 (i0, i1, i2, i3, i4, i5);
            v3[j] = BT3 (i0, i1, i2, i3, i4, i5);
            v4[j] = BT4 (i0, i1, i2, i3, i4, i5);
            v5[j] = BT5 (i0, i1, i2, i3, i4, i5);
          }
      }
    }
}

/* A^T applied to six values. */
#define AT0(m0, m1, m2, m3, m4, m5) ((m0) + (m1) + (m2) + (m3) + (m4))
#define AT1(m0, m1, m2, m3, m4, m5) ((m1) - (m2) + 2.0f * ((m3) - (m4)))
#define AT2(m0, m1, m2, m3, m4, m5) ((m1) + (m2) + 4.0f * ((m3) + (m4)))
#define AT3(m0, m1, m2, m3, m4, m5) ((m1) - (m2) + 8.0f * ((m3) - (m4)) + (m5))

/* The 4x4 outputs of count tiles of one output channel: output row p of
 * the segment into y + p * y_stride, from M[k][j] = m[k * ks + j]. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
output_transform (const gfloat *restrict m,
                  gsize                  ks,
                  gsize                  count,
                  gfloat       *restrict y,
                  gsize                  y_stride)
{
  gfloat x[4][PATCH][MAX_BATCH];   /* A^T M: [p][b][j] */
  gint   b, p;
  gsize  j;

  for (b = 0; b < PATCH; b++)
    {
      const gfloat *restrict m0 = m + (0 * PATCH + b) * ks;
      const gfloat *restrict m1 = m + (1 * PATCH + b) * ks;
      const gfloat *restrict m2 = m + (2 * PATCH + b) * ks;
      const gfloat *restrict m3 = m + (3 * PATCH + b) * ks;
      const gfloat *restrict m4 = m + (4 * PATCH + b) * ks;
      const gfloat *restrict m5 = m + (5 * PATCH + b) * ks;

      for (j = 0; j < count; j++)
        {
          x[0][b][j] = AT0 (m0[j], m1[j], m2[j], m3[j], m4[j], m5[j]);
          x[1][b][j] = AT1 (m0[j], m1[j], m2[j], m3[j], m4[j], m5[j]);
          x[2][b][j] = AT2 (m0[j], m1[j], m2[j], m3[j], m4[j], m5[j]);
          x[3][b][j] = AT3 (m0[j], m1[j], m2[j], m3[j], m4[j], m5[j]);
        }
    }

  for (p = 0; p < 4; p++)
    {
      const gfloat *restrict x0 = x[p][0], *restrict x1 = x[p][1];
      const gfloat *restrict x2 = x[p][2], *restrict x3 = x[p][3];
      const gfloat *restrict x4 = x[p][4], *restrict x5 = x[p][5];
      gfloat       *restrict row = y + p * y_stride;

      for (j = 0; j < count; j++)
        {
          row[4 * j + 0] = AT0 (x0[j], x1[j], x2[j], x3[j], x4[j], x5[j]);
          row[4 * j + 1] = AT1 (x0[j], x1[j], x2[j], x3[j], x4[j], x5[j]);
          row[4 * j + 2] = AT2 (x0[j], x1[j], x2[j], x3[j], x4[j], x5[j]);
          row[4 * j + 3] = AT3 (x0[j], x1[j], x2[j], x3[j], x4[j], x5[j]);
        }
    }
}

static void
winograd_batch (gsize    index,
                gint     thread,
                gpointer data)
{
  const Winograd  *job = data;
  const VaeConv2d *conv = job->conv;
  const gsize      c_in = conv->c_in, c_out = conv->c_out;
  const gsize      batch = job->batch;
  const gsize      t_first = index * batch;
  const gsize      n = MIN (batch, job->n_tiles - t_first);
  const gsize      plane_in = job->h_in * job->w_in;
  const gsize      plane_out = job->h_out * job->w_out;
  gfloat          *v = job->v[thread];
  gfloat          *m = job->m[thread];
  gfloat          *rows = job->rows[thread];
  gfloat          *y = job->y[thread];
  gsize            t, ci, k;

  /* Input transform, one tile-row segment at a time. */
  for (t = t_first; t < t_first + n; )
    {
      const gsize  ty = t / job->tiles_x, tx = t % job->tiles_x;
      const gsize  count = MIN (t_first + n - t, job->tiles_x - tx);
      const gssize y0 = (gssize) ty * TILE - 1, x0 = (gssize) tx * TILE - 1;

      for (ci = 0; ci < c_in; ci++)
        {
          if (ci + 1 < c_in)
            prefetch_rows (job, job->in + (ci + 1) * plane_in, y0, x0,
                           TILE * count + 2);
          load_rows (job, job->in + ci * plane_in, y0, x0, count + 1, rows);
          input_transform (rows, count + 1, count,
                           v + ci * batch + (t - t_first), c_in * batch);
        }
      t += count;
    }

  for (k = 0; k < POINTS; k++)
    vae_sgemm (FALSE, FALSE, (gint) c_out, (gint) n, (gint) c_in, 1.0f,
               job->u + k * c_out * c_in, (gint) c_in,
               v + k * c_in * batch, (gint) batch, 0.0f,
               m + k * c_out * batch, (gint) batch);

  /* Output transform and epilogue, segment by segment. */
  for (t = t_first; t < t_first + n; )
    {
      const gsize ty = t / job->tiles_x, tx = t % job->tiles_x;
      const gsize count = MIN (t_first + n - t, job->tiles_x - tx);
      const gsize x0 = TILE * tx;
      const gsize width = MIN (TILE * count, job->w_out - x0);
      const gsize row_len = TILE * batch;
      gsize       co, r;

      for (co = 0; co < c_out; co++)
        output_transform (m + co * batch + (t - t_first), c_out * batch, count,
                          y + co * TILE * row_len, row_len);

      for (r = 0; r < TILE && TILE * ty + r < job->h_out; r++)
        vae_conv2d_epilogue (conv, job->act, job->residual, job->out, plane_out,
                             (TILE * ty + r) * job->w_out + x0,
                             y + r * row_len, TILE * row_len, width);
      t += count;
    }
}

gboolean
vae_conv2d_winograd (VaeRun           *run,
                     const VaeConv2d  *conv,
                     const VaeTensor  *in,
                     const VaeTensor  *residual,
                     VaeActivation     act,
                     VaeTensor        *out,
                     GError          **error)
{
  Winograd job = { 0, };
  gboolean ok;
  gint     i;

  job.conv = conv;
  job.in = in->data;
  job.residual = residual ? residual->data : NULL;
  job.out = out->data;
  job.act = act;
  job.h_in = VAE_T_H (in);
  job.w_in = VAE_T_W (in);
  job.h_out = VAE_T_H (out);
  job.w_out = VAE_T_W (out);
  job.tiles_x = (job.w_out + TILE - 1) / TILE;
  job.n_tiles = job.tiles_x * ((job.h_out + TILE - 1) / TILE);
  /* Keep each worker's V and M ([36, channels, batch] each) near its L2
   * size: fewer tiles per batch for wide layers. */
  job.batch = CLAMP (8192 / MAX (conv->c_in, conv->c_out), 8, MAX_BATCH) / 8 * 8;

  job.u = transform_weights (conv);
  job.v = g_new0 (gfloat *, run->n_threads);
  job.m = g_new0 (gfloat *, run->n_threads);
  job.rows = g_new0 (gfloat *, run->n_threads);
  job.y = g_new0 (gfloat *, run->n_threads);
  ok = job.u != NULL;
  for (i = 0; i < run->n_threads && ok; i++)
    {
      job.v[i] = g_try_malloc (POINTS * (gsize) conv->c_in * job.batch * sizeof (gfloat));
      job.m[i] = g_try_malloc (POINTS * (gsize) conv->c_out * job.batch * sizeof (gfloat));
      job.rows[i] = g_try_malloc (PATCH * 4 * (job.batch + 1) * sizeof (gfloat));
      job.y[i] = g_try_malloc ((gsize) conv->c_out * TILE * TILE * job.batch * sizeof (gfloat));
      ok = job.v[i] && job.m[i] && job.rows[i] && job.y[i];
    }

  if (ok)
    vae_parallel_for (run, (job.n_tiles + job.batch - 1) / job.batch,
                      winograd_batch, &job);
  else
    g_set_error_literal (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                         "out of memory for conv2d buffers");

  for (i = 0; i < run->n_threads; i++)
    {
      g_free (job.v[i]);
      g_free (job.m[i]);
      g_free (job.rows[i]);
      g_free (job.y[i]);
    }
  g_free (job.v);
  g_free (job.m);
  g_free (job.rows);
  g_free (job.y);
  g_free ((gpointer) job.u);

  return ok;
}
