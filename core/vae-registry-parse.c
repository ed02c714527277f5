/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Reading models.json: strictly, since a registry comes from anywhere
 * (an unknown key, a missing field, a number where a string belongs, a
 * malformed sum, two models of one id, two defaults are errors).
 */

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "vae-error-private.h"
#include "vae-json-private.h"
#include "vae-registry-private.h"

#define FORMAT_VERSION    1

/* --- entries ------------------------------------------------------------ */

static void
file_spec_clear (gpointer data)
{
  FileSpec *file = data;

  g_free (file->name);
  g_free (file->set);
  g_free (file->sha256);
  g_free (file->url);
}

static void
entry_free (gpointer data)
{
  VaeRegistryEntry *entry = data;

  g_free (entry->id);
  g_free (entry->name);
  g_free (entry->architecture);
  g_free (entry->license);
  g_free (entry->homepage);
  g_free (entry->note);
  g_clear_pointer (&entry->files, g_array_unref);
  g_clear_pointer (&entry->sets, g_ptr_array_unref);
  g_clear_pointer (&entry->views, g_array_unref);
  g_free (entry);
}

static const gchar *
first_set (const VaeRegistryEntry *entry)
{
  return g_ptr_array_index (entry->sets, 0);
}


/* --- strict JSON reading -------------------------------------------------- */

static gboolean
check_keys (JsonObject          *object,
            const gchar * const *allowed,
            const gchar         *where,
            GError             **error)
{
  g_autoptr (GList) members = json_object_get_members (object);
  GList *l;

  for (l = members; l; l = l->next)
    if (! g_strv_contains (allowed, l->data))
      return vae_fail (error, VAE_ERROR_FORMAT, "%s: unknown key \"%s\"",
                       where, (const gchar *) l->data);

  return TRUE;
}

static gboolean
get_object (JsonNode     *node,
            const gchar  *where,
            JsonObject  **object,
            GError      **error)
{
  *object = NULL;
  if (! JSON_NODE_HOLDS_OBJECT (node))
    return vae_fail (error, VAE_ERROR_FORMAT, "%s is not an object", where);
  *object = json_node_get_object (node);

  return TRUE;
}

/* The member @key in *@node, NULL when it is absent (an error when
 * @required); present, it must be a value of @type (G_TYPE_DOUBLE takes
 * integers too), else the error says it must be @what.  A null integer
 * counts as absent. */
static gboolean
get_member (JsonObject   *object,
            const gchar  *key,
            gboolean      required,
            GType         type,
            const gchar  *what,
            const gchar  *where,
            JsonNode    **node,
            GError      **error)
{
  GType found;

  *node = json_object_get_member (object, key);
  if (*node != NULL && type == G_TYPE_INT64 && JSON_NODE_HOLDS_NULL (*node))
    *node = NULL;
  if (*node == NULL)
    return ! required ||
           vae_fail (error, VAE_ERROR_FORMAT, "%s: \"%s\" is missing", where,
                     key);

  found = JSON_NODE_HOLDS_VALUE (*node) ? json_node_get_value_type (*node)
                                        : G_TYPE_INVALID;
  if (found != type && ! (type == G_TYPE_DOUBLE && found == G_TYPE_INT64))
    return vae_fail (error, VAE_ERROR_FORMAT, "%s: \"%s\" must be %s", where,
                     key, what);

  return TRUE;
}

/* The member @key as a string; absent is allowed (an empty one) unless
 * @required, and then it must not be empty either. */
static gboolean
get_string (JsonObject   *object,
            const gchar  *key,
            gboolean      required,
            const gchar  *where,
            gchar       **value,
            GError      **error)
{
  JsonNode *node;

  *value = NULL;
  if (! get_member (object, key, required, G_TYPE_STRING, "a string", where,
                    &node, error))
    return FALSE;
  *value = g_strdup (node ? json_node_get_string (node) : "");
  if (required && **value == '\0')
    {
      g_clear_pointer (value, g_free);
      return vae_fail (error, VAE_ERROR_FORMAT, "%s: \"%s\" is empty", where,
                       key);
    }

  return TRUE;
}

/* An integer in [min, max]; a JSON number with a fraction or exponent is
 * refused, so that "factor": 8.5 cannot pass as 8. */
