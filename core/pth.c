/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* PyTorch checkpoints.  The zip format (torch 1.6 and later): find
 * <archive>/data.pkl, read the tensor views it describes (pickle.c), then
 * take each view from its storage entry <archive>/data/<key>.  The legacy
 * format: five pickles, then every storage's bytes in a row.  Views that
 * are contiguous runs of bytes in the file stay there until a model looks
 * them up, as safetensors tensors do; the rest (strided or expanded views,
 * deflated entries) are widened to f32 now.
 */

#include <string.h>

#include <zlib.h>

#include "vae-error-private.h"
#include "pth-private.h"

/* Views may share storages (tied weights) or repeat elements (stride 0),
 * so the f32 copies can outgrow the file.  Past this many times the bytes
 * of the storages, plus some slack, a file is taken to be an attempt to
 * exhaust memory.  The storages' sizes are what the file really holds
 * (the zip directory, the legacy layout), checked before anything is
 * inflated or allocated. */
#define MAX_VIEW_GROWTH  8
#define VIEW_SLACK       ((guint64) 4 << 20)

/* Where a storage's bytes are. */
typedef struct
{
  gchar             *name;      /* for messages: the zip entry, or the key */
  guint64            size;      /* bytes the file holds for it */
  const guint8      *bytes;     /* NULL until a deflated entry is read */
  gboolean           in_file;   /* bytes lie in the file itself */
  const VaeZipEntry *entry;     /* zip: what to read */
  gboolean           verified;  /* a stored zip entry's CRC was checked */
  VaeWeightCheck    *check;     /* ... or will be, by the lazy tensors */
} Storage;

static void
storage_free (gpointer data)
{
  Storage *storage = data;

  g_free (storage->name);
  g_free (storage);
}

/* A checkpoint being read: its bytes, and where the bytes of each storage
 * its tensors name lie. */
typedef struct
{
  const guint8 *data;
  gsize         size;
  gchar        *display;
  GHashTable   *storages;   /* storage key -> Storage */
  VaeZip       *zip;        /* the zip format's directory, else NULL */
} Checkpoint;

static void
checkpoint_clear (Checkpoint *ck)
{
  g_clear_pointer (&ck->storages, g_hash_table_unref);
  g_clear_pointer (&ck->zip, vae_zip_free);
  g_clear_pointer (&ck->display, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Checkpoint, checkpoint_clear)

static gboolean
is_contiguous (const VaePickleTensor *t)
{
  guint64 expected = 1;
  gint    d;

  for (d = (gint) t->n_dims - 1; d >= 0; d--)
    {
      if (t->shape[d] != 1 && t->stride[d] != expected)
        return FALSE;
      expected *= t->shape[d];
    }

  return TRUE;
}

/* The view was checked against storage_numel by the pickle reader and the
 * storage's bytes against storage_numel by check_sizes(). */
static void
gather (const guint8          *storage,
        const VaePickleTensor *t,
        gfloat                *out)
{
  gsize  esize = vae_dtype_size (t->dtype);
  gsize  index[VAE_WEIGHT_MAX_DIMS] = { 0 };
  guint64 k;

  if (t->n_elements == 0)
    return;

  if (is_contiguous (t))
    {
      vae_dtype_widen (t->dtype, storage + t->offset * esize, out,
                       t->n_elements);
      return;
    }

  for (k = 0; k < t->n_elements; k++)
    {
      guint64 element = t->offset;
      gint    d;

      for (d = 0; d < (gint) t->n_dims; d++)
        element += index[d] * t->stride[d];
      out[k] = vae_dtype_load (t->dtype, storage + element * esize);

      for (d = (gint) t->n_dims - 1; d >= 0; d--)
        {
          if (++index[d] < t->shape[d])
            break;
          index[d] = 0;
        }
    }
}

/* Every storage a tensor names must be there with room for the elements
 * the pickle claims (each tensor: two may name one storage with different
 * sizes), and the views together may not outgrow the storages by much. */
static gboolean
check_sizes (const Checkpoint  *ck,
             GPtrArray         *tensors,
             GError           **error)
{
  const gchar          *display = ck->display;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  guint64               storage_bytes = 0;
  guint64               view_bytes = 0;
  guint                 i;

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      const Storage         *storage;

      storage = g_hash_table_lookup (ck->storages, t->storage_key);
      if (! storage)
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: tensor '%s': its storage '%s' is missing",
                         display, t->name, t->storage_key);
      if (storage->entry == NULL && storage->bytes == NULL)
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: tensor '%s': its storage '%s' is missing",
                         display, t->name, storage->name);
      if (t->storage_numel > storage->size / vae_dtype_size (t->dtype))
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: tensor '%s': storage '%s' holds %"
                         G_GUINT64_FORMAT " bytes, too few for %"
                         G_GUINT64_FORMAT " %s elements", display, t->name,
                         t->storage_key, storage->size, t->storage_numel,
                         vae_dtype_name (t->dtype));
      if (g_hash_table_add (seen, (gpointer) storage))
        storage_bytes += storage->size;
      view_bytes = MIN (view_bytes + t->n_elements * sizeof (gfloat),
                        G_MAXUINT64 / 16);
    }

  if (view_bytes > MAX_VIEW_GROWTH * storage_bytes + VIEW_SLACK)
    return vae_fail (error, VAE_ERROR_NO_MEMORY,
                     "%s: the tensors view %" G_GUINT64_FORMAT " MiB of "
                     "floats in storages of %" G_GUINT64_FORMAT " bytes; "
                     "refusing to copy that much", display, view_bytes >> 20,
                     storage_bytes);

  return TRUE;
}

