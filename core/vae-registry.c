/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * The model registry: a JSON list of known models (data/models.json,
 * compiled into libvae as a GResource together with the weights of the
 * models it marks "embedded"), the search path where users put weight
 * files, and the one call that turns what a user typed into a loaded
 * model.
 *
 * Where an entry is installed: in each search-path folder D, in order,
 * either D/<id>/ holding every file of one of the entry's file sets, or
 * those files directly in D.  Loose files are only taken for the entry when
 * the name matches and so does the size; where the registry does not know
 * the size, only when no other entry lists a file of that name
 * (FLUX.1 and FLUX.2 both call theirs ae.safetensors).
 */

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "vae-error.h"
#include "vae-file-types.h"
#include "vae-json-private.h"
#include "vae-registry.h"
#include "vae-resources.h"
#include "vae-weights.h"

#define RESOURCE_PREFIX   "/org/gimp-vae"
#define RESOURCE_REGISTRY RESOURCE_PREFIX "/models.json"
#define FORMAT_VERSION    1
#define READ_CHUNK        ((gsize) 1 << 20)
/* A registry is a few kilobytes; anything this large is not one. */
#define MAX_REGISTRY_SIZE ((gsize) 16 << 20)
/* The registry nests five levels (root, models, entry, files, file); a
 * safetensors header three.  Values: a registry of thousands of models, a
 * header of a quarter million tensors. */
#define MAX_JSON_DEPTH    32
#define MAX_JSON_VALUES   ((guint64) 1 << 21)

typedef struct
{
  gchar  *name;
  gchar  *set;
  gint64  size;
  gchar  *sha256;
  gchar  *url;
} FileSpec;

struct _VaeRegistryEntry
{
  gchar     *id;
  gchar     *name;
  gchar     *architecture;
  gchar     *license;
  gchar     *homepage;
  gchar     *note;
  guint      latent_channels;
  guint      factor;
  guint      n_tensors;
  gdouble    scale;
  gdouble    shift;
  gboolean   is_default;
  gboolean   is_codec;
  gboolean   embedded;
  GArray    *files;         /* FileSpec, in registry order */
  GPtrArray *sets;          /* distinct set names, first-listed first */
  GArray    *views;         /* VaeRegistryFile pointing into files */
};

struct _VaeRegistry
{
  gint       ref_count;
  gchar     *source;
  GPtrArray *entries;       /* VaeRegistryEntry * */
  GStrv      search_path;
  GResource *resource;      /* where embedded weights are looked up */
};

/* Where the files of one set were found. */
typedef struct
{
  gchar       *folder;
  const gchar *set;
} Location;


/* The resource compiled from data/ (registry and embedded weights).  It is
 * generated for manual registration so that nothing depends on a
 * constructor running; registering adds it to the process-wide resource
 * namespace under /org/gimp-vae. */
static GResource *
resources (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      vae_resources_register_resource ();
      g_once_init_leave (&once, 1);
    }

  return vae_resources_get_resource ();
}


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
      {
        g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                     "%s: unknown key \"%s\"", where, (const gchar *) l->data);
        return FALSE;
      }

  return TRUE;
}

/* The member @key as a string; absent is allowed (NULL) unless @required. */
static gboolean
get_string (JsonObject   *object,
            const gchar  *key,
            gboolean      required,
            const gchar  *where,
            gchar       **value,
            GError      **error)
{
  JsonNode *node = json_object_get_member (object, key);

  *value = NULL;
  if (node == NULL)
    {
      if (required)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: \"%s\" is missing", where, key);
          return FALSE;
        }
      *value = g_strdup ("");
      return TRUE;
    }
  if (! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" must be a string", where, key);
      return FALSE;
    }
  *value = g_strdup (json_node_get_string (node));
  if (required && **value == '\0')
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" is empty", where, key);
      g_clear_pointer (value, g_free);
      return FALSE;
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
  JsonNode *node = json_object_get_member (object, key);

  *value = fallback;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: \"%s\" is missing", where, key);
          return FALSE;
        }
      return TRUE;
    }
  if (! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" must be an integer", where, key);
      return FALSE;
    }
  *value = json_node_get_int (node);
  if (*value < min || *value > max)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" is %" G_GINT64_FORMAT ", not between %"
                   G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                   where, key, *value, min, max);
      return FALSE;
    }

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
  JsonNode *node = json_object_get_member (object, key);
  GType     type;

  *value = fallback;
  if (node == NULL)
    return TRUE;

  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node)
                                      : G_TYPE_INVALID;
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" must be a number", where, key);
      return FALSE;
    }
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
  JsonNode *node = json_object_get_member (object, key);

  *value = FALSE;
  if (node == NULL)
    return TRUE;
  if (! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" must be true or false", where, key);
      return FALSE;
    }
  *value = json_node_get_boolean (node);

  return TRUE;
}

/* Ids name folders and are typed by users: lower case, digits and . _ - +,
 * starting with a letter or digit. */
