/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Checks that @text holds exactly one JSON value (RFC 8259), possibly
 * surrounded by whitespace, nested at most @max_depth levels and made of at
 * most @max_values values, before json-glib is given it: json-glib aborts
 * on some input (two top-level values in an immutable parser), recurses
 * once per nesting level and spends about a hundred bytes per value.
 * On failure returns FALSE and, with @problem, what is wrong and at which
 * byte, e.g. "byte 12: more text after the JSON value" (free it). */
gboolean vae_json_check (const gchar  *text,
                         gsize         length,
                         guint         max_depth,
                         guint64       max_values,
                         gchar       **problem);

G_END_DECLS
