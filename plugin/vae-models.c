/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The plug-in's view of libvae's model registry.  Where models are looked
 * for (GIMP_VAE_MODEL_PATH, the user's data folder, the system's) and which
 * one is the default (the registry's, built into libvae) is the registry's
 * business; this file turns it into the list the model combo shows and
 * adds one thing the registry cannot know: which installed model made a
 * layer's latents.
 */

#include <glib/gi18n.h>

#include "vae-models.h"

static void
entry_free (gpointer data)
{
  VaePluginModelEntry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

static void
add_entry (GPtrArray   *entries,
           const gchar *name,
           gboolean     builtin)
{
  VaePluginModelEntry *entry = g_new0 (VaePluginModelEntry, 1);

  entry->name = g_strdup (name);
  entry->builtin = builtin;
  g_ptr_array_add (entries, entry);
}

/**
 * vae_plugin_models_find:
 *
 * Lists the models the plug-in can load, without loading them: the
 * registered ones that are installed or built in, in registry order, then
 * the other models found in the search path.
 *
 * Returns: (transfer full) (element-type VaePluginModelEntry): the models.
 */
GPtrArray *
vae_plugin_models_find (void)
{
  GPtrArray            *entries = g_ptr_array_new_with_free_func (entry_free);
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  g_autoptr (GPtrArray) registered = NULL;
  g_autoptr (GPtrArray) local = NULL;
  guint                 i;

  if (registry == NULL)
    return entries;

  registered = vae_registry_list (registry);
  for (i = 0; i < registered->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registered, i);
      g_autofree gchar       *installed = NULL;

      if (! vae_registry_is_available (registry, entry))
        continue;
      installed = vae_registry_find_installed (registry, entry, NULL);
      add_entry (entries, vae_registry_entry_get_id (entry), installed == NULL);
    }

  local = vae_registry_find_local (registry);
  for (i = 0; i < local->len; i++)
    add_entry (entries, ((VaeRegistryLocal *) g_ptr_array_index (local, i))->name,
               FALSE);

  return entries;
}

/**
 * vae_plugin_models_default:
 * @entries: (element-type VaePluginModelEntry): from vae_plugin_models_find()
 *
 * Returns: (transfer none) (nullable): the entry of the model that
 *   vae_plugin_models_load (NULL) loads, or %NULL when there is none.
 */
const VaePluginModelEntry *
vae_plugin_models_default (GPtrArray *entries)
{
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  const VaeRegistryEntry *preferred;
  guint                   i;

  preferred = registry ? vae_registry_get_default (registry) : NULL;
  for (i = 0; preferred && i < entries->len; i++)
    {
      const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);

      if (g_strcmp0 (entry->name, vae_registry_entry_get_id (preferred)) == 0)
        return entry;
    }

  /* The registry's default is not here: vae_registry_resolve () then takes
   * the first model available, which is the first entry. */
  return entries->len > 0 ? g_ptr_array_index (entries, 0) : NULL;
}

/**
 * vae_plugin_models_load:
 * @name_or_path: (nullable): a model name from vae_plugin_models_find(), a
 *   path to a weights file or model folder, or %NULL or "" for the default
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the loaded model.
 */
VaeModel *
vae_plugin_models_load (const gchar  *name_or_path,
                        GError      **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  GError                 *local_error = NULL;
  VaeModel               *model;

  registry = vae_registry_new (&local_error);
  model = registry ? vae_registry_resolve (registry, name_or_path, &local_error)
                   : NULL;
  if (model == NULL)
    {
      if (name_or_path != NULL && name_or_path[0] != '\0')
        g_set_error (error, VAE_ERROR, local_error->code,
                     _("Could not load the model “%s”: %s"),
                     name_or_path, local_error->message);
      else
        g_set_error (error, VAE_ERROR, local_error->code,
                     _("Could not load the default model: %s"),
                     local_error->message);
      g_error_free (local_error);
    }

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
 * loaded as is (the caller checks that it matches); without one, the
 * model that made the latents is looked for among the available ones, so
 * that decoding just works for latents of any installed model.
 *
 * Returns: (transfer full) (nullable): the model.
 */
VaeModel *
vae_plugin_models_load_for (const gchar  *name_or_path,
                            const gchar  *model_id,
                            const gchar  *model_hash,
                            GError      **error)
{
  g_autoptr (GPtrArray) entries = NULL;
  VaeModel             *model = NULL;
  guint                 pass, i;

  if ((name_or_path != NULL && name_or_path[0] != '\0') ||
      ((model_id == NULL || model_id[0] == '\0') &&
       (model_hash == NULL || model_hash[0] == '\0')))
    return vae_plugin_models_load (name_or_path, error);

  entries = vae_plugin_models_find ();

  /* Names usually equal ids: try those first, and load every model only
   * when that fails. */
  for (pass = 0; pass < 2 && model == NULL; pass++)
    for (i = 0; i < entries->len && model == NULL; i++)
      {
        const VaePluginModelEntry *entry = g_ptr_array_index (entries, i);
        VaeModel                  *candidate;

        if ((pass == 0) != (g_strcmp0 (entry->name, model_id) == 0))
          continue;

        candidate = vae_plugin_models_load (entry->name, NULL);
        if (candidate != NULL && model_made (candidate, model_id, model_hash))
          model = candidate;
        else
          vae_model_unref (candidate);
      }

  if (model == NULL)
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 _("These latents were made by the model “%s”, which is "
                   "not installed.  Choose it with the model file chooser."),
                 model_id != NULL && model_id[0] != '\0' ? model_id : model_hash);

  return model;
}
