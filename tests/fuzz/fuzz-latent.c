/* gimp-vae - fuzz harness: .latent files (safetensors plus what the latent
 * reader checks), written back when read
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "fuzz-common.h"
#include "vae-latent.h"

FUZZ_INITIALIZE_DEFAULT

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes)  bytes = g_bytes_new_static (size ? data : (const uint8_t *) "",
                                                 size);
  g_autoptr(GBytes)  again = NULL;
  g_autoptr(GError)  error = NULL;
  VaeLatent         *latent;

  latent = vae_latent_deserialize (bytes, &error);
  if (! latent)
    {
      fuzz_check_error (error, "latent data: ");
      return 0;
    }

  /* what was read must write */
  again = vae_latent_serialize (latent, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  vae_latent_unref (latent);

  latent = vae_latent_deserialize (again, &error);
  g_assert_no_error (error);
  vae_latent_unref (latent);

  return 0;
}