/* Adds the checked views to @weights: lazy where the bytes stay in @keep's
 * mapping, copied otherwise. */
static gboolean
add_tensors (VaeWeights        *weights,
             const Checkpoint  *ck,
             GPtrArray         *tensors,
             GMappedFile       *keep,
             GError           **error)
{
  g_autoptr(GPtrArray) inflated = g_ptr_array_new_with_free_func (
                                    (GDestroyNotify) g_bytes_unref);
  guint                i;

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      Storage               *storage;
      VaeWeight             *weight;

      gboolean               lazy;

      storage = g_hash_table_lookup (ck->storages, t->storage_key);
      lazy = keep && storage->in_file && is_contiguous (t);
      if (! storage->bytes)
        {
          /* deflated: the zip reader inflates and checks the CRC */
          GBytes *bytes = vae_zip_read (ck->zip, storage->entry, error);

          if (! bytes)
            return FALSE;
          g_ptr_array_add (inflated, bytes);
          storage->bytes = g_bytes_get_data (bytes, NULL);
          storage->verified = TRUE;
        }
      else if (storage->entry && ! lazy && ! storage->verified)
        {
          if (crc32_z (0, storage->bytes, storage->size) !=
              storage->entry->crc32)
            return vae_fail (error, VAE_ERROR_FORMAT,
                             "%s: zip entry '%s' is damaged (CRC mismatch)",
                             ck->display, storage->name);
          storage->verified = TRUE;
        }

      if (lazy)
        {
          weight = vae_weights_add_lazy (weights, t->name, t->dtype,
                                         t->n_dims, t->shape,
                                         storage->bytes + t->offset *
                                         vae_dtype_size (t->dtype),
                                         error);
          /* a stored entry's CRC is checked when a model first widens a
           * tensor of it: the file's other gigabytes stay unread */
          if (weight && storage->entry && ! storage->verified)
            {
              if (! storage->check)
                storage->check = vae_weights_add_check (weights,
                                                        storage->name,
                                                        storage->bytes,
                                                        storage->size,
                                                        storage->entry->crc32);
              weight->check = storage->check;
            }
        }
      else
        {
          weight = vae_weights_add (weights, t->name, t->dtype, t->n_dims,
                                    t->shape, error);
          if (weight)
            gather (storage->bytes, t, weight->data);
        }
      if (! weight)
        return FALSE;
    }

  if (keep)
    vae_weights_keep (weights, keep);

  return TRUE;
}

/* The zip format: the tensors <archive>/data.pkl describes, and the
 * entry of each storage they name. */
static GPtrArray *
read_zip (Checkpoint  *ck,
          GError     **error)
{
  const gchar           *display = ck->display;
  g_autoptr(GPtrArray)   tensors = NULL;
  g_autoptr(GBytes)      pickle = NULL;
  g_autofree gchar      *prefix = NULL;
  g_autofree gchar      *entry_name = NULL;
  g_autofree gchar      *label = NULL;
  const VaeZipEntry     *entry;
  const gchar           *first;
  const gchar           *slash;
  guint                  i;

  ck->zip = vae_zip_open (ck->data, ck->size, display, error);
  if (! ck->zip)
    return NULL;

  /* Like torch, take the archive folder from the first entry: torch names
   * it after the file, and renamed files keep the old name. */
  first = vae_zip_get_n_entries (ck->zip) ?
          vae_zip_get_entry (ck->zip, 0)->name : "";
  slash = strchr (first, '/');
  prefix = slash ? g_strndup (first, slash - first) : NULL;
  entry_name = g_strdup_printf ("%s/data.pkl", prefix ? prefix : "archive");
  entry = prefix ? vae_zip_find (ck->zip, entry_name) : NULL;
  if (! entry)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: a zip archive without '%s': not a PyTorch "
                          "checkpoint", display, entry_name);

  /* before inflating: a megabyte can inflate to a gigabyte */
  if (entry->size > VAE_PICKLE_MAX_SIZE)
    return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                          "%s: '%s' of %" G_GUINT64_FORMAT
                          " bytes is over the %" G_GSIZE_FORMAT
                          " MiB limit for a checkpoint's pickle", display,
                          entry_name, entry->size, VAE_PICKLE_MAX_SIZE >> 20);
  pickle = vae_zip_read (ck->zip, entry, error);
  if (! pickle)
    return NULL;

  g_free (entry_name);
  entry_name = g_strdup_printf ("%s/byteorder", prefix);
  entry = vae_zip_find (ck->zip, entry_name);
  if (entry)
    {
      g_autoptr(GBytes) order = NULL;
      gsize             length = 0;
      const gchar      *text = NULL;

      if (entry->size == 6)
        {
          order = vae_zip_read (ck->zip, entry, error);
          if (! order)
            return NULL;
          text = g_bytes_get_data (order, &length);
        }
      if (length != 6 || memcmp (text, "little", 6) != 0)
        return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                              "%s: only little-endian checkpoints are "
                              "supported", display);
    }

  label = g_strdup_printf ("%s: %s/data.pkl", display, prefix);
  tensors = vae_pickle_load_tensors (g_bytes_get_data (pickle, NULL),
                                     g_bytes_get_size (pickle),
                                     label, error);
  if (! tensors)
    return NULL;

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      Storage               *storage;

      if (g_hash_table_contains (ck->storages, t->storage_key))
        continue;
      storage = g_new0 (Storage, 1);
      storage->name = g_strdup_printf ("%s/data/%s", prefix, t->storage_key);
      storage->entry = vae_zip_find (ck->zip, storage->name);
      if (storage->entry)
        {
          storage->size = storage->entry->size;
          storage->in_file = storage->entry->method == 0;
          if (storage->in_file)
            storage->bytes = ck->data + storage->entry->data_offset;
        }
      g_hash_table_insert (ck->storages, t->storage_key, storage);
    }

  return g_steal_pointer (&tensors);
}

