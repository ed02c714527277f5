/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"

G_BEGIN_DECLS

VAE_API const gchar * const * vae_weight_file_suffixes   (void);
VAE_API gboolean              vae_is_weight_file_name    (const gchar  *name);

VAE_API gsize                 vae_file_read_head         (const gchar  *path,
                                                          guint8       *head,
                                                          gsize         size);

VAE_API gboolean              vae_safetensors_sniff      (const guint8 *data,
                                                          gsize         size,
                                                          guint64      *header_length);
VAE_API gboolean              vae_safetensors_sniff_file (const gchar  *path);

G_END_DECLS
