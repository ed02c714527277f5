/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: writing whole files.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean vae_file_write (const gchar    *path,
                         gconstpointer   data,
                         gsize           size,
                         const gchar    *what,
                         GError        **error);

G_END_DECLS
