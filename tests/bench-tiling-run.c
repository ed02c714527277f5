/* gimp-vae - tiled against untiled on one image, for tools/bench-tiling
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-tiling-run MODEL IMAGE.f32 WIDTH HEIGHT --tile T [--threads N]
 *                    [--kl-stats tiles,low-res] [--out DIR]
 *
 * IMAGE.f32 is a planar [3, HEIGHT, WIDTH] float32 image in [0, 1].  Loads
 * MODEL (a folder or a file, as the vae command does), encodes the image
 * untiled and decodes that latent untiled, then does both again in tiles
 * of T pixels (options.tile_size) and prints
 *
 *   untiled encode <s> decode <s>
 *   tiled encode <s> decode <s>
 *   psnr latent <dB, peak: the untiled latent's range> image <dB> max <|diff|>
 *
 * (image: the decoded images, clamped to [0, 1] as vae_model_decode
 * returns them).  For an AutoencoderKL file, --kl-stats also decodes in
 * tiles whose GroupNorm statistics come from elsewhere (see
 * core/arch/autoencoder-kl.c), the way the exact statistics were chosen
 * over, and prints `kl-stats <name> psnr <dB> seconds <s>` for each.
 *
 * With --out, writes untiled.f32 and tiled.f32 there (the decoded images,
 * clamped), and <name>.f32 for each --kl-stats.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vae.h"
#include "vae-run.h"
#include "vae-tensor-private.h"
#include "vae-weights.h"
#include "arch.h"

static void
die (const gchar *what,
     GError      *error)
{
  g_printerr ("bench-tiling-run: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

static gdouble
range_of (const VaeTensor *t)
{
  gdouble lo = INFINITY, hi = -INFINITY;
  gsize   i;

  for (i = 0; i < t->n_elements; i++)
    {
      lo = MIN (lo, t->data[i]);
      hi = MAX (hi, t->data[i]);
    }

  return hi - lo;
}

/* PSNR of a against b for @peak, both clamped to [0, 1] first with
 * @clamp. */
static gdouble
psnr (const VaeTensor *a,
      const VaeTensor *b,
      gdouble          peak,
      gboolean         clamp,
      gdouble         *max_diff)
{
  gdouble mse = 0.0, m = 0.0;
  gsize   i;

  for (i = 0; i < a->n_elements; i++)
    {
      gdouble x = a->data[i], y = b->data[i], d;

      if (clamp)
        {
          x = CLAMP (x, 0.0, 1.0);
          y = CLAMP (y, 0.0, 1.0);
        }
      d = x - y;
      mse += d * d;
      m = MAX (m, fabs (d));
    }
  mse /= a->n_elements;
  if (max_diff)
    *max_diff = m;

  return mse > 0.0 ? 10.0 * log10 (peak * peak / mse) : INFINITY;
}

static void
write_raw (const gchar     *dir,
           const gchar     *name,
           const VaeTensor *t)
{
  g_autofree gchar  *path = g_build_filename (dir, name, NULL);
  g_autofree gfloat *data = g_new (gfloat, t->n_elements);
  GError            *error = NULL;
  gsize              i;

  for (i = 0; i < t->n_elements; i++)
    data[i] = CLAMP (t->data[i], 0.0f, 1.0f);
  if (! g_file_set_contents (path, (const gchar *) data,
                             t->n_elements * sizeof (gfloat), &error))
    die (path, error);
}

static gdouble
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

