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

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vae-error.h"
#include "vae-weights.h"

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

static void
fuzz_trap (int signal_number)
{
  abort ();
}

static inline void
fuzz_init (void)
{
  /* The library never warns about data: a warning is a finding too.
   * GLib stops on fatal messages with SIGTRAP, which libFuzzer does not
   * catch: made an abort, whose input it keeps. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
  signal (SIGTRAP, fuzz_trap);
}

/* The LLVMFuzzerInitialize () of a harness that needs nothing but
 * fuzz_init (). */
#define FUZZ_INITIALIZE_DEFAULT                                            \
  int                                                                      \
  LLVMFuzzerInitialize (int    *argc,                                      \
                        char ***argv)                                      \
  {                                                                        \
    fuzz_init ();                                                          \
                                                                           \
    return 0;                                                              \
  }

/* abort(), not g_error()'s trap: libFuzzer saves the input on SIGABRT */
#define fuzz_fail(...) \
  G_STMT_START { g_printerr (__VA_ARGS__); g_printerr ("\n"); abort (); } \
  G_STMT_END

/* Files are read through their mapping, which lazy tensors point into
 * and the weights keep a reference to.  The fuzz input stays valid for
 * the whole run of an input, so a mapping of a one-byte file stands in:
 * it is only held, never read. */
static inline GMappedFile *
fuzz_keep (void)
{
  static GMappedFile *keep;

  if (! keep)
    {
      g_autoptr(GError) error = NULL;
      gchar            *path = NULL;
      gint              fd = g_file_open_tmp ("fuzz-XXXXXX", &path, &error);

      g_assert_no_error (error);
      g_assert_cmpint (write (fd, "", 1), ==, 1);
      keep = g_mapped_file_new_from_fd (fd, FALSE, &error);
      g_assert_no_error (error);
      close (fd);
      g_unlink (path);
      g_free (path);
    }

  return keep;
}

static inline void
fuzz_check_error (const GError *error,
                  const gchar  *display)
{
  const gchar *p;

  g_assert_nonnull (error);
  if (error->domain != VAE_ERROR || ! g_str_has_prefix (error->message,
                                                        display))
    fuzz_fail ("not a libvae error about %s: %s", display, error->message);
  /* one line of text: no control characters from the file */
  for (p = error->message; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      fuzz_fail ("a control character in the message: %s", error->message);
  if (! g_utf8_validate (error->message, -1, NULL))
    fuzz_fail ("a message that is not UTF-8: %s", error->message);
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
