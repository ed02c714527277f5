/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * What a file holds, told the same way by the model loader, the registry,
 * the weight parser and the front ends: model weights by their name,
 * safetensors (weights or latents) by their first bytes.
 */

#include <unistd.h>

#include "vae-file-types.h"
#include "vae-weights.h"

static const gchar *const weight_suffixes[] = {
  ".safetensors", ".pth", ".pt", ".ckpt", NULL
};

/**
 * vae_weight_file_suffixes:
 *
 * The file name endings that model weights have: what a model folder is
 * searched for, what the registry's search path lists and what a file
 * chooser for models should offer.  The loader itself tells formats by
 * content.
 *
 * Returns: (transfer none) (array zero-terminated=1): the suffixes, with
 *   their dot, e.g. ".safetensors".
 */
const gchar * const *
vae_weight_file_suffixes (void)
{
  return weight_suffixes;
}

/**
 * vae_is_weight_file_name:
 * @name: a file name or path
 *
 * Returns: whether @name ends in one of vae_weight_file_suffixes().
 */
gboolean
vae_is_weight_file_name (const gchar *name)
{
  guint i;

  g_return_val_if_fail (name != NULL, FALSE);

  for (i = 0; weight_suffixes[i] != NULL; i++)
    if (g_str_has_suffix (name, weight_suffixes[i]))
      return TRUE;

  return FALSE;
}

/**
 * vae_safetensors_sniff:
 * @data: (array length=size): the first bytes of a file; 9 are enough
 * @size: how many bytes @data holds
 * @header_length: (out) (optional): the length of the JSON header
 *
 * Tells safetensors content (model weights, `.latent` files) from anything
 * else by its first bytes: a little-endian 64-bit header length no larger
 * than libvae agrees to parse, then the "{" that opens the JSON header.
 * No image, archive or pickle format starts that way.  The header itself
 * is not checked: the parser does that.
 *
 * Returns: %TRUE when @data starts like safetensors.
 */
gboolean
vae_safetensors_sniff (const guint8 *data,
                       gsize         size,
                       guint64      *header_length)
{
  guint64 length = 0;
  gint    i;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);

  if (size < 9)
    return FALSE;
  for (i = 7; i >= 0; i--)
    length = (length << 8) | data[i];

  /* "{}" is the shortest header */
  if (data[8] != '{' || length < 2 || length > VAE_SAFETENSORS_MAX_HEADER)
    return FALSE;

  if (header_length != NULL)
    *header_length = length;

  return TRUE;
}

/**
 * vae_file_read_head:
 * @path: a file
 * @head: (out caller-allocates) (array length=size): where to put its
 *   first bytes
 * @size: how many bytes are wanted
 *
 * Reads the first bytes of a regular file, to tell its format by them.
 * Folders, FIFOs and devices are not read: opening a FIFO would wait for a
 * writer.
 *
 * Returns: how many bytes were read, fewer than @size for a short file;
 *   0 when @path cannot be opened or is not a regular file.
 */
gsize
vae_file_read_head (const gchar *path,
                    guint8      *head,
                    gsize        size)
{
  gssize got;
  gsize  n = 0;
  gint   fd;

  g_return_val_if_fail (path != NULL, 0);
  g_return_val_if_fail (head != NULL || size == 0, 0);

  fd = vae_open_regular (path, NULL);
  if (fd < 0)
    return 0;
  while (n < size && (got = read (fd, head + n, size - n)) > 0)
    n += got;
  close (fd);

  return n;
}

/**
 * vae_safetensors_sniff_file:
 * @path: a file
 *
 * vae_safetensors_sniff() on the first bytes of @path
 * (vae_file_read_head()).
 *
 * Returns: %TRUE when @path is a regular file that starts like safetensors.
 */
gboolean
vae_safetensors_sniff_file (const gchar *path)
{
  guint8 head[9];
  gsize  n;

  g_return_val_if_fail (path != NULL, FALSE);

  n = vae_file_read_head (path, head, sizeof (head));

  return vae_safetensors_sniff (head, n, NULL);
}
