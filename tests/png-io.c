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
  gfloat    *d;
  gsize      plane, i;
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
  d = vae_tensor_get_data (tensor);
  plane = (gsize) png.width * png.height;
  for (i = 0; i < plane; i++)
    {
      d[i] = pixels[3 * i] / 255.0f;
      d[plane + i] = pixels[3 * i + 1] / 255.0f;
      d[2 * plane + i] = pixels[3 * i + 2] / 255.0f;
    }
  g_free (pixels);

  return tensor;
}