static gboolean
valid_id (const gchar *id)
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

  if (! JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s is not an object", where);
      return FALSE;
    }
  object = json_node_get_object (node);

  if (! check_keys (object, keys, where, error) ||
      ! get_string (object, "name", TRUE, where, &file->name, error) ||
      ! get_string (object, "set", FALSE, where, &file->set, error) ||
      ! get_int (object, "size", FALSE, -1, 0, G_MAXINT64, where, &size, error) ||
      ! get_string (object, "sha256", FALSE, where, &file->sha256, error) ||
      ! get_string (object, "url", FALSE, where, &file->url, error))
    return FALSE;
  file->size = size;

  if (! valid_file_name (file->name))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"%s\" is not a plain file name", where, file->name);
      return FALSE;
    }
  if (! valid_sha256 (file->sha256))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"sha256\" must be 64 lower-case hex digits or empty",
                   where);
      return FALSE;
    }
  if (! valid_url (file->url))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"url\" must be an http(s) address or empty", where);
      return FALSE;
    }

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

  if (! JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s is not an object", where);
      return NULL;
    }
  object = json_node_get_object (node);

  entry = g_new0 (VaeRegistryEntry, 1);
  entry->files = g_array_new (FALSE, TRUE, sizeof (FileSpec));
  g_array_set_clear_func (entry->files, file_spec_clear);
  entry->sets = g_ptr_array_new ();
  entry->views = g_array_new (FALSE, TRUE, sizeof (VaeRegistryFile));

  if (! get_string (object, "id", TRUE, where, &entry->id, error))
    goto fail;
  if (! valid_id (entry->id))
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

  if (! isfinite (entry->scale) || entry->scale <= 0.0 || ! isfinite (entry->shift))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"scale\" must be a positive number and \"shift\" a "
                   "finite one", where);
      goto fail;
    }
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

static VaeRegistry *
registry_parse (const gchar  *data,
                gssize        length,
                const gchar  *source,
                GError      **error)
{
  static const gchar *const keys[] = {
    "format_version", "note", "models", NULL
  };
  g_autoptr (JsonParser)  parser = json_parser_new ();
  g_autoptr (GError)      json_error = NULL;
  g_autoptr (VaeRegistry) registry = NULL;
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
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: not valid JSON: %s", source, problem);
      return NULL;
    }
  if (! json_parser_load_from_data (parser, data, length, &json_error))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: not valid JSON: %s", source, json_error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL ||
      ! JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: the registry must be a JSON object", source);
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));

  if (! check_keys (root, keys, source, error) ||
      ! get_int (root, "format_version", TRUE, 0, 1, G_MAXINT, source,
                 &version, error))
    return NULL;
  if (version != FORMAT_VERSION)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "%s: registry format %" G_GINT64_FORMAT " is not supported "
                   "(this libvae reads format %d)", source, version,
                   FORMAT_VERSION);
      return NULL;
    }

  models = json_object_get_member (root, "models");
  if (models == NULL || ! JSON_NODE_HOLDS_ARRAY (models))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: \"models\" must be a list", source);
      return NULL;
    }
  array = json_node_get_array (models);

  registry = g_new0 (VaeRegistry, 1);
  registry->ref_count = 1;
  registry->source = g_strdup (source);
  registry->entries = g_ptr_array_new_with_free_func (entry_free);
  registry->search_path = vae_registry_default_search_path ();
  registry->resource = g_resource_ref (resources ());

  for (i = 0; i < json_array_get_length (array); i++)
    {
      VaeRegistryEntry *entry;

      entry = parse_entry (json_array_get_element (array, i), source, i, error);
      if (entry == NULL)
        return NULL;

      for (j = 0; j < registry->entries->len; j++)
        if (g_str_equal (((VaeRegistryEntry *) g_ptr_array_index (registry->entries, j))->id,
                         entry->id))
          {
            g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                         "%s: model id \"%s\" is listed twice", source, entry->id);
            entry_free (entry);
            return NULL;
          }
      if (entry->is_default)
        {
          if (default_id)
            {
              g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                           "%s: both \"%s\" and \"%s\" are marked default",
                           source, default_id, entry->id);
              entry_free (entry);
              return NULL;
            }
          default_id = entry->id;
        }
      g_ptr_array_add (registry->entries, entry);
    }

  return g_steal_pointer (&registry);
}


/* --- construction --------------------------------------------------------- */

/**
 * vae_registry_new:
 * @error: return location for a #GError
 *
 * Loads the registry compiled into libvae (the project's
 * `data/models.json`), with the search path of
 * vae_registry_default_search_path() as the environment says now.
 *
 * Returns: (transfer full) (nullable): the registry, or %NULL with @error
 *   set.
 */
VaeRegistry *
vae_registry_new (GError **error)
{
  return vae_registry_new_from_resource (resources (), error);
}

/**
 * vae_registry_new_from_resource:
 * @resource: a #GResource laid out as the one compiled into libvae
 * @error: return location for a #GError
 *
 * Loads the registry at `/org/gimp-vae/models.json` in @resource; the
 * weights of its embedded models are looked up in @resource too, at
 * `/org/gimp-vae/models/ID/FILE`.  `data/gen-gresource.py` writes the
 * description of such a resource from a registry file.
 *
 * Returns: (transfer full) (nullable): the registry, or %NULL with @error
 *   set.
 */
VaeRegistry *
vae_registry_new_from_resource (GResource  *resource,
                                GError    **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  VaeRegistry       *registry;
  gconstpointer      data;
  gsize              size;

  g_return_val_if_fail (resource != NULL, NULL);

  bytes = g_resource_lookup_data (resource, RESOURCE_REGISTRY,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, &local_error);
  if (bytes == NULL)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "the model registry is missing from its resource: %s",
                   local_error->message);
      return NULL;
    }
  data = g_bytes_get_data (bytes, &size);

  registry = registry_parse (data, size, "resource://" RESOURCE_REGISTRY, error);
  if (registry)
    {
      g_resource_unref (registry->resource);
      registry->resource = g_resource_ref (resource);
    }

  return registry;
}

