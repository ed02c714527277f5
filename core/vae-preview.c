/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Latents are not pictures, but each latent pixel stands for a factor ×
 * factor block of the image and most models keep the block's colour in a
 * few linear directions of the channel space.  The projection is a linear
 * map from latent vectors to the mean colour of their blocks, one per
 * model, so previews of different images and of edited latents are
 * comparable.  Known models have one fitted on photos
 * (vae-latent-rgb.c).  Others get one fitted when needed: the model
 * encodes a fixed synthetic calibration picture and ridge regression finds
 * the map.  Decoder-only unknown models get a fixed fallback: channel c
 * feeds colour c mod 3, each channel standardised over the latents shown.
 */

#include <math.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-image.h"
#include "vae-pixels-private.h"
#include "vae-preview.h"
#include "vae-preview-private.h"

/* Calibration image side in latent pixels: 24 × 24 = 576 samples for at
 * most ~65 unknowns per colour, encoded in a fraction of a second.
 */
#define CALIBRATION_SIDE  24
#define RIDGE             1e-3

struct _VaeLatentProjection
{
  guint     channels;
  gboolean  fitted;
  gdouble  *weights;    /* [3][channels + 1], the last column is the bias */
};

static void
hsv_to_rgb (gdouble  h,
            gdouble  s,
            gdouble  v,
            gdouble *rgb)
{
  gdouble f = (h - floor (h)) * 6.0;
  gint    i = (gint) f;
  gdouble p = v * (1.0 - s);
  gdouble q = v * (1.0 - s * (f - i));
  gdouble t = v * (1.0 - s * (1.0 - (f - i)));

  switch (i % 6)
    {
    case 0: rgb[0] = v; rgb[1] = t; rgb[2] = p; break;
    case 1: rgb[0] = q; rgb[1] = v; rgb[2] = p; break;
    case 2: rgb[0] = p; rgb[1] = v; rgb[2] = t; break;
    case 3: rgb[0] = p; rgb[1] = q; rgb[2] = v; break;
    case 4: rgb[0] = t; rgb[1] = p; rgb[2] = v; break;
    default: rgb[0] = v; rgb[1] = p; rgb[2] = q; break;
    }
}

/* Smooth hue/saturation/value fields with fine stripes over half of the
 * blocks: photos have texture, and latents of flat colour alone would miss
 * the channels that carry it.  The stripes average out over a block, so
 * the targets stay the block's base colour.
 */
static VaeTensor *
calibration_image (guint    factor,
                   GError **error)
{
  gsize      side  = (gsize) CALIBRATION_SIDE * factor;
  VaeTensor *image = vae_tensor_new_3d (3, side, side, error);
  gfloat    *data;
  gsize      n = side * side;
  gsize      x;
  gsize      y;

  if (image == NULL)
    return NULL;

  data = vae_tensor_get_data (image);
  for (y = 0; y < side; y++)
    for (x = 0; x < side; x++)
      {
        gdouble u = (gdouble) x / side;
        gdouble v = (gdouble) y / side;
        gdouble rgb[3];
        gdouble stripe = 0.0;
        gint    c;

        hsv_to_rgb (u + 0.25 * sin (6.0 * v),
                    0.5 + 0.5 * cos (5.0 * u + 3.0 * v),
                    0.08 + 0.88 * v,
                    rgb);
        if (((x / (4 * factor)) + (y / (4 * factor))) % 2 == 1)
          stripe = (x + y) % 2 == 0 ? 0.08 : -0.08;

        for (c = 0; c < 3; c++)
          data[c * n + y * side + x] = CLAMP (rgb[c] + stripe, 0.0, 1.0);
      }

  return image;
}

/* Solves (A + ridge·I) x = b for symmetric positive definite A of order n
 * by Cholesky, in place (A becomes L, b becomes x).
 */
