/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VaePixelFormat:
 * @VAE_PIXEL_FORMAT_RGB_U8: R', G', B' as 8-bit integers.
 * @VAE_PIXEL_FORMAT_RGBA_U8: R', G', B', A as 8-bit integers.
 * @VAE_PIXEL_FORMAT_RGB_U16: R', G', B' as 16-bit integers in host order.
 * @VAE_PIXEL_FORMAT_RGBA_U16: R', G', B', A as 16-bit integers in host
 *   order.
 * @VAE_PIXEL_FORMAT_RGB_FLOAT: R', G', B' as 32-bit floats.
 * @VAE_PIXEL_FORMAT_RGBA_FLOAT: R', G', B', A as 32-bit floats.
 *
 * Interleaved pixel layouts that images cross libvae's border in: what
 * image libraries (GEGL, babl, GdkPixbuf, libpng) hand out and take.
 * Colour is non-linear sRGB as stored in files, alpha not premultiplied.
 */
typedef enum
{
  VAE_PIXEL_FORMAT_RGB_U8,
  VAE_PIXEL_FORMAT_RGBA_U8,
  VAE_PIXEL_FORMAT_RGB_U16,
  VAE_PIXEL_FORMAT_RGBA_U16,
  VAE_PIXEL_FORMAT_RGB_FLOAT,
  VAE_PIXEL_FORMAT_RGBA_FLOAT
} VaePixelFormat;

VAE_API gsize     vae_pixel_format_get_bytes_per_pixel (VaePixelFormat   format);

VAE_API gboolean  vae_tensor_from_pixels               (VaeTensor       *rgb,
                                                        VaeTensor       *alpha,
                                                        gsize            first_row,
                                                        gsize            n_rows,
                                                        gconstpointer    pixels,
                                                        VaePixelFormat   format,
                                                        gsize            rowstride,
                                                        GError         **error);
VAE_API gboolean  vae_tensor_to_pixels                 (const VaeTensor *rgb,
                                                        const VaeTensor *alpha,
                                                        gsize            first_row,
                                                        gsize            n_rows,
                                                        gpointer         pixels,
                                                        VaePixelFormat   format,
                                                        gsize            rowstride,
                                                        GError         **error);

G_END_DECLS
