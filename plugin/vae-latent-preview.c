/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
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

#include "vae-latent-preview.h"

/* Calibration image side in latent pixels: 24 × 24 = 576 samples for at
 * most ~65 unknowns per colour, encoded in a fraction of a second.
 */
#define CALIBRATION_SIDE  24
#define RIDGE             1e-3

struct _VaePluginProjection
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

static gboolean
fit (VaePluginProjection *projection,
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
  gsize            side   = vae_tensor_get_dim (image, 2);
  gsize            n_img  = side * side;
  gdouble         *ata    = g_new0 (gdouble, d * d);
  gdouble         *atb    = g_new0 (gdouble, d * 3);
  gdouble         *row    = g_new (gdouble, d);
  gdouble          trace  = 0.0;
  gboolean         solved;
  gsize            p;
  guint            i, j, k;

  for (p = 0; p < h * w; p++)
    {
      gsize   ly = p / w;
      gsize   lx = p % w;
      gdouble target[3] = { 0.0, 0.0, 0.0 };
      gsize   y, x;

      for (k = 0; k < 3; k++)
        {
          for (y = ly * factor; y < (ly + 1) * factor && y < side; y++)
            for (x = lx * factor; x < (lx + 1) * factor && x < side; x++)
              target[k] += pixels[k * n_img + y * side + x];
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

  g_free (row);
  g_free (atb);
  g_free (ata);

  return solved;
}

/**
 * vae_plugin_projection_new:
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
VaePluginProjection *
vae_plugin_projection_new (VaeModel      *model,
                           guint          channels,
                           GCancellable  *cancellable,
                           GError       **error)
{
  VaePluginProjection *projection;
  const gdouble       *known;

  g_return_val_if_fail (channels > 0, NULL);

  projection = g_new0 (VaePluginProjection, 1);
  projection->channels = channels;
  projection->weights = g_new0 (gdouble, 3 * (channels + 1));

  if (model != NULL &&
      (known = vae_plugin_latent_rgb_lookup (vae_model_get_hash (model),
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
          vae_plugin_projection_free (projection);
          return NULL;
        }

      if (! vae_model_encode (model, image, &latent, NULL, cancellable,
                              NULL, NULL, error))
        {
          vae_plugin_projection_free (projection);
          return NULL;
        }

      projection->fitted = fit (projection, image, latent,
                                vae_model_get_factor (model));
    }

  return projection;
}

void
vae_plugin_projection_free (VaePluginProjection *projection)
{
  if (projection == NULL)
    return;

  g_free (projection->weights);
  g_free (projection);
}

static void
apply_fallback (const VaePluginProjection *projection,
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

        out[i * n + p] = CLAMP (0.5 + v / 5.5, 0.0, 1.0);
      }
}

/**
 * vae_plugin_projection_apply:
 * @projection: the projection
 * @latent: latents with as many channels as @projection was made for
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an R'G'B' picture [3, h, w] of
 *   @latent at latent resolution, in [0, 1].
 */
VaeTensor *
vae_plugin_projection_apply (const VaePluginProjection  *projection,
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

  if (vae_latent_get_channels (latent) != c)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "latents have %u channels, the projection expects %u",
                   vae_latent_get_channels (latent), c);
      return NULL;
    }

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
          out[k * n + p] = CLAMP (v, 0.0, 1.0);
        }
    }

  return rgb;
}

/**
 * vae_plugin_latent_resize:
 * @latent: latents
 * @width: the new latent width
 * @height: the new latent height
 * @error: return location for a #GError
 *
 * Resamples latents (bicubic, like pictures), keeping their model and
 * scaling the image size they decode to by the same factor.
 *
 * Returns: (transfer full) (nullable): the resampled latents, or a new
 *   reference to @latent when the size is already right.
 */
VaeLatent *
vae_plugin_latent_resize (const VaeLatent  *latent,
                          guint             width,
                          guint             height,
                          GError          **error)
{
  guint      w = vae_latent_get_width (latent);
  guint      h = vae_latent_get_height (latent);
  VaeTensor *tensor;
  VaeLatent *resized;
  guint      image_w;
  guint      image_h;

  if (w == width && h == height)
    return vae_latent_ref ((VaeLatent *) latent);

  tensor = vae_image_resize (vae_latent_get_tensor (latent), width, height,
                             error);
  if (tensor == NULL)
    return NULL;

  resized = vae_latent_new (tensor, error);
  vae_tensor_unref (tensor);
  if (resized == NULL)
    return NULL;

  vae_latent_set_model (resized,
                        vae_latent_get_model_id (latent),
                        vae_latent_get_model_hash (latent));
  if (vae_latent_get_image_size (latent, &image_w, &image_h))
    vae_latent_set_image_size (resized,
                               MAX (1, (guint) round (image_w * (gdouble) width / w)),
                               MAX (1, (guint) round (image_h * (gdouble) height / h)));

  return resized;
}

/**
 * vae_plugin_latent_shrink:
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
vae_plugin_latent_shrink (const VaeLatent  *latent,
                          guint             max_side,
                          GError          **error)
{
  guint   w = vae_latent_get_width (latent);
  guint   h = vae_latent_get_height (latent);
  gdouble scale;

  if (w <= max_side && h <= max_side)
    return vae_latent_ref ((VaeLatent *) latent);

  scale = (gdouble) max_side / MAX (w, h);

  return vae_plugin_latent_resize (latent,
                                   MAX (1, (guint) round (w * scale)),
                                   MAX (1, (guint) round (h * scale)),
                                   error);
}

/**
 * vae_plugin_image_shrink:
 * @image: [C, H, W]
 * @max_side: the largest width or height wanted
 * @multiple: make both sides a multiple of this (a model's factor)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @image scaled down to fit
 *   @max_side, or a new reference when it already fits.
 */
VaeTensor *
vae_plugin_image_shrink (const VaeTensor  *image,
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