static gboolean
cholesky_solve (gdouble *a,
                gdouble *b,
                guint    n,
                guint    n_rhs)
{
  guint i, j, k, r;

  for (j = 0; j < n; j++)
    {
      gdouble d = a[j * n + j];

      for (k = 0; k < j; k++)
        d -= a[j * n + k] * a[j * n + k];
      if (d <= 0.0)
        return FALSE;
      a[j * n + j] = sqrt (d);

      for (i = j + 1; i < n; i++)
        {
          gdouble s = a[i * n + j];

          for (k = 0; k < j; k++)
            s -= a[i * n + k] * a[j * n + k];
          a[i * n + j] = s / a[j * n + j];
        }
    }

  for (r = 0; r < n_rhs; r++)
    {
      for (i = 0; i < n; i++)
        {
          gdouble s = b[i * n_rhs + r];

          for (k = 0; k < i; k++)
            s -= a[i * n + k] * b[k * n_rhs + r];
          b[i * n_rhs + r] = s / a[i * n + i];
        }
      for (i = n; i-- > 0;)
        {
          gdouble s = b[i * n_rhs + r];

          for (k = i + 1; k < n; k++)
            s -= a[k * n + i] * b[k * n_rhs + r];
          b[i * n_rhs + r] = s / a[i * n + i];
        }
    }

  return TRUE;
}

/*
 * vae_latent_projection_fit:
 * @projection: the projection to set
 * @image: a [3, H, W] picture
 * @latent: its latents, [channels, H / @factor, W / @factor]
 * @factor: image pixels per latent pixel, per side
 *
 * The ridge-regularised least-squares map (plus bias) from latent vectors
 * to the mean colour of their @factor x @factor blocks: the normal
 * equations, the ridge on the channel weights only (scaled by their mean
 * diagonal, so that it does not depend on the latents' scale), solved by
 * Cholesky.  fit-latent-rgb.py fits the table the same way in numpy.
 *
 * Returns: whether the system could be solved; @projection is then fitted.
 */
gboolean
vae_latent_projection_fit (VaeLatentProjection *projection,
                           const VaeTensor     *image,
                           const VaeLatent     *latent,
                           guint                factor)
{
  const VaeTensor *tensor = vae_latent_get_tensor (latent);
  const gfloat    *z      = vae_tensor_peek_data (tensor);
  const gfloat    *pixels = vae_tensor_peek_data (image);
  guint            c      = projection->channels;
  guint            d      = c + 1;
  gsize            h      = vae_tensor_get_dim (tensor, 1);
  gsize            w      = vae_tensor_get_dim (tensor, 2);
  gsize            img_h  = vae_tensor_get_dim (image, 1);
  gsize            img_w  = vae_tensor_get_dim (image, 2);
  gsize            n_img  = img_h * img_w;
  gdouble         *ata;
  gdouble         *atb;
  gdouble         *row;
  gdouble          trace  = 0.0;
  gboolean         solved;
  gsize            p;
  guint            i, j, k;

  g_return_val_if_fail (vae_latent_get_channels (latent) == c, FALSE);

  ata = g_new0 (gdouble, d * d);
  atb = g_new0 (gdouble, d * 3);
  row = g_new (gdouble, d);

  for (p = 0; p < h * w; p++)
    {
      gsize   ly = p / w;
      gsize   lx = p % w;
      gdouble target[3] = { 0.0, 0.0, 0.0 };
      gsize   y, x;

      for (k = 0; k < 3; k++)
        {
          for (y = ly * factor; y < (ly + 1) * factor && y < img_h; y++)
            for (x = lx * factor; x < (lx + 1) * factor && x < img_w; x++)
              target[k] += pixels[k * n_img + y * img_w + x];
          target[k] /= (gdouble) factor * factor;
        }

      for (i = 0; i < c; i++)
        row[i] = z[i * h * w + p];
      row[c] = 1.0;

      for (i = 0; i < d; i++)
        {
          for (j = 0; j < d; j++)
            ata[i * d + j] += row[i] * row[j];
          for (k = 0; k < 3; k++)
            atb[i * 3 + k] += row[i] * target[k];
        }
    }

  for (i = 0; i < c; i++)
    trace += ata[i * d + i];
  for (i = 0; i < c; i++)
    ata[i * d + i] += RIDGE * trace / MAX (c, 1);

  solved = cholesky_solve (ata, atb, d, 3);
  if (solved)
    for (k = 0; k < 3; k++)
      for (i = 0; i < d; i++)
        projection->weights[k * d + i] = atb[i * 3 + k];
  projection->fitted = solved;

  g_free (row);
  g_free (atb);
  g_free (ata);

  return solved;
}

