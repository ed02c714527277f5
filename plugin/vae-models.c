/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Where models come from, in this order: the folders and models listed in
 * $GIMP_VAE_MODEL_PATH, the user's $XDG_DATA_HOME/gimp-vae/models, then
 * the installed data folder.  A model is a weights file or a folder holding
 * weights files (TAESD-style models keep encoder and decoder apart); a
 * search-path entry is either a model itself or a folder of models.  The
 * first model of a name wins, so a user's copy shadows the system one.
 */

#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "vae-models.h"

/* Until libvae's registry names the default model, the first of these that
 * is installed is the default; "seed-f16" is the embedded model to come.
 */
static const gchar * const preferred_defaults[] = { "seed-f16", "taef2" };

static const gchar * const weight_suffixes[] =
{
  ".safetensors", ".pth", ".ckpt", ".pt"
};

static void
entry_free (gpointer data)
{
  VaePluginModelEntry *entry = data;

  g_free (entry->name);
  g_free (entry->path);
  g_free (entry->origin);
  g_free (entry);
}

static const gchar *
weights_suffix (const gchar *path)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (weight_suffixes); i++)
    if (g_str_has_suffix (path, weight_suffixes[i]))
      return weight_suffixes[i];

  return NULL;
}

static gboolean
is_weights_file (const gchar *path)
{
  return weights_suffix (path) != NULL &&
         g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
is_model_folder (const gchar *path)
{
  GDir        *dir;
  const gchar *child;
  gboolean     found = FALSE;

  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return FALSE;

  while (! found && (child = g_dir_read_name (dir)) != NULL)
    {
      gchar *child_path = g_build_filename (path, child, NULL);

      found = is_weights_file (child_path);
      g_free (child_path);
    }
  g_dir_close (dir);

  return found;
}

static gchar *
model_name (const gchar *path)
{
  gchar       *base   = g_path_get_basename (path);
  const gchar *suffix = weights_suffix (base);

  if (suffix != NULL)
    base[strlen (base) - strlen (suffix)] = '\0';

  return base;
}

static void
add_entry (GPtrArray   *entries,
           const gchar *path,
           const gchar *origin)
{
  VaePluginModelEntry *entry;
  gchar               *name = model_name (path);
  guint                i;

  for (i = 0; i < entries->len; i++)
    {
      VaePluginModelEntry *other = g_ptr_array_index (entries, i);

      if (g_strcmp0 (other->name, name) == 0)
        {
          g_free (name);
          return;
        }
    }

  entry = g_new0 (VaePluginModelEntry, 1);
  entry->name = name;
  entry->path = g_strdup (path);
  entry->origin = g_strdup (origin);
  g_ptr_array_add (entries, entry);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
scan_entry (GPtrArray   *entries,
            const gchar *path,
            const gchar *origin)
{
  GDir        *dir;
  GPtrArray   *children;
  const gchar *child;
  guint        i;

  if (is_weights_file (path) || is_model_folder (path))
    {
      add_entry (entries, path, origin);
      return;
    }

  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return;

  /* Sorted, so that the list and the default do not depend on the order
   * the file system happens to return.
   */
  children = g_ptr_array_new_with_free_func (g_free);
  while ((child = g_dir_read_name (dir)) != NULL)
    if (child[0] != '.')
      g_ptr_array_add (children, g_build_filename (path, child, NULL));
  g_dir_close (dir);
  g_ptr_array_sort (children, compare_strings);

  for (i = 0; i < children->len; i++)
    {
      const gchar *child_path = g_ptr_array_index (children, i);

      if (is_weights_file (child_path) || is_model_folder (child_path))
        add_entry (entries, child_path, origin);
    }
  g_ptr_array_unref (children);
}

static void
append_unique (GPtrArray   *list,
               const gchar *path)
{
  guint i;

  for (i = 0; i < list->len; i++)
    if (g_strcmp0 (g_ptr_array_index (list, i), path) == 0)
      return;

  g_ptr_array_add (list, g_strdup (path));
}

/**
 * vae_plugin_models_search_path:
 *
 * Returns: (transfer full): the folders and model paths searched, in order,
 *   each prefixed with its origin and a tab ("user\t/home/...").
 */
gchar **
vae_plugin_models_search_path (void)
{
  GPtrArray           *list = g_ptr_array_new ();
  const gchar         *env  = g_getenv ("GIMP_VAE_MODEL_PATH");
  const gchar * const *system_dirs;
  GPtrArray           *system;
  gchar               *path;
  guint                i;

  if (env != NULL && env[0] != '\0')
    {
      gchar **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0')
          g_ptr_array_add (list, g_strconcat ("environment\t", parts[i], NULL));
      g_strfreev (parts);
    }

  path = g_build_filename (g_get_user_data_dir (), "gimp-vae", "models", NULL);
  g_ptr_array_add (list, g_strconcat ("user\t", path, NULL));
  g_free (path);

  system = g_ptr_array_new_with_free_func (g_free);
  append_unique (system, VAE_PLUGIN_MODELDIR);
  system_dirs = g_get_system_data_dirs ();
  for (i = 0; system_dirs[i] != NULL; i++)
    {
      path = g_build_filename (system_dirs[i], "gimp-vae", "models", NULL);
      append_unique (system, path);
      g_free (path);
    }
  for (i = 0; i < system->len; i++)
    g_ptr_array_add (list, g_strconcat ("system\t",
                                        (gchar *) g_ptr_array_index (system, i),
                                        NULL));
  g_ptr_array_unref (system);

  g_ptr_array_add (list, NULL);

  return (gchar **) g_ptr_array_free (list, FALSE);
}

/**
 * vae_plugin_models_find:
 *
 * Lists the models in the search path without loading them.
 *
 * Returns: (transfer full) (element-type VaePluginModelEntry): the models,
 *   in search order, one per name.
 */
GPtrArray *
vae_plugin_models_find (void)
{
  GPtrArray  *entries = g_ptr_array_new_with_free_func (entry_free);
  gchar     **search  = vae_plugin_models_search_path ();
  guint       i;

  for (i = 0; search[i] != NULL; i++)
    {
      gchar **parts = g_strsplit (search[i], "\t", 2);

      scan_entry (entries, parts[1], parts[0]);
      g_strfreev (parts);
    }
  g_strfreev (search);

  return entries;
}

/**
 * vae_plugin_models_default:
 * @entries: (element-type VaePluginModelEntry): from vae_plugin_models_find()
 *
 * Returns: (transfer none) (nullable): the default model, or %NULL when
 *   none is installed.
 */
const VaePluginModelEntry *
vae_plugin_models_default (GPtrArray *entries)
{
  gsize i;
  guint j;

  for (i = 0; i < G_N_ELEMENTS (preferred_defaults); i++)
    for (j = 0; j < entries->len; j++)
      {
        const VaePluginModelEntry *entry = g_ptr_array_index (entries, j);

        if (g_strcmp0 (entry->name, preferred_defaults[i]) == 0)
          return entry;
      }

  return entries->len > 0 ? g_ptr_array_index (entries, 0) : NULL;
}

static gchar *
describe_search_path (void)
{
  gchar   **search = vae_plugin_models_search_path ();
  GString  *text   = g_string_new (NULL);
  guint     i;

  for (i = 0; search[i] != NULL; i++)
    {
      const gchar *tab = strchr (search[i], '\t');

      if (text->len > 0)
        g_string_append (text, G_SEARCHPATH_SEPARATOR_S);
      g_string_append (text, tab != NULL ? tab + 1 : search[i]);
    }
  g_strfreev (search);

  return g_string_free (text, FALSE);
}

/* A file picked inside a TAESD-style model folder (encoder.safetensors
 * beside decoder.safetensors) means the folder: the user wants the model,
 * not half of it.
 */
static gchar *
model_path_for_file (const gchar *path)
{
  gchar *base = g_path_get_basename (path);
  gchar *dir  = g_path_get_dirname (path);
  gchar *result;

  if ((g_str_has_prefix (base, "encoder.") || g_str_has_prefix (base, "decoder.")) &&
      is_weights_file (path))
    {
      const gchar *other = base[0] == 'e' ? "decoder" : "encoder";
      gchar       *twin  = g_strconcat (other, weights_suffix (base), NULL);
      gchar       *twin_path = g_build_filename (dir, twin, NULL);

      result = is_weights_file (twin_path) ? g_strdup (dir) : g_strdup (path);
      g_free (twin_path);
      g_free (twin);
    }
  else
    {
      result = g_strdup (path);
    }

  g_free (dir);
  g_free (base);

  return result;
}

/**
 * vae_plugin_models_resolve:
 * @name_or_path: (nullable): a model name from the search path, a path to
 *   a model, or %NULL or "" for the default model
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the path to load.
 */
gchar *
vae_plugin_models_resolve (const gchar  *name_or_path,
                           GError      **error)
{
  GPtrArray *entries;
  gchar     *result = NULL;
  guint      i;

  if (name_or_path != NULL && name_or_path[0] != '\0' &&
      (strchr (name_or_path, G_DIR_SEPARATOR) != NULL ||
       g_file_test (name_or_path, G_FILE_TEST_EXISTS)))
    {
      if (! g_file_test (name_or_path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       _("The model “%s” does not exist."), name_or_path);
          return NULL;
        }

      return model_path_for_file (name_or_path);
    }

  entries = vae_plugin_models_find ();

  if (name_or_path == NULL || name_or_path[0] == '\0')
    {
      const VaePluginModelEntry *entry = vae_plugin_models_default (entries);

      if (entry != NULL)
        result = g_strdup (entry->path);
    }
  else
    {
      for (i = 0; i < entries->len && result == NULL; i++)
        {
          const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);

          if (g_strcmp0 (entry->name, name_or_path) == 0)
            result = g_strdup (entry->path);
        }
    }
  g_ptr_array_unref (entries);

  if (result == NULL)
    {
      gchar *where = describe_search_path ();

      if (name_or_path == NULL || name_or_path[0] == '\0')
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                     _("No VAE model is installed.  Put one into one of "
                       "these folders or name it in GIMP_VAE_MODEL_PATH: %s"),
                     where);
      else
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                     _("There is no model named “%s” in the model folders "
                       "(%s)."),
                     name_or_path, where);
      g_free (where);
    }

  return result;
}

