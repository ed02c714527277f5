/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* PyTorch zip checkpoints: find <archive>/data.pkl, read the tensor views
 * it describes (pickle.c), then copy each view out of its storage entry
 * <archive>/data/<key>, widening to f32.
 */

#include <string.h>

#include "vae-error.h"
#include "pth-private.h"

/* Views may share storages (tied weights) or repeat elements (stride 0),
 * so the f32 copies can outgrow the file.  Past this many times the bytes
 * of the storages, plus some slack, a file is taken to be an attempt to
 * exhaust memory.  The storages' sizes are what the archive's directory
 * gives, checked before anything is inflated or allocated. */
#define MAX_VIEW_GROWTH  8
#define VIEW_SLACK       ((guint64) 4 << 20)

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
 * storage's bytes against storage_numel by the caller. */
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

/* Every storage a tensor names must be an entry of the archive with room
 * for the elements the pickle claims, and the views together may not
 * outgrow the storages by much: both checked on the sizes in the zip
 * directory, before a byte is inflated or a float allocated. */
static gboolean
check_sizes (const gchar  *display,
             VaeZip       *zip,
             const gchar  *prefix,
             GPtrArray    *tensors,
             GError      **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  guint64               storage_bytes = 0;
  guint64               view_bytes = 0;
  guint                 i;

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      g_autofree gchar      *entry_name = NULL;
      const VaeZipEntry     *entry;
      gsize                  esize = vae_dtype_size (t->dtype);

      /* Each tensor: two may name one storage with different sizes. */
      entry_name = g_strdup_printf ("%s/data/%s", prefix, t->storage_key);
      entry = vae_zip_find (zip, entry_name);
      if (! entry)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: tensor '%s': its storage '%s' is missing",
                       display, t->name, entry_name);
          return FALSE;
        }
      if (t->storage_numel > entry->size / esize)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: tensor '%s': storage '%s' holds %"
                       G_GUINT64_FORMAT " bytes, too few for %"
                       G_GUINT64_FORMAT " %s elements", display, t->name,
                       t->storage_key, entry->size, t->storage_numel,
                       vae_dtype_name (t->dtype));
          return FALSE;
        }
      if (g_hash_table_add (seen, (gpointer) entry))
        storage_bytes += entry->size;
      view_bytes = MIN (view_bytes + t->n_elements * sizeof (gfloat),
                        G_MAXUINT64 / 16);
    }

  if (view_bytes > MAX_VIEW_GROWTH * storage_bytes + VIEW_SLACK)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                   "%s: the tensors view %" G_GUINT64_FORMAT " MiB of "
                   "floats in storages of %" G_GUINT64_FORMAT " bytes; "
                   "refusing to copy that much", display, view_bytes >> 20,
                   storage_bytes);
      return FALSE;
    }

  return TRUE;
}

VaeWeights *
vae_pth_parse (const guint8  *data,
               gsize          size,
               const gchar   *path,
               GError       **error)
{
  g_autoptr(VaeWeights)  weights = NULL;
  g_autoptr(VaeZip)      zip = NULL;
  g_autoptr(GPtrArray)   tensors = NULL;
  g_autoptr(GHashTable)  storages = NULL;
  g_autoptr(GBytes)      pickle = NULL;
  g_autofree gchar      *display = NULL;
  g_autofree gchar      *prefix = NULL;
  g_autofree gchar      *entry_name = NULL;
  g_autofree gchar      *label = NULL;
  const VaeZipEntry     *entry;
  const gchar           *first;
  const gchar           *slash;
  guint                  i;

  weights = vae_weights_new (path);
  display = g_strdup (vae_weights_get_display_name (weights));

  zip = vae_zip_open (data, size, display, error);
  if (! zip)
    return NULL;

  /* Like torch, take the archive folder from the first entry: torch names
   * it after the file, and renamed files keep the old name. */
  first = vae_zip_get_n_entries (zip) ?
          vae_zip_get_entry (zip, 0)->name : "";
  slash = strchr (first, '/');
  prefix = slash ? g_strndup (first, slash - first) : NULL;
  entry_name = g_strdup_printf ("%s/data.pkl", prefix ? prefix : "archive");
  entry = prefix ? vae_zip_find (zip, entry_name) : NULL;
  if (! entry)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: a zip archive without '%s': not a PyTorch checkpoint",
                   display, entry_name);
      return NULL;
    }

  /* before inflating: a megabyte can inflate to a gigabyte */
  if (entry->size > VAE_PICKLE_MAX_SIZE)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                   "%s: '%s' of %" G_GUINT64_FORMAT " bytes is over the %"
                   G_GSIZE_FORMAT " MiB limit for a checkpoint's pickle",
                   display, entry_name, entry->size,
                   VAE_PICKLE_MAX_SIZE >> 20);
      return NULL;
    }
  pickle = vae_zip_read (zip, entry, error);
  if (! pickle)
    return NULL;

  g_free (entry_name);
  entry_name = g_strdup_printf ("%s/byteorder", prefix);
  entry = vae_zip_find (zip, entry_name);
  if (entry)
    {
      g_autoptr(GBytes) order = NULL;
      gsize             length = 0;
      const gchar      *text = NULL;

      if (entry->size == 6)
        {
          order = vae_zip_read (zip, entry, error);
          if (! order)
            return NULL;
          text = g_bytes_get_data (order, &length);
        }
      if (length != 6 || memcmp (text, "little", 6) != 0)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                       "%s: only little-endian checkpoints are supported",
                       display);
          return NULL;
        }
    }

  label = g_strdup_printf ("%s: %s/data.pkl", display, prefix);
  tensors = vae_pickle_load_tensors (g_bytes_get_data (pickle, NULL),
                                     g_bytes_get_size (pickle),
                                     label, error);
  if (! tensors)
    return NULL;

  if (! check_sizes (display, zip, prefix, tensors, error))
    return NULL;

  storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) g_bytes_unref);

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      GBytes                *bytes;
      VaeWeight             *weight;

      bytes = g_hash_table_lookup (storages, t->storage_key);
      if (! bytes)
        {
          g_free (entry_name);
          entry_name = g_strdup_printf ("%s/data/%s", prefix,
                                        t->storage_key);
          entry = vae_zip_find (zip, entry_name);
          bytes = vae_zip_read (zip, entry, error);
          if (! bytes)
            return NULL;
          g_hash_table_insert (storages, g_strdup (t->storage_key), bytes);
        }

      weight = vae_weights_add (weights, t->name, t->dtype, t->n_dims,
                                t->shape, error);
      if (! weight)
        return NULL;

      gather (g_bytes_get_data (bytes, NULL), t, weight->data);
    }

  return g_steal_pointer (&weights);
}
