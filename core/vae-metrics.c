/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-metrics.h"
#include "vae-pixels-private.h"
#include "vae-tensor-private.h"

/* SSIM as in Wang et al. 2004 and their reference MATLAB code: an 11x11
 * Gaussian window (sigma 1.5, normalised to sum 1), K1 = 0.01, K2 = 0.03,
 * data range 1, local statistics weighted by the window with population
 * (not sample) covariance, and the map averaged over the 'valid' region
 * only, i.e. where the window lies entirely inside the image; the image
 * border is never padded.  That equals scikit-image's structural_similarity
 * with gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=1 (it crops the border it padded).  Colour images are scored
 * per channel and averaged.
 *
 * MS-SSIM (Wang, Simoncelli, Bovik 2003) uses the same window at five
 * scales, averaging 2x2 blocks between scales (an odd last row or column is
 * dropped).  The contrast-structure term of the first four scales and the
 * full SSIM of the last are raised to the published weights and multiplied,
 * per channel, with negative terms clamped to 0; the channels are then
 * averaged.  An image too small for five scales (the coarsest must still be
 * at least 11x11, so 176x176 at the finest) uses as many scales as fit, the
 * last of them contributing its full SSIM, with the weights of those scales
 * rescaled to sum to 1.
 *
 * Everything is accumulated in double: variances of flat regions are tiny
 * differences of large numbers.
 */

#define SSIM_WIN     11
#define SSIM_SIGMA   1.5
#define SSIM_C1      (0.01 * 0.01)
#define SSIM_C2      (0.03 * 0.03)
#define MS_SSIM_MAX_SCALES 5

static const gdouble ms_ssim_weights[MS_SSIM_MAX_SCALES] =
{
  0.0448, 0.2856, 0.3001, 0.2363, 0.1333
};

static gboolean
check_pair (const VaeTensor  *a,
            const VaeTensor  *b,
            gboolean          need_chw,
            GError          **error)
{
  return vae_tensor_check_same_shape (a, b, "compare images", error) &&
         (! need_chw || vae_tensor_check_chw (a, "images", error));
}

/**
 * vae_image_quantize_8bit:
 * @image: a tensor, changed in place
 *
 * Does to @image what saving it to an 8-bit file and reading it back would:
 * clamps every value to [0, 1] and rounds it to the nearest k / 255 (ties
 * to even, like numpy.round and torch.round).  NaN becomes 0.
 *
 * Reconstruction PSNR is quoted on quantized images, as the 8-bit result a
 * user gets.
 */
void
vae_image_quantize_8bit (VaeTensor *image)
{
  gfloat *d;
  gsize   i, n;

  g_return_if_fail (image != NULL);

  d = image->data;
  n = image->n_elements;
  for (i = 0; i < n; i++)
    d[i] = vae_pixel_level (d[i], 255.0f) / 255.0f;
}

/**
 * vae_psnr:
 * @a: an image (any shape)
 * @b: an image of the same shape
 * @psnr: (out): return location for the PSNR in dB
 * @error: return location for a #GError
 *
 * Peak signal-to-noise ratio for a peak of 1.0, over all values of all
 * channels: 10 log10 (1 / MSE).  Identical images give +infinity.
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_SHAPE if the shapes
 *   differ.
 */
gboolean
vae_psnr (const VaeTensor  *a,
          const VaeTensor  *b,
          gdouble          *psnr,
          GError          **error)
{
  gdouble sum = 0.0;
  gsize   i;

  g_return_val_if_fail (a != NULL && b != NULL && psnr != NULL, FALSE);

  if (! check_pair (a, b, FALSE, error))
    return FALSE;

  for (i = 0; i < a->n_elements; i++)
    {
      gdouble d = (gdouble) a->data[i] - (gdouble) b->data[i];

      sum += d * d;
    }

  *psnr = sum == 0.0 ? INFINITY
                     : 10.0 * log10 ((gdouble) a->n_elements / sum);

  return TRUE;
}

/* SSIM of one channel plane, streaming: each input row is filtered
 * horizontally into a ring of SSIM_WIN rows, and each output row is the
 * vertical filter over the ring.  Memory is O(width), not O(image).
 */
