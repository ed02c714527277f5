/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: what vae_image_pad () shares with the tiled runs, which read
 * their tiles as padded without a padded copy.
 */

#pragma once

#include "vae-options.h"

G_BEGIN_DECLS

/* Index of the source row or column that padding position @i (>= @n)
 * copies; @i itself below @n. */
gsize vae_pad_source_index (gsize      i,
                            gsize      n,
                            VaePadMode mode);

G_END_DECLS