/**
 * vae_latent_projection_new:
 * @model: (nullable): the model whose latents will be shown
 * @channels: the number of latent channels
 * @cancellable: (nullable): to stop the calibration
 * @error: return location for a #GError
 *
 * Makes the latent-to-RGB map for @model: the table's for a known model,
 * else fitted on the calibration picture when @model can encode, else the
 * fixed fallback.
 *
 * Returns: (transfer full) (nullable): the projection; %NULL only when the
 *   calibration was cancelled or failed for lack of memory.
 */
VaeLatentProjection *
vae_latent_projection_new (VaeModel      *model,
                           guint          channels,
                           GCancellable  *cancellable,
                           GError       **error)
{
  VaeLatentProjection *projection;
  const gdouble       *known;

  g_return_val_if_fail (channels > 0, NULL);

  projection = g_new0 (VaeLatentProjection, 1);
  projection->channels = channels;
  projection->weights = g_new0 (gdouble, 3 * (channels + 1));

  if (model != NULL &&
      (known = vae_latent_rgb_lookup (vae_model_get_hash (model),
                                      channels)) != NULL)
    {
      memcpy (projection->weights, known,
              3 * (channels + 1) * sizeof (gdouble));
      projection->fitted = TRUE;
    }
  else if (model != NULL && vae_model_can_encode (model) &&
           vae_model_get_latent_channels (model) == channels)
    {
      g_autoptr (VaeTensor) image = NULL;
      g_autoptr (VaeLatent) latent = NULL;

      image = calibration_image (vae_model_get_factor (model), error);
      if (image == NULL)
        {
          vae_latent_projection_free (projection);
          return NULL;
        }

      if (! vae_model_encode (model, image, &latent, NULL, cancellable,
                              NULL, NULL, error))
        {
          vae_latent_projection_free (projection);
          return NULL;
        }

      vae_latent_projection_fit (projection, image, latent,
                                 vae_model_get_factor (model));
    }

  return projection;
}

/**
 * vae_latent_projection_new_from_weights:
 * @channels: the number of latent channels
 * @weights: (array): [3][@channels + 1]: for each of R', G', B' the weight
 *   of each channel, then a bias
 *
 * Makes a projection from a map fitted elsewhere: each colour of a latent
 * pixel is the weighted sum of its channels plus the bias, clamped to
 * [0, 1].
 *
 * Returns: (transfer full): the projection.
 */
VaeLatentProjection *
vae_latent_projection_new_from_weights (guint          channels,
                                        const gdouble *weights)
{
  VaeLatentProjection *projection;

  g_return_val_if_fail (channels > 0, NULL);
  g_return_val_if_fail (weights != NULL, NULL);

  projection = g_new0 (VaeLatentProjection, 1);
  projection->channels = channels;
  projection->weights = g_memdup2 (weights, 3 * (channels + 1) * sizeof (gdouble));
  projection->fitted = TRUE;

  return projection;
}

/**
 * vae_latent_projection_is_fitted:
 * @projection: a projection
 *
 * Returns: %TRUE when @projection is a linear map (from the table, the
 *   calibration or given weights), %FALSE for the fallback that
 *   standardises each channel over the latents shown.
 */
gboolean
vae_latent_projection_is_fitted (const VaeLatentProjection *projection)
{
  g_return_val_if_fail (projection != NULL, FALSE);

  return projection->fitted;
}

/**
 * vae_latent_projection_free:
 * @projection: (nullable): a projection
 */
void
vae_latent_projection_free (VaeLatentProjection *projection)
{
  if (projection == NULL)
    return;

  g_free (projection->weights);
  g_free (projection);
}

static void
apply_fallback (const VaeLatentProjection *projection,
                const gfloat              *z,
                gsize                      n,
                gfloat                    *out)
{
  guint  c = projection->channels;
  guint  counts[3] = { 0, 0, 0 };
  guint  i;
  gsize  p;

  memset (out, 0, 3 * n * sizeof (gfloat));

  for (i = 0; i < c; i++)
    {
      const gfloat *plane = z + i * n;
      gfloat       *dest  = out + (i % 3) * n;
      gdouble       sum = 0.0;
      gdouble       sum2 = 0.0;
      gdouble       mean;
      gdouble       std;

      for (p = 0; p < n; p++)
        {
          sum += plane[p];
          sum2 += (gdouble) plane[p] * plane[p];
        }
      mean = sum / n;
      std = sqrt (MAX (sum2 / n - mean * mean, 1e-12));

      for (p = 0; p < n; p++)
        dest[p] += (plane[p] - mean) / std;
      counts[i % 3]++;
    }

  /* ±2.75 standard deviations span the displayable range. */
  for (i = 0; i < 3; i++)
    for (p = 0; p < n; p++)
      {
        gdouble v = counts[i] > 0 ? out[i * n + p] / counts[i] : 0.0;

        out[i * n + p] = vae_pixel_clamp (0.5 + v / 5.5);
      }
}