typedef struct
{
  gsize    width;      /* input width */
  gsize    vw;         /* valid output width */
  gdouble  g[SSIM_WIN];
  gdouble *row[5];     /* x, y, x^2, y^2, xy of the current input row */
  gdouble *ring;       /* [SSIM_WIN][5][vw] horizontally filtered rows */
  gdouble *acc;        /* [5][vw] vertically filtered output row */
} SsimScratch;

static void
ssim_scratch_init (SsimScratch *s,
                   gsize        width)
{
  gdouble sum = 0.0;
  gint    i;

  for (i = 0; i < SSIM_WIN; i++)
    {
      gdouble d = i - SSIM_WIN / 2;

      s->g[i] = exp (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
      sum += s->g[i];
    }
  for (i = 0; i < SSIM_WIN; i++)
    s->g[i] /= sum;

  s->width = width;
  s->vw = width - (SSIM_WIN - 1);
  s->row[0] = g_new (gdouble, 5 * width);
  for (i = 1; i < 5; i++)
    s->row[i] = s->row[0] + i * width;
  s->ring = g_new (gdouble, SSIM_WIN * 5 * s->vw);
  s->acc = g_new (gdouble, 5 * s->vw);
}

static void
ssim_scratch_clear (SsimScratch *s)
{
  g_free (s->row[0]);
  g_free (s->ring);
  g_free (s->acc);
}

/* Mean SSIM and mean contrast-structure term over the valid region of one
 * plane.  The caller guarantees height and width >= SSIM_WIN.
 */
static void
ssim_plane (SsimScratch  *s,
            const gfloat *x,
            const gfloat *y,
            gsize         height,
            gdouble      *ssim_mean,
            gdouble      *cs_mean)
{
  const gsize w = s->width;
  const gsize vw = s->vw;
  gdouble     ssim_sum = 0.0;
  gdouble     cs_sum = 0.0;
  gsize       r, j, q;
  gint        k;

  for (r = 0; r < height; r++)
    {
      const gfloat *xr = x + r * w;
      const gfloat *yr = y + r * w;
      gdouble      *slot = s->ring + (r % SSIM_WIN) * 5 * vw;

      for (j = 0; j < w; j++)
        {
          gdouble xv = xr[j];
          gdouble yv = yr[j];

          s->row[0][j] = xv;
          s->row[1][j] = yv;
          s->row[2][j] = xv * xv;
          s->row[3][j] = yv * yv;
          s->row[4][j] = xv * yv;
        }
      for (q = 0; q < 5; q++)
        {
          gdouble       *out = slot + q * vw;
          const gdouble *in = s->row[q];

          for (j = 0; j < vw; j++)
            out[j] = s->g[0] * in[j];
          for (k = 1; k < SSIM_WIN; k++)
            {
              const gdouble  gk = s->g[k];
              const gdouble *ink = in + k;

              for (j = 0; j < vw; j++)
                out[j] += gk * ink[j];
            }
        }

      if (r + 1 < SSIM_WIN)
        continue;

      /* Output row r - (SSIM_WIN - 1) from input rows r-10 .. r. */
      memset (s->acc, 0, 5 * vw * sizeof (gdouble));
      for (k = 0; k < SSIM_WIN; k++)
        {
          const gsize    in_row = r + 1 - SSIM_WIN + k;
          const gdouble *src = s->ring + (in_row % SSIM_WIN) * 5 * vw;
          const gdouble  gk = s->g[k];

          for (j = 0; j < 5 * vw; j++)
            s->acc[j] += gk * src[j];
        }

      for (j = 0; j < vw; j++)
        {
          gdouble mx = s->acc[j];
          gdouble my = s->acc[vw + j];
          gdouble sxx = s->acc[2 * vw + j] - mx * mx;
          gdouble syy = s->acc[3 * vw + j] - my * my;
          gdouble sxy = s->acc[4 * vw + j] - mx * my;
          gdouble cs = (2.0 * sxy + SSIM_C2) / (sxx + syy + SSIM_C2);
          gdouble l = (2.0 * mx * my + SSIM_C1) / (mx * mx + my * my + SSIM_C1);

          cs_sum += cs;
          ssim_sum += l * cs;
        }
    }

  *ssim_mean = ssim_sum / ((gdouble) vw * (gdouble) (height - SSIM_WIN + 1));
  *cs_mean = cs_sum / ((gdouble) vw * (gdouble) (height - SSIM_WIN + 1));
}

static void ms_ssim_compute (const VaeTensor *a,
                             const VaeTensor *b,
                             guint            max_scales,
                             gdouble         *ssim,
                             gdouble         *ms_ssim);

static gboolean
check_ssim_size (const VaeTensor  *a,
                 GError          **error)
{
  if (VAE_T_H (a) < SSIM_WIN || VAE_T_W (a) < SSIM_WIN)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "SSIM needs images of at least %dx%d pixels, not "
                     "%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT,
                     SSIM_WIN, SSIM_WIN, VAE_T_W (a), VAE_T_H (a));

  return TRUE;
}

