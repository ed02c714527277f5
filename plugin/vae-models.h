/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Model discovery: where the plug-in looks for models and which one is the
 * default.  Kept in one file so that it can switch to libvae's model
 * registry once that exists.
 */

#pragma once

#include <glib.h>

#include "vae.h"

G_BEGIN_DECLS

/**
 * VaePluginModelEntry:
 * @name: what the user sees and types: the folder or file name without
 *   extension ("taef2").
 * @path: the file or folder given to vae_model_load().
 * @origin: where it was found: "environment", "user" or "system".
 */
typedef struct
{
  gchar *name;
  gchar *path;
  gchar *origin;
} VaePluginModelEntry;

gchar     ** vae_plugin_models_search_path (void);
GPtrArray  * vae_plugin_models_find        (void);
const VaePluginModelEntry *
             vae_plugin_models_default     (GPtrArray    *entries);
gchar      * vae_plugin_models_resolve     (const gchar  *name_or_path,
                                            GError      **error);
VaeModel   * vae_plugin_models_load        (const gchar  *name_or_path,
                                            GError      **error);
VaeModel   * vae_plugin_models_load_for    (const gchar  *name_or_path,
                                            const gchar  *model_id,
                                            const gchar  *model_hash,
                                            GError      **error);

G_END_DECLS
