/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include "vae-error.h"

G_DEFINE_QUARK (vae-error-quark, vae_error)