static VaeModel *
load_path (const gchar  *path,
           GError      **error)
{
  GError   *local_error = NULL;
  VaeModel *model;

  model = vae_model_load (path, &local_error);
  if (model == NULL)
    {
      g_set_error (error, VAE_ERROR, local_error->code,
                   _("Could not load the model “%s”: %s"),
                   path, local_error->message);
      g_error_free (local_error);
    }

  return model;
}

/**
 * vae_plugin_models_load:
 * @name_or_path: (nullable): as for vae_plugin_models_resolve()
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the loaded model.
 */
VaeModel *
vae_plugin_models_load (const gchar  *name_or_path,
                        GError      **error)
{
  VaeModel *model;
  gchar    *path;

  path = vae_plugin_models_resolve (name_or_path, error);
  if (path == NULL)
    return NULL;

  model = load_path (path, error);
  g_free (path);

  return model;
}

static gboolean
model_made (VaeModel    *model,
            const gchar *model_id,
            const gchar *model_hash)
{
  if (model_hash != NULL && model_hash[0] != '\0')
    return g_strcmp0 (vae_model_get_hash (model), model_hash) == 0;

  return g_strcmp0 (vae_model_get_id (model), model_id) == 0;
}

/**
 * vae_plugin_models_load_for:
 * @name_or_path: (nullable): the model the user asked for, or %NULL or ""
 *   to let the latents choose
 * @model_id: (nullable): the id of the model that made the latents
 * @model_hash: (nullable): its content hash
 * @error: return location for a #GError
 *
 * Loads the model to decode latents with.  A model the user named is
 * loaded as is (the caller checks that it matches); without one, the model
 * that made the latents is looked up in the search path, so that decoding
 * just works for latents of any installed model.
 *
 * Returns: (transfer full) (nullable): the model.
 */
