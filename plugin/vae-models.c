/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The plug-in's view of libvae's model registry.  Where models are looked
 * for (GIMP_VAE_MODEL_PATH, the user's data folder, the system's), which
 * one is the default (the registry's, built into libvae) and which
 * installed model made some latents is the registry's business; this file
 * turns it into the list the model combo shows, with messages in the
 * user's language.
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
 * Lists the models the plug-in can load, without loading them
 * (vae_registry_list_available ()), each marked whether it is built into
 * libvae.
 *
 * Returns: (transfer full) (element-type VaePluginModelEntry): the models.
 */
GPtrArray *
vae_plugin_models_find (void)
{
  GPtrArray              *entries = g_ptr_array_new_with_free_func (entry_free);
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  g_auto (GStrv)          names = NULL;
  guint                   i;

  if (registry == NULL)
    return entries;

  names = vae_registry_list_available (registry);
  for (i = 0; names[i] != NULL; i++)
    {
      const VaeRegistryEntry *entry = vae_registry_lookup (registry, names[i]);
      g_autofree gchar       *installed = NULL;

      if (entry != NULL)
        installed = vae_registry_find_installed (registry, entry, NULL);
      add_entry (entries, names[i], entry != NULL && installed == NULL);
    }

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

/* Says which model could not be loaded, in the user's language. */
static void
load_error (const gchar  *name_or_path,
            GError       *local_error,
            GError      **error)
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
    load_error (name_or_path, local_error, error);

  return model;
}

/**
 * vae_plugin_models_load_for:
 * @name_or_path: (nullable): the model the user asked for, or %NULL or ""
 *   to let the latents choose
 * @latent: the latents to decode
 * @error: return location for a #GError
 *
 * Loads the model to decode @latent with (vae_registry_resolve_for_latent
 * ()): a model the user named as is (the caller checks that it matches),
 * else the installed model that made the latents, so that decoding just
 * works for latents of any installed model.
 *
 * Returns: (transfer full) (nullable): the model.
 */
VaeModel *
vae_plugin_models_load_for (const gchar      *name_or_path,
                            const VaeLatent  *latent,
                            GError          **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  GError                 *local_error = NULL;
  VaeModel               *model;
  const gchar            *id;

  registry = vae_registry_new (&local_error);
  model = registry ? vae_registry_resolve_for_latent (registry, name_or_path,
                                                      latent, &local_error)
                   : NULL;
  if (model != NULL)
    return model;

  id = vae_latent_get_model_id (latent);
  if (g_error_matches (local_error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                   _("These latents were made by the model “%s”, which is "
                     "not installed.  Choose it with the model file chooser."),
                   id != NULL && id[0] != '\0' ? id
                                               : vae_latent_get_model_hash (latent));
      g_error_free (local_error);
    }
  else
    {
      load_error (name_or_path, local_error, error);
    }

  return NULL;
}
