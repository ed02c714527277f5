/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* 2-D convolution as GEMM over small tiles.
 *
 * The output [c_out, h_out * w_out] is a row-major matrix; a tile is a run
 * of n consecutive output pixels (in y * w_out + x order), i.e. a block of
 * its columns.  For each tile a worker gathers the matching input patches
 * into a column buffer [c_in * k * k, n] of its own (im2col, but only for
 * this tile, so it stays in the core's cache and memory does not grow with
 * the image) and one single-threaded sgemm computes
 *
 *     acc = W [c_out, c_in * k * k] x cols [c_in * k * k, n]
 *
 * into a small buffer of the worker's, from which the epilogue (bias,
 * residual, activation) writes the output tile.  Writing the sgemm result
 * straight into the output would save that copy, but the output's rows are
 * h_out * w_out floats apart, a power of two for the usual image sizes,
 * and every row of the tile then lands in the same cache sets: measured
 * 2-3x slower.
 *
 * 1x1 convs at stride 1 need no gathering at all: the input already is the
 * column matrix.  A nearest 2x upsample in front of the conv is folded into
 * the gather, so the 4x larger upsampled map never exists.
 */

#include <math.h>
#include <string.h>

#include "../vae-blas.h"
#include "../vae-error-private.h"
#include "ops.h"

/* Column buffer per worker: large enough for efficient sgemm calls, small
 * enough to stay in a 1 MiB L2 next to the packed weights. */
#define COLS_BUDGET_FLOATS (144 * 1024)
#define TILE_MIN 64
#define TILE_MAX 1024

void
vae_conv2d_init (VaeConv2d    *conv,
                 gint          c_in,
                 gint          c_out,
                 gint          kernel,
                 gint          stride,
                 gint          pad,
                 const gfloat *weight,
                 const gfloat *bias)
{
  conv->c_in = c_in;
  conv->c_out = c_out;
  conv->kernel = kernel;
  conv->stride = stride;
  conv->pad_top = conv->pad_left = conv->pad_bottom = conv->pad_right = pad;
  conv->upsample = 1;
  conv->weight = weight;
  conv->bias = bias;
}

void
vae_conv2d_out_size (const VaeConv2d *conv,
                     gsize            h_in,
                     gsize            w_in,
                     gsize           *h_out,
                     gsize           *w_out)
{
  gssize h = (gssize) h_in * conv->upsample + conv->pad_top + conv->pad_bottom;
  gssize w = (gssize) w_in * conv->upsample + conv->pad_left + conv->pad_right;

  *h_out = h >= conv->kernel ? (gsize) ((h - conv->kernel) / conv->stride + 1) : 0;
  *w_out = w >= conv->kernel ? (gsize) ((w - conv->kernel) / conv->stride + 1) : 0;
}

gdouble
vae_conv2d_flops (const VaeConv2d *conv,
                  gsize            h_in,
                  gsize            w_in)
{
  gsize h_out, w_out;

  vae_conv2d_out_size (conv, h_in, w_in, &h_out, &w_out);

  return 2.0 * conv->c_in * conv->c_out * conv->kernel * conv->kernel *
         (gdouble) h_out * (gdouble) w_out;
}

typedef struct
{
  const VaeConv2d *conv;
  const gfloat    *in;
  const gfloat    *residual;
  gfloat          *out;
  VaeActivation    act;
  gsize            h_in;
  gsize            w_in;
  gsize            h_out;
  gsize            w_out;
  gsize            tile;
  gsize            k_rows;       /* c_in * kernel * kernel */
  gfloat         **cols;         /* per thread: [k_rows, tile] */
  gfloat         **acc;          /* per thread: [c_out, tile] */
  gboolean         direct;       /* 1x1, stride 1: no gather */
} ConvJob;

/* Copies the taps of one run of output pixels within a row: d[j] = the
 * input at upsampled column ix0 + j * s of @row, zero outside [0, wu). */
