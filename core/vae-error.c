/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include "vae-error-private.h"

G_DEFINE_QUARK (vae-error-quark, vae_error)

void
vae_set_error (GError     **error,
               VaeError     code,
               const gchar *format,
               ...)
{
  va_list args;

  if (error == NULL)
    return;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (VAE_ERROR, code, format, args));
  va_end (args);
}
