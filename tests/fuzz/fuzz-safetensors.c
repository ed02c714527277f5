/* gimp-vae - fuzz harness: the safetensors reader
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fuzz-common.h"

FUZZ_INITIALIZE_DEFAULT

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(VaeWeights) weights = NULL;
  g_autoptr(GError)     error = NULL;

  /* widened now, as latents and parasites are read */
  weights = vae_safetensors_load_from_data (data, size, "fuzz.safetensors",
                                            &error);
  if (weights)
    fuzz_touch_weights (weights);
  else
    fuzz_check_error (error, "fuzz.safetensors: ");
  g_clear_pointer (&weights, vae_weights_free);
  g_clear_error (&error);

  /* widened on first use, as files are read */
  weights = vae_weights_parse (data, size, "fuzz.safetensors", fuzz_keep (),
                               &error);
  if (weights)
    fuzz_touch_weights (weights);
  else
    fuzz_check_error (error, "fuzz.safetensors: ");

  return 0;
}
