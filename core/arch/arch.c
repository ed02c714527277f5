/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* What the architectures' loaders share. */

#include "arch.h"

/* No layer of a model is wider: a larger dimension is a damaged file. */
#define MAX_WIDTH 65536

gint
vae_arch_peek_dim (VaeWeights  *weights,
                   const gchar *name,
                   guint        n_dims,
                   guint        dim)
{
  const VaeWeight *t = vae_weights_lookup (weights, name);

  if (t == NULL || t->n_dims != n_dims || t->shape[dim] == 0 ||
      t->shape[dim] > MAX_WIDTH)
    return 1;

  return (gint) t->shape[dim];
}
