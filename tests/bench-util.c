/* gimp-vae - what the bench-*-run programs share
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <stdlib.h>
#include <sys/resource.h>

#include "bench-util.h"

/* The process's CPU time: with other work on every core, wall time says
 * little and CPU time still does. */
gdouble
bench_cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);

  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* A [channels, height, width] tensor of uniform values in [lo, hi), the
 * same for every run (seed 1). */
VaeTensor *
bench_random_tensor (gsize    channels,
                     gsize    height,
                     gsize    width,
                     gdouble  lo,
                     gdouble  hi,
                     GError **error)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  VaeTensor        *t = vae_tensor_new_3d (channels, height, width, error);
  gfloat           *d;
  gsize             i;

  if (t == NULL)
    return NULL;

  d = vae_tensor_get_data (t);
  for (i = 0; i < vae_tensor_get_n_elements (t); i++)
    d[i] = (gfloat) g_rand_double_range (rand, lo, hi);

  return t;
}

/* Prints why, after the program's name, and exits with status 1. */
void
bench_die (GError *error)
{
  g_printerr ("%s: %s\n", g_get_prgname (), error->message);
  exit (1);
}

VaeModel *
bench_load_model (const gchar *path)
{
  GError   *error = NULL;
  VaeModel *model = vae_model_load (path, &error);

  if (model == NULL)
    bench_die (error);

  return model;
}
