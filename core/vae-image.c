/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-image.h"
#include "vae-image-private.h"
#include "vae-tensor-private.h"

/* Image helpers work on any [C, H, W] tensor: RGB images, alpha planes and
 * latents alike (vae_tensor_check_chw ()).
 */

/* Index of the source row or column that padding position @i (>= @n)
 * copies.  Reflect folds back and forth across the border without
 * repeating it, so [a b c] continues b a b c b a ...; that is numpy's
 * 'reflect', including its repeated folding when the padding is longer
 * than the image.  A single row or column has nothing to mirror and is
 * repeated.
 */
gsize
vae_pad_source_index (gsize      i,
                      gsize      n,
                      VaePadMode mode)
{
  gsize period;

  if (i < n)
    return i;
  if (mode == VAE_PAD_EDGE || n == 1)
    return n - 1;

  period = 2 * (n - 1);
  i %= period;

  return i < n ? i : period - i;
}

/**
 * vae_image_pad:
 * @image: a [C, H, W] tensor
 * @multiple: the padded height and width are multiples of this (>= 1)
 * @mode: how to fill the new rows and columns
 * @error: return location for a #GError
 *
 * Extends @image at the bottom and at the right so that both sides become
 * multiples of @multiple.  The original stays at (0, 0), so
 * vae_image_crop (padded, 0, 0, W, H) undoes the padding.
 *
 * %VAE_PAD_EDGE repeats the last row and column (numpy's 'edge').
 * %VAE_PAD_REFLECT mirrors without repeating the border pixel (numpy's
 * 'reflect'); when the padding is longer than the image it keeps folding
 * back and forth, and an image one pixel wide or high is padded as with
 * %VAE_PAD_EDGE.
 *
 * Returns: (transfer full) (nullable): a new tensor (a copy when no padding
 *   is needed), or %NULL with @error set: %VAE_ERROR_INVALID_ARGUMENT for a
 *   @multiple of 0, %VAE_ERROR_SHAPE, %VAE_ERROR_NO_MEMORY.
 */
VaeTensor *
vae_image_pad (const VaeTensor  *image,
               gsize             multiple,
               VaePadMode        mode,
               GError          **error)
{
  VaeTensor *out;
  gsize      c, h, w, oh, ow;
  gsize      ch, y, x;
  gsize     *col_src;

  g_return_val_if_fail (image != NULL, NULL);

  if (! vae_tensor_check_chw (image, "the image to pad", error))
    return NULL;
  if (multiple == 0)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "cannot pad to a multiple of 0");
  if (mode != VAE_PAD_EDGE && mode != VAE_PAD_REFLECT)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "unknown padding mode %d", (gint) mode);

  c = VAE_T_C (image);
  h = VAE_T_H (image);
  w = VAE_T_W (image);
  if (h > G_MAXSIZE - multiple || w > G_MAXSIZE - multiple)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "padding multiple too large");
  oh = (h + multiple - 1) / multiple * multiple;
  ow = (w + multiple - 1) / multiple * multiple;

  out = vae_tensor_new_3d_uninit (c, oh, ow, error);
  if (! out)
    return NULL;

  col_src = g_new (gsize, ow - w + 1);
  for (x = w; x < ow; x++)
    col_src[x - w] = vae_pad_source_index (x, w, mode);

  for (ch = 0; ch < c; ch++)
    {
      const gfloat *src = image->data + ch * h * w;
      gfloat       *dst = out->data + ch * oh * ow;

      for (y = 0; y < h; y++)
        {
          const gfloat *srow = src + y * w;
          gfloat       *drow = dst + y * ow;

          memcpy (drow, srow, w * sizeof (gfloat));
          for (x = w; x < ow; x++)
            drow[x] = srow[col_src[x - w]];
        }
      /* Rows below copy whole, already widened, rows of the output. */
      for (y = h; y < oh; y++)
        memcpy (dst + y * ow, dst + vae_pad_source_index (y, h, mode) * ow,
                ow * sizeof (gfloat));
    }

  g_free (col_src);

  return out;
}

