/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Image files <-> libvae tensors, through GEGL.
 *
 * Pixel mapping (the plug-in crosses the same adapter, vae-pixels.h, so
 * that both give the same latents for the same file):
 *
 *   - every file is read as babl "R'G'B'A float": non-linear sRGB, alpha
 *     not premultiplied.  babl converts from the file's own format and
 *     colour space (an embedded ICC profile is honoured), so an 8-bit value
 *     k becomes exactly k / 255 and a 16-bit value k becomes k / 65535;
 *   - vae_tensor_from_pixels() clamps to [0, 1] (float formats such as EXR
 *     may exceed it), NaN becomes 0, and puts R', G', B' planar into a
 *     [3, H, W] tensor; gray files arrive as R' = G' = B' = Y' (babl's
 *     conversion) and are encoded as colour;
 *   - alpha, when the file has it, goes into a separate [1, H, W] tensor.
 *     Colour under transparent pixels is encoded as stored.
 *
 * Writing is the reverse through vae_tensor_to_pixels(): 8 bits by
 * default or 16, the nearest level with ties to even; RGBA when an alpha
 * tensor of the same size is given, RGB otherwise.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gegl.h>

#include "cli-image.h"
#include "vae-cli.h"

/* Rows converted per gegl_buffer_get() call, which bounds the float
 * scratch buffer to a few MiB however large the image.
 */
#define CHUNK_ROWS 64

/* Some loaders (libpng's error handler in gegl:png-load, libjpeg, libtiff)
 * print straight to stderr, bypassing g_log.  While GEGL runs, fd 2 points
 * at a temporary file; what landed there is used as the error detail.
 */
typedef struct
{
  gint  saved_fd;
  FILE *file;
} StderrTrap;

static void
stderr_trap_begin (StderrTrap *trap)
{
  trap->saved_fd = -1;
  trap->file = tmpfile ();
  if (trap->file == NULL)
    return;

  fflush (stderr);
  trap->saved_fd = dup (STDERR_FILENO);
  if (trap->saved_fd < 0 || dup2 (fileno (trap->file), STDERR_FILENO) < 0)
    {
      if (trap->saved_fd >= 0)
        close (trap->saved_fd);
      trap->saved_fd = -1;
      fclose (trap->file);
      trap->file = NULL;
    }
}

/* Returns the first line written while trapped, or the last one when
 * @last is set (a loader that gives up prints its fatal error last).
 */
static gchar *
stderr_trap_end (StderrTrap *trap,
                 gboolean    last)
{
  gchar    text[2048];
  gsize    n;
  gchar  **lines;
  gchar   *found = NULL;
  gint     i;

  if (trap->file == NULL)
    return NULL;

  fflush (stderr);
  dup2 (trap->saved_fd, STDERR_FILENO);
  close (trap->saved_fd);

  rewind (trap->file);
  n = fread (text, 1, sizeof (text) - 1, trap->file);
  fclose (trap->file);
  trap->file = NULL;
  text[n] = '\0';

  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    {
      g_strstrip (lines[i]);
      if (lines[i][0] != '\0' && (found == NULL || last))
        found = lines[i];
    }
  found = g_strdup (found);
  g_strfreev (lines);

  return found;
}

/* Some loaders do worse than print: GEGL's jpg-load keeps libjpeg's
 * default error handler, which calls exit(1) on a damaged file.  While
 * GEGL works, this state lets an atexit() hook still give the user the
 * one error line (and remove a half-written temporary file).
 */
static struct
{
  StderrTrap  *trap;
  const gchar *what;       /* "cannot load 'x.jpg'" */
  const gchar *tmp_file;   /* nullable */
} in_gegl;

