/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <string.h>

#include "vae-options.h"

/**
 * vae_options_init:
 * @options: (out caller-allocates): options to fill with defaults
 *
 * Sets every field to its default: all CPUs, edge padding, the default
 * memory budget (1.5 GiB), tiles sized from it, optimized kernels,
 * latents checked against the decoding model.
 */
void
vae_options_init (VaeOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof (VaeOptions));
  options->n_threads = 0;
  options->pad_mode = VAE_PAD_EDGE;
}