/**
 * vae_image_crop:
 * @image: a [C, H, W] tensor
 * @x: left edge of the region
 * @y: top edge of the region
 * @width: width of the region, at least 1
 * @height: height of the region, at least 1
 * @error: return location for a #GError
 *
 * Copies a rectangle out of @image, all channels.
 *
 * Returns: (transfer full) (nullable): a new [C, @height, @width] tensor, or
 *   %NULL with %VAE_ERROR_INVALID_ARGUMENT when the rectangle is empty or
 *   not inside @image (or %VAE_ERROR_SHAPE, %VAE_ERROR_NO_MEMORY).
 */
VaeTensor *
vae_image_crop (const VaeTensor  *image,
                gsize             x,
                gsize             y,
                gsize             width,
                gsize             height,
                GError          **error)
{
  VaeTensor *out;
  gsize      c, h, w;
  gsize      ch, row;

  g_return_val_if_fail (image != NULL, NULL);

  if (! vae_tensor_check_chw (image, "the image to crop", error))
    return NULL;

  c = VAE_T_C (image);
  h = VAE_T_H (image);
  w = VAE_T_W (image);

  /* Written so that no sum can wrap around. */
  if (width == 0 || height == 0 ||
      x >= w || width > w - x ||
      y >= h || height > h - y)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "crop rectangle %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                          " at (%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                          ") is not inside the %" G_GSIZE_FORMAT "x%"
                          G_GSIZE_FORMAT " image", width, height, x, y, w, h);

  out = vae_tensor_new_3d_uninit (c, height, width, error);
  if (! out)
    return NULL;

  for (ch = 0; ch < c; ch++)
    for (row = 0; row < height; row++)
      memcpy (out->data + (ch * height + row) * width,
              image->data + (ch * h + y + row) * w + x,
              width * sizeof (gfloat));

  return out;
}

/* Resampling.
 *
 * Bicubic convolution with a = -0.5 (Keys' kernel), the filter of PIL's
 * BICUBIC and of torch.nn.functional.interpolate (mode='bicubic',
 * antialias=True).  When shrinking, the kernel is stretched by the scale
 * factor so that it also low-pass filters (antialiasing); when enlarging it
 * keeps its support of 2 input pixels.  Pixel centres are at i + 0.5 (no
 * corner alignment).  Taps that would fall outside the image are dropped
 * and the rest renormalised to sum 1, as PIL and torch's antialiased path
 * do, rather than repeating the edge pixel.
 *
 * Each output column (or row) has its own short list of weights, computed
 * once; the image is then filtered horizontally and vertically.
 */

#define BICUBIC_A (-0.5)

