/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae-api.h"
#include "vae-latent.h"
#include "vae-model.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VaeLatentProjection:
 *
 * A linear map from latent vectors to the mean R'G'B' colour of the image
 * blocks they stand for: a viewable picture of latents at latent
 * resolution.
 */
typedef struct _VaeLatentProjection VaeLatentProjection;

VAE_API VaeLatentProjection * vae_latent_projection_new              (VaeModel                  *model,
                                                                      guint                      channels,
                                                                      GCancellable              *cancellable,
                                                                      GError                   **error);
VAE_API VaeLatentProjection * vae_latent_projection_new_from_weights (guint                      channels,
                                                                      const gdouble             *weights);
VAE_API void                  vae_latent_projection_free             (VaeLatentProjection       *projection);
VAE_API gboolean              vae_latent_projection_is_fitted        (const VaeLatentProjection *projection);
VAE_API VaeTensor           * vae_latent_projection_apply            (const VaeLatentProjection *projection,
                                                                      const VaeLatent           *latent,
                                                                      GError                   **error);

VAE_API VaeLatent           * vae_latent_shrink                      (const VaeLatent           *latent,
                                                                      guint                      max_side,
                                                                      GError                   **error);
VAE_API VaeTensor           * vae_image_shrink                       (const VaeTensor           *image,
                                                                      guint                      max_side,
                                                                      guint                      multiple,
                                                                      GError                   **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeLatentProjection, vae_latent_projection_free)

G_END_DECLS