/**
 * vae_registry_new_from_file:
 * @path: a registry JSON file
 * @error: return location for a #GError
 *
 * Loads a registry from a file, such as an installed `models.json` or a
 * test fixture.  Anything that does not follow the format exactly (an
 * unknown key, a missing field, a number where a string belongs, a
 * malformed SHA-256 sum, two models of one id, two defaults) is an error.
 *
 * Returns: (transfer full) (nullable): the registry, or %NULL with @error
 *   set (%VAE_ERROR_IO, %VAE_ERROR_FORMAT or %VAE_ERROR_UNSUPPORTED for a
 *   newer format).
 */
VaeRegistry *
vae_registry_new_from_file (const gchar  *path,
                            GError      **error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GError)      local_error = NULL;
  VaeRegistry            *registry;
  const gchar            *contents;
  struct stat             st;
  gsize                   length;
  gint                    fd;

  g_return_val_if_fail (path != NULL, NULL);

  /* A FIFO or /dev/zero would be read forever: a regular file of a known
   * size only. */
  fd = vae_open_regular (path, error);
  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) == 0 && st.st_size > (off_t) MAX_REGISTRY_SIZE)
    {
      close (fd);
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: %" G_GINT64_FORMAT " bytes is too large for a "
                   "registry", path, (gint64) st.st_size);
      return NULL;
    }
  mapped = g_mapped_file_new_from_fd (fd, FALSE, &local_error);
  close (fd);
  if (! mapped)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO, "%s: cannot read: %s",
                   path, local_error->message);
      return NULL;
    }
  contents = g_mapped_file_get_contents (mapped);
  length = g_mapped_file_get_length (mapped);

  registry = registry_parse (contents ? contents : "", length, path, error);
  if (! registry && error)
    vae_error_tidy (*error);

  return registry;
}

/**
 * vae_registry_new_from_data:
 * @data: registry JSON
 * @length: its length, or -1 when nul-terminated
 * @display_name: what error messages call it
 * @error: return location for a #GError
 *
 * Loads a registry held in memory, validated as by
 * vae_registry_new_from_file().
 *
 * Returns: (transfer full) (nullable): the registry, or %NULL with @error
 *   set.
 */
VaeRegistry *
vae_registry_new_from_data (const gchar  *data,
                            gssize        length,
                            const gchar  *display_name,
                            GError      **error)
{
  VaeRegistry *registry;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (display_name != NULL, NULL);

  registry = registry_parse (data, length, display_name, error);
  if (! registry && error)
    vae_error_tidy (*error);

  return registry;
}

/**
 * vae_registry_ref:
 * @registry: a registry
 *
 * Returns: (transfer full): @registry
 */
VaeRegistry *
vae_registry_ref (VaeRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);

  g_atomic_int_inc (&registry->ref_count);

  return registry;
}

/**
 * vae_registry_unref:
 * @registry: (nullable): a registry
 *
 * Drops a reference; the last one frees the registry and its entries.
 */
void
vae_registry_unref (VaeRegistry *registry)
{
  if (registry && g_atomic_int_dec_and_test (&registry->ref_count))
    {
      g_ptr_array_unref (registry->entries);
      g_strfreev (registry->search_path);
      g_resource_unref (registry->resource);
      g_free (registry->source);
      g_free (registry);
    }
}


/* --- lookup ---------------------------------------------------------------- */

/**
 * vae_registry_list:
 * @registry: a registry
 *
 * Returns: (transfer container) (element-type VaeRegistryEntry): the
 *   entries in registry order.
 */
GPtrArray *
vae_registry_list (VaeRegistry *registry)
{
  GPtrArray *list;
  guint      i;

  g_return_val_if_fail (registry != NULL, NULL);

  list = g_ptr_array_sized_new (registry->entries->len);
  for (i = 0; i < registry->entries->len; i++)
    g_ptr_array_add (list, g_ptr_array_index (registry->entries, i));

  return list;
}

/**
 * vae_registry_lookup:
 * @registry: a registry
 * @id: a model id such as "taef2"
 *
 * Returns: (transfer none) (nullable): the entry, or %NULL when the
 *   registry has no model of that id.
 */
const VaeRegistryEntry *
vae_registry_lookup (VaeRegistry *registry,
                     const gchar *id)
{
  guint i;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (g_str_equal (entry->id, id))
        return entry;
    }

  return NULL;
}

/**
 * vae_registry_get_default:
 * @registry: a registry
 *
 * Returns: (transfer none) (nullable): the entry marked default, whether
 *   or not it is available, or %NULL when none is marked.
 */
const VaeRegistryEntry *
vae_registry_get_default (VaeRegistry *registry)
{
  guint i;

  g_return_val_if_fail (registry != NULL, NULL);

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (entry->is_default)
        return entry;
    }

  return NULL;
}


/* --- search path ----------------------------------------------------------- */

static void
add_unique (GPtrArray   *list,
            const gchar *folder)
{
  g_autofree gchar *canonical = NULL;
  guint             i;

  if (folder == NULL || folder[0] == '\0')
    return;
  canonical = g_canonicalize_filename (folder, NULL);
  for (i = 0; i < list->len; i++)
    if (g_str_equal (g_ptr_array_index (list, i), canonical))
      return;

  g_ptr_array_add (list, g_steal_pointer (&canonical));
}