static inline void
gather_run (gfloat       *d,
            const gfloat *row,
            gssize        ix0,
            gsize         run,
            gint          s,
            gint          up,
            gssize        wu)
{
  gssize lo = 0, hi = (gssize) run, j;

  /* The valid stretch [lo, hi): no per-element bounds checks or divisions
   * in the loops below. */
  if (ix0 < 0)
    lo = MIN ((-ix0 + s - 1) / s, (gssize) run);
  if (ix0 + (hi - 1) * s >= wu)
    hi = ix0 >= wu ? 0 : MIN ((wu - 1 - ix0) / s + 1, (gssize) run);
  if (hi < lo)
    hi = lo;

  for (j = 0; j < lo; j++)
    d[j] = 0.0f;

  if (up == 1 && s == 1)
    memcpy (d + lo, row + ix0 + lo, (hi - lo) * sizeof (gfloat));
  else if (up == 1)
    for (j = lo; j < hi; j++)
      d[j] = row[ix0 + j * s];
  else if (up == 2 && s == 1)
    for (j = lo; j < hi; j++)
      d[j] = row[(ix0 + j) >> 1];
  else
    for (j = lo; j < hi; j++)
      d[j] = row[(ix0 + j * s) / up];

  for (j = hi; j < (gssize) run; j++)
    d[j] = 0.0f;
}

/* Fills cols[k_rows, n] for output pixels p0 .. p0 + n - 1. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
gather (const ConvJob *job,
        gsize          p0,
        gsize          n,
        gfloat        *cols)
{
  const VaeConv2d *conv = job->conv;
  const gint       k = conv->kernel;
  const gint       s = conv->stride;
  const gint       up = conv->upsample;
  const gssize     hu = (gssize) job->h_in * up;
  const gssize     wu = (gssize) job->w_in * up;
  gsize            done, p;

  /* Row by row of the output, then tap by tap, so each input row segment
   * is read while it is hot. */
  for (done = 0, p = p0; done < n; )
    {
      const gsize y = p / job->w_out;
      const gsize x = p % job->w_out;
      const gsize run = MIN (n - done, job->w_out - x);
      gint        ci, ky, kx;

      for (ci = 0; ci < conv->c_in; ci++)
        {
          const gfloat *plane = job->in + (gsize) ci * job->h_in * job->w_in;

          for (ky = 0; ky < k; ky++)
            {
              const gssize iy = (gssize) y * s - conv->pad_top + ky;
              gfloat      *dst = cols + ((gsize) ci * k + ky) * k * n + done;

              if (iy < 0 || iy >= hu)
                {
                  for (kx = 0; kx < k; kx++)
                    memset (dst + (gsize) kx * n, 0, run * sizeof (gfloat));
                  continue;
                }

              for (kx = 0; kx < k; kx++)
                gather_run (dst + (gsize) kx * n,
                            plane + (gsize) (iy / up) * job->w_in,
                            (gssize) x * s - conv->pad_left + kx,
                            run, s, up, wu);
            }
        }

      done += run;
      p += run;
    }
}