VaeModel *
vae_plugin_models_load_for (const gchar  *name_or_path,
                            const gchar  *model_id,
                            const gchar  *model_hash,
                            GError      **error)
{
  GPtrArray *entries;
  VaeModel  *model = NULL;
  guint      pass;
  guint      i;

  if ((name_or_path != NULL && name_or_path[0] != '\0') ||
      ((model_id == NULL || model_id[0] == '\0') &&
       (model_hash == NULL || model_hash[0] == '\0')))
    return vae_plugin_models_load (name_or_path, error);

  entries = vae_plugin_models_find ();

  /* Names usually equal ids, so try those first and load every model only
   * when that fails.
   */
  for (pass = 0; pass < 2 && model == NULL; pass++)
    for (i = 0; i < entries->len && model == NULL; i++)
      {
        const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);
        VaeModel                  *candidate;

        if ((pass == 0) != (g_strcmp0 (entry->name, model_id) == 0))
          continue;

        candidate = vae_model_load (entry->path, NULL);
        if (candidate != NULL && model_made (candidate, model_id, model_hash))
          model = candidate;
        else
          vae_model_unref (candidate);
      }
  g_ptr_array_unref (entries);

  if (model == NULL)
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 _("These latents were made by the model “%s”, which is "
                   "not installed.  Choose it with the model file chooser."),
                 model_id != NULL && model_id[0] != '\0' ? model_id : model_hash);

  return model;
}