/**
 * vae_registry_default_search_path:
 *
 * The folders where models are looked for, in order: those in
 * `$GIMP_VAE_MODEL_PATH` (separated by colons), `gimp-vae/models` in the
 * user's data folder (`$XDG_DATA_HOME`, usually `~/.local/share`) and in
 * each system data folder (`$XDG_DATA_DIRS`), the folder this libvae was
 * installed to put models in, and the source tree's `data/models` for
 * builds run without installing.  Each folder appears once; folders that
 * do not exist are listed too, since messages name where models were
 * looked for.
 *
 * Returns: (transfer full): a %NULL-terminated list of absolute folders.
 */
gchar **
vae_registry_default_search_path (void)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  const gchar          *env = g_getenv (VAE_REGISTRY_PATH_VARIABLE);
  const gchar * const  *system = g_get_system_data_dirs ();
  g_autofree gchar     *user = NULL;
  guint                 i;

  if (env && env[0])
    {
      g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (i = 0; parts[i]; i++)
        add_unique (list, parts[i]);
    }

  user = g_build_filename (g_get_user_data_dir (), "gimp-vae", "models", NULL);
  add_unique (list, user);

  for (i = 0; system[i]; i++)
    {
      g_autofree gchar *folder = g_build_filename (system[i], "gimp-vae",
                                                   "models", NULL);

      add_unique (list, folder);
    }

  add_unique (list, VAE_MODELS_DATADIR);
  add_unique (list, VAE_MODELS_SOURCEDIR);

  g_ptr_array_add (list, NULL);

  return (gchar **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

/**
 * vae_registry_get_search_path:
 * @registry: a registry
 *
 * Returns: (transfer none) (array zero-terminated=1): the folders this
 *   registry looks in, in order; see vae_registry_default_search_path().
 */
const gchar * const *
vae_registry_get_search_path (VaeRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);

  return (const gchar * const *) registry->search_path;
}

/**
 * vae_registry_set_search_path:
 * @registry: a registry
 * @folders: (array zero-terminated=1) (nullable): folders to look in, in
 *   order, or %NULL for vae_registry_default_search_path()
 *
 * Replaces the search path, e.g. with a folder the user chose in a
 * preferences dialog.  Not thread-safe: set it before sharing @registry.
 */
void
vae_registry_set_search_path (VaeRegistry         *registry,
                              const gchar * const *folders)
{
  g_autoptr (GPtrArray) list = NULL;
  guint                 i;

  g_return_if_fail (registry != NULL);

  g_strfreev (registry->search_path);
  if (folders == NULL)
    {
      registry->search_path = vae_registry_default_search_path ();
      return;
    }

  list = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; folders[i]; i++)
    add_unique (list, folders[i]);
  g_ptr_array_add (list, NULL);
  registry->search_path = (gchar **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

static gchar *
describe_search_path (VaeRegistry *registry)
{
  g_autofree gchar *joined = g_strjoinv (", ", registry->search_path);

  return g_strdup (joined[0] ? joined : "(no folders)");
}


/* --- finding installed files ------------------------------------------------ */

static gboolean
name_is_unique (VaeRegistry            *registry,
                const VaeRegistryEntry *owner,
                const gchar            *name)
{
  guint i, j;

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (entry == owner)
        continue;
      for (j = 0; j < entry->files->len; j++)
        if (g_str_equal (g_array_index (entry->files, FileSpec, j).name, name))
          return FALSE;
    }

  return TRUE;
}

static gint64
file_size (const gchar *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0 || ! S_ISREG (st.st_mode))
    return -1;

  return st.st_size;
}

/* Whether @folder holds every file of @set.  Loose files (not in a folder
 * named after the entry) must also be recognisable as the entry's, see the
 * comment at the top. */
static gboolean
folder_has_set (VaeRegistry            *registry,
                const VaeRegistryEntry *entry,
                const gchar            *folder,
                const gchar            *set,
                gboolean                loose)
{
  guint i;

  for (i = 0; i < entry->files->len; i++)
    {
      const FileSpec   *file = &g_array_index (entry->files, FileSpec, i);
      g_autofree gchar *path = NULL;
      gint64            size;

      if (! g_str_equal (file->set, set))
        continue;
      path = g_build_filename (folder, file->name, NULL);
      size = file_size (path);
      if (size < 0)
        return FALSE;
      if (loose && (file->size >= 0 ? size != file->size
                                    : ! name_is_unique (registry, entry, file->name)))
        return FALSE;
    }

  return TRUE;
}

static gboolean
find_location (VaeRegistry            *registry,
               const VaeRegistryEntry *entry,
               Location               *location)
{
  guint i, j;

  for (i = 0; registry->search_path[i]; i++)
    {
      const gchar      *dir = registry->search_path[i];
      g_autofree gchar *own = g_build_filename (dir, entry->id, NULL);

      for (j = 0; j < entry->sets->len; j++)
        {
          const gchar *set = g_ptr_array_index (entry->sets, j);

          if (folder_has_set (registry, entry, own, set, FALSE))
            {
              location->folder = g_steal_pointer (&own);
              location->set = set;
              return TRUE;
            }
          if (folder_has_set (registry, entry, dir, set, TRUE))
            {
              location->folder = g_strdup (dir);
              location->set = set;
              return TRUE;
            }
        }
    }

  return FALSE;
}