static gboolean
get_int (JsonObject   *object,
         const gchar  *key,
         gboolean      required,
         gint64        fallback,
         gint64        min,
         gint64        max,
         const gchar  *where,
         gint64       *value,
         GError      **error)
{
  JsonNode *node;

  *value = fallback;
  if (! get_member (object, key, required, G_TYPE_INT64, "an integer", where,
                    &node, error))
    return FALSE;
  if (node == NULL)
    return TRUE;
  *value = json_node_get_int (node);
  if (*value < min || *value > max)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"%s\" is %" G_GINT64_FORMAT ", not between %"
                     G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                     where, key, *value, min, max);

  return TRUE;
}

static gboolean
get_double (JsonObject   *object,
            const gchar  *key,
            gdouble       fallback,
            const gchar  *where,
            gdouble      *value,
            GError      **error)
{
  JsonNode *node;

  *value = fallback;
  if (! get_member (object, key, FALSE, G_TYPE_DOUBLE, "a number", where,
                    &node, error))
    return FALSE;
  if (node != NULL)
    *value = json_node_get_double (node);

  return TRUE;
}

static gboolean
get_bool (JsonObject   *object,
          const gchar  *key,
          const gchar  *where,
          gboolean     *value,
          GError      **error)
{
  JsonNode *node;

  *value = FALSE;
  if (! get_member (object, key, FALSE, G_TYPE_BOOLEAN, "true or false", where,
                    &node, error))
    return FALSE;
  if (node != NULL)
    *value = json_node_get_boolean (node);

  return TRUE;
}

/* Both for models and families. */
static gboolean
check_scale_shift (gdouble       scale,
                   gdouble       shift,
                   const gchar  *where,
                   GError      **error)
{
  if (! isfinite (scale) || scale <= 0.0 || ! isfinite (shift))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"scale\" must be a positive number and \"shift\" a "
                     "finite one", where);

  return TRUE;
}

gboolean
vae_registry_valid_id (const gchar *id)
{
  const gchar *p;

  if (! g_ascii_islower (id[0]) && ! g_ascii_isdigit (id[0]))
    return FALSE;
  for (p = id; *p; p++)
    if (! g_ascii_islower (*p) && ! g_ascii_isdigit (*p) && ! strchr ("._-+", *p))
      return FALSE;

  return p - id <= 64;
}

static gboolean
valid_file_name (const gchar *name)
{
  return name[0] != '\0' && name[0] != '.' &&
         strchr (name, '/') == NULL && strchr (name, '\\') == NULL;
}

static gboolean
valid_sha256 (const gchar *sum)
{
  guint i;

  if (sum[0] == '\0')
    return TRUE;
  for (i = 0; sum[i]; i++)
    if (! g_ascii_isdigit (sum[i]) && ! (sum[i] >= 'a' && sum[i] <= 'f'))
      return FALSE;

  return i == 64;
}

static gboolean
valid_url (const gchar *url)
{
  return url[0] == '\0' || g_str_has_prefix (url, "https://") ||
         g_str_has_prefix (url, "http://");
}

static gboolean
parse_file (JsonNode     *node,
            const gchar  *where,
            FileSpec     *file,
            GError      **error)
{
  static const gchar *const keys[] = {
    "name", "set", "size", "sha256", "url", NULL
  };
  JsonObject *object;
  gint64      size;

  if (! get_object (node, where, &object, error) ||
      ! check_keys (object, keys, where, error) ||
      ! get_string (object, "name", TRUE, where, &file->name, error) ||
      ! get_string (object, "set", FALSE, where, &file->set, error) ||
      ! get_int (object, "size", FALSE, -1, 0, G_MAXINT64, where, &size, error) ||
      ! get_string (object, "sha256", FALSE, where, &file->sha256, error) ||
      ! get_string (object, "url", FALSE, where, &file->url, error))
    return FALSE;
  file->size = size;

  if (! valid_file_name (file->name))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"%s\" is not a plain file name", where, file->name);
  if (! valid_sha256 (file->sha256))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"sha256\" must be 64 lower-case hex digits or empty",
                     where);
  if (! valid_url (file->url))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"url\" must be an http(s) address or empty", where);

  return TRUE;
}

