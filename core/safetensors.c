/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* The safetensors format: an 8-byte little-endian header length, a JSON
 * object mapping tensor names to {dtype, shape, data_offsets} (plus an
 * optional "__metadata__" object of strings), then the data section that
 * the offsets index.  Nothing in a file is trusted: every number is checked
 * against the bytes really present before it is used.
 */

#include <string.h>

#include <json-glib/json-glib.h>

#include "vae-error-private.h"
#include "vae-json-private.h"
#include "vae-weights.h"

/* A well-formed header nests three levels deep and holds about eight JSON
 * values per tensor.  Both limits keep json-glib's recursion and its tree
 * (about a hundred bytes per value) small whatever the header says. */
#define MAX_JSON_DEPTH  32
#define MAX_JSON_VALUES ((guint64) 1 << 21)

typedef struct
{
  const gchar *name;        /* owned by the JSON tree */
  guint        index;       /* position in the header, to keep sorting stable */
  VaeDtype     dtype;
  gsize        skip_size;   /* element size of a tensor left out, else 0 */
  guint        n_dims;
  gsize        shape[VAE_WEIGHT_MAX_DIMS];
  guint64      n_elements;
  guint64      begin;
  guint64      end;
} Entry;

/* Integer and boolean tensors are no weights (step counters such as
 * bn.num_batches_tracked, position_ids in the text encoder of a full
 * checkpoint): checked like the others, then left out. */
static gsize
skipped_dtype_size (const gchar *name)
{
  static const struct { const gchar *name; gsize size; } skipped[] =
    {
      { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "U16", 2 }, { "I16", 2 },
      { "U32", 4 }, { "I32", 4 }, { "U64", 8 }, { "I64", 8 },
    };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (skipped); i++)
    if (strcmp (name, skipped[i].name) == 0)
      return skipped[i].size;

  return 0;
}

static gboolean
parse_dtype (const gchar *name,
             VaeDtype    *dtype)
{
  static const struct { const gchar *name; VaeDtype dtype; } known[] =
    {
      { "F32",  VAE_DTYPE_F32 },
      { "F16",  VAE_DTYPE_F16 },
      { "BF16", VAE_DTYPE_BF16 },
      { "F64",  VAE_DTYPE_F64 },
    };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (name, known[i].name) == 0)
      {
        *dtype = known[i].dtype;
        return TRUE;
      }

  return FALSE;
}