/**
 * vae_registry_find_installed:
 * @registry: a registry
 * @entry: one of its entries
 * @set: (out) (optional) (transfer none): the file set found, see
 *   #VaeRegistryFile
 *
 * Looks for the entry's files in the search path: the first folder that
 * holds every file of one of its file sets wins.  Sizes and sums are not
 * checked here (see vae_registry_verify()).  A model compiled into libvae
 * is not "installed"; see vae_registry_has_embedded().
 *
 * Returns: (transfer full) (nullable): the folder holding the files, or
 *   %NULL when the model is not installed.
 */
gchar *
vae_registry_find_installed (VaeRegistry             *registry,
                             const VaeRegistryEntry  *entry,
                             const gchar            **set)
{
  Location location = { 0 };

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (entry != NULL, NULL);

  if (! find_location (registry, entry, &location))
    return NULL;
  if (set)
    *set = location.set;

  return location.folder;
}

static gchar *
resource_path (const VaeRegistryEntry *entry,
               const gchar            *name)
{
  return g_strdup_printf (RESOURCE_PREFIX "/models/%s/%s", entry->id, name);
}

static GBytes *
embedded_bytes (VaeRegistry            *registry,
                const VaeRegistryEntry *entry)
{
  g_autofree gchar *path = NULL;

  if (! entry->embedded)
    return NULL;
  path = resource_path (entry, g_array_index (entry->files, FileSpec, 0).name);

  return g_resource_lookup_data (registry->resource, path,
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
}

/**
 * vae_registry_has_embedded:
 * @registry: a registry
 * @entry: one of its entries
 *
 * Whether the entry's weights are compiled into this libvae: the registry
 * marks it "embedded" and the weight file was present when libvae was
 * built.
 *
 * Returns: %TRUE when vae_registry_load() can load @entry with no files
 *   installed.
 */
gboolean
vae_registry_has_embedded (VaeRegistry            *registry,
                           const VaeRegistryEntry *entry)
{
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  if (! entry->embedded)
    return FALSE;
  path = resource_path (entry, g_array_index (entry->files, FileSpec, 0).name);

  return g_resource_get_info (registry->resource, path,
                              G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL);
}

/**
 * vae_registry_is_available:
 * @registry: a registry
 * @entry: one of its entries
 *
 * Returns: whether @entry is compiled in or installed.
 */
gboolean
vae_registry_is_available (VaeRegistry            *registry,
                           const VaeRegistryEntry *entry)
{
  g_autofree gchar *folder = NULL;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  if (vae_registry_has_embedded (registry, entry))
    return TRUE;
  folder = vae_registry_find_installed (registry, entry, NULL);

  return folder != NULL;
}


/* --- models the registry does not list --------------------------------------- */

static gboolean
is_weight_file (const gchar *path)
{
  return vae_is_weight_file_name (path) &&
         g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
holds_weights (const gchar *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const gchar     *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_build_filename (folder, name, NULL);

      if (name[0] != '.' && is_weight_file (path))
        return TRUE;
    }

  return FALSE;
}

/* Whether @path, a weight file, is a registered model's loose file. */
static gboolean
claimed_file (VaeRegistry *registry,
              const gchar *path)
{
  g_autofree gchar *name = g_path_get_basename (path);
  gint64            size = file_size (path);
  guint             i, j;

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      for (j = 0; j < entry->files->len; j++)
        {
          const FileSpec *file = &g_array_index (entry->files, FileSpec, j);

          if (g_str_equal (file->name, name) &&
              (file->size >= 0 ? file->size == size
                               : name_is_unique (registry, entry, name)))
            return TRUE;
        }
    }

  return FALSE;
}

/* Whether @folder's weight files are all some entry's files. */
static gboolean
claimed_folder (VaeRegistry *registry,
                const gchar *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const gchar     *name;
  gboolean         any = FALSE;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_build_filename (folder, name, NULL);

      if (name[0] == '.' || ! is_weight_file (path))
        continue;
      if (! claimed_file (registry, path))
        return FALSE;
      any = TRUE;
    }

  return any;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
add_local (VaeRegistry *registry,
           GPtrArray   *list,
           const gchar *path)
{
  g_autofree gchar *name = g_path_get_basename (path);
  VaeRegistryLocal *local;
  gchar            *dot;
  guint             i;

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR) && (dot = strrchr (name, '.')))
    *dot = '\0';
  if (vae_registry_lookup (registry, name))
    return;
  for (i = 0; i < list->len; i++)
    if (g_str_equal (((VaeRegistryLocal *) g_ptr_array_index (list, i))->name, name))
      return;

  local = g_new0 (VaeRegistryLocal, 1);
  local->name = g_steal_pointer (&name);
  local->path = g_strdup (path);
  g_ptr_array_add (list, local);
}

/**
 * vae_registry_find_local:
 * @registry: a registry
 *
 * Lists the models in the search path that the registry does not know: a
 * search-path entry that is itself a weight file or a folder of weight
 * files is one model; otherwise each weight file and each folder holding
 * weight files inside it is one.  Files and folders of registered models
 * are left out, and so are names that are registry ids.  The first model
 * of a name wins.
 *
 * Returns: (transfer full) (element-type VaeRegistryLocal): the models,
 *   in search order.
 */