/**
 * vae_latent_projection_apply:
 * @projection: the projection
 * @latent: latents with as many channels as @projection was made for
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an R'G'B' picture [3, h, w] of
 *   @latent at latent resolution, in [0, 1].
 */
VaeTensor *
vae_latent_projection_apply (const VaeLatentProjection  *projection,
                             const VaeLatent            *latent,
                             GError                    **error)
{
  const VaeTensor *tensor = vae_latent_get_tensor (latent);
  const gfloat    *z      = vae_tensor_peek_data (tensor);
  gsize            h      = vae_tensor_get_dim (tensor, 1);
  gsize            w      = vae_tensor_get_dim (tensor, 2);
  gsize            n      = h * w;
  guint            c      = projection->channels;
  VaeTensor       *rgb;
  gfloat          *out;
  guint            k;
  guint            i;
  gsize            p;

  g_return_val_if_fail (projection != NULL, NULL);
  g_return_val_if_fail (latent != NULL, NULL);

  if (vae_latent_get_channels (latent) != c)
    return vae_fail_null (error, VAE_ERROR_SHAPE,
                          "latents have %u channels, the projection expects %u",
                          vae_latent_get_channels (latent), c);

  rgb = vae_tensor_new_3d (3, h, w, error);
  if (rgb == NULL)
    return NULL;
  out = vae_tensor_get_data (rgb);

  if (! projection->fitted)
    {
      apply_fallback (projection, z, n, out);
      return rgb;
    }

  for (k = 0; k < 3; k++)
    {
      const gdouble *wk = projection->weights + k * (c + 1);

      for (p = 0; p < n; p++)
        {
          gdouble v = wk[c];

          for (i = 0; i < c; i++)
            v += wk[i] * z[i * n + p];
          out[k * n + p] = vae_pixel_clamp (v);
        }
    }

  return rgb;
}

/**
 * vae_latent_shrink:
 * @latent: latents
 * @max_side: the largest width or height wanted
 * @error: return location for a #GError
 *
 * Scales latents down for a fast preview.
 *
 * Returns: (transfer full) (nullable): the smaller latents, or a new
 *   reference to @latent when it is small enough.
 */
VaeLatent *
vae_latent_shrink (const VaeLatent  *latent,
                          guint             max_side,
                          GError          **error)
{
  guint   w = vae_latent_get_width (latent);
  guint   h = vae_latent_get_height (latent);
  gdouble scale;

  if (w <= max_side && h <= max_side)
    return vae_latent_ref ((VaeLatent *) latent);

  scale = (gdouble) max_side / MAX (w, h);

  return vae_latent_resize (latent,
                                   MAX (1, (guint) round (w * scale)),
                                   MAX (1, (guint) round (h * scale)),
                                   error);
}

/**
 * vae_image_shrink:
 * @image: [C, H, W]
 * @max_side: the largest width or height wanted
 * @multiple: make both sides a multiple of this (a model's factor)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @image scaled down to fit
 *   @max_side, or a new reference when it already fits.
 */
VaeTensor *
vae_image_shrink (const VaeTensor  *image,
                         guint             max_side,
                         guint             multiple,
                         GError          **error)
{
  gsize   h = vae_tensor_get_dim (image, 1);
  gsize   w = vae_tensor_get_dim (image, 2);
  gdouble scale;
  gsize   new_w;
  gsize   new_h;

  if (w <= max_side && h <= max_side &&
      w % multiple == 0 && h % multiple == 0)
    return vae_tensor_ref ((VaeTensor *) image);

  scale = MIN (1.0, (gdouble) max_side / MAX (w, h));
  new_w = MAX (multiple, (gsize) round (w * scale / multiple) * multiple);
  new_h = MAX (multiple, (gsize) round (h * scale / multiple) * multiple);

  return vae_image_resize (image, new_w, new_h, error);
}
