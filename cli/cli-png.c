/* vae - the gimp-vae command
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * PNG output through libpng directly.  GEGL's png-save writes the same
 * pixels, but starting GEGL costs 0.4 to 0.7 s on this machine (babl builds
 * 364 MB of tables in gegl_init), a third of a 1024x1024 decompression,
 * and decode and decompress need GEGL for nothing else.
 */

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>

#include <glib/gstdio.h>

#include "cli-image.h"

typedef struct
{
  jmp_buf  jump;
  gchar   *message;
} PngFailure;

static void
on_png_error (png_structp      png,
              png_const_charp  message)
{
  PngFailure *failure = png_get_error_ptr (png);

  failure->message = g_strdup (message);
  longjmp (failure->jump, 1);
}

/* libpng would print warnings on stderr; a write either works or fails
 * with one message. */
static void
on_png_warning (png_structp      png,
                png_const_charp  message)
{
}

/* Rows of @pixels (8-bit or 16-bit in host order, 3 or 4 channels, tightly
 * packed) into the file @path, with GEGL png-save's compression level (3). */
gboolean
cli_png_write (const gchar    *path,
               const guint8   *pixels,
               gsize           width,
               gsize           height,
               gboolean        alpha,
               guint           depth,
               GError        **error)
{
  /* On the heap: what libpng's error handler writes must survive the
   * longjmp, which automatic variables need not do. */
  g_autofree PngFailure *failure = g_new0 (PngFailure, 1);
  png_structp            png = NULL;
  png_infop              info = NULL;
  const gsize            rowstride = width * (alpha ? 4 : 3) * (depth / 8);
  FILE                  *out;
  gsize                  y;

  out = g_fopen (path, "wb");
  if (out == NULL)
    {
      gint saved = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "%s", g_strerror (saved));
      return FALSE;
    }

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, failure,
                                 on_png_error, on_png_warning);
  if (png != NULL)
    info = png_create_info_struct (png);
  if (png == NULL || info == NULL)
    {
      png_destroy_write_struct (&png, NULL);
      fclose (out);
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY, "out of memory");
      return FALSE;
    }

  if (setjmp (failure->jump) == 0)
    {
      png_init_io (png, out);
      png_set_compression_level (png, 3);
      png_set_IHDR (png, info, (png_uint_32) width, (png_uint_32) height,
                    (gint) depth,
                    alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                    PNG_FILTER_TYPE_DEFAULT);
      png_write_info (png, info);
      if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
        png_set_swap (png);
      for (y = 0; y < height; y++)
        png_write_row (png, pixels + y * rowstride);
      png_write_end (png, NULL);
    }
  png_destroy_write_struct (&png, &info);

  if (fclose (out) != 0 && failure->message == NULL)
    failure->message = g_strdup (g_strerror (errno));
  if (failure->message != NULL)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "%s", failure->message);
      g_free (failure->message);
      return FALSE;
    }

  return TRUE;
}
