/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* 3x3, stride 1, padding 1 convolution with Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2015): each 2x2 block of outputs comes from a 4x4 input patch
 * with 16 multiplies per (input, output) channel pair instead of 36, so the
 * GEMM work drops 2.25x.  These convs are nearly all of the FLOPs of the
 * TAESD family and of AutoencoderKL's ResNet blocks.
 *
 *   U = G g G^T        per (c_out, c_in): the 3x3 filter as 4x4
 *   V = B^T d B        per (c_in, tile): the 4x4 input patch
 *   M[k] = U[k] V[k]   16 GEMMs [c_out x c_in] x [c_in x tiles]
 *   Y = A^T M A        per (c_out, tile): the 2x2 outputs
 *
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *      G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *      A^T = [1 1 1 0; 0 1 -1 -1].
 *
 * The transforms only add and subtract (plus halves in G), so F(2x2, 3x3)
 * keeps float32 accuracy: tests hold it to the direct reference at 2e-5
 * relative.  Work is split in batches of tiles along tile rows; each
 * worker transforms a batch into buffers of its own that stay in its L2,
 * runs the 16 small GEMMs (K = c_in, where OpenBLAS is at its best) and
 * writes the outputs through the shared conv epilogue.  A nearest 2x
 * upsample before the conv is folded into the reading of input rows.
 */

#include <string.h>

#include "../vae-blas.h"
#include "../vae-error.h"
#include "ops.h"

#define TILES_PER_BATCH 64

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
  const gfloat    *u;                /* [16][c_out][c_in] */
  gfloat         **v;                /* per thread: [16][c_in][batch] */
  gfloat         **m;                /* per thread: [16][c_out][batch] */
  gfloat         **rows;             /* per thread: [2][4][batch + 1] */
  gfloat         **y;                /* per thread: [c_out][2][2 * batch] */
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
  const gsize pairs = (gsize) conv->c_out * conv->c_in;
  gfloat     *u = g_try_malloc (16 * pairs * sizeof (gfloat));
  gsize       p;

  if (u == NULL)
    return NULL;

  for (p = 0; p < pairs; p++)
    {
      const gfloat *g = conv->weight + p * 9;
      gfloat        t[4][3];
      gint          i, j;

      /* t = G g */
      for (j = 0; j < 3; j++)
        {
          t[0][j] = g[j];
          t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
          t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
          t[3][j] = g[6 + j];
        }
      /* u = t G^T */
      for (i = 0; i < 4; i++)
        {
          u[(i * 4 + 0) * pairs + p] = t[i][0];
          u[(i * 4 + 1) * pairs + p] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
          u[(i * 4 + 2) * pairs + p] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
          u[(i * 4 + 3) * pairs + p] = t[i][2];
        }
    }

  return u;
}

static inline void
edge_pair (const gfloat *src,
           gssize        xe,
           gint          up,
           gssize        wu,
           gfloat       *e,
           gfloat       *o)
{
  *e = (xe >= 0 && xe < wu) ? src[xe / up] : 0.0f;
  *o = (xe + 1 >= 0 && xe + 1 < wu) ? src[(xe + 1) / up] : 0.0f;
}

/* The four input rows of a tile-row segment, split into even and odd
 * columns so that every transform loop below reads with unit stride and
 * vectorises: even[r][j] = input at (y0 + r, x0 + 2j), odd[r][j] = at
 * (y0 + r, x0 + 2j + 1), in padded, upsampled coordinates, zero outside
 * the image; j in [0, half). */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
