/* gimp-vae - fuzz harness: .vaez files: the container, the generic latent
 * coder, and the learned entropy model with the real seed-f16-codec tables
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <zlib.h>

#include "fuzz-common.h"
#include "vae-compress.h"
#include "vae-model.h"

static VaeModel *codec_model;
static guint8    codec_hash[16];

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;
  const gchar      *hash;
  guint             i;

  fuzz_init ();
  codec_model = vae_model_load (VAE_CODEC_MODEL, &error);
  if (codec_model == NULL)
    fuzz_fail ("%s", error->message);
  hash = vae_model_get_hash (codec_model) + strlen ("sha256:");
  for (i = 0; i < sizeof (codec_hash); i++)
    codec_hash[i] = g_ascii_xdigit_value (hash[2 * i]) << 4 |
                    g_ascii_xdigit_value (hash[2 * i + 1]);

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

  latent = vae_decompress_latent (codec_model, bytes, &error);
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
   * matches, and a learned file is decoded only by the model whose hash it
   * names: with both made to match, mutations reach the header and the
   * coded latents of both coders. */
  if (size >= 8)
    {
      guint32 crc;
      gsize   at;

      fixed = g_memdup2 (data, size);
      at = 7 + (gsize) fixed[6];
      if (fixed[5] == VAE_COMPRESS_LEARNED && at + sizeof (codec_hash) + 4 <= size)
        memcpy (fixed + at, codec_hash, sizeof (codec_hash));
      crc = GUINT32_TO_LE (crc32 (0, fixed, size - 4));
      memcpy (fixed + size - 4, &crc, 4);
      {
        g_autoptr(GBytes) bytes = g_bytes_new_take (fixed, size);

        read_vaez (bytes);
      }
    }

  return 0;
}