static void
exit_inside_gegl (void)
{
  g_autofree gchar *detail = NULL;
  g_autofree gchar *logged = NULL;

  if (in_gegl.what == NULL)
    return;

  detail = stderr_trap_end (in_gegl.trap, TRUE);
  logged = cli_log_capture_end ();
  if (in_gegl.tmp_file != NULL)
    g_unlink (in_gegl.tmp_file);

  fprintf (stderr, "vae: %s: the image library gave up (%s)\n",
           in_gegl.what,
           detail ? detail : logged ? logged : "no reason given");
  fflush (stderr);
}

static void
gegl_section_begin (StderrTrap  *trap,
                    const gchar *what,
                    const gchar *tmp_file)
{
  cli_log_capture_begin ();
  stderr_trap_begin (trap);
  in_gegl.trap = trap;
  in_gegl.what = what;
  in_gegl.tmp_file = tmp_file;
}

/* Returns the first line of the loader's raw output; *logged gets the
 * first warning logged through GLib.
 */
static gchar *
gegl_section_end (StderrTrap  *trap,
                  gchar      **logged)
{
  gchar *raw;

  in_gegl.what = NULL;
  raw = stderr_trap_end (trap, FALSE);
  *logged = cli_log_capture_end ();

  return raw;
}

static gboolean gegl_ready = FALSE;

static void
ensure_gegl (void)
{
  if (gegl_ready)
    return;

  atexit (exit_inside_gegl);
  gegl_init (NULL, NULL);
  /* A command-line run needs no swap file.  GEGL 0.4.62 has no special
   * value for that: "RAM" is taken for a folder name (an empty RAM/ was left
   * in the current folder); no folder at all means no swap.
   */
  g_object_set (gegl_config (), "swap", NULL, NULL);
  gegl_ready = TRUE;
}

void
cli_image_shutdown (void)
{
  if (gegl_ready)
    gegl_exit ();
  gegl_ready = FALSE;
}

/* Opens the file ourselves first: gegl:load turns a missing file into a
 * placeholder image instead of failing, and errno gives the better message.
 */
static gboolean
check_readable (const gchar  *path,
                GError      **error)
{
  GStatBuf st;
  gint     fd;

  /* O_NONBLOCK: opening a FIFO would wait for a writer forever */
  fd = g_open (path, O_RDONLY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      gint saved = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot open '%s': %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "cannot open '%s': not a regular file", path);
      return FALSE;
    }
  close (fd);

  if (st.st_size == 0)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "cannot load '%s': the file is empty", path);
      return FALSE;
    }

  return TRUE;
}

/* The format a file's first bytes announce, or NULL. */
static const gchar *
sniff_format (const gchar *path)
{
  static const struct
  {
    const gchar *name;
    gsize        offset;
    const gchar *magic;
    gsize        length;
  } formats[] =
    {
      { "PNG",  0, "\x89PNG\r\n\x1a\n", 8 },
      { "JPEG", 0, "\xff\xd8\xff", 3 },
      { "TIFF", 0, "II*\0", 4 },
      { "TIFF", 0, "MM\0*", 4 },
      { "WebP", 8, "WEBP", 4 },
      { "GIF",  0, "GIF8", 4 },
    };
  guint8  head[16];
  gsize   n;
  guint   i;

  n = vae_file_read_head (path, head, sizeof (head));

  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    if (n >= formats[i].offset + formats[i].length &&
        memcmp (head + formats[i].offset, formats[i].magic,
                formats[i].length) == 0)
      return formats[i].name;

  return NULL;
}

/**
 * cli_image_load:
 * @ctx: the command's context, for notes
 * @path: an image file in any format GEGL loads
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the image, or %NULL with a
 *   %VAE_ERROR_IO (cannot open) or %VAE_ERROR_FORMAT (not an image, damaged)
 *   error.
 */
