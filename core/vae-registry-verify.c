/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Checking installed files against the registry: sizes, SHA-256 sums,
 * and the tensor count where no sum is known.
 */

#include <string.h>

#include <json-glib/json-glib.h>

#include "vae-error-private.h"
#include "vae-file-types.h"
#include "vae-json-private.h"
#include "vae-registry-private.h"
#include "vae-sha256-private.h"
#include "vae-weights.h"

#define READ_CHUNK        ((gsize) 1 << 20)

/* --- verification ------------------------------------------------------------- */

/**
 * vae_registry_check_free:
 * @check: (nullable): a #VaeRegistryCheck
 */
void
vae_registry_check_free (VaeRegistryCheck *check)
{
  if (check)
    {
      g_free (check->name);
      g_free (check->location);
      g_free (check->message);
      g_free (check);
    }
}

static VaeRegistryCheck *
check_new (const FileSpec    *file,
           const gchar       *location,
           VaeRegistryStatus  status,
           gchar             *message)
{
  VaeRegistryCheck *check = g_new0 (VaeRegistryCheck, 1);

  check->name = g_strdup (file->name);
  check->location = g_strdup (location);
  check->status = status;
  check->message = message;

  return check;
}

/* Tensors in a safetensors header, or -1 when @data does not hold one. */
static gint
count_tensors (const guint8 *data,
               gsize         size)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonNode              *root;
  guint64                length = 0;
  gint                   n;

  if (! vae_safetensors_sniff (data, size, &length) || length > size - 8)
    return -1;

  if (! vae_json_check ((const gchar *) data + 8, length, MAX_JSON_DEPTH,
                        MAX_JSON_VALUES, NULL))
    return -1;
  parser = json_parser_new ();
  if (! json_parser_load_from_data (parser, (const gchar *) data + 8, length, NULL))
    return -1;
  root = json_parser_get_root (parser);
  if (root == NULL || ! JSON_NODE_HOLDS_OBJECT (root))
    return -1;
  n = json_object_get_size (json_node_get_object (root));
  if (json_object_has_member (json_node_get_object (root), "__metadata__"))
    n--;

  return n;
}

/* Reads the header of a safetensors file, not the tensors. */
static gint
count_tensors_in_file (const gchar *path)
{
  g_autoptr (GFile)            file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, NULL);
  g_autofree guint8           *buffer = NULL;
  guint8                       head[9];
  guint64                      length = 0;
  gsize                        got;

  if (in == NULL ||
      ! g_input_stream_read_all (G_INPUT_STREAM (in), head, 9, &got, NULL, NULL) ||
      ! vae_safetensors_sniff (head, got, &length) ||
      length > MAX_REGISTRY_SIZE)
    return -1;

  buffer = g_malloc (8 + length);
  memcpy (buffer, head, 9);
  if (! g_input_stream_read_all (G_INPUT_STREAM (in), buffer + 9, length - 1,
                                 &got, NULL, NULL) || got != length - 1)
    return -1;

  return count_tensors (buffer, 8 + length);
}

/* The SHA-256 of a file, read in chunks so that a 300 MB VAE does not sit
 * in memory. */
gchar *
vae_registry_sum_file (const gchar   *path,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr (GFile)            file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = NULL;
  VaeSha256                    sum;
  gchar                        hex[VAE_SHA256_HEX_LENGTH + 1];
  g_autofree guint8           *buffer = g_malloc (READ_CHUNK);
  gssize                       got;

  in = g_file_read (file, cancellable, error);
  if (in == NULL)
    return NULL;
  vae_sha256_init (&sum, FALSE);
  while ((got = g_input_stream_read (G_INPUT_STREAM (in), buffer, READ_CHUNK,
                                     cancellable, error)) > 0)
    vae_sha256_update (&sum, buffer, got);
  if (got < 0)
    return NULL;
  vae_sha256_finish (&sum, hex);

  return g_strdup (hex);
}

/* Checks one file at @location against @file.  @path is the file on disk,
 * or NULL for @bytes in memory. */
