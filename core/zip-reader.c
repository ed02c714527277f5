/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Just enough of the zip format for PyTorch checkpoints: the central
 * directory (Zip64 included: torch writes its records even for small
 * files, and checkpoints over 4 GiB need them), stored and deflated
 * entries, CRC checks.  Every offset and size read from the archive is
 * checked against the bytes that are there before anything is read.
 */

#include <string.h>

#include <zlib.h>

#include "vae-error-private.h"
#include "pth-private.h"

#define SIG_LOCAL          0x04034b50
#define SIG_CENTRAL        0x02014b50
#define SIG_END            0x06054b50
#define SIG_END64          0x06064b50
#define SIG_END64_LOCATOR  0x07064b50

#define END_SIZE           22
#define END64_SIZE         56
#define LOCATOR_SIZE       20
#define CENTRAL_SIZE       46
#define LOCAL_SIZE         30

/* Deflate cannot expand data more than about 1032 times; an entry that
 * claims more is lying about its size. */
#define MAX_DEFLATE_RATIO  1032

struct _VaeZip
{
  const guint8 *data;
  gsize         size;
  gchar        *display;
  GPtrArray    *entries;     /* VaeZipEntry * in directory order */
  GHashTable   *by_name;
};

static inline guint16
rd16 (const guint8 *p)
{
  return p[0] | (p[1] << 8);
}

static inline guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) |
         ((guint32) p[3] << 24);
}

static inline guint64
rd64 (const guint8 *p)
{
  return (guint64) rd32 (p) | ((guint64) rd32 (p + 4) << 32);
}

static void
entry_free (gpointer data)
{
  VaeZipEntry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

void
vae_zip_free (VaeZip *zip)
{
  if (! zip)
    return;

  g_hash_table_unref (zip->by_name);
  g_ptr_array_unref (zip->entries);
  g_free (zip->display);
  g_free (zip);
}

/* The zip64 extra field holds 64-bit values for exactly those of the
 * 32-bit fields that are saturated, in this order. */
static gboolean
read_zip64_extra (VaeZip        *zip,
                  const guint8  *extra,
                  guint          extra_length,
                  guint          index,
                  guint64       *size,
                  guint64       *compressed_size,
                  guint64       *local_offset,
                  GError       **error)
{
  guint pos = 0;

  while (pos + 4 <= extra_length)
    {
      guint id = rd16 (extra + pos);
      guint length = rd16 (extra + pos + 2);
      guint at = pos + 4;
      guint end = at + length;

      if (end > extra_length)
        break;

      if (id == 0x0001)
        {
          guint64 *fields[3] = { size, compressed_size, local_offset };
          guint    i;

          for (i = 0; i < 3; i++)
            {
              if (*fields[i] != 0xffffffff)
                continue;
              if (at + 8 > end)
                return vae_fail (error, VAE_ERROR_FORMAT,
                                 "%s: zip entry %u: Zip64 field is too short",
                                 zip->display, index);
              *fields[i] = rd64 (extra + at);
              at += 8;
            }
          return TRUE;
        }
      pos = end;
    }

  return TRUE;
}

static gboolean
read_entry (VaeZip    *zip,
            guint64   *pos,
            guint64    directory_end,
            guint64    data_end,
            guint      index,
            GError   **error)
{
  const guint8      *p = zip->data + *pos;
  g_autofree gchar  *name = NULL;
  VaeZipEntry       *entry;
  guint              flags;
  guint              method;
  guint              name_length;
  guint              extra_length;
  guint              comment_length;
  guint64            size;
  guint64            compressed_size;
  guint64            local_offset;
  guint64            data_offset;
  const guint8      *local;

  if (directory_end - *pos < CENTRAL_SIZE || rd32 (p) != SIG_CENTRAL)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip central directory entry %u is damaged",
                     zip->display, index);

  flags = rd16 (p + 8);
  method = rd16 (p + 10);
  compressed_size = rd32 (p + 20);
  size = rd32 (p + 24);
  name_length = rd16 (p + 28);
  extra_length = rd16 (p + 30);
  comment_length = rd16 (p + 32);
  local_offset = rd32 (p + 42);

  if (directory_end - *pos - CENTRAL_SIZE <
      (guint64) name_length + extra_length + comment_length)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip central directory entry %u runs past the "
                     "directory", zip->display, index);

  if (memchr (p + CENTRAL_SIZE, 0, name_length) ||
      ! g_utf8_validate ((const gchar *) p + CENTRAL_SIZE, name_length, NULL))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry %u has a name that is not UTF-8 text",
                     zip->display, index);
  name = g_strndup ((const gchar *) p + CENTRAL_SIZE, name_length);

  if (! read_zip64_extra (zip, p + CENTRAL_SIZE + name_length, extra_length,
                          index, &size, &compressed_size, &local_offset,
                          error))
    return FALSE;

  *pos += CENTRAL_SIZE + name_length + extra_length + comment_length;

  if (flags & 0x0001)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: zip entry '%s' is encrypted", zip->display, name);
  if (method != 0 && method != 8)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: zip entry '%s' uses compression method %u; only "
                     "stored (0) and deflate (8) are supported",
                     zip->display, name, method);
  if (method == 0 ? compressed_size != size
                  : size / MAX_DEFLATE_RATIO > compressed_size)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry '%s' claims %" G_GUINT64_FORMAT " bytes "
                     "from %" G_GUINT64_FORMAT, zip->display, name,
                     size, compressed_size);

  /* Sizes come from the central directory: torch writes data descriptors,
   * so the local header's are zero.  Its name and extra lengths differ
   * from the central ones (torch pads to align the data). */
  if (local_offset > data_end || data_end - local_offset < LOCAL_SIZE)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry '%s': local header offset %"
                     G_GUINT64_FORMAT " lies outside the archive",
                     zip->display, name, local_offset);
  local = zip->data + local_offset;
  if (rd32 (local) != SIG_LOCAL)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry '%s' has no local header at offset %"
                     G_GUINT64_FORMAT, zip->display, name, local_offset);
  data_offset = local_offset + LOCAL_SIZE + rd16 (local + 26) +
                rd16 (local + 28);
  if (data_offset > data_end || data_end - data_offset < compressed_size)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry '%s' (%" G_GUINT64_FORMAT " bytes at %"
                     G_GUINT64_FORMAT ") runs past the end of the data; "
                     "truncated?", zip->display, name, compressed_size,
                     data_offset);

  if (g_hash_table_contains (zip->by_name, name))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: zip entry '%s' appears twice", zip->display, name);

  entry = g_new0 (VaeZipEntry, 1);
  entry->name = g_steal_pointer (&name);
  entry->method = method;
  entry->crc32 = rd32 (p + 16);
  entry->compressed_size = compressed_size;
  entry->size = size;
  entry->data_offset = data_offset;
  g_ptr_array_add (zip->entries, entry);
  g_hash_table_insert (zip->by_name, entry->name, entry);

  return TRUE;
}

