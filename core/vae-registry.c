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

#include <sys/stat.h>
#include <unistd.h>

#include "vae-error-private.h"
#include "vae-registry-private.h"
#include "vae-resources.h"
#include "vae-weights.h"

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


/* The registry of @data's entries and families, with the default search path and
 * libvae's own resource for embedded weights. */
static VaeRegistry *
registry_parse (const gchar  *data,
                gssize        length,
                const gchar  *source,
                GError      **error)
{
  GPtrArray   *entries, *families;
  VaeRegistry *registry;

  if (! vae_registry_parse (data, length, source, &entries, &families, error))
    return NULL;

  registry = g_new0 (VaeRegistry, 1);
  registry->ref_count = 1;
  registry->source = g_strdup (source);
  registry->entries = entries;
  registry->families = families;
  registry->search_path = vae_registry_default_search_path ();
  registry->resource = g_resource_ref (resources ());

  return registry;
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
    return vae_fail_null (error, VAE_ERROR_IO,
                          "the model registry is missing from its resource: %s",
                          local_error->message);
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
    return vae_fail_null (error, VAE_ERROR_IO, "%s: cannot read: %s",
                          path, local_error->message);
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
      g_ptr_array_unref (registry->families);
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

/* The first entry marked default or, with @codec, marked a codec. */
static const VaeRegistryEntry *
first_marked (VaeRegistry *registry,
              gboolean     codec)
{
  guint i;

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (codec ? entry->is_codec : entry->is_default)
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
  g_return_val_if_fail (registry != NULL, NULL);

  return first_marked (registry, FALSE);
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
  g_return_val_if_fail (registry != NULL, NULL);

  return first_marked (registry, TRUE);
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
