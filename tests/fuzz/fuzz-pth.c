/* gimp-vae - fuzz harness: PyTorch checkpoints (zip reader, pickle
 * reader, storages and views), through the same format dispatch as files
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

  /* as files are read: contiguous views of stored bytes stay lazy */
  weights = vae_weights_parse (data, size, "fuzz.pth", fuzz_keep (), &error);
  if (weights)
    fuzz_touch_weights (weights);
  else
    fuzz_check_error (error, "fuzz.pth: ");

  return 0;
}