/**
 * vae_ssim:
 * @a: an image [C, H, W], H and W at least 11
 * @b: an image of the same shape
 * @ssim: (out): return location for the SSIM
 * @error: return location for a #GError
 *
 * Mean structural similarity (Wang et al. 2004): 11x11 Gaussian window
 * with sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1, averaged over the
 * positions where the window lies inside the image (no border padding),
 * then over the channels.  The same figure as scikit-image's
 * structural_similarity (gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=1.0, channel_axis=0).
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_SHAPE if the shapes
 *   differ or the images are smaller than 11x11.
 */
gboolean
vae_ssim (const VaeTensor  *a,
          const VaeTensor  *b,
          gdouble          *ssim,
          GError          **error)
{
  gdouble ms_ssim;

  g_return_val_if_fail (a != NULL && b != NULL && ssim != NULL, FALSE);

  if (! check_pair (a, b, TRUE, error) || ! check_ssim_size (a, error))
    return FALSE;

  /* The finest scale is the SSIM; coarser ones would go unused. */
  ms_ssim_compute (a, b, 1, ssim, &ms_ssim);

  return TRUE;
}

/* Averages 2x2 blocks; an odd last row or column is dropped. */
static void
downsample_2x2 (const gfloat *src,
                gsize         h,
                gsize         w,
                gfloat       *dst)
{
  gsize oh = h / 2;
  gsize ow = w / 2;
  gsize y, x;

  for (y = 0; y < oh; y++)
    {
      const gfloat *r0 = src + 2 * y * w;
      const gfloat *r1 = r0 + w;

      for (x = 0; x < ow; x++)
        dst[y * ow + x] = 0.25f * (r0[2 * x] + r0[2 * x + 1] +
                                   r1[2 * x] + r1[2 * x + 1]);
    }
}

static guint
ms_ssim_n_scales (gsize h,
                  gsize w)
{
  guint n = 0;

  while (n < MS_SSIM_MAX_SCALES && h >= SSIM_WIN && w >= SSIM_WIN)
    {
      n++;
      h /= 2;
      w /= 2;
    }

  return n;
}

/* MS-SSIM over at most @max_scales scales, and on the way the
 * single-scale SSIM of the finest scale. */