VaeZip *
vae_zip_open (const guint8  *data,
              gsize          size,
              const gchar   *display,
              GError       **error)
{
  g_autoptr(VaeZip) zip = NULL;
  gsize             end;
  gsize             lowest;
  guint64           n_here;
  guint64           n_entries;
  guint64           directory_size;
  guint64           directory_offset;
  guint64           directory_limit;
  guint64           pos;
  guint             disk;
  guint             directory_disk;
  guint64           i;

  zip = g_new0 (VaeZip, 1);
  zip->data = data;
  zip->size = size;
  zip->display = g_strdup (display);
  zip->entries = g_ptr_array_new_with_free_func (entry_free);
  zip->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  if (size < END_SIZE)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: %" G_GSIZE_FORMAT
                          " bytes is too short for a zip archive", display,
                          size);

  /* The end record is followed only by a comment of at most 65535 bytes. */
  lowest = size - END_SIZE > 65535 ? size - END_SIZE - 65535 : 0;
  for (end = size - END_SIZE; ; end--)
    {
      if (rd32 (data + end) == SIG_END &&
          end + END_SIZE + rd16 (data + end + 20) <= size)
        break;
      if (end == lowest)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: no zip end of central directory record; "
                              "truncated?", display);
    }

  disk = rd16 (data + end + 4);
  directory_disk = rd16 (data + end + 6);
  n_here = rd16 (data + end + 8);
  n_entries = rd16 (data + end + 10);
  directory_size = rd32 (data + end + 12);
  directory_offset = rd32 (data + end + 16);
  directory_limit = end;

  if (n_entries == 0xffff || directory_size == 0xffffffff ||
      directory_offset == 0xffffffff)
    {
      const guint8 *locator;
      const guint8 *end64;
      guint64       end64_offset;

      if (end < LOCATOR_SIZE ||
          rd32 (data + end - LOCATOR_SIZE) != SIG_END64_LOCATOR)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: zip end record needs Zip64 but has no Zip64 "
                              "locator", display);
      locator = data + end - LOCATOR_SIZE;
      end64_offset = rd64 (locator + 8);
      if (end64_offset > end - LOCATOR_SIZE ||
          end - LOCATOR_SIZE - end64_offset < END64_SIZE ||
          rd32 (data + end64_offset) != SIG_END64)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: damaged Zip64 end of central directory "
                              "record", display);
      end64 = data + end64_offset;
      disk = rd32 (end64 + 16);
      directory_disk = rd32 (end64 + 20);
      n_here = rd64 (end64 + 24);
      n_entries = rd64 (end64 + 32);
      directory_size = rd64 (end64 + 40);
      directory_offset = rd64 (end64 + 48);
      directory_limit = end64_offset;
    }

  if (disk != 0 || directory_disk != 0 || n_here != n_entries)
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "%s: zip archives split over several files are not "
                          "supported", display);
  if (directory_offset > directory_limit ||
      directory_limit - directory_offset < directory_size)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: zip central directory (%" G_GUINT64_FORMAT
                          " bytes at %" G_GUINT64_FORMAT ") lies outside the "
                          "archive; truncated?", display, directory_size,
                          directory_offset);
  if (n_entries > directory_size / CENTRAL_SIZE)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: zip central directory of %" G_GUINT64_FORMAT
                          " bytes cannot hold %" G_GUINT64_FORMAT " entries",
                          display, directory_size, n_entries);

  pos = directory_offset;
  for (i = 0; i < n_entries; i++)
    if (! read_entry (zip, &pos, directory_offset + directory_size,
                      directory_offset, i, error))
      return NULL;

  return g_steal_pointer (&zip);
}

