/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: what the codec needs of a model.
 */

#pragma once

#include "codec/entropy-model.h"
#include "vae-model.h"

G_BEGIN_DECLS

/* NULL for models without codec tables. */
const VaeEntropyModel * vae_model_get_entropy_model (VaeModel *model);

G_END_DECLS