/* JSON integers only: 2.0 or 1e3 are not offsets. */
static gboolean
node_get_uint (JsonNode *node,
               guint64  *value)
{
  gint64 v;

  if (! node || ! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;

  v = json_node_get_int (node);
  if (v < 0)
    return FALSE;

  *value = (guint64) v;

  return TRUE;
}

static gchar *
shape_to_string (const Entry *entry)
{
  GString *str = g_string_new ("[");
  guint    i;

  for (i = 0; i < entry->n_dims; i++)
    g_string_append_printf (str, "%s%" G_GSIZE_FORMAT,
                            i ? ", " : "", entry->shape[i]);
  g_string_append_c (str, ']');

  return g_string_free (str, FALSE);
}

static gboolean
parse_entry (const gchar  *display,
             const gchar  *name,
             JsonNode     *node,
             guint64       data_size,
             Entry        *entry,
             GError      **error)
{
  JsonObject  *object;
  JsonNode    *member;
  JsonArray   *array;
  const gchar *dtype_name;
  guint64      n = 1;
  gsize        esize;
  guint        n_dims;
  guint        i;

  memset (entry, 0, sizeof *entry);
  entry->name = name;

  if (! JSON_NODE_HOLDS_OBJECT (node))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: header entry of tensor '%s' is not an object",
                     display, name);
  object = json_node_get_object (node);

  member = json_object_get_member (object, "dtype");
  if (! member || ! JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_STRING)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: tensor '%s' has no \"dtype\" string", display, name);
  dtype_name = json_node_get_string (member);

  member = json_object_get_member (object, "shape");
  if (! member || ! JSON_NODE_HOLDS_ARRAY (member))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: tensor '%s' has no \"shape\" array", display, name);
  array = json_node_get_array (member);
  n_dims = json_array_get_length (array);

  for (i = 0; i < n_dims; i++)
    {
      guint64 dim;

      if (! node_get_uint (json_array_get_element (array, i), &dim))
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: tensor '%s': shape dimension %u is not a "
                         "non-negative integer", display, name, i);
      if (dim > G_MAXSIZE || (dim != 0 && n > G_MAXUINT64 / dim))
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: tensor '%s': the shape's element count "
                         "overflows", display, name);
      n *= dim;
      if (i < VAE_WEIGHT_MAX_DIMS)
        entry->shape[i] = dim;
    }

  member = json_object_get_member (object, "data_offsets");
  if (! member || ! JSON_NODE_HOLDS_ARRAY (member) ||
      json_array_get_length (json_node_get_array (member)) != 2 ||
      ! node_get_uint (json_array_get_element (json_node_get_array (member),
                                               0), &entry->begin) ||
      ! node_get_uint (json_array_get_element (json_node_get_array (member),
                                               1), &entry->end))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: tensor '%s' has no \"data_offsets\" pair of "
                     "non-negative integers", display, name);
  if (entry->begin > entry->end || entry->end > data_size)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: tensor '%s': data_offsets [%" G_GUINT64_FORMAT
                     ", %" G_GUINT64_FORMAT "] lie outside the data section "
                     "(%" G_GUINT64_FORMAT " bytes)",
                     display, name, entry->begin, entry->end, data_size);

  entry->skip_size = skipped_dtype_size (dtype_name);
  if (entry->skip_size == 0 && ! parse_dtype (dtype_name, &entry->dtype))
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: tensor '%s' has dtype %s; only F32, F16, BF16 and "
                     "F64 are supported", display, name, dtype_name);

  if (n_dims > VAE_WEIGHT_MAX_DIMS)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: tensor '%s' has %u dimensions; at most %d are "
                     "supported", display, name, n_dims, VAE_WEIGHT_MAX_DIMS);
  entry->n_dims = n_dims;
  entry->n_elements = n;

  esize = entry->skip_size ? entry->skip_size : vae_dtype_size (entry->dtype);
  if (n > G_MAXUINT64 / esize || n * esize != entry->end - entry->begin)
    {
      g_autofree gchar *shape = shape_to_string (entry);

      if (n > G_MAXUINT64 / esize)
        g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                     "%s: tensor '%s': shape %s is too large",
                     display, name, shape);
      else
        g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                     "%s: tensor '%s': data_offsets [%" G_GUINT64_FORMAT
                     ", %" G_GUINT64_FORMAT "] hold %" G_GUINT64_FORMAT
                     " bytes, but shape %s of %s needs %" G_GUINT64_FORMAT,
                     display, name, entry->begin, entry->end,
                     entry->end - entry->begin, shape, dtype_name,
                     n * esize);
      return FALSE;
    }

  return TRUE;
}

static gboolean
parse_metadata (const gchar  *display,
                JsonNode     *node,
                VaeWeights   *weights,
                GError      **error)
{
  JsonObject *object;
  GList      *members;
  GList      *l;
  gboolean    ok = TRUE;

  if (! JSON_NODE_HOLDS_OBJECT (node))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"__metadata__\" is not an object", display);
  object = json_node_get_object (node);
  members = json_object_get_members (object);

  for (l = members; l; l = l->next)
    {
      const gchar *key = l->data;
      JsonNode    *value = json_object_get_member (object, key);

      if (! JSON_NODE_HOLDS_VALUE (value) ||
          json_node_get_value_type (value) != G_TYPE_STRING)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: metadata '%s' is not a string", display, key);
          ok = FALSE;
          break;
        }
      vae_weights_set_metadata (weights, key, json_node_get_string (value));
    }

  g_list_free (members);

  return ok;
}

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const Entry *ea = a;
  const Entry *eb = b;

  if (ea->begin != eb->begin)
    return ea->begin < eb->begin ? -1 : 1;

  return ea->index < eb->index ? -1 : ea->index > eb->index;
}

/**
 * vae_safetensors_parse:
 * @data: (array length=size): the whole file
 * @size: its length
 * @path: the path (or display name) to keep; its base name starts every
 *   error message
 * @keep: (nullable): the mapping @data lies in, for lazy widening
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the floating-point weights in the
 *   order of their data offsets (integer tensors are checked, then left
 *   out), widened to f32 now or, with @keep, on first lookup.
 */
