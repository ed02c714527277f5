/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae-api.h"
#include "vae-model.h"

G_BEGIN_DECLS

/**
 * VAE_REGISTRY_PATH_VARIABLE:
 *
 * The environment variable whose folders (separated by colons) come first
 * in the model search path.
 */
#define VAE_REGISTRY_PATH_VARIABLE "GIMP_VAE_MODEL_PATH"

/**
 * VaeRegistry:
 *
 * The models libvae knows by name: what each is (architecture, latent
 * channels, factor, latent scaling), which files make it up with their
 * sizes and SHA-256 sums, where to download them and under which license.
 * A registry also holds the model search path, where it looks for the
 * files a user placed, and finds the models compiled into libvae.
 *
 * A registry is immutable after loading, except for its search path, and
 * holds no open files.
 */
typedef struct _VaeRegistry VaeRegistry;

/**
 * VaeRegistryEntry:
 *
 * One model of a registry.  Entries belong to their registry and live as
 * long as it does.
 */
typedef struct _VaeRegistryEntry VaeRegistryEntry;

/**
 * VaeRegistryFile:
 * @name: the file name, without a folder
 * @set: the file set it belongs to, "" when the registry names none:
 *   files of one set together make the model, and an entry may list
 *   alternative sets (the upstream checkpoint and a safetensors
 *   conversion).
 * @size: its size in bytes, or -1 when the registry does not know it
 * @sha256: its SHA-256 sum in lower-case hex, or "" when unknown
 * @url: where a user downloads it, or "" when there is no public download
 *
 * A weight file listed by a registry entry.
 */
typedef struct
{
  const gchar *name;
  const gchar *set;
  gint64       size;
  const gchar *sha256;
  const gchar *url;
} VaeRegistryFile;

/**
 * VaeRegistryStatus:
 * @VAE_REGISTRY_STATUS_OK: size and SHA-256 sum match the registry.
 * @VAE_REGISTRY_STATUS_UNCHECKED: present, and its size matches where the
 *   registry knows it, but the registry lists no SHA-256 sum to check.
 * @VAE_REGISTRY_STATUS_MISSING: not found.
 * @VAE_REGISTRY_STATUS_WRONG_SIZE: the size differs from the registry's.
 * @VAE_REGISTRY_STATUS_WRONG_SUM: the SHA-256 sum differs.
 * @VAE_REGISTRY_STATUS_WRONG_TENSORS: no sum is known, and the file holds
 *   another number of tensors than the registry expects.
 * @VAE_REGISTRY_STATUS_UNREADABLE: the file could not be read.
 *
 * The outcome of checking one installed file.
 */
typedef enum
{
  VAE_REGISTRY_STATUS_OK,
  VAE_REGISTRY_STATUS_UNCHECKED,
  VAE_REGISTRY_STATUS_MISSING,
  VAE_REGISTRY_STATUS_WRONG_SIZE,
  VAE_REGISTRY_STATUS_WRONG_SUM,
  VAE_REGISTRY_STATUS_WRONG_TENSORS,
  VAE_REGISTRY_STATUS_UNREADABLE
} VaeRegistryStatus;

/**
 * VaeRegistryCheck:
 * @name: the file name as the registry lists it
 * @location: where it was checked: a path, or a "resource://" URI for a
 *   model compiled into libvae
 * @status: the outcome
 * @message: one line for people, naming the file and, for a failure, what
 *   was expected and what was found
 *
 * The result of checking one file with vae_registry_verify().
 */
typedef struct
{
  gchar             *name;
  gchar             *location;
  VaeRegistryStatus  status;
  gchar             *message;
} VaeRegistryCheck;

/**
 * VaeRegistryLocal:
 * @name: the folder name, or the file name without its extension
 * @path: the folder or file to load
 *
 * A model found in the search path that the registry does not list.
 */
typedef struct
{
  gchar *name;
  gchar *path;
} VaeRegistryLocal;

VAE_API VaeRegistry            * vae_registry_new                  (GError                 **error);
VAE_API VaeRegistry            * vae_registry_new_from_resource    (GResource               *resource,
                                                                    GError                 **error);
VAE_API VaeRegistry            * vae_registry_new_from_file        (const gchar             *path,
                                                                    GError                 **error);
VAE_API VaeRegistry            * vae_registry_new_from_data        (const gchar             *data,
                                                                    gssize                   length,
                                                                    const gchar             *display_name,
                                                                    GError                 **error);
