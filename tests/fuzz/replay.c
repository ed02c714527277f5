/* gimp-vae - runs a fuzz harness over files, for builds without libFuzzer
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   fuzz-NAME FILE-OR-FOLDER...
 *
 * Every regular file given, or inside a folder given, is one input.  With
 * libFuzzer the same harness fuzzes; here it only replays the seed corpus
 * and the inputs kept from past findings, so that a gcc build still runs
 * them.
 */

#include <stdio.h>
#include <stdlib.h>

#include "fuzz-common.h"

static guint n_inputs;

static gint
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
run_file (const gchar *path)
{
  g_autoptr(GError) error = NULL;
  gchar            *contents;
  gsize             length;

  if (! g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  /* a copy of exactly the input's size, so that ASan sees overruns */
  {
    guint8 *copy = g_memdup2 (contents, length);

    LLVMFuzzerTestOneInput (copy, length);
    g_free (copy);
  }
  g_free (contents);
  n_inputs++;
}

int
main (int    argc,
      char **argv)
{
  int i;

  LLVMFuzzerInitialize (&argc, &argv);

  for (i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir)      dir = g_dir_open (argv[i], 0, NULL);
          g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
          const gchar         *name;
          guint                j;

          while (dir && (name = g_dir_read_name (dir)))
            g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
          g_ptr_array_sort (names, compare_paths);
          for (j = 0; j < names->len; j++)
            if (g_file_test (g_ptr_array_index (names, j),
                             G_FILE_TEST_IS_REGULAR))
              run_file (g_ptr_array_index (names, j));
        }
      else
        {
          run_file (argv[i]);
        }
    }

  printf ("%u inputs, no finding\n", n_inputs);

  return n_inputs > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