CliImage *
cli_image_load (CliContext   *ctx,
                const gchar  *path,
                GError      **error)
{
  g_autoptr (CliImage) image = NULL;
  GeglNode            *graph;
  GeglNode            *load;
  GeglNode            *sink;
  GeglBuffer          *buffer = NULL;
  const GeglRectangle *extent;
  const Babl          *file_format;
  const Babl          *model;
  const gchar         *model_name;
  StderrTrap           trap;
  g_autofree gchar    *log_detail = NULL;
  g_autofree gchar    *raw_detail = NULL;
  g_autofree gchar    *what = NULL;
  gfloat              *chunk;
  gint                 n_components;
  gint                 y0;

  if (!check_readable (path, error))
    return NULL;

  if (vae_safetensors_sniff_file (path))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "'%s' holds latents or weights, not an image", path);
      return NULL;
    }
  if (cli_is_compressed_file (path))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "'%s' is a compressed image: 'vae decompress' turns it "
                   "into one", path);
      return NULL;
    }

  ensure_gegl ();

  /* gegl:load may already read the file's header when the graph is
   * built, so the capture starts here
   */
  what = g_strdup_printf ("cannot load '%s'", path);
  gegl_section_begin (&trap, what, NULL);
  cli_exit_on_interrupt (trap.saved_fd >= 0 ? trap.saved_fd : STDERR_FILENO);

  graph = gegl_node_new ();
  load = gegl_node_new_child (graph,
                              "operation", "gegl:load",
                              "path",      path,
                              NULL);
  sink = gegl_node_new_child (graph,
                              "operation", "gegl:buffer-sink",
                              "buffer",    &buffer,
                              NULL);
  gegl_node_link (load, sink);
  gegl_node_process (sink);
  cli_exit_on_interrupt (-1);
  raw_detail = gegl_section_end (&trap, &log_detail);
  g_object_unref (graph);

  /* A damaged file can still give a buffer of the right size (a truncated
   * PNG is padded out), so a warning during the load counts as failure.
   */
  if (buffer == NULL || log_detail != NULL ||
      gegl_buffer_get_extent (buffer)->width <= 0 ||
      gegl_buffer_get_extent (buffer)->height <= 0)
    {
      const gchar *detail = log_detail ? log_detail : raw_detail;
      const gchar *format = sniff_format (path);

      g_clear_object (&buffer);
      /* For a file that starts like an image, GEGL's words ("failed to
       * open file") mislead: it opened, its contents end too soon.
       */
      if (format != NULL)
        g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                     "cannot load '%s': the %s file is damaged or truncated",
                     path, format);
      else
        g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                     "cannot load '%s': not an image GEGL can read, or damaged%s%s%s",
                     path,
                     detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
      return NULL;
    }

  extent = gegl_buffer_get_extent (buffer);
  file_format = gegl_buffer_get_format (buffer);
  model = babl_format_get_model (file_format);
  model_name = babl_get_name (model);
  n_components = babl_format_get_n_components (file_format);

  image = g_new0 (CliImage, 1);
  /* e.g. libjpeg's "Premature end of JPEG file": loaded, but say so */
  image->warning = g_steal_pointer (&raw_detail);
  image->width = extent->width;
  image->height = extent->height;
  image->format = g_strdup (babl_get_name (file_format));
  image->bits = 8 * babl_format_get_bytes_per_pixel (file_format) /
                MAX (n_components, 1);
  /* Y, Y', Y~ with or without alpha; palette formats are expanded to RGB
   * by the loaders.
   */
  image->gray = model_name[0] == 'Y';

  image->rgb = vae_tensor_new_3d (3, image->height, image->width, error);
  if (image->rgb == NULL)
    {
      g_object_unref (buffer);
      g_prefix_error (error, "cannot load '%s': ", path);
      return NULL;
    }
  if (babl_format_has_alpha (file_format))
    {
      image->alpha = vae_tensor_new_3d (1, image->height, image->width, error);
      if (image->alpha == NULL)
        {
          g_object_unref (buffer);
          g_prefix_error (error, "cannot load '%s': ", path);
          return NULL;
        }
    }

  chunk = g_try_malloc_n ((gsize) image->width * CHUNK_ROWS, 4 * sizeof (gfloat));
  if (chunk == NULL)
    {
      g_object_unref (buffer);
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                   "cannot load '%s': out of memory", path);
      return NULL;
    }

  for (y0 = 0; y0 < (gint) image->height; y0 += CHUNK_ROWS)
    {
      GeglRectangle rect;

      if (!cli_check_cancelled (ctx, error))
        {
          g_free (chunk);
          g_object_unref (buffer);
          return NULL;
        }

      rect.x = extent->x;
      rect.y = extent->y + y0;
      rect.width = image->width;
      rect.height = MIN (CHUNK_ROWS, (gint) image->height - y0);

      gegl_buffer_get (buffer, &rect, 1.0, babl_format ("R'G'B'A float"),
                       chunk, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      /* the tensors were made to the buffer's extent: this cannot fail */
      vae_tensor_from_pixels (image->rgb, image->alpha, y0, rect.height, chunk,
                              VAE_PIXEL_FORMAT_RGBA_FLOAT,
                              (gsize) image->width * 4 * sizeof (gfloat), NULL);
    }

  g_free (chunk);
  g_object_unref (buffer);

  if (image->warning != NULL)
    cli_note (ctx, "note: '%s' may be damaged: %s", path, image->warning);

  return g_steal_pointer (&image);
}

