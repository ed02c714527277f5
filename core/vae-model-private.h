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

/* The origin rule of vae_model_check_latent() alone: whether @model is
 * the one named by @model_id and @model_hash (either may be NULL). */
gboolean                vae_model_made              (VaeModel        *model,
                                                     const gchar     *model_id,
                                                     const gchar     *model_hash);

G_END_DECLS
