/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Interleaved pixels <-> planar image tensors.  Every front end (the vae
 * command through GEGL, the GIMP plug-in, its previews) crosses here, so
 * that one file gives the same tensor, and one tensor the same bytes,
 * whichever of them reads or writes it.  Samples are loaded and stored
 * with memcpy: callers hand out buffers at any alignment (a GdkPixbuf row,
 * a chunk of a GEGL buffer).
 */

#include <string.h>

#include "vae-error-private.h"
#include "vae-pixels.h"
#include "vae-pixels-private.h"
#include "vae-tensor-private.h"

typedef struct
{
  guint  channels;      /* 3 or 4 */
  guint  sample_size;   /* bytes: 1, 2 or 4 (float) */
} FormatInfo;

static gboolean
format_info (VaePixelFormat  format,
             FormatInfo     *info)
{
  switch (format)
    {
    case VAE_PIXEL_FORMAT_RGB_U8:     *info = (FormatInfo) { 3, 1 }; return TRUE;
    case VAE_PIXEL_FORMAT_RGBA_U8:    *info = (FormatInfo) { 4, 1 }; return TRUE;
    case VAE_PIXEL_FORMAT_RGB_U16:    *info = (FormatInfo) { 3, 2 }; return TRUE;
    case VAE_PIXEL_FORMAT_RGBA_U16:   *info = (FormatInfo) { 4, 2 }; return TRUE;
    case VAE_PIXEL_FORMAT_RGB_FLOAT:  *info = (FormatInfo) { 3, 4 }; return TRUE;
    case VAE_PIXEL_FORMAT_RGBA_FLOAT: *info = (FormatInfo) { 4, 4 }; return TRUE;
    default:                          return FALSE;
    }
}

/**
 * vae_pixel_format_get_bytes_per_pixel:
 * @format: a pixel format
 *
 * Returns: the bytes one pixel of @format takes, e.g. 16 for
 *   %VAE_PIXEL_FORMAT_RGBA_FLOAT; 0 for a value that is no format.
 */
gsize
vae_pixel_format_get_bytes_per_pixel (VaePixelFormat format)
{
  FormatInfo info;

  if (! format_info (format, &info))
    return 0;

  return (gsize) info.channels * info.sample_size;
}

static inline gfloat
load_sample (const guint8 *p,
             guint         sample_size)
{
  guint16 u16;
  gfloat  f;

  switch (sample_size)
    {
    case 1:
      return p[0] / 255.0f;
    case 2:
      memcpy (&u16, p, sizeof (u16));
      return u16 / 65535.0f;
    default:
      memcpy (&f, p, sizeof (f));
      return vae_pixel_clamp (f);
    }
}

static inline void
store_sample (guint8 *p,
              guint   sample_size,
              gfloat  v)
{
  guint16 u16;
  gfloat  f;

  switch (sample_size)
    {
    case 1:
      p[0] = (guint8) vae_pixel_level (v, 255.0f);
      break;
    case 2:
      u16 = (guint16) vae_pixel_level (v, 65535.0f);
      memcpy (p, &u16, sizeof (u16));
      break;
    default:
      f = vae_pixel_clamp (v);
      memcpy (p, &f, sizeof (f));
      break;
    }
}

/* What both directions refuse alike: shapes that are not an image and
 * its alpha, rows outside the image, rows that do not fit the stride. */
static gboolean
check_args (const VaeTensor   *rgb,
            const VaeTensor   *alpha,
            gsize              first_row,
            gsize              n_rows,
            VaePixelFormat     format,
            gsize              rowstride,
            FormatInfo        *info,
            GError           **error)
{
  if (! format_info (format, info))
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "%d is not a pixel format", (gint) format);
  if (rgb->n_dims != 3 || VAE_T_C (rgb) != 3)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (rgb);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "an image has shape [3, height, width], not %s", shape);
      return FALSE;
    }
  if (alpha != NULL &&
      (alpha->n_dims != 3 || VAE_T_C (alpha) != 1 ||
       VAE_T_H (alpha) != VAE_T_H (rgb) || VAE_T_W (alpha) != VAE_T_W (rgb)))
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (alpha);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "the alpha of a %" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT
                   " image has shape [1, %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                   "], not %s", VAE_T_W (rgb), VAE_T_H (rgb), VAE_T_H (rgb),
                   VAE_T_W (rgb), shape);
      return FALSE;
    }
  if (n_rows > VAE_T_H (rgb) || first_row > VAE_T_H (rgb) - n_rows)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "rows %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " are not "
                     "all inside an image of height %" G_GSIZE_FORMAT,
                     first_row, first_row + n_rows, VAE_T_H (rgb));
  if (n_rows > 0 && rowstride < VAE_T_W (rgb) * info->channels * info->sample_size)
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "a row stride of %" G_GSIZE_FORMAT " bytes is shorter than "
                     "a row of %" G_GSIZE_FORMAT " pixels", rowstride,
                     VAE_T_W (rgb));

  return TRUE;
}

