/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Viewable pictures of latents: a per-model linear projection of the latent
 * channels to RGB, and small previews for the dialogs.
 */

#pragma once

#include "vae.h"

G_BEGIN_DECLS

typedef struct _VaePluginProjection VaePluginProjection;

VaePluginProjection * vae_plugin_projection_new   (VaeModel                  *model,
                                                   guint                      channels,
                                                   GCancellable              *cancellable,
                                                   GError                   **error);
void                  vae_plugin_projection_free  (VaePluginProjection       *projection);
VaeTensor           * vae_plugin_projection_apply (const VaePluginProjection *projection,
                                                   const VaeLatent           *latent,
                                                   GError                   **error);

VaeLatent           * vae_plugin_latent_resize    (const VaeLatent           *latent,
                                                   guint                      width,
                                                   guint                      height,
                                                   GError                   **error);
VaeLatent           * vae_plugin_latent_shrink    (const VaeLatent           *latent,
                                                   guint                      max_side,
                                                   GError                   **error);
VaeTensor           * vae_plugin_image_shrink     (const VaeTensor           *image,
                                                   guint                      max_side,
                                                   guint                      multiple,
                                                   GError                   **error);
const gdouble       * vae_plugin_latent_rgb_lookup (const gchar              *model_hash,
                                                    guint                     channels);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaePluginProjection, vae_plugin_projection_free)

G_END_DECLS
