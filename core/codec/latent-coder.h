/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: a generic coder for the quantised latents of any model (no
 * trained tables): each value is binarised (zero?, sign, magnitude in
 * unary, then Exp-Golomb) and every binary decision but the sign is coded
 * with an adaptive model chosen by the same integer contexts as the
 * learned entropy model uses.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends the coded symbols to @out, which must hold nothing else. */
void      vae_latent_coder_encode (const gint32  *q,
                                   guint          channels,
                                   guint          height,
                                   guint          width,
                                   GByteArray    *out);
gboolean  vae_latent_coder_decode (const guint8  *data,
                                   gsize          size,
                                   guint          channels,
                                   guint          height,
                                   guint          width,
                                   gint32        *q,
                                   GError       **error);

G_END_DECLS