GPtrArray *
vae_registry_find_local (VaeRegistry *registry)
{
  GPtrArray *list;
  guint      i, j;

  g_return_val_if_fail (registry != NULL, NULL);

  list = g_ptr_array_new_with_free_func ((GDestroyNotify) vae_registry_local_free);

  for (i = 0; registry->search_path[i]; i++)
    {
      const gchar          *dir = registry->search_path[i];
      g_autoptr (GDir)      handle = NULL;
      g_autoptr (GPtrArray) children = NULL;
      const gchar          *name;

      if (is_weight_file (dir))
        {
          if (! claimed_file (registry, dir))
            add_local (registry, list, dir);
          continue;
        }
      if (holds_weights (dir))
        {
          if (! claimed_folder (registry, dir))
            add_local (registry, list, dir);
          continue;
        }

      handle = g_dir_open (dir, 0, NULL);
      if (handle == NULL)
        continue;
      /* Sorted, so that the list does not depend on the file system. */
      children = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (handle)))
        if (name[0] != '.')
          g_ptr_array_add (children, g_strdup (name));
      g_ptr_array_sort (children, compare_names);

      for (j = 0; j < children->len; j++)
        {
          const gchar      *child = g_ptr_array_index (children, j);
          g_autofree gchar *path = g_build_filename (dir, child, NULL);

          if (is_weight_file (path))
            {
              if (! claimed_file (registry, path))
                add_local (registry, list, path);
            }
          else if (! vae_registry_lookup (registry, child) && holds_weights (path))
            {
              add_local (registry, list, path);
            }
        }
    }

  return list;
}

/**
 * vae_registry_local_free:
 * @local: (nullable): a #VaeRegistryLocal
 */
void
vae_registry_local_free (VaeRegistryLocal *local)
{
  if (local)
    {
      g_free (local->name);
      g_free (local->path);
      g_free (local);
    }
}


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
static gchar *
sum_file (const gchar   *path,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autoptr (GFile)            file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = NULL;
  g_autoptr (GChecksum)        sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8           *buffer = g_malloc (READ_CHUNK);
  gssize                       got;

  in = g_file_read (file, cancellable, error);
  if (in == NULL)
    return NULL;
  while ((got = g_input_stream_read (G_INPUT_STREAM (in), buffer, READ_CHUNK,
                                     cancellable, error)) > 0)
    g_checksum_update (sum, buffer, got);
  if (got < 0)
    return NULL;

  return g_strdup (g_checksum_get_string (sum));
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

  size = path ? file_size (path) : (gint64) g_bytes_get_size (bytes);
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
      sum = sum_file (path, cancellable, &local_error);
      if (sum == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_set_error (error, VAE_ERROR, VAE_ERROR_CANCELLED,
                           "verification cancelled");
              return NULL;
            }
          return check_new (file, location, VAE_REGISTRY_STATUS_UNREADABLE,
                            g_strdup_printf ("%s: cannot read: %s", location,
                                             local_error->message));
        }
    }
  else
    {
      sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
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

              if (g_str_equal (file->set, set) && file_size (path) >= 0)
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

  installed = find_location (registry, entry, &location) ||
              find_partial (registry, entry, &location);
  if (installed && ! check_set (entry, &location, list, cancellable, error))
    {
      g_free (location.folder);
      return FALSE;
    }
  g_free (location.folder);

  bytes = embedded_bytes (registry, entry);
  if (bytes)
    {
      const FileSpec   *file = &g_array_index (entry->files, FileSpec, 0);
      g_autofree gchar *uri = NULL;
      g_autofree gchar *path = resource_path (entry, file->name);
      guint             first = list->len;

      uri = g_strconcat ("resource://", path, NULL);
      g_ptr_array_add (list, check_file (file, uri, NULL, bytes, NULL, NULL));
      check_tensor_count (entry, list, first, bytes);
    }

  if (! installed && bytes == NULL)
    {
      g_autofree gchar *where = describe_search_path (registry);

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


/* --- loading ---------------------------------------------------------------- */

/* Files of a set in a sentence: "encoder.safetensors and decoder.safetensors". */
static gchar *
describe_files (const VaeRegistryEntry *entry)
{
  GString *text = g_string_new (NULL);
  guint    i, j;

  for (j = 0; j < entry->sets->len; j++)
    {
      const gchar *set = g_ptr_array_index (entry->sets, j);
      guint        n = 0;

      if (j > 0)
        g_string_append (text, " or ");
      for (i = 0; i < entry->files->len; i++)
        {
          const FileSpec *file = &g_array_index (entry->files, FileSpec, i);

          if (! g_str_equal (file->set, set))
            continue;
          if (n++ > 0)
            g_string_append (text, " and ");
          g_string_append (text, file->name);
        }
    }

  return g_string_free (text, FALSE);
}

static const gchar *
first_url (const VaeRegistryEntry *entry)
{
  guint i;

  for (i = 0; i < entry->files->len; i++)
    if (g_array_index (entry->files, FileSpec, i).url[0])
      return g_array_index (entry->files, FileSpec, i).url;

  return NULL;
}

static void
set_not_installed (VaeRegistry             *registry,
                   const VaeRegistryEntry  *entry,
                   GError                 **error)
{
  g_autofree gchar *where = describe_search_path (registry);
  g_autofree gchar *files = describe_files (entry);
  const gchar      *url = first_url (entry);

  g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
               "model %s is not installed: looked for %s in a folder named "
               "%s in each of %s%s%s%s", entry->id, files, entry->id, where,
               entry->embedded ? "; it is not built into this libvae either" : "",
               url ? "; download: " : "", url ? url : "");
}

/* The registry knows what the model must be; a file that turns out to be
 * something else (a TAESD in the taef2 folder) is refused rather than
 * producing latents of the wrong shape. */
static VaeModel *
check_model (const VaeRegistryEntry  *entry,
             VaeModel                *model,
             GError                 **error)
{
  if (model == NULL)
    return NULL;

  if (vae_model_get_latent_channels (model) != entry->latent_channels ||
      vae_model_get_factor (model) != entry->factor)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                   "%s is not %s: it has %u latent channels and factor %u, "
                   "the registry says %u and %u", vae_model_get_path (model),
                   entry->id, vae_model_get_latent_channels (model),
                   vae_model_get_factor (model), entry->latent_channels,
                   entry->factor);
      vae_model_unref (model);
      return NULL;
    }

  return model;
}