/* The legacy format: the pickles (pickle.c), then the storages in the
 * order the last pickle lists them. */
static GPtrArray *
read_legacy (Checkpoint  *ck,
             GError     **error)
{
  const guint8          *data = ck->data;
  gsize                  size = ck->size;
  const gchar           *display = ck->display;
  g_autoptr(GPtrArray)   tensors = NULL;
  g_autoptr(GPtrArray)   layout = NULL;
  gsize                  pos;
  guint                  i;

  tensors = vae_pickle_load_legacy (data, size, display, &layout, &pos,
                                    error);
  if (! tensors)
    return NULL;

  for (i = 0; i < layout->len; i++)
    {
      const VaePickleStorage *s = g_ptr_array_index (layout, i);
      Storage                *storage;
      guint64                 count;

      if (size - pos < 8)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: the file ends before storage %u of %u; "
                              "truncated?", display, i + 1, layout->len);
      memcpy (&count, data + pos, 8);
      count = GUINT64_FROM_LE (count);
      pos += 8;
      if (count > (size - pos) / s->esize)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: storage %u of %u (%" G_GUINT64_FORMAT
                              " elements "
                              "of %u bytes) runs past the end of the file; "
                              "truncated?", display, i + 1, layout->len, count,
                              s->esize);
      if (g_hash_table_contains (ck->storages, s->key))
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: storage %u is listed twice", display, i + 1);

      storage = g_new0 (Storage, 1);
      storage->name = g_strdup (s->key);
      storage->size = count * s->esize;
      storage->bytes = data + pos;
      storage->in_file = TRUE;
      g_hash_table_insert (ck->storages, storage->name, storage);
      pos += count * s->esize;
    }

  return g_steal_pointer (&tensors);
}

/* torch.save's legacy format starts with a pickled magic number
 * (0x1950a86a20f9469cfc6c as a LONG1), in protocol 2 unless the caller
 * asked for another: 0x80 <protocol>, then for protocol 4 and later a
 * FRAME, then 0x8a 0x0a and the number. */
gboolean
vae_pth_is_legacy (const guint8 *data,
                   gsize         size)
{
  static const guint8 number[] =
    { 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50,
      0x19 };

  if (size < 2 + sizeof number || data[0] != 0x80 || data[1] < 2 ||
      data[1] > 5)
    return FALSE;
  if (memcmp (data + 2, number, sizeof number) == 0)
    return TRUE;

  return size >= 11 + sizeof number && data[2] == 0x95 &&
         memcmp (data + 11, number, sizeof number) == 0;
}

VaeWeights *
vae_pth_parse (const guint8  *data,
               gsize          size,
               const gchar   *path,
               GMappedFile   *keep,
               GError       **error)
{
  g_auto(Checkpoint)     ck = { .data = data, .size = size };
  g_autoptr(VaeWeights)  weights = NULL;
  g_autoptr(GPtrArray)   tensors = NULL;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  weights = vae_weights_new (path);
  ck.display = g_strdup (vae_weights_get_display_name (weights));
  ck.storages = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       storage_free);

  tensors = vae_pth_is_legacy (data, size) ? read_legacy (&ck, error)
                                           : read_zip (&ck, error);
  if (! tensors || ! check_sizes (&ck, tensors, error) ||
      ! add_tensors (weights, &ck, tensors, keep, error))
    return NULL;

  return g_steal_pointer (&weights);
}