VaeWeights *
vae_safetensors_parse (const guint8  *data,
                       gsize          size,
                       const gchar   *path,
                       GMappedFile   *keep,
                       GError       **error)
{
  g_autoptr(VaeWeights)  weights = NULL;
  g_autoptr(JsonParser)  parser = NULL;
  g_autoptr(GError)      json_error = NULL;
  g_autoptr(GArray)      entries = NULL;
  g_autofree gchar      *display = NULL;
  g_autofree gchar      *problem = NULL;
  JsonObject            *root;
  JsonNode              *metadata = NULL;
  GList                 *members;
  GList                 *l;
  const guint8          *section;
  guint64                header_length;
  guint64                data_size;
  guint64                previous_end = 0;
  const gchar           *previous_name = NULL;
  guint                  i;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  weights = vae_weights_new (path);
  display = g_strdup (vae_weights_get_display_name (weights));

  if (size < 8)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: %" G_GSIZE_FORMAT " bytes is too short for a "
                          "safetensors file", display, size);

  memcpy (&header_length, data, 8);
  header_length = GUINT64_FROM_LE (header_length);

  if (header_length > VAE_SAFETENSORS_MAX_HEADER)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: header length %" G_GUINT64_FORMAT " is over the "
                          "%" G_GUINT64_FORMAT " byte limit; not a safetensors "
                          "file?", display, header_length,
                          VAE_SAFETENSORS_MAX_HEADER);
  if (header_length > size - 8)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: header length %" G_GUINT64_FORMAT
                          " runs past the end of the file (%" G_GSIZE_FORMAT
                          " bytes)", display, header_length, size);

  if (! vae_json_check ((const gchar *) data + 8, header_length,
                       MAX_JSON_DEPTH, MAX_JSON_VALUES, &problem))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: header is not valid JSON: %s", display, problem);

  parser = json_parser_new_immutable ();
  if (! json_parser_load_from_data (parser, (const gchar *) data + 8,
                                    (gssize) header_length, &json_error))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: header is not valid JSON: %s",
                          display, json_error->message);
  if (! json_parser_get_root (parser) ||
      ! JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: header is not a JSON object", display);
  root = json_node_get_object (json_parser_get_root (parser));

  section = data + 8 + header_length;
  data_size = size - 8 - header_length;

  entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  members = json_object_get_members (root);

  for (l = members; l; l = l->next)
    {
      const gchar *name = l->data;
      JsonNode    *node = json_object_get_member (root, name);
      Entry        entry;

      if (strcmp (name, "__metadata__") == 0)
        {
          metadata = node;
          continue;
        }

      if (! parse_entry (display, name, node, data_size, &entry, error))
        {
          g_list_free (members);
          return NULL;
        }
      entry.index = entries->len;
      g_array_append_val (entries, entry);
    }
  g_list_free (members);

  if (metadata && ! parse_metadata (display, metadata, weights, error))
    return NULL;

  /* File order is data order: a checkpoint's state-dict order survives
   * even when a writer sorted the JSON keys. */
  g_array_sort (entries, compare_entries);

  for (i = 0; i < entries->len; i++)
    {
      const Entry *entry = &g_array_index (entries, Entry, i);

      if (entry->begin == entry->end)
        continue;
      if (previous_name && entry->begin < previous_end)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: tensors '%s' and '%s' overlap in the data "
                              "section", display, previous_name, entry->name);
      previous_end = entry->end;
      previous_name = entry->name;
    }

  for (i = 0; i < entries->len; i++)
    {
      const Entry *entry = &g_array_index (entries, Entry, i);
      VaeWeight   *weight;

      if (entry->skip_size)
        continue;

      if (keep)
        {
          weight = vae_weights_add_lazy (weights, entry->name, entry->dtype,
                                         entry->n_dims, entry->shape,
                                         section + entry->begin, error);
          if (! weight)
            return NULL;
          continue;
        }

      weight = vae_weights_add (weights, entry->name, entry->dtype,
                                entry->n_dims, entry->shape, error);
      if (! weight)
        return NULL;

      vae_dtype_widen (entry->dtype, section + entry->begin, weight->data,
                       weight->n_elements);
    }

  if (keep)
    vae_weights_keep (weights, keep);

  return g_steal_pointer (&weights);
}
