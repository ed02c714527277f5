/* gimp-vae - one libvae measurement for tools/bench-seed
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-seed-run MODEL --op encode|decode --size N [--threads T]
 *
 * Loads MODEL, then encodes a random N x N image (or decodes a random
 * N/f x N/f latent) twice, the first untimed, and prints `<op> <wall
 * seconds>` and `cpu <process CPU seconds>` of the second.  With other
 * work on every core, wall time says little and CPU time still does.  Run
 * as a process of its own per measurement, so that its peak RSS is its
 * own.
 */

#include <stdlib.h>
#include <string.h>

#include "bench-util.h"

int
main (int    argc,
      char **argv)
{
  const gchar          *path = NULL, *op = "decode";
  gint                  size = 1024, threads = 0, i;
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) input = NULL;
  g_autoptr (VaeLatent) latent = NULL;
  GError               *error = NULL;
  VaeOptions            options;
  gdouble               wall = 0.0, cpu = 0.0;
  gboolean              decode;
  guint                 f;

  g_set_prgname ("bench-seed-run");
  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--op") == 0 && i + 1 < argc)
        op = argv[++i];
      else if (strcmp (argv[i], "--size") == 0 && i + 1 < argc)
        size = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (path == NULL)
        path = argv[i];
      else
        path = NULL, i = argc;
    }
  decode = strcmp (op, "decode") == 0;
  if (path == NULL || size <= 0 || (! decode && strcmp (op, "encode") != 0))
    {
      g_printerr ("usage: bench-seed-run MODEL --op encode|decode --size N "
                  "[--threads T]\n");
      return 2;
    }

  model = bench_load_model (path);
  f = vae_model_get_factor (model);
  if (decode)
    {
      /* The float bounds these runs have always drawn between. */
      input = bench_random_tensor (vae_model_get_latent_channels (model),
                                   size / f, size / f, -1.7f, 1.7f, &error);
      if (input != NULL)
        latent = vae_latent_new (input, NULL);
    }
  else
    {
      input = bench_random_tensor (3, size, size, 0.0f, 1.0f, &error);
    }
  if (input == NULL)
    bench_die (error);

  vae_options_init (&options);
  options.n_threads = threads;

  for (i = 0; i < 2; i++)
    {
      g_autoptr (VaeTensor) image = NULL;
      g_autoptr (VaeLatent) z = NULL;
      gint64                t0 = g_get_monotonic_time ();
      gdouble               c0 = bench_cpu_seconds ();
      gboolean              ok;

      ok = decode ? vae_model_decode (model, latent, &image, &options, NULL,
                                      NULL, NULL, &error)
                  : vae_model_encode (model, input, &z, &options, NULL, NULL,
                                      NULL, &error);
      if (! ok)
        bench_die (error);
      wall = (g_get_monotonic_time () - t0) / 1e6;
      cpu = bench_cpu_seconds () - c0;
    }

  g_print ("%s %.6f\ncpu %.6f\n", op, wall, cpu);

  return 0;
}