/**
 * vae_registry_load:
 * @registry: a registry
 * @entry: one of its entries
 * @error: return location for a #GError
 *
 * Loads the model of @entry: the copy compiled into libvae when there is
 * one (so that the default model always behaves as built), else the
 * installed files (see vae_registry_find_installed()).  Files are not
 * checksummed here (vae_registry_verify() does that), but a model whose
 * latent channels or factor differ from the registry's is refused.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error set:
 *   %VAE_ERROR_IO with the folders looked in when it is not installed,
 *   %VAE_ERROR_MODEL_MISMATCH, or any error of vae_model_load().
 */
VaeModel *
vae_registry_load (VaeRegistry             *registry,
                   const VaeRegistryEntry  *entry,
                   GError                 **error)
{
  g_autoptr (GBytes) bytes = NULL;
  Location           location = { 0 };
  g_autofree gchar  *path = NULL;
  guint              i;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (entry != NULL, NULL);

  bytes = embedded_bytes (registry, entry);
  if (bytes)
    {
      g_autofree gchar *uri = NULL;
      g_autofree gchar *rpath = NULL;

      rpath = resource_path (entry, g_array_index (entry->files, FileSpec, 0).name);
      uri = g_strconcat ("resource://", rpath, NULL);

      return check_model (entry, vae_model_load_from_bytes (bytes, uri, error),
                          error);
    }

  if (! find_location (registry, entry, &location))
    {
      set_not_installed (registry, entry, error);
      return NULL;
    }

  /* The first file of the set; vae_model_load() finds the other half of
   * an encoder/decoder pair by its name. */
  for (i = 0; i < entry->files->len && path == NULL; i++)
    {
      const FileSpec *file = &g_array_index (entry->files, FileSpec, i);

      if (g_str_equal (file->set, location.set))
        path = g_build_filename (location.folder, file->name, NULL);
    }
  g_free (location.folder);

  return check_model (entry, vae_model_load (path, error), error);
}

static gchar *
list_ids (VaeRegistry *registry)
{
  GString *text = g_string_new (NULL);
  guint    i;

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (i > 0)
        g_string_append (text, ", ");
      g_string_append (text, entry->id);
    }

  return g_string_free (text, FALSE);
}

static VaeModel *
resolve_default (VaeRegistry  *registry,
                 GError      **error)
{
  const VaeRegistryEntry *entry = vae_registry_get_default (registry);
  g_autoptr (GPtrArray)   local = NULL;
  g_autofree gchar       *where = NULL;
  guint                   i;

  if (entry && vae_registry_is_available (registry, entry))
    return vae_registry_load (registry, entry, error);

  /* Without the default, the first model at hand, so that a build without
   * the embedded weights still works with any installed model. */
  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *other = g_ptr_array_index (registry->entries, i);

      if (vae_registry_is_available (registry, other))
        return vae_registry_load (registry, other, error);
    }

  local = vae_registry_find_local (registry);
  if (local->len > 0)
    return vae_model_load (((VaeRegistryLocal *) g_ptr_array_index (local, 0))->path,
                           error);

  where = describe_search_path (registry);
  if (entry)
    g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                 "no model is available: the default model %s is not built "
                 "into this libvae, and no model is installed in %s",
                 entry->id, where);
  else
    g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                 "no model is available: none is installed in %s", where);

  return NULL;
}

/**
 * vae_registry_resolve:
 * @registry: a registry
 * @spec: (nullable): what the user named: a registry id ("taef2"), the
 *   name of another model in the search path, a path to a weight file or
 *   model folder, or %NULL or "" for the default model
 * @error: return location for a #GError
 *
 * Turns what a user typed into a loaded model.  @spec is a path when it
 * holds a "/"; otherwise a registry id, then a model in the search path
 * (see vae_registry_find_local()), then a file or folder of that name in
 * the current folder.  The default is the model the registry marks
 * default (built into libvae when its weights were present at build time),
 * else the first registered model that is installed, else the first other
 * model in the search path.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error
 *   set; when nothing is found the message lists where it looked.
 */
VaeModel *
vae_registry_resolve (VaeRegistry  *registry,
                      const gchar  *spec,
                      GError      **error)
{
  const VaeRegistryEntry *entry;
  g_autoptr (GPtrArray)   local = NULL;
  g_autofree gchar       *where = NULL;
  g_autofree gchar       *ids = NULL;
  guint                   i;

  g_return_val_if_fail (registry != NULL, NULL);

  if (spec == NULL || spec[0] == '\0')
    return resolve_default (registry, error);

  if (strchr (spec, G_DIR_SEPARATOR) || strchr (spec, '/'))
    return vae_model_load (spec, error);

  entry = vae_registry_lookup (registry, spec);
  if (entry)
    {
      /* An id not installed may still be a file of that name here. */
      if (! vae_registry_is_available (registry, entry) &&
          g_file_test (spec, G_FILE_TEST_EXISTS))
        return vae_model_load (spec, error);

      return vae_registry_load (registry, entry, error);
    }

  local = vae_registry_find_local (registry);
  for (i = 0; i < local->len; i++)
    {
      const VaeRegistryLocal *found = g_ptr_array_index (local, i);

      if (g_str_equal (found->name, spec))
        return vae_model_load (found->path, error);
    }

  if (g_file_test (spec, G_FILE_TEST_EXISTS))
    return vae_model_load (spec, error);

  where = describe_search_path (registry);
  ids = list_ids (registry);
  g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
               "no model '%s': it is not a file, not a known model (%s) and "
               "not in the model folders (%s)", spec, ids, where);

  return NULL;
}


