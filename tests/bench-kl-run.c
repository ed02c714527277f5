/* gimp-vae - one libvae measurement for tools/bench-kl
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-kl-run MODEL --latent N [--channels C] [--threads T]
 *                [--repeat R] [--warmup W]
 *
 * Loads MODEL, decodes a random C x N x N latent W + R times and prints
 * `decode <median seconds of the last R>`, `gflop <work of one decode>` and
 * `cpu <process CPU seconds of the median decode>`: with every core busy
 * with other work, wall time says little and CPU time still does.  Run as a process of its own per
 * measurement, so that its peak RSS is its own.
 */

#include <stdlib.h>
#include <string.h>

#include "bench-util.h"

static gint
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

int
main (int    argc,
      char **argv)
{
  gint                 latent = 64, channels = 0, threads = 0;
  gint                 repeat = 1, warmup = 0, i;
  const gchar         *path = NULL;
  g_autoptr(VaeModel)  model = NULL;
  g_autoptr(VaeTensor) z = NULL;
  g_autoptr(VaeLatent) lat = NULL;
  g_autoptr(GArray)    times = g_array_new (FALSE, FALSE, 2 * sizeof (gdouble));
  GError              *error = NULL;
  VaeOptions           options;

  g_set_prgname ("bench-kl-run");
  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--latent") == 0 && i + 1 < argc)
        latent = atoi (argv[++i]);
      else if (strcmp (argv[i], "--channels") == 0 && i + 1 < argc)
        channels = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--repeat") == 0 && i + 1 < argc)
        repeat = atoi (argv[++i]);
      else if (strcmp (argv[i], "--warmup") == 0 && i + 1 < argc)
        warmup = atoi (argv[++i]);
      else if (path == NULL)
        path = argv[i];
      else
        {
          g_printerr ("bench-kl-run: unexpected argument %s\n", argv[i]);
          return 2;
        }
    }
  if (path == NULL || latent <= 0 || repeat < 1 || warmup < 0)
    {
      g_printerr ("usage: bench-kl-run MODEL --latent N [--channels C] "
                  "[--threads T] [--repeat R] [--warmup W]\n");
      return 2;
    }

  model = bench_load_model (path);
  if (channels == 0)
    channels = vae_model_get_latent_channels (model);

  z = bench_random_tensor (channels, latent, latent, -1.7, 1.7, &error);
  if (z == NULL)
    bench_die (error);
  lat = vae_latent_new (z, NULL);

  vae_options_init (&options);
  options.n_threads = threads;

  for (i = 0; i < warmup + repeat; i++)
    {
      g_autoptr(VaeTensor) image = NULL;
      gint64               t0 = g_get_monotonic_time ();
      gdouble              c0 = bench_cpu_seconds ();

      if (! vae_model_decode (model, lat, &image, &options, NULL, NULL, NULL,
                              &error))
        bench_die (error);
      if (i >= warmup)
        {
          gdouble s[2] = { (g_get_monotonic_time () - t0) / 1e6,
                           bench_cpu_seconds () - c0 };

          g_array_append_val (times, s);
        }
    }

  /* By wall time; the pairs sort on their first member. */
  g_array_sort (times, compare_doubles);
  g_print ("decode %.6f\n", ((gdouble *) times->data)[times->len / 2 * 2]);
  g_print ("gflop %.3f\n", vae_model_get_gflops (model, TRUE,
                                                 latent * vae_model_get_factor (model),
                                                 latent * vae_model_get_factor (model)));
  g_print ("cpu %.3f\n", ((gdouble *) times->data)[times->len / 2 * 2 + 1]);

  return 0;
}