static void
ms_ssim_compute (const VaeTensor *a,
                 const VaeTensor *b,
                 guint            max_scales,
                 gdouble         *ssim,
                 gdouble         *ms_ssim)
{
  gsize   c = VAE_T_C (a);
  gsize   h = VAE_T_H (a);
  gsize   w = VAE_T_W (a);
  guint   n_scales = MIN (ms_ssim_n_scales (h, w), max_scales);
  gdouble weight_sum = 0.0;
  gdouble ssim_sum = 0.0;
  gdouble ms_sum = 0.0;
  gfloat *buf[4];
  gsize   ch;
  guint   i;

  for (i = 0; i < n_scales; i++)
    weight_sum += ms_ssim_weights[i];

  /* Ping-pong buffers for the downsampled x and y of one channel. */
  for (i = 0; i < 4; i++)
    buf[i] = g_new (gfloat, MAX (1, (h / 2) * (w / 2)));

  for (ch = 0; ch < c; ch++)
    {
      const gfloat *x = a->data + ch * h * w;
      const gfloat *y = b->data + ch * h * w;
      gsize         sh = h, sw = w;
      gdouble       prod = 1.0;

      for (i = 0; i < n_scales; i++)
        {
          SsimScratch s;
          gdouble     m, cs;
          gdouble     wt = ms_ssim_weights[i] / weight_sum;

          ssim_scratch_init (&s, sw);
          ssim_plane (&s, x, y, sh, &m, &cs);
          ssim_scratch_clear (&s);

          if (i == 0)
            ssim_sum += m;

          if (i + 1 < n_scales)
            {
              gfloat *nx = buf[(i % 2) * 2];
              gfloat *ny = buf[(i % 2) * 2 + 1];

              prod *= pow (MAX (cs, 0.0), wt);
              downsample_2x2 (x, sh, sw, nx);
              downsample_2x2 (y, sh, sw, ny);
              x = nx;
              y = ny;
              sh /= 2;
              sw /= 2;
            }
          else
            {
              prod *= pow (MAX (m, 0.0), wt);
            }
        }

      ms_sum += prod;
    }

  for (i = 0; i < 4; i++)
    g_free (buf[i]);

  *ssim = ssim_sum / (gdouble) c;
  *ms_ssim = ms_sum / (gdouble) c;
}

/**
 * vae_ms_ssim:
 * @a: an image [C, H, W], H and W at least 11
 * @b: an image of the same shape
 * @ms_ssim: (out): return location for the MS-SSIM
 * @error: return location for a #GError
 *
 * Multi-scale SSIM (Wang, Simoncelli, Bovik 2003) with the SSIM window of
 * vae_ssim(): five scales, 2x2 averaging between them, weights 0.0448,
 * 0.2856, 0.3001, 0.2363, 0.1333 on the contrast-structure terms of the
 * four finest scales and on the full SSIM of the coarsest; negative terms
 * count as 0.  Computed per channel, then averaged.
 *
 * Five scales need at least 176x176 pixels.  Smaller images use the scales
 * that are still at least 11x11 (down to one, where MS-SSIM equals SSIM),
 * with the coarsest of them taking the full SSIM and their weights scaled
 * to sum to 1.
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_SHAPE if the shapes
 *   differ or the images are smaller than 11x11.
 */
gboolean
vae_ms_ssim (const VaeTensor  *a,
             const VaeTensor  *b,
             gdouble          *ms_ssim,
             GError          **error)
{
  gdouble ssim;

  g_return_val_if_fail (a != NULL && b != NULL && ms_ssim != NULL, FALSE);

  if (! check_pair (a, b, TRUE, error) || ! check_ssim_size (a, error))
    return FALSE;

  ms_ssim_compute (a, b, MS_SSIM_MAX_SCALES, &ssim, ms_ssim);

  return TRUE;
}

/**
 * vae_quality:
 * @original: the image that was encoded, [C, H, W]
 * @reconstruction: the decoded image, same shape
 * @quality: (out caller-allocates): return location for the figures
 * @error: return location for a #GError
 *
 * Computes vae_psnr(), vae_ssim() and vae_ms_ssim() in one go (the finest
 * MS-SSIM scale is the SSIM).  For images smaller than 11x11, where SSIM is
 * not defined, @quality->ssim and @quality->ms_ssim are NaN and the call
 * still succeeds.  Quantize @reconstruction with vae_image_quantize_8bit()
 * first to score what an 8-bit file would hold.
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_SHAPE if the shapes
 *   differ or are not [C, H, W].
 */
gboolean
vae_quality (const VaeTensor  *original,
             const VaeTensor  *reconstruction,
             VaeQuality       *quality,
             GError          **error)
{
  g_return_val_if_fail (original != NULL && reconstruction != NULL, FALSE);
  g_return_val_if_fail (quality != NULL, FALSE);

  if (! check_pair (original, reconstruction, TRUE, error))
    return FALSE;
  if (! vae_psnr (original, reconstruction, &quality->psnr, error))
    return FALSE;

  if (VAE_T_H (original) < SSIM_WIN || VAE_T_W (original) < SSIM_WIN)
    {
      quality->ssim = NAN;
      quality->ms_ssim = NAN;
    }
  else
    {
      ms_ssim_compute (original, reconstruction, MS_SSIM_MAX_SCALES,
                       &quality->ssim, &quality->ms_ssim);
    }

  return TRUE;
}