/* --- entry accessors ---------------------------------------------------------- */

/**
 * vae_registry_entry_get_id:
 * @entry: a registry entry
 *
 * Returns: the id users type, also the folder name the model is installed
 *   under.
 */
const gchar *
vae_registry_entry_get_id (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->id;
}

/**
 * vae_registry_entry_get_name:
 * @entry: a registry entry
 *
 * Returns: a human-readable, untranslated name.
 */
const gchar *
vae_registry_entry_get_name (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->name;
}

/**
 * vae_registry_entry_get_architecture:
 * @entry: a registry entry
 *
 * Returns: the architecture family, as vae_model_get_architecture() names
 *   it ("taesd", "autoencoder-kl", "seed-f16").
 */
const gchar *
vae_registry_entry_get_architecture (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->architecture;
}

/**
 * vae_registry_entry_get_latent_channels:
 * @entry: a registry entry
 *
 * Returns: the number of latent channels.
 */
guint
vae_registry_entry_get_latent_channels (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->latent_channels;
}

/**
 * vae_registry_entry_get_factor:
 * @entry: a registry entry
 *
 * Returns: image pixels per latent pixel, per side.
 */
guint
vae_registry_entry_get_factor (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->factor;
}

/**
 * vae_registry_entry_get_latent_scaling:
 * @entry: a registry entry
 * @scale: (out) (optional): the scaling factor
 * @shift: (out) (optional): the shift
 *
 * The map from raw latents to the diffusion model's latent space,
 * diffusion = (raw - shift) * scale, as for
 * vae_model_get_latent_scaling().
 */
void
vae_registry_entry_get_latent_scaling (const VaeRegistryEntry *entry,
                                       gdouble                *scale,
                                       gdouble                *shift)
{
  g_return_if_fail (entry != NULL);

  if (scale)
    *scale = entry->scale;
  if (shift)
    *shift = entry->shift;
}

/**
 * vae_registry_entry_get_n_tensors:
 * @entry: a registry entry
 *
 * Returns: the number of tensors in the model's files together, or 0 when
 *   the registry does not know it.
 */
guint
vae_registry_entry_get_n_tensors (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->n_tensors;
}

/**
 * vae_registry_entry_get_license:
 * @entry: a registry entry
 *
 * Returns: the license of the weights (an SPDX id where there is one), or
 *   "" when unknown.
 */
const gchar *
vae_registry_entry_get_license (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->license;
}

/**
 * vae_registry_entry_get_homepage:
 * @entry: a registry entry
 *
 * Returns: the model's web page, or "".
 */
const gchar *
vae_registry_entry_get_homepage (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->homepage;
}

/**
 * vae_registry_entry_get_note:
 * @entry: a registry entry
 *
 * Returns: remarks for people (a gated download, a figure not verified),
 *   or "".
 */
const gchar *
vae_registry_entry_get_note (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->note;
}

/**
 * vae_registry_get_default_codec:
 * @registry: a registry
 *
 * Returns: (transfer none) (nullable): the first entry marked as a codec
 *   model (one with a trained entropy model, see vae_compress_image()),
 *   whether or not it is available, or %NULL when none is.
 */
const VaeRegistryEntry *
vae_registry_get_default_codec (VaeRegistry *registry)
{
  guint i;

  g_return_val_if_fail (registry != NULL, NULL);

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (entry->is_codec)
        return entry;
    }

  return NULL;
}

/**
 * vae_registry_entry_is_codec:
 * @entry: a registry entry
 *
 * Returns: whether the entry is marked as a codec model.
 */
gboolean
vae_registry_entry_is_codec (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  return entry->is_codec;
}

/**
 * vae_registry_entry_is_default:
 * @entry: a registry entry
 *
 * Returns: whether the registry marks this the default model.
 */
gboolean
vae_registry_entry_is_default (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  return entry->is_default;
}

/**
 * vae_registry_entry_is_embedded:
 * @entry: a registry entry
 *
 * Returns: whether the registry marks this model to be compiled into
 *   libvae; whether it was is vae_registry_has_embedded().
 */
gboolean
vae_registry_entry_is_embedded (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  return entry->embedded;
}

/**
 * vae_registry_entry_get_n_files:
 * @entry: a registry entry
 *
 * Returns: the number of files listed, all file sets together.
 */
guint
vae_registry_entry_get_n_files (const VaeRegistryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->files->len;
}

/**
 * vae_registry_entry_get_file:
 * @entry: a registry entry
 * @index: a file index below vae_registry_entry_get_n_files()
 *
 * Returns: (transfer none): the file, owned by @entry.
 */
const VaeRegistryFile *
vae_registry_entry_get_file (const VaeRegistryEntry *entry,
                             guint                   index)
{
  g_return_val_if_fail (entry != NULL, NULL);
  g_return_val_if_fail (index < entry->files->len, NULL);

  return &g_array_index (entry->views, VaeRegistryFile, index);
}
