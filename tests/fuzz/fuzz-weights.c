/* gimp-vae - fuzz harness: the weight readers (safetensors; PyTorch
 * checkpoints: zip reader, pickle reader, storages and views), through the
 * same format dispatch as files.  The targets safetensors and pth both run
 * it, each from its own seeds.
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

  /* safetensors widened now, as latents and parasites are read */
  weights = vae_safetensors_load_from_data (data, size, "fuzz.weights",
                                            &error);
  if (weights)
    fuzz_touch_weights (weights);
  else
    fuzz_check_error (error, "fuzz.weights: ");
  g_clear_pointer (&weights, vae_weights_free);
  g_clear_error (&error);

  /* any format, as files are read: contiguous views of stored bytes stay
   * lazy, widened on first use */
  weights = vae_weights_parse (data, size, "fuzz.weights", fuzz_keep (),
                               &error);
  if (weights)
    fuzz_touch_weights (weights);
  else
    fuzz_check_error (error, "fuzz.weights: ");

  return 0;
}