static VaeRegistryEntry *
parse_entry (JsonNode     *node,
             const gchar  *source,
             guint         index,
             GError      **error)
{
  static const gchar *const keys[] = {
    "id", "name", "architecture", "latent_channels", "factor", "scale",
    "shift", "tensors", "license", "homepage", "note", "default",
    "codec", "embedded", "files", NULL
  };
  VaeRegistryEntry *entry;
  g_autofree gchar *where = g_strdup_printf ("%s: model %u", source, index + 1);
  JsonObject       *object;
  JsonNode         *files;
  JsonArray        *array;
  gint64            value;
  guint             i, j;

  if (! get_object (node, where, &object, error))
    return NULL;

  entry = g_new0 (VaeRegistryEntry, 1);
  entry->files = g_array_new (FALSE, TRUE, sizeof (FileSpec));
  g_array_set_clear_func (entry->files, file_spec_clear);
  entry->sets = g_ptr_array_new ();
  entry->views = g_array_new (FALSE, TRUE, sizeof (VaeRegistryFile));

  if (! get_string (object, "id", TRUE, where, &entry->id, error))
    goto fail;
  if (! vae_registry_valid_id (entry->id))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: id \"%s\" must be lower-case letters, digits and . _ - +",
                   where, entry->id);
      goto fail;
    }
  g_free (where);
  where = g_strdup_printf ("%s: model %s", source, entry->id);

  if (! check_keys (object, keys, where, error) ||
      ! get_string (object, "name", TRUE, where, &entry->name, error) ||
      ! get_string (object, "architecture", TRUE, where, &entry->architecture, error) ||
      ! get_string (object, "license", FALSE, where, &entry->license, error) ||
      ! get_string (object, "homepage", FALSE, where, &entry->homepage, error) ||
      ! get_string (object, "note", FALSE, where, &entry->note, error) ||
      ! get_bool (object, "default", where, &entry->is_default, error) ||
      ! get_bool (object, "codec", where, &entry->is_codec, error) ||
      ! get_bool (object, "embedded", where, &entry->embedded, error) ||
      ! get_double (object, "scale", 1.0, where, &entry->scale, error) ||
      ! get_double (object, "shift", 0.0, where, &entry->shift, error))
    goto fail;

  if (! get_int (object, "latent_channels", TRUE, 0, 1, 4096, where, &value, error))
    goto fail;
  entry->latent_channels = value;
  if (! get_int (object, "factor", TRUE, 0, 1, 1024, where, &value, error))
    goto fail;
  entry->factor = value;
  if (! get_int (object, "tensors", FALSE, 0, 0, 1000000, where, &value, error))
    goto fail;
  entry->n_tensors = value;

  if (! check_scale_shift (entry->scale, entry->shift, where, error))
    goto fail;
  if (! valid_url (entry->homepage))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"homepage\" must be an http(s) address or empty", where);
      goto fail;
    }

  files = json_object_get_member (object, "files");
  if (files == NULL || ! JSON_NODE_HOLDS_ARRAY (files) ||
      json_array_get_length (json_node_get_array (files)) == 0)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"files\" must be a non-empty list", where);
      goto fail;
    }
  array = json_node_get_array (files);

  for (i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree gchar *file_where = g_strdup_printf ("%s: file %u", where, i + 1);
      FileSpec          file = { 0 };

      if (! parse_file (json_array_get_element (array, i), file_where, &file, error))
        {
          file_spec_clear (&file);
          goto fail;
        }
      for (j = 0; j < entry->files->len; j++)
        if (g_str_equal (g_array_index (entry->files, FileSpec, j).name, file.name))
          {
            g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                         "%s: file \"%s\" is listed twice", where, file.name);
            file_spec_clear (&file);
            goto fail;
          }
      g_array_append_val (entry->files, file);
    }

  for (i = 0; i < entry->files->len; i++)
    {
      FileSpec        *file = &g_array_index (entry->files, FileSpec, i);
      VaeRegistryFile  view = { file->name, file->set, file->size,
                                file->sha256, file->url };
      gboolean         seen = FALSE;

      for (j = 0; j < entry->sets->len; j++)
        seen = seen || g_str_equal (g_ptr_array_index (entry->sets, j), file->set);
      if (! seen)
        g_ptr_array_add (entry->sets, file->set);
      g_array_append_val (entry->views, view);
    }

  /* Embedded models load from memory, one safetensors file each. */
  if (entry->embedded)
    {
      const FileSpec *file = &g_array_index (entry->files, FileSpec, 0);
      guint           n = 0;

      for (i = 0; i < entry->files->len; i++)
        n += g_str_equal (g_array_index (entry->files, FileSpec, i).set, first_set (entry));
      if (n != 1 || ! g_str_has_suffix (file->name, ".safetensors"))
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: an embedded model must be one .safetensors file",
                       where);
          goto fail;
        }
    }

  return entry;

