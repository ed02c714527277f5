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
#include <sys/resource.h>

#include "vae.h"

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);

  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

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
  g_autoptr(GRand)     rand = g_rand_new_with_seed (1);
  GError              *error = NULL;
  VaeOptions           options;
  gfloat              *data;
  gsize                k;

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

  model = vae_model_load (path, &error);
  if (model == NULL)
    {
      g_printerr ("bench-kl-run: %s\n", error->message);
      return 1;
    }
  if (channels == 0)
    channels = vae_model_get_latent_channels (model);

  z = vae_tensor_new_3d (channels, latent, latent, &error);
  if (z == NULL)
    {
      g_printerr ("bench-kl-run: %s\n", error->message);
      return 1;
    }
  data = vae_tensor_get_data (z);
  for (k = 0; k < vae_tensor_get_n_elements (z); k++)
    data[k] = (gfloat) g_rand_double_range (rand, -1.7, 1.7);
  lat = vae_latent_new (z, NULL);

  vae_options_init (&options);
  options.n_threads = threads;

  for (i = 0; i < warmup + repeat; i++)
    {
      g_autoptr(VaeTensor) image = NULL;
      gint64               t0 = g_get_monotonic_time ();
      gdouble              c0 = cpu_seconds ();

      if (! vae_model_decode (model, lat, &image, &options, NULL, NULL, NULL,
                              &error))
        {
          g_printerr ("bench-kl-run: %s\n", error->message);
          return 1;
        }
      if (i >= warmup)
        {
          gdouble s[2] = { (g_get_monotonic_time () - t0) / 1e6,
                           cpu_seconds () - c0 };

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