void
cli_image_free (CliImage *image)
{
  if (image == NULL)
    return;

  g_clear_pointer (&image->rgb, vae_tensor_unref);
  g_clear_pointer (&image->alpha, vae_tensor_unref);
  g_free (image->format);
  g_free (image->warning);
  g_free (image);
}

static gchar *
lower_extension (const gchar *path)
{
  g_autofree gchar *base = g_path_get_basename (path);
  const gchar      *dot = strrchr (base, '.');

  if (dot == NULL || dot == base)
    return g_strdup ("");

  return g_ascii_strdown (dot + 1, -1);
}

static const gchar *const any_depth[] = { "png", "tif", "tiff", NULL };
static const gchar *const only_8[] = { "jpg", "jpeg", "webp", NULL };

static gboolean
is_device (const gchar *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && !S_ISREG (st.st_mode) &&
         !S_ISDIR (st.st_mode);
}

/* Refuses a --depth other than 8 or 16 bits per channel. */
gboolean
cli_check_depth (gint     depth,
                 GError **error)
{
  if (depth == 8 || depth == 16)
    return TRUE;

  g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
               "--depth must be 8 or 16, not %d", depth);
  return FALSE;
}

/**
 * cli_image_check_output:
 * @path: where an image is going to be written
 * @depth: 8 or 16 bits per channel
 * @error: return location for a #GError
 *
 * Checks before any work is done that @path names a format we write, with
 * that depth.
 *
 * Returns: %TRUE when fine, else %FALSE with a %CLI_ERROR_USAGE error.
 */
gboolean
cli_image_check_output (const gchar  *path,
                        guint         depth,
                        GError      **error)
{
  g_autofree gchar *ext = lower_extension (path);

  if (g_strv_contains (any_depth, ext))
    return TRUE;

  if (g_strv_contains (only_8, ext))
    {
      if (depth == 8)
        return TRUE;

      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "'%s': .%s holds only 8 bits per channel; use .png or "
                   ".tif for --depth %u", path, ext, depth);
      return FALSE;
    }

  /* /dev/null, a FIFO: nothing to tell the format by; PNG it is */
  if (is_device (path))
    return TRUE;

  g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
               "'%s': cannot tell the image format from the name; use .png, "
               ".tif, .jpg or .webp", path);
  return FALSE;
}

/* The image as interleaved R'G'B'(A) u8 or u16 rows, rounded by libvae's
 * one rule. */