guint
vae_zip_get_n_entries (VaeZip *zip)
{
  return zip->entries->len;
}

const VaeZipEntry *
vae_zip_get_entry (VaeZip *zip,
                   guint   index)
{
  g_return_val_if_fail (index < zip->entries->len, NULL);

  return g_ptr_array_index (zip->entries, index);
}

const VaeZipEntry *
vae_zip_find (VaeZip      *zip,
              const gchar *name)
{
  return g_hash_table_lookup (zip->by_name, name);
}

static gboolean
inflate_entry (VaeZip             *zip,
               const VaeZipEntry  *entry,
               guint8             *out,
               GError            **error)
{
  const guint8 *in = zip->data + entry->data_offset;
  guint64       in_left = entry->compressed_size;
  guint64       out_left = entry->size;
  z_stream      stream;
  int           ret;

  memset (&stream, 0, sizeof stream);
  /* negative window bits: raw deflate, as zip stores it */
  if (inflateInit2 (&stream, -MAX_WBITS) != Z_OK)
    return vae_fail (error, VAE_ERROR_NO_MEMORY,
                     "%s: cannot start inflating zip entry '%s'",
                     zip->display, entry->name);

  stream.next_out = out;
  do
    {
      /* zlib counts in 32 bits; feed a large entry in pieces. */
      if (stream.avail_in == 0 && in_left > 0)
        {
          stream.next_in = (Bytef *) in;
          stream.avail_in = MIN (in_left, G_MAXUINT32);
          in += stream.avail_in;
          in_left -= stream.avail_in;
        }
      if (stream.avail_out == 0 && out_left > 0)
        {
          stream.avail_out = MIN (out_left, G_MAXUINT32);
          out_left -= stream.avail_out;
        }
      ret = inflate (&stream, Z_NO_FLUSH);
    }
  while (ret == Z_OK);

  out_left += stream.avail_out;
  if (ret != Z_STREAM_END || out_left != 0)
    g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                 "%s: zip entry '%s' does not inflate to its %"
                 G_GUINT64_FORMAT " bytes%s%s",
                 zip->display, entry->name, entry->size,
                 stream.msg ? ": " : "", stream.msg ? stream.msg : "");
  inflateEnd (&stream);

  return ret == Z_STREAM_END && out_left == 0;
}

GBytes *
vae_zip_read (VaeZip             *zip,
              const VaeZipEntry  *entry,
              GError            **error)
{
  const guint8 *bytes;
  guint8       *buffer = NULL;
  guint32       crc;

  g_return_val_if_fail (zip != NULL && entry != NULL, NULL);

  if (entry->method == 0)
    {
      bytes = zip->data + entry->data_offset;
    }
  else
    {
      if (entry->size > G_MAXSIZE - 1 ||
          ! (buffer = g_try_malloc (MAX (entry->size, 1))))
        return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                              "%s: out of memory inflating zip entry '%s' (%"
                              G_GUINT64_FORMAT " MiB)", zip->display,
                              entry->name, entry->size >> 20);
      if (! inflate_entry (zip, entry, buffer, error))
        {
          g_free (buffer);
          return NULL;
        }
      bytes = buffer;
    }

  crc = crc32_z (0, bytes, entry->size);
  if (crc != entry->crc32)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: zip entry '%s' is damaged (CRC mismatch)",
                   zip->display, entry->name);
      g_free (buffer);
      return NULL;
    }

  if (buffer)
    return g_bytes_new_take (buffer, entry->size);

  return g_bytes_new_static (bytes, entry->size);
}