static gdouble
bicubic (gdouble x)
{
  x = fabs (x);
  if (x < 1.0)
    return ((BICUBIC_A + 2.0) * x - (BICUBIC_A + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return ((BICUBIC_A * x - 5.0 * BICUBIC_A) * x + 8.0 * BICUBIC_A) * x
           - 4.0 * BICUBIC_A;

  return 0.0;
}

typedef struct
{
  gsize   out_size;
  gsize   max_taps;
  gsize  *first;     /* [out_size] first input index */
  gsize  *n_taps;    /* [out_size] */
  gfloat *weights;   /* [out_size * max_taps] */
} Resampler;

static void
resampler_clear (Resampler *r)
{
  g_free (r->first);
  g_free (r->n_taps);
  g_free (r->weights);
}

static void
resampler_init (Resampler *r,
                gsize      in_size,
                gsize      out_size)
{
  gdouble  scale = (gdouble) in_size / (gdouble) out_size;
  gdouble  stretch = MAX (scale, 1.0);
  gdouble  support = 2.0 * stretch;
  gdouble *w;
  gsize    i;

  r->out_size = out_size;
  r->max_taps = (gsize) ceil (support) * 2 + 1;
  r->first = g_new (gsize, out_size);
  r->n_taps = g_new (gsize, out_size);
  r->weights = g_new0 (gfloat, out_size * r->max_taps);
  w = g_new (gdouble, r->max_taps);

  for (i = 0; i < out_size; i++)
    {
      gdouble  center = ((gdouble) i + 0.5) * scale;
      gdouble  lo = floor (center - support + 0.5);
      gdouble  hi = floor (center + support + 0.5);
      gdouble  sum = 0.0;
      gsize    first, n, k;

      first = lo < 0.0 ? 0 : (gsize) lo;
      n = (hi > (gdouble) in_size ? in_size : (gsize) hi) - first;
      n = MIN (n, r->max_taps);

      for (k = 0; k < n; k++)
        {
          w[k] = bicubic (((gdouble) (first + k) - center + 0.5) / stretch);
          sum += w[k];
        }
      for (k = 0; k < n; k++)
        r->weights[i * r->max_taps + k] = sum != 0.0 ? w[k] / sum : 0.0;

      r->first[i] = first;
      r->n_taps[i] = n;
    }

  g_free (w);
}

/**
 * vae_image_resize:
 * @image: a [C, H, W] tensor (an image, a mask or a latent)
 * @width: the new width, at least 1
 * @height: the new height, at least 1
 * @error: return location for a #GError
 *
 * Resamples every channel of @image to @width x @height with bicubic
 * convolution (a = -0.5), antialiased when shrinking: the same filter as
 * PIL's BICUBIC and torch.nn.functional.interpolate (mode='bicubic',
 * align_corners=False, antialias=True).  Values are not clamped, so
 * results may overshoot the input range slightly near sharp edges.
 *
 * Returns: (transfer full) (nullable): a new [C, @height, @width] tensor,
 *   or %NULL with @error set (%VAE_ERROR_INVALID_ARGUMENT for a zero size,
 *   %VAE_ERROR_SHAPE, %VAE_ERROR_NO_MEMORY).
 */
VaeTensor *
vae_image_resize (const VaeTensor  *image,
                  gsize             width,
                  gsize             height,
                  GError          **error)
{
  VaeTensor *tmp;
  VaeTensor *out;
  Resampler  rx, ry;
  gsize      c, h, w;
  gsize      ch, y, x, k;

  g_return_val_if_fail (image != NULL, NULL);

  if (! vae_tensor_check_chw (image, "the image to resize", error))
    return NULL;
  if (width == 0 || height == 0)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "cannot resize to %" G_GSIZE_FORMAT "x%"
                          G_GSIZE_FORMAT, width, height);

  c = VAE_T_C (image);
  h = VAE_T_H (image);
  w = VAE_T_W (image);

  /* Horizontal pass into [C, H, width], then vertical into the result. */
  tmp = vae_tensor_new_3d_uninit (c, h, width, error);
  if (! tmp)
    return NULL;
  out = vae_tensor_new_3d_uninit (c, height, width, error);
  if (! out)
    {
      vae_tensor_unref (tmp);
      return NULL;
    }

  resampler_init (&rx, w, width);
  resampler_init (&ry, h, height);

  for (ch = 0; ch < c; ch++)
    for (y = 0; y < h; y++)
      {
        const gfloat *src = image->data + (ch * h + y) * w;
        gfloat       *dst = tmp->data + (ch * h + y) * width;

        for (x = 0; x < width; x++)
          {
            const gfloat *wk = rx.weights + x * rx.max_taps;
            const gfloat *s = src + rx.first[x];
            gfloat        acc = 0.0f;

            for (k = 0; k < rx.n_taps[x]; k++)
              acc += wk[k] * s[k];
            dst[x] = acc;
          }
      }

  /* Row-at-a-time so that the inner loop runs along contiguous rows and
   * vectorises. */
  for (ch = 0; ch < c; ch++)
    for (y = 0; y < height; y++)
      {
        const gfloat *wk = ry.weights + y * ry.max_taps;
        const gfloat *src = tmp->data + (ch * h + ry.first[y]) * width;
        gfloat       *dst = out->data + (ch * height + y) * width;

        memset (dst, 0, width * sizeof (gfloat));
        for (k = 0; k < ry.n_taps[y]; k++)
          {
            const gfloat *s = src + k * width;
            gfloat        wt = wk[k];

            for (x = 0; x < width; x++)
              dst[x] += wt * s[x];
          }
      }

  resampler_clear (&rx);
  resampler_clear (&ry);
  vae_tensor_unref (tmp);

  return out;
}
