/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libpng reads the test photos: the tests check libvae alone, without the
 * GEGL image loading of the vae command.
 */

#include <string.h>

#include <png.h>

#include "png-io.h"

VaeTensor *
test_read_png (const gchar *path)
{
  png_image  png;
  guint8    *pixels;
  VaeTensor *tensor;
  GError    *error = NULL;

  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (! png_image_begin_read_from_file (&png, path))
    g_error ("%s: %s", path, png.message);
  png.format = PNG_FORMAT_RGB;
  pixels = g_malloc (PNG_IMAGE_SIZE (png));
  if (! png_image_finish_read (&png, NULL, pixels, 0, NULL))
    g_error ("%s: %s", path, png.message);

  tensor = vae_tensor_new_3d (3, png.height, png.width, &error);
  g_assert_no_error (error);
  vae_tensor_from_pixels (tensor, NULL, 0, png.height, pixels,
                          VAE_PIXEL_FORMAT_RGB_U8, PNG_IMAGE_ROW_STRIDE (png),
                          &error);
  g_assert_no_error (error);
  g_free (pixels);

  return tensor;
}
