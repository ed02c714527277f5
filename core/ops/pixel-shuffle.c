/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Pixel shuffle and its inverse by a factor r, as PyTorch's pixel_shuffle
 * and pixel_unshuffle on [C, H, W] feature maps:
 *
 *   unshuffle: [c, H, W] -> [c r^2, H/r, W/r],
 *              out[c r^2 + dy r + dx, i, j] = in[c, i r + dy, j r + dx]
 *   shuffle:   the inverse, [c r^2, h, w] -> [c, h r, w r].
 *
 * Pure data movement.  The unshuffle can also apply x * scale + offset on
 * the way (seed-f16 feeds 2 x - 1 of the image into its encoder), which
 * saves a pass over a full-resolution map.  One task per output row: the
 * reads of a shuffle row come from r input rows, those of an unshuffle
 * row from every r-th pixel of one input row. */

#include "../vae-error.h"
#include "ops.h"

typedef struct
{
  const VaeTensor *in;
  VaeTensor       *out;
  gsize            r;
  gfloat           scale;
  gfloat           offset;
} ShuffleJob;

static void
shuffle_row (gsize    index,
             gint     thread,
             gpointer data)
{
  const ShuffleJob *job = data;
  const gsize       r = job->r;
  const gsize       h = VAE_T_H (job->in), w = VAE_T_W (job->in);
  const gsize       ho = VAE_T_H (job->out), wo = VAE_T_W (job->out);
  const gsize       c = index / ho, yo = index % ho;
  const gsize       i = yo / r, dy = yo % r;
  gfloat           *dst = job->out->data + index * wo;
  gsize             dx, j;

  for (dx = 0; dx < r; dx++)
    {
      const gfloat *src = job->in->data + ((c * r * r + dy * r + dx) * h + i) * w;

      for (j = 0; j < w; j++)
        dst[j * r + dx] = src[j];
    }
}

static void
unshuffle_row (gsize    index,
               gint     thread,
               gpointer data)
{
  const ShuffleJob *job = data;
  const gsize       r = job->r;
  const gsize       h = VAE_T_H (job->in), w = VAE_T_W (job->in);
  const gsize       ho = VAE_T_H (job->out), wo = VAE_T_W (job->out);
  const gsize       co = index / ho, i = index % ho;
  const gsize       c = co / (r * r), dy = (co / r) % r, dx = co % r;
  const gfloat     *src = job->in->data + (c * h + i * r + dy) * w + dx;
  gfloat           *dst = job->out->data + index * wo;
  const gfloat      a = job->scale, b = job->offset;
  gsize             j;

  for (j = 0; j < wo; j++)
    dst[j] = src[j * r] * a + b;
}

static gboolean
check_shapes (const gchar      *what,
              const VaeTensor  *in,
              const VaeTensor  *out,
              gsize             c,
              gsize             h,
              gsize             w,
              GError          **error)
{
  if (out->n_dims != 3 || VAE_T_C (out) != c || VAE_T_H (out) != h ||
      VAE_T_W (out) != w)
    {
      g_autofree gchar *in_shape = vae_tensor_shape_to_string (in);
      g_autofree gchar *out_shape = vae_tensor_shape_to_string (out);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s of %s gives [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                   ", %" G_GSIZE_FORMAT "], not %s",
                   what, in_shape, c, h, w, out_shape);
      return FALSE;
    }

  return TRUE;
}

void
vae_pixel_shuffle_reference (const VaeTensor *in,
                             gint             r,
                             VaeTensor       *out)
{
  const gsize c = VAE_T_C (out), ho = VAE_T_H (out), wo = VAE_T_W (out);
  gsize       k, y, x;

  for (k = 0; k < c; k++)
    for (y = 0; y < ho; y++)
      for (x = 0; x < wo; x++)
        out->data[(k * ho + y) * wo + x] =
          in->data[((k * r * r + (y % r) * r + x % r) * VAE_T_H (in) + y / r) *
                   VAE_T_W (in) + x / r];
}

void
vae_pixel_unshuffle_reference (const VaeTensor *in,
                               gint             r,
                               gfloat           scale,
                               gfloat           offset,
                               VaeTensor       *out)
{
  const gsize c = VAE_T_C (in), h = VAE_T_H (in), w = VAE_T_W (in);
  gsize       k, y, x;

  for (k = 0; k < c; k++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        {
          gsize oc = k * r * r + (y % r) * r + x % r;

          out->data[(oc * (h / r) + y / r) * (w / r) + x / r] =
            in->data[(k * h + y) * w + x] * scale + offset;
        }
}

gboolean
vae_op_pixel_shuffle (VaeRun           *run,
                      const VaeTensor  *in,
                      gint              r,
                      VaeTensor        *out,
                      GError          **error)
{
  ShuffleJob job = { in, out, r, 1.0f, 0.0f };

  if (r < 1 || in->n_dims != 3 || VAE_T_C (in) % ((gsize) r * r) != 0)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (in);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "pixel shuffle by %d: the channels of %s are not a "
                   "multiple of %d", r, shape, r * r);
      return FALSE;
    }
  if (! check_shapes ("pixel shuffle", in, out, VAE_T_C (in) / (r * r),
                      VAE_T_H (in) * r, VAE_T_W (in) * r, error))
    return FALSE;

  if (run->reference)
    vae_pixel_shuffle_reference (in, r, out);
  else
    vae_parallel_for (run, VAE_T_C (out) * VAE_T_H (out), shuffle_row, &job);

  return vae_run_check (run, error);
}

gboolean
vae_op_pixel_unshuffle (VaeRun           *run,
                        const VaeTensor  *in,
                        gint              r,
                        gfloat            scale,
                        gfloat            offset,
                        VaeTensor        *out,
                        GError          **error)
{
  ShuffleJob job = { in, out, r, scale, offset };

  if (r < 1 || in->n_dims != 3 || VAE_T_H (in) % r != 0 ||
      VAE_T_W (in) % r != 0)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (in);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "pixel unshuffle by %d: %s is not a multiple of %d high "
                   "and wide", r, shape, r);
      return FALSE;
    }
  if (! check_shapes ("pixel unshuffle", in, out, VAE_T_C (in) * r * r,
                      VAE_T_H (in) / r, VAE_T_W (in) / r, error))
    return FALSE;

  if (run->reference)
    vae_pixel_unshuffle_reference (in, r, scale, offset, out);
  else
    vae_parallel_for (run, VAE_T_C (out) * VAE_T_H (out), unshuffle_row, &job);

  return vae_run_check (run, error);
}
