/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

const gchar * const * vae_weight_file_suffixes   (void);
gboolean              vae_is_weight_file_name    (const gchar  *name);

gsize                 vae_file_read_head         (const gchar  *path,
                                                  guint8       *head,
                                                  gsize         size);

gboolean              vae_safetensors_sniff      (const guint8 *data,
                                                  gsize         size,
                                                  guint64      *header_length);
gboolean              vae_safetensors_sniff_file (const gchar  *path);

G_END_DECLS
