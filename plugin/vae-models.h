/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Model discovery for the plug-in, on top of libvae's model registry
 * (core/vae-registry.h): the registered models that are installed or
 * built into libvae, then the other models in the registry's search path.
 */

#pragma once

#include <glib.h>

#include "vae.h"

G_BEGIN_DECLS

/**
 * VaePluginModelEntry:
 * @name: what the user sees and types: a registry id ("seed-f16") or the
 *   folder or file name of an unregistered model in the search path.
 * @builtin: whether the model is compiled into libvae.
 */
typedef struct
{
  gchar    *name;
  gboolean  builtin;
} VaePluginModelEntry;

GPtrArray  * vae_plugin_models_find        (void);
const VaePluginModelEntry *
             vae_plugin_models_default     (GPtrArray        *entries);
VaeModel   * vae_plugin_models_load        (const gchar      *name_or_path,
                                            GError          **error);
VaeModel   * vae_plugin_models_load_for    (const gchar      *name_or_path,
                                            const VaeLatent  *latent,
                                            GError          **error);

G_END_DECLS
