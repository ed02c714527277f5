/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Where models are: the search path, the files of registered models in it
 * (see the top of vae-registry.c), the weights compiled into libvae, and
 * the models in the search path that the registry does not list.
 */

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vae-file-types.h"
#include "vae-registry-private.h"

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

gchar *
vae_registry_describe_search_path (VaeRegistry *registry)
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

gint64
vae_registry_file_size (const gchar *path)
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
      size = vae_registry_file_size (path);
      if (size < 0)
        return FALSE;
      if (loose && (file->size >= 0 ? size != file->size
                                    : ! name_is_unique (registry, entry, file->name)))
        return FALSE;
    }

  return TRUE;
}

gboolean
vae_registry_find_location (VaeRegistry            *registry,
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

  if (! vae_registry_find_location (registry, entry, &location))
    return NULL;
  if (set)
    *set = location.set;

  return location.folder;
}

gchar *
vae_registry_resource_path (const VaeRegistryEntry *entry,
                            const gchar            *name)
{
  return g_strdup_printf (RESOURCE_PREFIX "/models/%s/%s", entry->id, name);
}

GBytes *
vae_registry_embedded_bytes (VaeRegistry            *registry,
                             const VaeRegistryEntry *entry)
{
  g_autofree gchar *path = NULL;

  if (! entry->embedded)
    return NULL;
  path = vae_registry_resource_path (entry, g_array_index (entry->files, FileSpec, 0).name);

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
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  /* A view of the uncompressed resource: nothing is copied. */
  bytes = vae_registry_embedded_bytes (registry, entry);

  return bytes != NULL;
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
  gint64            size = vae_registry_file_size (path);
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