static gpointer
tensors_to_pixels (const VaeTensor  *rgb,
                   const VaeTensor  *alpha,
                   guint             depth,
                   GError          **error)
{
  gsize          height = vae_tensor_get_dim (rgb, 1);
  gsize          width = vae_tensor_get_dim (rgb, 2);
  VaePixelFormat format;
  gsize          bpp;
  gpointer       data;

  if (depth == 16)
    format = alpha ? VAE_PIXEL_FORMAT_RGBA_U16 : VAE_PIXEL_FORMAT_RGB_U16;
  else
    format = alpha ? VAE_PIXEL_FORMAT_RGBA_U8 : VAE_PIXEL_FORMAT_RGB_U8;
  bpp = vae_pixel_format_get_bytes_per_pixel (format);

  data = g_try_malloc_n (width * height, bpp);
  if (data == NULL)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY, "out of memory");
      return NULL;
    }
  if (!vae_tensor_to_pixels (rgb, alpha, 0, height, data, format,
                             width * bpp, error))
    {
      g_free (data);
      return NULL;
    }

  return data;
}

/* The other formats through GEGL's savers, which take @pixels. */
static gboolean
save_with_gegl (const gchar  *tmp_name,
                const gchar  *path,
                gpointer      pixels,
                gsize         width,
                gsize         height,
                gboolean      alpha,
                guint         depth,
                GError      **error)
{
  g_autofree gchar *log_detail = NULL;
  g_autofree gchar *raw_detail = NULL;
  g_autofree gchar *what = NULL;
  GeglRectangle     extent = { 0, 0, (gint) width, (gint) height };
  const Babl       *format;
  GeglBuffer       *buffer;
  GeglNode         *graph;
  GeglNode         *source;
  GeglNode         *save;
  StderrTrap        trap;
  GStatBuf          st;

  ensure_gegl ();
  if (depth == 16)
    format = babl_format (alpha ? "R'G'B'A u16" : "R'G'B' u16");
  else
    format = babl_format (alpha ? "R'G'B'A u8" : "R'G'B' u8");
  buffer = gegl_buffer_linear_new_from_data (pixels, format, &extent,
                                             width * babl_format_get_bytes_per_pixel (format),
                                             (GDestroyNotify) g_free, pixels);

  graph = gegl_node_new ();
  source = gegl_node_new_child (graph,
                                "operation", "gegl:buffer-source",
                                "buffer",    buffer,
                                NULL);
  save = gegl_node_new_child (graph,
                              "operation", "gegl:save",
                              "path",      tmp_name,
                              NULL);
  gegl_node_link (source, save);

  what = g_strdup_printf ("cannot write '%s'", path);
  gegl_section_begin (&trap, what, tmp_name);
  gegl_node_process (save);
  raw_detail = gegl_section_end (&trap, &log_detail);
  g_object_unref (graph);
  g_object_unref (buffer);

  if (log_detail != NULL || g_stat (tmp_name, &st) != 0 || st.st_size == 0)
    {
      const gchar *detail = log_detail ? log_detail : raw_detail;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot write '%s'%s%s",
                   path, detail ? ": " : "", detail ? detail : "");
      return FALSE;
    }

  return TRUE;
}

static gboolean
copy_into_device (const gchar  *tmp_name,
                  const gchar  *path,
                  GError      **error)
{
  g_autofree gchar *contents = NULL;
  gsize             size;
  FILE             *out;
  gboolean          ok;

  ok = g_file_get_contents (tmp_name, &contents, &size, error);
  g_unlink (tmp_name);
  if (!ok)
    return FALSE;

  out = g_fopen (path, "wb");
  ok = out != NULL && fwrite (contents, 1, size, out) == size;
  if (out != NULL && fclose (out) != 0)
    ok = FALSE;
  if (!ok)
    {
      gint saved = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot write '%s': %s",
                   path, g_strerror (saved));
    }

  return ok;
}

/**
 * cli_image_save:
 * @path: the file to write; the format follows the extension
 * @rgb: a [3, H, W] image
 * @alpha: (nullable): a [1, H, W] alpha channel, written when its size
 *   matches @rgb's
 * @depth: 8 or 16 bits per channel
 * @error: return location for a #GError
 *
 * Writes through a temporary file in the same folder and renames it, so
 * that a failed or interrupted write never leaves a half file at @path.
 * A device or FIFO at @path is written into instead of being replaced.
 *
 * Returns: %TRUE on success.
 */