/**
 * vae_tensor_from_pixels:
 * @rgb: a [3, height, width] image to fill
 * @alpha: (nullable): its [1, height, width] alpha, or %NULL to drop the
 *   alpha of @pixels
 * @first_row: the image row that the first row of @pixels becomes
 * @n_rows: how many rows @pixels holds
 * @pixels: (array): @n_rows rows of @width interleaved pixels
 * @format: the layout of @pixels
 * @rowstride: bytes from the start of one row of @pixels to the next, at
 *   least @width times vae_pixel_format_get_bytes_per_pixel()
 * @error: return location for a #GError
 *
 * Reads interleaved pixels into rows of a planar image, so that a large
 * image can be converted a band at a time.  An integer level k becomes
 * k / 255 or k / 65535; floats are clamped to [0, 1] and NaN becomes 0.
 * Without alpha in @format, @alpha's rows become 1 (opaque).
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_SHAPE when @rgb or
 *   @alpha are not an image and its alpha, %VAE_ERROR_INVALID_ARGUMENT
 *   when the rows or the stride do not fit.
 */
gboolean
vae_tensor_from_pixels (VaeTensor       *rgb,
                        VaeTensor       *alpha,
                        gsize            first_row,
                        gsize            n_rows,
                        gconstpointer    pixels,
                        VaePixelFormat   format,
                        gsize            rowstride,
                        GError         **error)
{
  FormatInfo  info;
  gsize       width, plane;
  gsize       y, x;
  guint       c;

  g_return_val_if_fail (rgb != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL || n_rows == 0, FALSE);

  if (! check_args (rgb, alpha, first_row, n_rows, format, rowstride, &info,
                    error))
    return FALSE;

  width = VAE_T_W (rgb);
  plane = VAE_T_H (rgb) * width;
  for (y = 0; y < n_rows; y++)
    {
      const guint8 *row = (const guint8 *) pixels + y * rowstride;
      gsize         base = (first_row + y) * width;

      for (x = 0; x < width; x++)
        {
          const guint8 *p = row + x * info.channels * info.sample_size;

          for (c = 0; c < 3; c++)
            rgb->data[c * plane + base + x] =
              load_sample (p + c * info.sample_size, info.sample_size);
          if (alpha != NULL)
            alpha->data[base + x] =
              info.channels == 4 ? load_sample (p + 3 * info.sample_size,
                                                info.sample_size)
                                 : 1.0f;
        }
    }

  return TRUE;
}

/**
 * vae_tensor_to_pixels:
 * @rgb: a [3, height, width] image
 * @alpha: (nullable): its [1, height, width] alpha, or %NULL for opaque
 * @first_row: the first image row to write
 * @n_rows: how many rows to write
 * @pixels: (array): room for @n_rows rows of @width interleaved pixels;
 *   bytes between the end of a row and the stride are left alone
 * @format: the layout to write
 * @rowstride: bytes from the start of one row of @pixels to the next
 * @error: return location for a #GError
 *
 * Writes rows of a planar image as interleaved pixels.  Values are clamped
 * to [0, 1], NaN becomes 0; integer formats take the nearest level,
 * ties to even (the rule of vae_image_quantize_8bit()).  Without @alpha an
 * alpha channel in @format is written opaque; without alpha in @format,
 * @alpha is not written.
 *
 * Returns: %TRUE on success; %FALSE with the errors of
 *   vae_tensor_from_pixels().
 */
gboolean
vae_tensor_to_pixels (const VaeTensor  *rgb,
                      const VaeTensor  *alpha,
                      gsize             first_row,
                      gsize             n_rows,
                      gpointer          pixels,
                      VaePixelFormat    format,
                      gsize             rowstride,
                      GError          **error)
{
  FormatInfo  info;
  gsize       width, plane;
  gsize       y, x;
  guint       c;

  g_return_val_if_fail (rgb != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL || n_rows == 0, FALSE);

  if (! check_args (rgb, alpha, first_row, n_rows, format, rowstride, &info,
                    error))
    return FALSE;

  width = VAE_T_W (rgb);
  plane = VAE_T_H (rgb) * width;
  for (y = 0; y < n_rows; y++)
    {
      guint8 *row = (guint8 *) pixels + y * rowstride;
      gsize   base = (first_row + y) * width;

      for (x = 0; x < width; x++)
        {
          guint8 *p = row + x * info.channels * info.sample_size;

          for (c = 0; c < 3; c++)
            store_sample (p + c * info.sample_size, info.sample_size,
                          rgb->data[c * plane + base + x]);
          if (info.channels == 4)
            store_sample (p + 3 * info.sample_size, info.sample_size,
                          alpha != NULL ? alpha->data[base + x] : 1.0f);
        }
    }

  return TRUE;
}