fail:
  entry_free (entry);

  return NULL;
}

/* A list of strings, absent: an empty one. */
static gboolean
get_strings (JsonObject   *object,
             const gchar  *key,
             const gchar  *where,
             GStrv        *value,
             GError      **error)
{
  JsonNode                *node = json_object_get_member (object, key);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray               *array;
  guint                    i;

  *value = NULL;
  if (node != NULL && ! JSON_NODE_HOLDS_ARRAY (node))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"%s\" must be a list of strings", where, key);
  array = node ? json_node_get_array (node) : NULL;
  for (i = 0; array && i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);

      if (! JSON_NODE_HOLDS_VALUE (item) ||
          json_node_get_value_type (item) != G_TYPE_STRING)
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: \"%s\" must be a list of strings", where, key);
      g_strv_builder_add (builder, json_node_get_string (item));
    }
  *value = g_strv_builder_end (builder);

  return TRUE;
}

static void
family_free (gpointer data)
{
  Family *family = data;

  g_free (family->architecture);
  g_strfreev (family->traits);
  g_free (family->metadata_key);
  g_strfreev (family->metadata_words);
  g_free (family->id);
  g_free (family->name);
  g_free (family);
}

/* {"key": ..., "contains": [...]}: the file's metadata value under key,
 * lower-cased, holds one of the words. */
static gboolean
parse_metadata_rule (JsonObject   *object,
                     const gchar  *where,
                     Family       *family,
                     GError      **error)
{
  static const gchar *const keys[] = { "key", "contains", NULL };
  JsonNode          *node = json_object_get_member (object, "metadata");
  JsonObject        *rule;
  guint              i;

  if (node == NULL)
    return TRUE;
  if (! JSON_NODE_HOLDS_OBJECT (node))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"metadata\" must be an object", where);
  rule = json_node_get_object (node);
  if (! check_keys (rule, keys, where, error) ||
      ! get_string (rule, "key", TRUE, where, &family->metadata_key, error) ||
      ! get_strings (rule, "contains", where, &family->metadata_words, error))
    return FALSE;
  for (i = 0; family->metadata_words[i]; i++)
    {
      gchar *lower = g_ascii_strdown (family->metadata_words[i], -1);

      g_free (family->metadata_words[i]);
      family->metadata_words[i] = lower;
    }

  return TRUE;
}

/* A family: what to call a model the registry does not list by its files,
 * from its structure (see vae-registry-identify.c). */
static Family *
parse_family (JsonNode     *node,
              const gchar  *source,
              guint         index,
              GError      **error)
{
  static const gchar *const keys[] = {
    "id", "name", "architecture", "latent_channels", "factor", "traits",
    "metadata", "scale", "shift", NULL
  };
  g_autofree gchar *where = g_strdup_printf ("%s: family %u", source, index + 1);
  g_autofree gchar *sample = NULL;
  Family           *family;
  JsonObject       *object;
  gint64            value;

  if (! get_object (node, where, &object, error))
    return NULL;
  family = g_new0 (Family, 1);

  if (! check_keys (object, keys, where, error) ||
      ! get_string (object, "id", TRUE, where, &family->id, error) ||
      ! get_string (object, "name", TRUE, where, &family->name, error) ||
      ! get_string (object, "architecture", TRUE, where, &family->architecture,
                    error) ||
      ! get_int (object, "latent_channels", FALSE, 0, 0, 4096, where, &value,
                 error))
    goto fail;
  family->latent_channels = value;
  if (! get_int (object, "factor", FALSE, 0, 0, 1024, where, &value, error))
    goto fail;
  family->factor = value;
  if (! get_strings (object, "traits", where, &family->traits, error) ||
      ! parse_metadata_rule (object, where, family, error) ||
      ! get_double (object, "scale", 1.0, where, &family->scale, error) ||
      ! get_double (object, "shift", 0.0, where, &family->shift, error))
    goto fail;

  sample = vae_registry_family_expand (family->id, 4);
  if (! vae_registry_valid_id (sample))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: id \"%s\" must be lower-case letters, digits and . _ - "
                   "+ (and {channels})", where, family->id);
      goto fail;
    }
  if (! check_scale_shift (family->scale, family->shift, where, error))
    goto fail;

  return family;

