/* gimp-vae - fuzz harness: .vaez files (the container and the generic
 * latent coder; the learned entropy model needs its model)
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <zlib.h>

#include "fuzz-common.h"
#include "vae-compress.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();

  return 0;
}

static void
read_vaez (GBytes *bytes)
{
  g_autoptr(GError)  error = NULL;
  VaeCompressedInfo  info;
  VaeLatent         *latent;

  if (vae_compressed_read_info (bytes, &info, &error))
    vae_compressed_info_clear (&info);
  else
    fuzz_check_error (error, "");
  g_clear_error (&error);

  latent = vae_decompress_latent (NULL, bytes, &error);
  if (latent)
    vae_latent_unref (latent);
  else
    fuzz_check_error (error, "");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) raw = g_bytes_new_static (size ? data : (const uint8_t *) "",
                                              size);
  guint8           *fixed;

  read_vaez (raw);

  /* Everything past the version is trusted only once the trailing CRC
   * matches: with it made to match, mutations reach the header and the
   * coded latents. */
  if (size >= 8)
    {
      guint32 crc;

      fixed = g_memdup2 (data, size);
      crc = GUINT32_TO_LE (crc32 (0, fixed, size - 4));
      memcpy (fixed + size - 4, &crc, 4);
      {
        g_autoptr(GBytes) bytes = g_bytes_new_take (fixed, size);

        read_vaez (bytes);
      }
    }

  return 0;
}
