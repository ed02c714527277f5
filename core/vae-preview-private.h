/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: the parts of the latent previews that tests reach directly.
 */

#pragma once

#include "vae-preview.h"

G_BEGIN_DECLS

/* The table of projections fitted on photos (vae-latent-rgb.c): the
 * [3][@channels + 1] map of the weights with @model_hash, or NULL. */
const gdouble * vae_latent_rgb_lookup     (const gchar         *model_hash,
                                           guint                channels);

gboolean        vae_latent_projection_fit (VaeLatentProjection *projection,
                                           const VaeTensor     *image,
                                           const VaeLatent     *latent,
                                           guint                factor);

G_END_DECLS