load_rows (const Winograd *job,
           const gfloat   *plane,
           gssize          y0,
           gssize          x0,
           gsize           half,
           gfloat         *even,
           gfloat         *odd)
{
  const gint   up = job->conv->upsample;
  const gssize hu = (gssize) job->h_in * up;
  const gssize wu = (gssize) job->w_in * up;
  gint         r;

  for (r = 0; r < 4; r++)
    {
      gfloat       *e = even + r * half, *o = odd + r * half;
      gssize        y = y0 + r;
      const gfloat *src;
      gsize         j, lo, hi;

      if (y < 0 || y >= hu)
        {
          memset (e, 0, half * sizeof (gfloat));
          memset (o, 0, half * sizeof (gfloat));
          continue;
        }

      src = plane + (gsize) (y / up) * job->w_in;

      /* Columns outside [lo, hi) may fall off the image; between them
       * the copies below need no checks. */
      lo = 0;
      while (lo < half && x0 + 2 * (gssize) lo < 0)
        lo++;
      hi = half;
      while (hi > lo && x0 + 2 * (gssize) hi > wu)
        hi--;

      for (j = 0; j < lo; j++)
        edge_pair (src, x0 + 2 * (gssize) j, up, wu, e + j, o + j);
      if (up == 1)
        {
          const gfloat *s0 = src + x0;

          for (j = lo; j < hi; j++)
            {
              e[j] = s0[2 * j];
              o[j] = s0[2 * j + 1];
            }
        }
      else
        {
          /* x0 is odd (2 tx - 1): even columns read input (x0 - 1) / 2 + j,
           * odd ones (x0 + 1) / 2 + j. */
          const gssize de = (x0 - 1) / 2, dd = (x0 + 1) / 2;

          for (j = lo; j < hi; j++)
            {
              e[j] = src[de + (gssize) j];
              o[j] = src[dd + (gssize) j];
            }
        }
      for (j = hi; j < half; j++)
        edge_pair (src, x0 + 2 * (gssize) j, up, wu, e + j, o + j);
    }
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

  for (r = 0; r < 4; r++)
    {
      const gssize y = y0 + r;
      gssize       x;

      if (y < 0 || y >= hu)
        continue;
      for (x = lo; x < hi; x += 16)
        __builtin_prefetch (plane + (gsize) (y / up) * job->w_in + x);
    }
}

/* V[4a + b][t] = (B^T d B)[a][b] for the count tiles of a segment; tile j
 * reads columns 2j .. 2j + 3 = even[j], odd[j], even[j + 1], odd[j + 1]. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
input_transform (const gfloat *restrict even,
                 const gfloat *restrict odd,
                 gsize                  half,
                 gsize                  count,
                 gfloat       *restrict v,
                 gsize                  k_stride)
{
  /* Row a of B^T is (row p) + sign * (row q) of d. */
  static const gint   p_row[4] = { 0, 1, 2, 1 };
  static const gint   q_row[4] = { 2, 2, 1, 3 };
  static const gfloat sign[4] = { -1.0f, 1.0f, -1.0f, -1.0f };
  gint                a;

  for (a = 0; a < 4; a++)
    {
      const gfloat *restrict ep = even + p_row[a] * half;
      const gfloat *restrict eq = even + q_row[a] * half;
      const gfloat *restrict op = odd + p_row[a] * half;
      const gfloat *restrict oq = odd + q_row[a] * half;
      const gfloat           sg = sign[a];
      gfloat *restrict       v0 = v + (4 * a + 0) * k_stride;
      gfloat *restrict       v1 = v + (4 * a + 1) * k_stride;
      gfloat *restrict       v2 = v + (4 * a + 2) * k_stride;
      gfloat *restrict       v3 = v + (4 * a + 3) * k_stride;
      gsize                  j;

      for (j = 0; j < count; j++)
        {
          /* (B^T d)[a] at the tile's four columns, then times B. */
          gfloat c0 = ep[j] + sg * eq[j];
          gfloat c1 = op[j] + sg * oq[j];
          gfloat c2 = ep[j + 1] + sg * eq[j + 1];
          gfloat c3 = op[j + 1] + sg * oq[j + 1];

          v0[j] = c0 - c2;
          v1[j] = c1 + c2;
          v2[j] = c2 - c1;
          v3[j] = c1 - c3;
        }
    }
}

