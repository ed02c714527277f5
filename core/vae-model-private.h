/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: what the codec and the registry need of a model.
 */

#pragma once

#include "codec/entropy-model.h"
#include "vae-model.h"

G_BEGIN_DECLS

/* NULL for models without codec tables. */
const VaeEntropyModel * vae_model_get_entropy_model (VaeModel        *model);

/* The origin rule of vae_model_check_latent() alone: whether @model made
 * @latent, or @latent does not say. */
gboolean                vae_model_made_latent       (VaeModel        *model,
                                                     const VaeLatent *latent);

G_END_DECLS
