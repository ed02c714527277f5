/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Loading models: a registry entry's, what a user typed, the names
 * vae_registry_resolve() takes, and the model that made some latents or a
 * .vaez file.
 */

#include <string.h>

#include "vae-error.h"
#include "vae-model-private.h"
#include "vae-registry-private.h"

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
  g_autofree gchar *where = vae_registry_describe_search_path (registry);
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

  bytes = vae_registry_embedded_bytes (registry, entry);
  if (bytes)
    {
      g_autofree gchar *uri = NULL;
      g_autofree gchar *rpath = NULL;

      rpath = vae_registry_resource_path (entry, g_array_index (entry->files, FileSpec, 0).name);
      uri = g_strconcat ("resource://", rpath, NULL);

      return check_model (entry,
                          vae_model_load_for_entry (uri, bytes, entry, error),
                          error);
    }

  if (! vae_registry_find_location (registry, entry, &location))
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

  return check_model (entry, vae_model_load_for_entry (path, NULL, entry, error),
                      error);
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

  where = vae_registry_describe_search_path (registry);
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

  where = vae_registry_describe_search_path (registry);
  ids = list_ids (registry);
  g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
               "no model '%s': it is not a file, not a known model (%s) and "
               "not in the model folders (%s)", spec, ids, where);

  return NULL;
}

/**
 * vae_registry_list_available:
 * @registry: a registry
 *
 * Lists the models that can be loaded now by name, without loading them:
 * the registered ones that are installed or built in, in registry order,
 * then the other models of the search path (vae_registry_find_local()).
 * These are the names a model chooser offers.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names, each one
 *   vae_registry_resolve() loads.
 */
gchar **
vae_registry_list_available (VaeRegistry *registry)
{
  GPtrArray            *names;
  g_autoptr (GPtrArray) registered = NULL;
  g_autoptr (GPtrArray) local = NULL;
  guint                 i;

  g_return_val_if_fail (registry != NULL, NULL);

  names = g_ptr_array_new ();
  registered = vae_registry_list (registry);
  for (i = 0; i < registered->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registered, i);

      if (vae_registry_is_available (registry, entry))
        g_ptr_array_add (names, g_strdup (vae_registry_entry_get_id (entry)));
    }
  local = vae_registry_find_local (registry);
  for (i = 0; i < local->len; i++)
    g_ptr_array_add (names,
                     g_strdup (((VaeRegistryLocal *) g_ptr_array_index (local, i))->name));
  g_ptr_array_add (names, NULL);

  return (gchar **) g_ptr_array_free (names, FALSE);
}

/**
 * vae_registry_resolve_made_by:
 * @registry: a registry
 * @model_id: (nullable): the id of the model wanted
 * @model_hash: (nullable): its content hash as vae_model_get_hash() gives
 *   it, or the first hex digits of one (a .vaez header keeps 16)
 * @error: return location for a #GError
 *
 * Finds the model that made some latents or a file, among the models
 * vae_registry_list_available() names: the hash decides when given, else
 * the id.  The one named like @model_id is tried first and the others only
 * when that fails, since each is loaded to learn its hash.  With neither
 * @model_id nor @model_hash, the default model.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error
 *   set: %VAE_ERROR_MODEL_MISMATCH when no available model is the one,
 *   else the errors of vae_registry_resolve().
 */
VaeModel *
vae_registry_resolve_made_by (VaeRegistry  *registry,
                              const gchar  *model_id,
                              const gchar  *model_hash,
                              GError      **error)
{
  g_auto (GStrv)  names = NULL;
  VaeModel       *model = NULL;
  guint           pass, i;

  g_return_val_if_fail (registry != NULL, NULL);

  if ((model_id == NULL || model_id[0] == '\0') &&
      (model_hash == NULL || model_hash[0] == '\0'))
    return vae_registry_resolve (registry, NULL, error);

  names = vae_registry_list_available (registry);
  for (pass = 0; pass < 2 && model == NULL; pass++)
    for (i = 0; names[i] != NULL && model == NULL; i++)
      {
        VaeModel *candidate;

        if ((pass == 0) != (g_strcmp0 (names[i], model_id) == 0))
          continue;

        candidate = vae_registry_resolve (registry, names[i], NULL);
        if (candidate != NULL && vae_model_made (candidate, model_id, model_hash))
          model = candidate;
        else
          g_clear_pointer (&candidate, vae_model_unref);
      }

  if (model == NULL)
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 "the model %s is not installed",
                 model_id != NULL && model_id[0] != '\0' ? model_id : model_hash);

  return model;
}

/**
 * vae_registry_resolve_for_latent:
 * @registry: a registry
 * @spec: (nullable): what the user named, as for vae_registry_resolve(),
 *   or %NULL or "" to let @latent choose
 * @latent: the latents to decode
 * @error: return location for a #GError
 *
 * Loads the model to decode @latent with.  A model the user named is
 * loaded as is: whether it fits is vae_model_check_latent()'s to say, so
 * that the refusal names both models.  Without one, the model that made
 * @latent (vae_registry_resolve_made_by() with its id and hash); latents
 * that record no model get the default model.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error
 *   set as vae_registry_resolve_made_by() and vae_registry_resolve() do.
 */
VaeModel *
vae_registry_resolve_for_latent (VaeRegistry      *registry,
                                 const gchar      *spec,
                                 const VaeLatent  *latent,
                                 GError          **error)
{
  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (latent != NULL, NULL);

  if (spec != NULL && spec[0] != '\0')
    return vae_registry_resolve (registry, spec, error);

  return vae_registry_resolve_made_by (registry,
                                       vae_latent_get_model_id (latent),
                                       vae_latent_get_model_hash (latent),
                                       error);
}