fail:
  family_free (family);

  return NULL;
}

/* "families": optional, a list in the order they are tried. */
static GPtrArray *
parse_families (JsonObject   *root,
                const gchar  *source,
                GError      **error)
{
  JsonNode  *node = json_object_get_member (root, "families");
  GPtrArray *families = g_ptr_array_new_with_free_func (family_free);
  JsonArray *array;
  guint      i;

  if (node == NULL)
    return families;
  if (! JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"families\" must be a list", source);
      g_ptr_array_unref (families);
      return NULL;
    }
  array = json_node_get_array (node);
  for (i = 0; i < json_array_get_length (array); i++)
    {
      Family *family = parse_family (json_array_get_element (array, i), source,
                                     i, error);

      if (family == NULL)
        {
          g_ptr_array_unref (families);
          return NULL;
        }
      g_ptr_array_add (families, family);
    }

  return families;
}

/* "{channels}" in a family's id or name stands for the latent channels. */
gchar *
vae_registry_family_expand (const gchar *text,
                            guint        latent_channels)
{
  g_autoptr (GString) out = g_string_new (text);
  g_autofree gchar   *channels = g_strdup_printf ("%u", latent_channels);

  g_string_replace (out, "{channels}", channels, 0);

  return g_strdup (out->str);
}

gboolean
vae_registry_parse (const gchar  *data,
                    gssize        length,
                    const gchar  *source,
                    GPtrArray   **entries_out,
                    GPtrArray   **families,
                    GError      **error)
{
  static const gchar *const keys[] = {
    "format_version", "note", "models", "families", NULL
  };
  g_autoptr (JsonParser)  parser = json_parser_new ();
  g_autoptr (GError)      json_error = NULL;
  g_autoptr (GPtrArray)   entries = NULL;
  g_autofree gchar       *problem = NULL;
  JsonObject             *root;
  JsonNode               *models;
  JsonArray              *array;
  gint64                  version;
  const gchar            *default_id = NULL;
  guint                   i, j;

  if (length < 0)
    length = strlen (data);
  if (! vae_json_check (data, length, MAX_JSON_DEPTH, MAX_JSON_VALUES,
                        &problem))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: not valid JSON: %s", source, problem);
  if (! json_parser_load_from_data (parser, data, length, &json_error))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: not valid JSON: %s", source, json_error->message);
  if (json_parser_get_root (parser) == NULL ||
      ! JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: the registry must be a JSON object", source);
  root = json_node_get_object (json_parser_get_root (parser));

  if (! check_keys (root, keys, source, error) ||
      ! get_int (root, "format_version", TRUE, 0, 1, G_MAXINT, source,
                 &version, error))
    return FALSE;
  if (version != FORMAT_VERSION)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: registry format %" G_GINT64_FORMAT " is not supported "
                     "(this libvae reads format %d)", source, version,
                     FORMAT_VERSION);

  models = json_object_get_member (root, "models");
  if (models == NULL || ! JSON_NODE_HOLDS_ARRAY (models))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: \"models\" must be a list", source);
  array = json_node_get_array (models);

  entries = g_ptr_array_new_with_free_func (entry_free);

  for (i = 0; i < json_array_get_length (array); i++)
    {
      VaeRegistryEntry *entry;

      entry = parse_entry (json_array_get_element (array, i), source, i, error);
      if (entry == NULL)
        return FALSE;

      for (j = 0; j < entries->len; j++)
        if (g_str_equal (((VaeRegistryEntry *) g_ptr_array_index (entries, j))->id,
                         entry->id))
          {
            g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                         "%s: model id \"%s\" is listed twice", source, entry->id);
            entry_free (entry);
            return FALSE;
          }
      if (entry->is_default)
        {
          if (default_id)
            {
              g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                           "%s: both \"%s\" and \"%s\" are marked default",
                           source, default_id, entry->id);
              entry_free (entry);
              return FALSE;
            }
          default_id = entry->id;
        }
      g_ptr_array_add (entries, entry);
    }

  *families = parse_families (root, source, error);
  if (*families == NULL)
    return FALSE;
  *entries_out = g_steal_pointer (&entries);

  return TRUE;
}
