/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Resolving beyond one name: the names vae_registry_resolve() takes, and
 * the model that made some latents or a .vaez file.  Only the registry's
 * public face is used.
 */

#include "vae-error.h"
#include "vae-model-private.h"
#include "vae-registry.h"

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
