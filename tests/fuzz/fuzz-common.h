/* gimp-vae - what the fuzz harnesses share
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each harness feeds one input to one reader and checks what the library
 * promises for any input: a result, or a GError in VAE_ERROR whose message
 * is one line starting with the name the data was given.  A crash, a
 * sanitizer report, a GLib critical or warning, or a broken promise is a
 * finding.
 */

#pragma once

#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "vae-error.h"
#include "vae-weights.h"

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

static inline void
fuzz_init (void)
{
  /* The library never warns about data: a warning is a finding too. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
}

static inline void
fuzz_check_error (const GError *error,
                  const gchar  *display)
{
  const gchar *p;

  g_assert_nonnull (error);
  if (error->domain != VAE_ERROR || ! g_str_has_prefix (error->message,
                                                        display))
    g_error ("not a libvae error about %s: %s", display, error->message);
  /* one line of text: no control characters from the file */
  for (p = error->message; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      g_error ("a control character in the message: %s", error->message);
  if (! g_utf8_validate (error->message, -1, NULL))
    g_error ("a message that is not UTF-8: %s", error->message);
}

/* Reads every value of every tensor, as a model would, through the checked
 * lookup: an offset gone astray is an ASan report here. */
static inline void
fuzz_touch_weights (VaeWeights *weights)
{
  g_autoptr(GPtrArray) names = vae_weights_list (weights);
  guint                i;

  for (i = 0; i < names->len; i++)
    {
      const gchar      *name = g_ptr_array_index (names, i);
      const VaeWeight  *w = vae_weights_lookup (weights, name);
      g_autoptr(GError) error = NULL;
      volatile gfloat   sum = 0.0f;
      const gfloat     *data;
      gsize             j;

      if (! w)
        continue;
      data = vae_weights_get (weights, name, w->n_dims, w->shape, &error);
      if (! data)
        {
          fuzz_check_error (error, vae_weights_get_display_name (weights));
          continue;
        }
      for (j = 0; j < w->n_elements; j++)
        sum += data[j];
    }
}