/* out[co][p0 + j] = act (acc[co * acc_stride + j] + bias[co] +
 * residual[co][p0 + j]) for j < n: the end of every conv path, applied
 * while acc is still in cache.  residual may be out itself. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
void
vae_conv2d_epilogue (const VaeConv2d *conv,
                     VaeActivation    act,
                     const gfloat    *residual,
                     gfloat          *out,
                     gsize            plane,
                     gsize            p0,
                     const gfloat    *acc,
                     gsize            acc_stride,
                     gsize            n)
{
  gint co;

  for (co = 0; co < conv->c_out; co++)
    {
      const gfloat *a = acc + co * acc_stride;
      gfloat       *o = out + co * plane + p0;
      const gfloat  b = conv->bias ? conv->bias[co] : 0.0f;
      const gfloat *r = residual ? residual + co * plane + p0 : NULL;
      gsize         j;

      switch (act)
        {
        case VAE_ACT_NONE:
          if (r)
            for (j = 0; j < n; j++)
              o[j] = a[j] + b + r[j];
          else
            for (j = 0; j < n; j++)
              o[j] = a[j] + b;
          break;

        case VAE_ACT_RELU:
          if (r)
            for (j = 0; j < n; j++)
              {
                gfloat v = a[j] + b + r[j];
                o[j] = v > 0.0f ? v : 0.0f;
              }
          else
            for (j = 0; j < n; j++)
              {
                gfloat v = a[j] + b;
                o[j] = v > 0.0f ? v : 0.0f;
              }
          break;

        default:
          for (j = 0; j < n; j++)
            o[j] = vae_activate_scalar (a[j] + b + (r ? r[j] : 0.0f), act);
          break;
        }
    }
}

static void
conv_tile (gsize    index,
           gint     thread,
           gpointer data)
{
  const ConvJob   *job = data;
  const VaeConv2d *conv = job->conv;
  const gsize      plane = job->h_out * job->w_out;
  const gsize      p0 = index * job->tile;
  const gsize      n = MIN (job->tile, plane - p0);
  const gfloat    *b;
  gint             ldb;

  if (job->direct)
    {
      b = job->in + p0;
      ldb = (gint) plane;
    }
  else
    {
      gather (job, p0, n, job->cols[thread]);
      b = job->cols[thread];
      ldb = (gint) n;
    }

  vae_sgemm (FALSE, FALSE, conv->c_out, (gint) n, (gint) job->k_rows,
             1.0f, conv->weight, (gint) job->k_rows, b, ldb,
             0.0f, job->acc[thread], (gint) n);

  vae_conv2d_epilogue (conv, job->act, job->residual, job->out, plane, p0,
                       job->acc[thread], n, n);
}

static gboolean
check_shapes (const VaeConv2d  *conv,
              const VaeTensor  *in,
              const VaeTensor  *residual,
              VaeTensor        *out,
              gsize             h_out,
              gsize             w_out,
              GError          **error)
{
  if (in->n_dims != 3 || VAE_T_C (in) != (gsize) conv->c_in)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (in);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "conv2d expects %d input channels, got a tensor of shape %s",
                   conv->c_in, shape);
      return FALSE;
    }
  if (h_out == 0 || w_out == 0)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "conv2d input %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                     " is smaller than its %dx%d kernel",
                     VAE_T_W (in), VAE_T_H (in), conv->kernel, conv->kernel);
  if (out && (out->n_dims != 3 || VAE_T_C (out) != (gsize) conv->c_out ||
              VAE_T_H (out) != h_out || VAE_T_W (out) != w_out))
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "conv2d output tensor has the wrong shape");
  if (residual && (residual->n_dims != 3 ||
                   VAE_T_C (residual) != (gsize) conv->c_out ||
                   VAE_T_H (residual) != h_out || VAE_T_W (residual) != w_out))
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "conv2d residual has a different shape than its output");

  return TRUE;
}

gboolean
vae_op_conv2d (VaeRun           *run,
               const VaeConv2d  *conv,
               const VaeTensor  *in,
               const VaeTensor  *residual,
               VaeActivation     act,
               VaeTensor       **out,
               GError          **error)
{
  ConvJob  job = { 0, };
  gsize    h_out, w_out, plane, n_tiles;
  gboolean allocated = FALSE;
  gboolean ok = TRUE;
  gint     i;

  vae_conv2d_out_size (conv, VAE_T_H (in), VAE_T_W (in), &h_out, &w_out);
  if (! check_shapes (conv, in, residual, *out, h_out, w_out, error))
    return FALSE;
  if (*out == in)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "conv2d cannot write over its input");

  if (*out == NULL)
    {
      *out = vae_tensor_new_3d_uninit (conv->c_out, h_out, w_out, error);
      if (*out == NULL)
        return FALSE;
      allocated = TRUE;
    }

  if (run->reference)
    {
      vae_conv2d_reference (conv, in, residual, act, *out);
      return vae_run_advance (run, vae_conv2d_flops (conv, VAE_T_H (in),
                                                     VAE_T_W (in)), error);
    }

  if (vae_conv2d_winograd_applies (conv))
    {
      if (! vae_conv2d_winograd (run, conv, in, residual, act, *out, error))
        {
          if (allocated)
            g_clear_pointer (out, vae_tensor_unref);
          return FALSE;
        }
      return vae_run_advance (run, vae_conv2d_flops (conv, VAE_T_H (in),
                                                     VAE_T_W (in)), error);
    }

  plane = h_out * w_out;
  job.conv = conv;
  job.in = in->data;
  job.residual = residual ? residual->data : NULL;
  job.out = (*out)->data;
  job.act = act;
  job.h_in = VAE_T_H (in);
  job.w_in = VAE_T_W (in);
  job.h_out = h_out;
  job.w_out = w_out;
  job.k_rows = (gsize) conv->c_in * conv->kernel * conv->kernel;
  job.direct = conv->kernel == 1 && conv->stride == 1 && conv->upsample == 1 &&
               conv->pad_top == 0 && conv->pad_left == 0 &&
               conv->pad_bottom == 0 && conv->pad_right == 0;

  job.tile = CLAMP (COLS_BUDGET_FLOATS / job.k_rows, TILE_MIN, TILE_MAX);
  job.tile = job.tile / 16 * 16;
  /* Keep every thread busy on small maps. */
  while (job.tile > TILE_MIN &&
         (plane + job.tile - 1) / job.tile < (gsize) run->n_threads * 4)
    job.tile /= 2;
  n_tiles = (plane + job.tile - 1) / job.tile;

  job.cols = g_new0 (gfloat *, run->n_threads);
  job.acc = g_new0 (gfloat *, run->n_threads);
  for (i = 0; i < run->n_threads && ok; i++)
    {
      job.acc[i] = g_try_malloc ((gsize) conv->c_out * job.tile * sizeof (gfloat));
      if (! job.direct)
        job.cols[i] = g_try_malloc (job.k_rows * job.tile * sizeof (gfloat));
      ok = job.acc[i] && (job.direct || job.cols[i]);
    }

  if (ok)
    vae_parallel_for (run, n_tiles, conv_tile, &job);

  for (i = 0; i < run->n_threads; i++)
    {
      g_free (job.cols[i]);
      g_free (job.acc[i]);
    }
  g_free (job.cols);
  g_free (job.acc);

  if (! ok)
    {
      if (allocated)
        g_clear_pointer (out, vae_tensor_unref);
      g_set_error_literal (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                           "out of memory for conv2d buffers");
      return FALSE;
    }

  return vae_run_advance (run, vae_conv2d_flops (conv, VAE_T_H (in),
                                                 VAE_T_W (in)), error);
}

gboolean
vae_op_conv2d_step (VaeRun           *run,
                    VaeScratch       *scratch,
                    const VaeConv2d  *conv,
                    VaeActivation     act,
                    VaeTensor       **x,
                    GError          **error)
{
  VaeTensor *y;
  gsize      ho, wo;

  vae_conv2d_out_size (conv, VAE_T_H (*x), VAE_T_W (*x), &ho, &wo);
  y = vae_scratch_get (scratch, conv->c_out, MAX (ho, 1), MAX (wo, 1), error);
  if (y == NULL || ! vae_op_conv2d (run, conv, *x, NULL, act, &y, error))
    {
      vae_scratch_put (scratch, y);
      return FALSE;
    }
  vae_scratch_put (scratch, *x);
  *x = y;

  return TRUE;
}