static VaeRegistryCheck *
check_file (const FileSpec  *file,
            const gchar     *location,
            const gchar     *path,
            GBytes          *bytes,
            GCancellable    *cancellable,
            GError         **error)
{
  g_autofree gchar  *sum = NULL;
  g_autoptr (GError) local_error = NULL;
  gint64             size;

  size = path ? vae_registry_file_size (path) : (gint64) g_bytes_get_size (bytes);
  if (size < 0)
    return check_new (file, location, VAE_REGISTRY_STATUS_MISSING,
                      g_strdup_printf ("%s: missing", location));
  if (file->size >= 0 && size != file->size)
    return check_new (file, location, VAE_REGISTRY_STATUS_WRONG_SIZE,
                      g_strdup_printf ("%s: %" G_GINT64_FORMAT " bytes, the "
                                       "registry says %" G_GINT64_FORMAT
                                       " (incomplete download or another "
                                       "file)", location, size, file->size));
  if (file->sha256[0] == '\0')
    return check_new (file, location, VAE_REGISTRY_STATUS_UNCHECKED,
                      g_strdup_printf ("%s: present, no SHA-256 in the "
                                       "registry to check it against",
                                       location));

  if (path)
    {
      sum = vae_registry_sum_file (path, cancellable, &local_error);
      if (sum == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            return vae_fail_null (error, VAE_ERROR_CANCELLED,
                                  "verification cancelled");
          return check_new (file, location, VAE_REGISTRY_STATUS_UNREADABLE,
                            g_strdup_printf ("%s: cannot read: %s", location,
                                             local_error->message));
        }
    }
  else
    {
      sum = vae_sha256_data (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }

  if (! g_str_equal (sum, file->sha256))
    return check_new (file, location, VAE_REGISTRY_STATUS_WRONG_SUM,
                      g_strdup_printf ("%s: SHA-256 %s, the registry says %s "
                                       "(the file is damaged or another "
                                       "version)", location, sum, file->sha256));

  return check_new (file, location, VAE_REGISTRY_STATUS_OK,
                    g_strdup_printf ("%s: OK (%" G_GINT64_FORMAT " bytes, "
                                     "SHA-256 matches)", location, size));
}

/* Without sums the tensor count is the only check of content: applied when
 * every file of the set is unchecked safetensors. */
static void
check_tensor_count (const VaeRegistryEntry *entry,
                    GPtrArray              *checks,
                    guint                   first,
                    GBytes                 *bytes)
{
  gint  total = 0;
  guint i;

  if (entry->n_tensors == 0 || first >= checks->len)
    return;

  for (i = first; i < checks->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (checks, i);
      gint              n;

      if (check->status != VAE_REGISTRY_STATUS_UNCHECKED ||
          ! g_str_has_suffix (check->name, ".safetensors"))
        return;
      if (bytes)
        n = count_tensors (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      else
        n = count_tensors_in_file (check->location);
      if (n < 0)
        {
          check->status = VAE_REGISTRY_STATUS_WRONG_TENSORS;
          g_free (check->message);
          check->message = g_strdup_printf ("%s: not a safetensors file",
                                            check->location);
          return;
        }
      total += n;
    }

  if ((guint) total == entry->n_tensors)
    {
      for (i = first; i < checks->len; i++)
        {
          VaeRegistryCheck *check = g_ptr_array_index (checks, i);
          gchar            *message;

          message = g_strdup_printf ("%s; holds the expected %u tensors",
                                     check->message, entry->n_tensors);
          g_free (check->message);
          check->message = message;
        }
      return;
    }

  for (i = first; i < checks->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (checks, i);

      check->status = VAE_REGISTRY_STATUS_WRONG_TENSORS;
      g_free (check->message);
      check->message = g_strdup_printf ("%s: %s %d tensors, the registry says "
                                        "%s has %u", check->location,
                                        checks->len - first > 1 ? "the set holds"
                                                                : "holds",
                                        total, entry->id, entry->n_tensors);
    }
}

/* For a model not (completely) installed: the first folder holding some of
 * its files, and the set with the most of them there. */
static gboolean
find_partial (VaeRegistry            *registry,
              const VaeRegistryEntry *entry,
              Location               *location)
{
  guint i, j, k;

  for (i = 0; registry->search_path[i]; i++)
    {
      g_autofree gchar *own = g_build_filename (registry->search_path[i],
                                                entry->id, NULL);
      guint             best = 0;

      for (j = 0; j < entry->sets->len; j++)
        {
          const gchar *set = g_ptr_array_index (entry->sets, j);
          guint        n = 0;

          for (k = 0; k < entry->files->len; k++)
            {
              const FileSpec   *file = &g_array_index (entry->files, FileSpec, k);
              g_autofree gchar *path = g_build_filename (own, file->name, NULL);

              if (g_str_equal (file->set, set) && vae_registry_file_size (path) >= 0)
                n++;
            }
          if (n > best)
            {
              best = n;
              location->set = set;
            }
        }
      if (best > 0)
        {
          location->folder = g_steal_pointer (&own);
          return TRUE;
        }
    }

  return FALSE;
}

static gboolean
check_set (const VaeRegistryEntry  *entry,
           const Location          *location,
           GPtrArray               *checks,
           GCancellable            *cancellable,
           GError                 **error)
{
  guint first = checks->len;
  guint i;

  for (i = 0; i < entry->files->len; i++)
    {
      const FileSpec   *file = &g_array_index (entry->files, FileSpec, i);
      g_autofree gchar *path = NULL;
      VaeRegistryCheck *check;

      if (! g_str_equal (file->set, location->set))
        continue;
      path = g_build_filename (location->folder, file->name, NULL);
      check = check_file (file, path, path, NULL, cancellable, error);
      if (check == NULL)
        return FALSE;
      g_ptr_array_add (checks, check);
    }
  check_tensor_count (entry, checks, first, NULL);

  return TRUE;
}

/**
 * vae_registry_verify:
 * @registry: a registry
 * @entry: one of its entries
 * @checks: (out) (optional) (transfer full) (element-type VaeRegistryCheck):
 *   one result per file checked
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Checks the installed files of @entry against the registry: each must
 * exist and have the listed size and SHA-256 sum (read in chunks, so large
 * files need little memory).  Where the registry lists no sum, the file's
 * tensors are counted instead.  A copy compiled into libvae is checked
 * too.  When only some files of a model are installed, the missing ones
 * are reported.
 *
 * Returns: %TRUE when every file checked is intact (or present without a
 *   sum to check); %FALSE with @error set otherwise: %VAE_ERROR_IO when
 *   the model is not installed or a file is missing or unreadable,
 *   %VAE_ERROR_FORMAT when a file is damaged, %VAE_ERROR_CANCELLED.
 */
gboolean
vae_registry_verify (VaeRegistry             *registry,
                     const VaeRegistryEntry  *entry,
                     GPtrArray              **checks,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GBytes)    bytes = NULL;
  Location              location = { 0 };
  gboolean              installed;
  VaeRegistryCheck     *failed = NULL;
  guint                 n_failed = 0;
  guint                 i;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  if (checks)
    *checks = NULL;
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) vae_registry_check_free);

  installed = vae_registry_find_location (registry, entry, &location) ||
              find_partial (registry, entry, &location);
  if (installed && ! check_set (entry, &location, list, cancellable, error))
    {
      g_free (location.folder);
      return FALSE;
    }
  g_free (location.folder);

  bytes = vae_registry_embedded_bytes (registry, entry);
  if (bytes)
    {
      const FileSpec   *file = &g_array_index (entry->files, FileSpec, 0);
      g_autofree gchar *uri = NULL;
      g_autofree gchar *path = vae_registry_resource_path (entry, file->name);
      guint             first = list->len;

      uri = g_strconcat ("resource://", path, NULL);
      g_ptr_array_add (list, check_file (file, uri, NULL, bytes, NULL, NULL));
      check_tensor_count (entry, list, first, bytes);
    }

  if (! installed && bytes == NULL)
    {
      g_autofree gchar *where = vae_registry_describe_search_path (registry);

      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "%s is not installed (looked in %s)", entry->id, where);
      if (checks)
        *checks = g_steal_pointer (&list);
      return FALSE;
    }

  for (i = 0; i < list->len; i++)
    {
      VaeRegistryCheck *check = g_ptr_array_index (list, i);

      if (check->status != VAE_REGISTRY_STATUS_OK &&
          check->status != VAE_REGISTRY_STATUS_UNCHECKED)
        {
          if (failed == NULL)
            failed = check;
          n_failed++;
        }
    }

  if (failed)
    {
      gboolean io = failed->status == VAE_REGISTRY_STATUS_MISSING ||
                    failed->status == VAE_REGISTRY_STATUS_UNREADABLE;

      if (n_failed > 1)
        g_set_error (error, VAE_ERROR, io ? VAE_ERROR_IO : VAE_ERROR_FORMAT,
                     "%s: %u files failed the check, the first: %s",
                     entry->id, n_failed, failed->message);
      else
        g_set_error (error, VAE_ERROR, io ? VAE_ERROR_IO : VAE_ERROR_FORMAT,
                     "%s: %s", entry->id, failed->message);
    }

  if (checks)
    *checks = g_steal_pointer (&list);

  return failed == NULL;
}
