/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: SHA-256 with the x86 SHA extensions where the CPU has them.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VAE_SHA256_HEX_LENGTH 64

typedef struct
{
  guint32  state[8];
  guint8   buffer[64];
  gsize    buffered;
  guint64  length;
  void   (*blocks) (guint32 *state, const guint8 *data, gsize n_blocks);
} VaeSha256;

/* @plain: the portable code even where the SHA extensions exist (tests). */
void     vae_sha256_init   (VaeSha256     *sha,
                            gboolean       plain);
void     vae_sha256_update (VaeSha256     *sha,
                            gconstpointer  data,
                            gsize          size);
/* Lower-case hex digits, as g_checksum_get_string() writes them. */
void     vae_sha256_finish (VaeSha256     *sha,
                            gchar          hex[VAE_SHA256_HEX_LENGTH + 1]);
/* The digest of @size bytes as a new string (g_free). */
gchar   *vae_sha256_data   (gconstpointer  data,
                            gsize          size);
gboolean vae_sha256_has_extensions (void);

G_END_DECLS
