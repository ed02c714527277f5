/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: the one way libvae's files fail.
 */

#pragma once

#include "vae-error.h"

G_BEGIN_DECLS

void vae_set_error (GError     **error,
                    VaeError     code,
                    const gchar *format,
                    ...) G_GNUC_PRINTF (3, 4);

/* Sets @error to a VAE_ERROR and is FALSE, so that a check and its failure
 * stay one statement: `return vae_fail (error, code, format, ...);`.  A
 * macro, so that the compiler sees the FALSE when it follows the paths
 * past a failure. */
#define vae_fail(error, code, ...) \
  (vae_set_error ((error), (code), __VA_ARGS__), FALSE)
/* The same for functions that return a pointer. */
#define vae_fail_null(error, code, ...) \
  (vae_set_error ((error), (code), __VA_ARGS__), NULL)

G_END_DECLS