int
main (int    argc,
      char **argv)
{
  static const struct
  {
    const gchar *name;
    VaeKlStats   stats;
  } known[] = {
    { "exact", VAE_KL_STATS_EXACT },
    { "tiles", VAE_KL_STATS_TILES },
    { "low-res", VAE_KL_STATS_LOW_RES },
  };
  const gchar          *args[4] = { NULL, };
  const gchar          *kl_stats = NULL, *out_dir = NULL;
  gint                  tile = 512, threads = 0, n_args = 0, i;
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) image = NULL, untiled = NULL, tiled = NULL;
  g_autoptr (VaeLatent) z = NULL, z_tiled = NULL;
  g_autofree gchar     *raw = NULL;
  GError               *error = NULL;
  VaeOptions            options;
  gsize                 size, width, height;
  gdouble               enc, dec, max_diff;
  gint64                t0;

  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--tile") == 0 && i + 1 < argc)
        tile = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--kl-stats") == 0 && i + 1 < argc)
        kl_stats = argv[++i];
      else if (strcmp (argv[i], "--out") == 0 && i + 1 < argc)
        out_dir = argv[++i];
      else if (n_args < 4)
        args[n_args++] = argv[i];
      else
        {
          g_printerr ("bench-tiling-run: unexpected argument %s\n", argv[i]);
          return 2;
        }
    }
  if (n_args != 4 || tile <= 0)
    {
      g_printerr ("usage: bench-tiling-run MODEL IMAGE.f32 WIDTH HEIGHT --tile T "
                  "[--threads N] [--kl-stats tiles,low-res] [--out DIR]\n");
      return 2;
    }
  width = g_ascii_strtoull (args[2], NULL, 10);
  height = g_ascii_strtoull (args[3], NULL, 10);

  model = vae_model_load (args[0], &error);
  if (model == NULL)
    die (args[0], error);

  if (! g_file_get_contents (args[1], &raw, &size, &error))
    die (args[1], error);
  image = vae_tensor_new_3d (3, height, width, &error);
  if (image == NULL || size != image->n_elements * sizeof (gfloat))
    die ("the image is not 3 x HEIGHT x WIDTH floats", error);
  memcpy (image->data, raw, size);

  vae_options_init (&options);
  options.n_threads = threads;
  /* Untiled whatever the size: a budget nothing reaches. */
  options.memory_budget = G_MAXSIZE / 4;
  t0 = g_get_monotonic_time ();
  if (! vae_model_encode (model, image, &z, &options, NULL, NULL, NULL, &error))
    die ("encode", error);
  enc = seconds_since (t0);
  t0 = g_get_monotonic_time ();
  if (! vae_model_decode (model, z, &untiled, &options, NULL, NULL, NULL, &error))
    die ("decode", error);
  dec = seconds_since (t0);
  g_print ("untiled encode %.2f decode %.2f\n", enc, dec);

  options.tile_size = tile;
  t0 = g_get_monotonic_time ();
  if (! vae_model_encode (model, image, &z_tiled, &options, NULL, NULL, NULL, &error))
    die ("tiled encode", error);
  enc = seconds_since (t0);
  t0 = g_get_monotonic_time ();
  if (! vae_model_decode (model, z, &tiled, &options, NULL, NULL, NULL, &error))
    die ("tiled decode", error);
  dec = seconds_since (t0);
  g_print ("tiled encode %.2f decode %.2f\n", enc, dec);
  g_print ("psnr latent %.2f",
           psnr (vae_latent_get_tensor (z_tiled), vae_latent_get_tensor (z),
                 range_of (vae_latent_get_tensor (z)), FALSE, NULL));
  g_print (" image %.2f", psnr (tiled, untiled, 1.0, FALSE, &max_diff));
  g_print (" max %.3g\n", max_diff);
  if (out_dir)
    {
      write_raw (out_dir, "untiled.f32", untiled);
      write_raw (out_dir, "tiled.f32", tiled);
    }

  if (kl_stats)
    {
      g_autoptr (VaeWeights) weights = vae_weights_load (args[0], &error);
      g_auto (GStrv)         names = g_strsplit (kl_stats, ",", -1);
      VaeModelInfo           info = { 0, };
      gpointer               self;

      if (weights == NULL)
        die (args[0], error);
      self = vae_arch_autoencoder_kl.create (weights, weights, &info, &error);
      if (self == NULL)
        die (args[0], error);

      for (i = 0; names[i]; i++)
        {
          g_autoptr (VaeTensor) out = NULL;
          VaeRun                run;
          guint                 k;

          for (k = 0; k < G_N_ELEMENTS (known); k++)
            if (strcmp (names[i], known[k].name) == 0)
              break;
          if (k == G_N_ELEMENTS (known))
            {
              g_printerr ("bench-tiling-run: unknown statistics '%s'\n", names[i]);
              return 2;
            }

          vae_run_init (&run, &options, NULL, NULL, NULL);
          t0 = g_get_monotonic_time ();
          if (! vae_kl_decode_tiled_with (self, vae_latent_get_tensor (z), &out, tile,
                                          known[k].stats, -1, &run, &error))
            die (names[i], error);
          vae_run_clear (&run);
          g_print ("kl-stats %s psnr %.2f seconds %.2f\n", names[i],
                   psnr (out, untiled, 1.0, TRUE, NULL), seconds_since (t0));
          if (out_dir)
            {
              g_autofree gchar *name = g_strconcat (names[i], ".f32", NULL);

              write_raw (out_dir, name, out);
            }
        }

      vae_arch_autoencoder_kl.destroy (self);
      g_free (info.id);
      g_free (info.name);
      g_free (info.architecture);
    }

  return 0;
}
