/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: what the codec and the registry need of a model.
 */

#pragma once

#include "codec/entropy-model.h"
#include "vae-model.h"
#include "vae-registry.h"

G_BEGIN_DECLS

/* NULL for models without codec tables. */
const VaeEntropyModel * vae_model_get_entropy_model (VaeModel        *model);

/* The origin rule of vae_model_check_latent() alone: whether @model is
 * the one named by @model_id and @model_hash (either may be NULL). */
gboolean                vae_model_made              (VaeModel        *model,
                                                     const gchar     *model_id,
                                                     const gchar     *model_hash);

/* vae_model_load () (@bytes NULL) or vae_model_load_from_bytes () (@path
 * naming @bytes) for the registry, which knows the model's @entry: its
 * facts are taken as they are, no file is summed to find them. */
VaeModel              * vae_model_load_for_entry    (const gchar             *path,
                                                     GBytes                  *bytes,
                                                     const VaeRegistryEntry  *entry,
                                                     GError                 **error);

G_END_DECLS