/* Black, blue, red, yellow, white at 0, 1/4, 1/2, 3/4, 1: dark for small
 * errors, increasingly bright and warm for large ones, and monotonic in
 * luminance so it still reads in greyscale.
 */
static void
heat_ramp (gfloat  v,
           gfloat *rgb)
{
  static const gfloat stops[5][3] =
  {
    { 0, 0, 0 }, { 0, 0, 1 }, { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 1 }
  };
  gfloat pos = v * 4.0f;
  gint   i = (gint) pos;
  gfloat f;
  gint   k;

  if (i >= 4)
    {
      i = 3;
      f = 1.0f;
    }
  else
    {
      f = pos - (gfloat) i;
    }

  for (k = 0; k < 3; k++)
    rgb[k] = stops[i][k] + f * (stops[i + 1][k] - stops[i][k]);
}

/**
 * vae_difference_map:
 * @a: an image [C, H, W]
 * @b: an image of the same shape
 * @style: how to draw the differences
 * @gain: factor applied to the absolute differences, > 0
 * @error: return location for a #GError
 *
 * Draws where two images differ.  %VAE_DIFF_AMPLIFIED gives, per channel,
 * |a - b| * @gain clamped to [0, 1] (shape [C, H, W]).  %VAE_DIFF_HEATMAP
 * takes the mean of |a - b| over the channels, times @gain, clamped to
 * [0, 1], through a black-blue-red-yellow-white ramp (shape [3, H, W]).
 * NaN values show as the largest difference.
 *
 * Returns: (transfer full) (nullable): the map, or %NULL with @error set:
 *   %VAE_ERROR_SHAPE, %VAE_ERROR_INVALID_ARGUMENT for a bad @gain or
 *   @style, %VAE_ERROR_NO_MEMORY.
 */
VaeTensor *
vae_difference_map (const VaeTensor  *a,
                    const VaeTensor  *b,
                    VaeDiffStyle      style,
                    gdouble           gain,
                    GError          **error)
{
  VaeTensor *out;
  gsize      c, hw, i, ch;
  gfloat     g;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  if (! check_pair (a, b, TRUE, error))
    return NULL;
  if (! isfinite (gain) || gain <= 0.0)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "the difference gain must be a positive number, not "
                          "%g", gain);

  c = VAE_T_C (a);
  hw = VAE_T_H (a) * VAE_T_W (a);
  g = (gfloat) gain;

  switch (style)
    {
    case VAE_DIFF_AMPLIFIED:
      out = vae_tensor_new_3d_uninit (c, VAE_T_H (a), VAE_T_W (a), error);
      if (! out)
        return NULL;
      for (i = 0; i < a->n_elements; i++)
        {
          gfloat v = fabsf (a->data[i] - b->data[i]) * g;

          /* NaN fails the test and shows as the largest difference. */
          out->data[i] = v < 1.0f ? v : 1.0f;
        }
      return out;

    case VAE_DIFF_HEATMAP:
      out = vae_tensor_new_3d_uninit (3, VAE_T_H (a), VAE_T_W (a), error);
      if (! out)
        return NULL;
      for (i = 0; i < hw; i++)
        {
          gfloat sum = 0.0f;
          gfloat v;
          gfloat rgb[3];

          for (ch = 0; ch < c; ch++)
            sum += fabsf (a->data[ch * hw + i] - b->data[ch * hw + i]);
          v = sum / (gfloat) c * g;
          /* NaN fails the test and shows as the largest difference. */
          v = v < 1.0f ? v : 1.0f;

          heat_ramp (v, rgb);
          out->data[i] = rgb[0];
          out->data[hw + i] = rgb[1];
          out->data[2 * hw + i] = rgb[2];
        }
      return out;
    }

  g_set_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT,
               "unknown difference style %d", (gint) style);

  return NULL;
}
