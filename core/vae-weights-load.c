/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Loading weights: opening and mapping a file, telling its format from the
 * content, and handing it to the reader that fills a VaeWeights
 * (safetensors.c, pth.c).  vae-weights.c holds the container alone.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vae-error.h"
#include "vae-file-types.h"
#include "vae-weights.h"
#include "pth-private.h"

/**
 * vae_open_regular:
 * @path: a file to read
 * @error: return location for a #GError
 *
 * Opens @path for reading if it is a regular file.  Without O_NONBLOCK,
 * opening a FIFO waits for a writer, possibly forever; a regular file
 * ignores the flag, so it stays set.
 *
 * Returns: the descriptor, or -1 with a %VAE_ERROR_IO error that starts
 *   with @path's base name.
 */
gint
vae_open_regular (const gchar  *path,
                  GError      **error)
{
  g_autofree gchar *display = g_path_get_basename (path);
  struct stat       st;
  const gchar      *kind;
  gint              fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "%s: cannot open: %s", display, g_strerror (saved_errno));
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "%s: cannot read: %s", display, g_strerror (saved_errno));
      close (fd);
      return -1;
    }
  if (! S_ISREG (st.st_mode))
    {
      /* A folder would map as garbage, a FIFO or device block or never
       * end. */
      kind = S_ISDIR (st.st_mode) ? "a folder" :
             S_ISFIFO (st.st_mode) ? "a FIFO" :
             S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode) ? "a device" :
             S_ISSOCK (st.st_mode) ? "a socket" : "a special file";
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "%s: not a regular file but %s", display, kind);
      close (fd);
      return -1;
    }

  return fd;
}

static GMappedFile *
map_file (const gchar  *path,
          GError      **error)
{
  g_autofree gchar  *display = g_path_get_basename (path);
  g_autoptr(GError)  local_error = NULL;
  GMappedFile       *mapped;
  int                fd;

  fd = vae_open_regular (path, error);
  if (fd < 0)
    return NULL;

  mapped = g_mapped_file_new_from_fd (fd, FALSE, &local_error);
  close (fd);
  if (! mapped)
    g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                 "%s: cannot read: %s", display, local_error->message);

  return mapped;
}


/* Formats users mistake for weights libvae reads, told by their first
 * bytes, and what to do with them; NULL for anything else. */
static const gchar *
foreign_format (const guint8 *data,
                gsize         size)
{
  if (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5)
    return "a Python pickle, but not one torch.save wrote; load it in "
           "Python and save the state dict with torch.save or as "
           "safetensors";
  if (size >= 262 && memcmp (data + 257, "ustar", 5) == 0)
    return "a tar archive, as PyTorch before 0.4 saved checkpoints; load it "
           "with that torch and save it again with a newer one or as "
           "safetensors";
  if (size >= 4 && memcmp (data, "GGUF", 4) == 0)
    return "a GGUF file (llama.cpp); libvae reads safetensors and PyTorch "
           "checkpoints";
  if (size >= 8 && memcmp (data, "\x89HDF\r\n\x1a\n", 8) == 0)
    return "an HDF5 file (Keras?); libvae reads safetensors and PyTorch "
           "checkpoints";

  return NULL;
}

/* vae_weights_parse() before its messages are tidied */
static VaeWeights *
weights_parse (const guint8  *data,
               gsize          size,
               const gchar   *path,
               GMappedFile   *keep,
               GError       **error)
{
  const gchar *foreign;

  if ((size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0) ||
      vae_pth_is_legacy (data, size))
    return vae_pth_parse (data, size, path, keep, error);

  /* Only what does not start like safetensors may be something else. */
  if (! vae_safetensors_sniff (data, size, NULL) &&
      (foreign = foreign_format (data, size)))
    {
      g_autofree gchar *display = g_path_get_basename (path);

      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED, "%s: %s",
                   display, foreign);
      return NULL;
    }

  return vae_safetensors_parse (data, size, path, keep, error);
}

/* Maps @path and reads it as any format libvae reads or, unless
 * @any_format, as safetensors; messages tidied. */
static VaeWeights *
load_file (const gchar  *path,
           gboolean      any_format,
           GError      **error)
{
  GMappedFile  *mapped = map_file (path, error);
  const guint8 *data;
  gsize         size;
  VaeWeights   *weights;

  if (! mapped)
    return NULL;

  data = (const guint8 *) g_mapped_file_get_contents (mapped);
  size = g_mapped_file_get_length (mapped);
  weights = any_format ? weights_parse (data, size, path, mapped, error)
                       : vae_safetensors_parse (data, size, path, mapped, error);
  g_mapped_file_unref (mapped);
  if (! weights && error)
    vae_error_tidy (*error);

  return weights;
}

/**
 * vae_weights_parse:
 * @data: (array length=size): a whole weights file
 * @size: its length
 * @path: the path (or display name) to keep
 * @keep: (nullable): the mapping @data lies in, for lazy widening
 * @error: return location for a #GError
 *
 * Reads a weights file held in memory, telling the format from the
 * content: PyTorch checkpoints are zip archives (or, before torch 1.6, a
 * sequence of pickles), anything else is taken for safetensors.
 *
 * Returns: (transfer full) (nullable): the weights, or %NULL with @error
 *   set; every message starts with @path's base name.
 */
VaeWeights *
vae_weights_parse (const guint8  *data,
                   gsize          size,
                   const gchar   *path,
                   GMappedFile   *keep,
                   GError       **error)
{
  VaeWeights *weights;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  weights = weights_parse (data, size, path, keep, error);
  if (! weights && error)
    vae_error_tidy (*error);

  return weights;
}

/**
 * vae_weights_load:
 * @path: a safetensors file or a PyTorch checkpoint
 * @error: return location for a #GError
 *
 * Reads every tensor of a weights file; see vae_weights_parse().
 *
 * Returns: (transfer full) (nullable): the weights, or %NULL with @error
 *   set; every message starts with the file's base name.
 */
VaeWeights *
vae_weights_load (const gchar  *path,
                  GError      **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  return load_file (path, TRUE, error);
}

/**
 * vae_safetensors_load:
 * @path: a safetensors file
 * @error: return location for a #GError
 *
 * Like vae_weights_load() but insists on safetensors.
 *
 * Returns: (transfer full) (nullable): the weights, or %NULL with @error
 *   set.
 */
VaeWeights *
vae_safetensors_load (const gchar  *path,
                      GError      **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  return load_file (path, FALSE, error);
}

/**
 * vae_safetensors_load_from_data:
 * @data: (array length=size): a whole safetensors file
 * @size: its length in bytes
 * @display_name: what error messages call it, e.g. "parasite gimp-vae-latent"
 * @error: return location for a #GError
 *
 * Reads safetensors bytes kept elsewhere (latents stored in a GIMP
 * parasite).  @data is copied; the caller keeps it.
 *
 * Returns: (transfer full) (nullable): the weights, or %NULL with @error
 *   set.
 */
VaeWeights *
vae_safetensors_load_from_data (const guint8  *data,
                                gsize          size,
                                const gchar   *display_name,
                                GError       **error)
{
  VaeWeights *weights;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (display_name != NULL, NULL);

  weights = vae_safetensors_parse (data, size, display_name, NULL, error);
  if (! weights && error)
    vae_error_tidy (*error);

  return weights;
}