VAE_API VaeRegistry            * vae_registry_ref                  (VaeRegistry             *registry);
VAE_API void                     vae_registry_unref                (VaeRegistry             *registry);

VAE_API GPtrArray              * vae_registry_list                 (VaeRegistry             *registry);
VAE_API const VaeRegistryEntry * vae_registry_lookup               (VaeRegistry             *registry,
                                                                    const gchar             *id);
VAE_API const VaeRegistryEntry * vae_registry_get_default          (VaeRegistry             *registry);
VAE_API const VaeRegistryEntry * vae_registry_get_default_codec    (VaeRegistry             *registry);

VAE_API const gchar * const    * vae_registry_get_search_path      (VaeRegistry             *registry);
VAE_API void                     vae_registry_set_search_path      (VaeRegistry             *registry,
                                                                    const gchar * const     *folders);
VAE_API gchar                 ** vae_registry_default_search_path  (void);

VAE_API gchar                  * vae_registry_find_installed       (VaeRegistry             *registry,
                                                                    const VaeRegistryEntry  *entry,
                                                                    const gchar            **set);
VAE_API gboolean                 vae_registry_has_embedded         (VaeRegistry             *registry,
                                                                    const VaeRegistryEntry  *entry);
VAE_API gboolean                 vae_registry_is_available         (VaeRegistry             *registry,
                                                                    const VaeRegistryEntry  *entry);
VAE_API GPtrArray              * vae_registry_find_local           (VaeRegistry             *registry);
VAE_API gchar                 ** vae_registry_list_available       (VaeRegistry             *registry);

VAE_API gboolean                 vae_registry_verify               (VaeRegistry             *registry,
                                                                    const VaeRegistryEntry  *entry,
                                                                    GPtrArray              **checks,
                                                                    GCancellable            *cancellable,
                                                                    GError                 **error);

VAE_API VaeModel               * vae_registry_load                 (VaeRegistry             *registry,
                                                                    const VaeRegistryEntry  *entry,
                                                                    GError                 **error);
VAE_API VaeModel               * vae_registry_resolve              (VaeRegistry             *registry,
                                                                    const gchar             *spec,
                                                                    GError                 **error);
VAE_API VaeModel               * vae_registry_resolve_made_by      (VaeRegistry             *registry,
                                                                    const gchar             *model_id,
                                                                    const gchar             *model_hash,
                                                                    GError                 **error);
VAE_API VaeModel               * vae_registry_resolve_for_latent   (VaeRegistry             *registry,
                                                                    const gchar             *spec,
                                                                    const VaeLatent         *latent,
                                                                    GError                 **error);

VAE_API const gchar            * vae_registry_entry_get_id              (const VaeRegistryEntry *entry);
VAE_API const gchar            * vae_registry_entry_get_name            (const VaeRegistryEntry *entry);
VAE_API const gchar            * vae_registry_entry_get_architecture    (const VaeRegistryEntry *entry);
VAE_API guint                    vae_registry_entry_get_latent_channels (const VaeRegistryEntry *entry);
VAE_API guint                    vae_registry_entry_get_factor          (const VaeRegistryEntry *entry);
VAE_API void                     vae_registry_entry_get_latent_scaling  (const VaeRegistryEntry *entry,
                                                                         gdouble                *scale,
                                                                         gdouble                *shift);
VAE_API guint                    vae_registry_entry_get_n_tensors       (const VaeRegistryEntry *entry);
VAE_API const gchar            * vae_registry_entry_get_license         (const VaeRegistryEntry *entry);
VAE_API const gchar            * vae_registry_entry_get_homepage        (const VaeRegistryEntry *entry);
VAE_API const gchar            * vae_registry_entry_get_note            (const VaeRegistryEntry *entry);
VAE_API gboolean                 vae_registry_entry_is_default          (const VaeRegistryEntry *entry);
VAE_API gboolean                 vae_registry_entry_is_codec            (const VaeRegistryEntry *entry);
VAE_API gboolean                 vae_registry_entry_is_embedded         (const VaeRegistryEntry *entry);
VAE_API guint                    vae_registry_entry_get_n_files         (const VaeRegistryEntry *entry);
VAE_API const VaeRegistryFile  * vae_registry_entry_get_file            (const VaeRegistryEntry *entry,
                                                                         guint                   index);

VAE_API void                     vae_registry_check_free           (VaeRegistryCheck        *check);
VAE_API void                     vae_registry_local_free           (VaeRegistryLocal        *local);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeRegistry, vae_registry_unref)

G_END_DECLS