gboolean
cli_image_save (const gchar      *path,
                const VaeTensor  *rgb,
                const VaeTensor  *alpha,
                guint             depth,
                GError          **error)
{
  g_autofree gchar *ext = lower_extension (path);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *tmp_name = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize             width;
  gsize             height;
  gpointer          pixels;
  gboolean          device;
  gboolean          written;
  mode_t            mask;
  gint              fd;

  g_return_val_if_fail (rgb != NULL, FALSE);

  if (!cli_image_check_output (path, depth, error))
    return FALSE;

  width = vae_tensor_get_dim (rgb, 2);
  height = vae_tensor_get_dim (rgb, 1);
  if (alpha != NULL &&
      (vae_tensor_get_dim (alpha, 1) != vae_tensor_get_dim (rgb, 1) ||
       vae_tensor_get_dim (alpha, 2) != vae_tensor_get_dim (rgb, 2)))
    alpha = NULL;

  /* The savers pick the format by extension, so the temporary name keeps
   * it.  They refuse devices and FIFOs, which get a copy of the file.
   */
  device = is_device (path);
  if (device && !g_strv_contains (any_depth, ext) &&
      !g_strv_contains (only_8, ext))
    {
      g_free (ext);
      ext = g_strdup ("png");
    }
  if (device)
    tmp_name = g_strdup_printf ("%s%cvae-XXXXXX.%s", g_get_tmp_dir (),
                                G_DIR_SEPARATOR, ext);
  else
    tmp_name = g_strdup_printf ("%s%c.%s.XXXXXX.%s", dir, G_DIR_SEPARATOR,
                                base, ext);
  fd = g_mkstemp (tmp_name);
  if (fd < 0)
    {
      gint saved = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "cannot write '%s': %s", path, g_strerror (saved));
      return FALSE;
    }
  close (fd);

  pixels = tensors_to_pixels (rgb, alpha, depth, error);
  if (pixels == NULL)
    {
      g_unlink (tmp_name);
      g_prefix_error (error, "cannot write '%s': ", path);
      return FALSE;
    }

  if (g_str_equal (ext, "png"))
    {
      written = cli_png_write (tmp_name, pixels, width, height,
                               alpha != NULL, depth, &local_error);
      g_free (pixels);
      if (!written)
        g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot write '%s': %s",
                     path, local_error->message);
    }
  else
    {
      written = save_with_gegl (tmp_name, path, pixels, width, height,
                                alpha != NULL, depth, error);
    }
  if (!written)
    {
      g_unlink (tmp_name);
      return FALSE;
    }

  if (device)
    return copy_into_device (tmp_name, path, error);

  /* mkstemp made it private; give it the mode a new file would have */
  mask = umask (0);
  umask (mask);
  g_chmod (tmp_name, 0666 & ~mask);

  if (g_rename (tmp_name, path) != 0)
    {
      gint saved = errno;

      g_unlink (tmp_name);
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "cannot write '%s': %s",
                   path, g_strerror (saved));
      return FALSE;
    }

  return TRUE;
}

/**
 * cli_is_latent_file:
 * @path: a file named on the command line
 *
 * Tells latents from images: a `.latent` name, or safetensors content.
 *
 * Returns: %TRUE for latents.
 */
gboolean
cli_is_latent_file (const gchar *path)
{
  g_autofree gchar *ext = lower_extension (path);

  return g_str_equal (ext, "latent") || vae_safetensors_sniff_file (path);
}

/**
 * cli_is_compressed_file:
 * @path: a file named on the command line
 *
 * Returns: %TRUE for a .vaez file (told by its first bytes).
 */
gboolean
cli_is_compressed_file (const gchar *path)
{
  guint8 head[4];

  return vae_compressed_sniff (head, vae_file_read_head (path, head,
                                                         sizeof (head)));
}