/* The 2x2 outputs of count tiles of one output channel: row 0 into y0,
 * row 1 into y1, from M[k][j] = m[k * ks + j]. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
output_transform (const gfloat *restrict m,
                  gsize                  ks,
                  gsize                  count,
                  gfloat       *restrict y0,
                  gfloat       *restrict y1)
{
  gsize j;

  for (j = 0; j < count; j++)
    {
      gfloat x0[4], x1[4];   /* A^T M */
      gint   i;

      for (i = 0; i < 4; i++)
        {
          gfloat m0 = m[(0 + i) * ks + j], m1 = m[(4 + i) * ks + j];
          gfloat m2 = m[(8 + i) * ks + j], m3 = m[(12 + i) * ks + j];

          x0[i] = m0 + m1 + m2;
          x1[i] = m1 - m2 - m3;
        }
      y0[2 * j]     = x0[0] + x0[1] + x0[2];
      y0[2 * j + 1] = x0[1] - x0[2] - x0[3];
      y1[2 * j]     = x1[0] + x1[1] + x1[2];
      y1[2 * j + 1] = x1[1] - x1[2] - x1[3];
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
  const gsize      t_first = index * TILES_PER_BATCH;
  const gsize      n = MIN (TILES_PER_BATCH, job->n_tiles - t_first);
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
      const gsize ty = t / job->tiles_x, tx = t % job->tiles_x;
      const gsize count = MIN (t_first + n - t, job->tiles_x - tx);
      const gsize half = count + 1;

      for (ci = 0; ci < c_in; ci++)
        {
          if (ci + 1 < c_in)
            prefetch_rows (job, job->in + (ci + 1) * plane_in, (gssize) ty * 2 - 1,
                           (gssize) tx * 2 - 1, 2 * half);
          load_rows (job, job->in + ci * plane_in, (gssize) ty * 2 - 1,
                     (gssize) tx * 2 - 1, half, rows, rows + 4 * half);
          input_transform (rows, rows + 4 * half, half, count,
                           v + ci * TILES_PER_BATCH + (t - t_first),
                           c_in * TILES_PER_BATCH);
        }
      t += count;
    }

  for (k = 0; k < 16; k++)
    vae_sgemm (FALSE, FALSE, (gint) c_out, (gint) n, (gint) c_in, 1.0f,
               job->u + k * c_out * c_in, (gint) c_in,
               v + k * c_in * TILES_PER_BATCH, TILES_PER_BATCH, 0.0f,
               m + k * c_out * TILES_PER_BATCH, TILES_PER_BATCH);

  /* Output transform and epilogue, segment by segment. */
  for (t = t_first; t < t_first + n; )
    {
      const gsize ty = t / job->tiles_x, tx = t % job->tiles_x;
      const gsize count = MIN (t_first + n - t, job->tiles_x - tx);
      const gsize x0 = 2 * tx;
      const gsize width = MIN (2 * count, job->w_out - x0);
      const gsize ks = c_out * TILES_PER_BATCH;
      gsize       co, r;

      for (co = 0; co < c_out; co++)
        output_transform (m + co * TILES_PER_BATCH + (t - t_first), ks, count,
                          y + co * 4 * TILES_PER_BATCH,
                          y + co * 4 * TILES_PER_BATCH + 2 * TILES_PER_BATCH);

      for (r = 0; r < 2 && 2 * ty + r < job->h_out; r++)
        vae_conv2d_epilogue (conv, job->act, job->residual, job->out, plane_out,
                             (2 * ty + r) * job->w_out + x0,
                             y + r * 2 * TILES_PER_BATCH, 4 * TILES_PER_BATCH,
                             width);
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
  job.tiles_x = (job.w_out + 1) / 2;
  job.n_tiles = job.tiles_x * ((job.h_out + 1) / 2);

  job.u = transform_weights (conv);
  job.v = g_new0 (gfloat *, run->n_threads);
  job.m = g_new0 (gfloat *, run->n_threads);
  job.rows = g_new0 (gfloat *, run->n_threads);
  job.y = g_new0 (gfloat *, run->n_threads);
  ok = job.u != NULL;
  for (i = 0; i < run->n_threads && ok; i++)
    {
      job.v[i] = g_try_malloc (16 * (gsize) conv->c_in * TILES_PER_BATCH * sizeof (gfloat));
      job.m[i] = g_try_malloc (16 * (gsize) conv->c_out * TILES_PER_BATCH * sizeof (gfloat));
      job.rows[i] = g_try_malloc (2 * 4 * (TILES_PER_BATCH + 1) * sizeof (gfloat));
      job.y[i] = g_try_malloc ((gsize) conv->c_out * 4 * TILES_PER_BATCH * sizeof (gfloat));
      ok = job.v[i] && job.m[i] && job.rows[i] && job.y[i];
    }

  if (ok)
    vae_parallel_for (run, (job.n_tiles + TILES_PER_BATCH - 1) / TILES_PER_BATCH,
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
