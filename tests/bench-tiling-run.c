/* gimp-vae - AutoencoderKL tiled against untiled, for tools/bench-tiling
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   bench-tiling-run MODEL IMAGE.f32 WIDTH HEIGHT --tile T [--threads N]
 *                    [--stats tiles,low-res,exact] [--out DIR]
 *
 * IMAGE.f32 is a planar [3, HEIGHT, WIDTH] float32 image in [0, 1].  Encodes
 * it untiled, decodes that latent untiled (the reference), then for each
 * way of getting the GroupNorm statistics decodes it in tiles of T pixels
 * and encodes the image in tiles, and prints one line per case:
 *
 *   decode <stats> psnr <dB, clamped to [0, 1]> psnr-raw <dB, peak = the
 *     reference's range> max <max |diff|> seconds <s>
 *   encode <stats> psnr-latent <dB, peak = the latent's range> psnr
 *     <dB of its untiled decode against the reference> seconds <s>
 *
 * plus `untiled decode|encode seconds <s>`.  With --out, writes
 * untiled.f32 and tiled.f32 (decoded, clamped, first statistics given)
 * there for the difference map.
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

/* PSNR of a against b for the given peak; clamp: both first clamped to
 * [0, 1], as vae_model_decode does. */
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
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autofree gfloat *data = g_new (gfloat, t->n_elements);
  GError            *error = NULL;
  gsize              i;

  for (i = 0; i < t->n_elements; i++)
    data[i] = CLAMP (t->data[i], 0.0f, 1.0f);
  if (! g_file_set_contents (path, (const gchar *) data,
                             t->n_elements * sizeof (gfloat), &error))
    die (path, error);
}

typedef gboolean (* RunFunc) (gpointer         self,
                              const VaeTensor *in,
                              VaeTensor      **out,
                              gsize            tile,
                              VaeKlStats       stats,
                              gboolean         tiled,
                              VaeRun          *run,
                              GError         **error);

static gboolean
run_decode (gpointer         self,
            const VaeTensor *in,
            VaeTensor      **out,
            gsize            tile,
            VaeKlStats       stats,
            gboolean         tiled,
            VaeRun          *run,
            GError         **error)
{
  return tiled ? vae_kl_decode_tiled_with (self, in, out, tile, stats, run, error)
               : vae_arch_autoencoder_kl.decode (self, in, out, run, error);
}

static gboolean
run_encode (gpointer         self,
            const VaeTensor *in,
            VaeTensor      **out,
            gsize            tile,
            VaeKlStats       stats,
            gboolean         tiled,
            VaeRun          *run,
            GError         **error)
{
  return tiled ? vae_kl_encode_tiled_with (self, in, out, tile, stats, run, error)
               : vae_arch_autoencoder_kl.encode (self, in, out, run, error);
}

static VaeTensor *
timed (RunFunc          func,
       gpointer         self,
       const VaeTensor *in,
       gsize            tile,
       VaeKlStats       stats,
       gboolean         tiled,
       gint             threads,
       gdouble         *seconds)
{
  VaeOptions  options;
  VaeRun      run;
  VaeTensor  *out = NULL;
  GError     *error = NULL;
  gint64      t0 = g_get_monotonic_time ();

  vae_options_init (&options);
  options.n_threads = threads;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  if (! func (self, in, &out, tile, stats, tiled, &run, &error))
    die ("run", error);
  vae_run_clear (&run);
  *seconds = (g_get_monotonic_time () - t0) / 1e6;

  return out;
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
  const gchar          *stats_list = "exact", *out_dir = NULL;
  gint                  tile = 512, threads = 0, n_args = 0, i;
  g_autoptr (VaeWeights) weights = NULL;
  g_autoptr (VaeTensor) image = NULL, z = NULL, ref = NULL;
  g_autofree gchar     *raw = NULL;
  g_auto (GStrv)        names = NULL;
  VaeModelInfo          info = { 0, };
  gpointer              self;
  GError               *error = NULL;
  gsize                 size, width, height;
  gdouble               s;

  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--tile") == 0 && i + 1 < argc)
        tile = atoi (argv[++i]);
      else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (strcmp (argv[i], "--stats") == 0 && i + 1 < argc)
        stats_list = argv[++i];
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
                  "[--threads N] [--stats tiles,low-res,exact] [--out DIR]\n");
      return 2;
    }
  width = g_ascii_strtoull (args[2], NULL, 10);
  height = g_ascii_strtoull (args[3], NULL, 10);

  weights = vae_weights_load (args[0], &error);
  if (weights == NULL)
    die (args[0], error);
  self = vae_arch_autoencoder_kl.create (weights, weights, &info, &error);
  if (self == NULL)
    die (args[0], error);

  if (! g_file_get_contents (args[1], &raw, &size, &error))
    die (args[1], error);
  image = vae_tensor_new_3d (3, height, width, &error);
  if (image == NULL || size != image->n_elements * sizeof (gfloat) ||
      width % info.factor != 0 || height % info.factor != 0)
    die ("the image is not 3 x HEIGHT x WIDTH floats, a multiple of the factor", error);
  memcpy (image->data, raw, size);

  z = timed (run_encode, self, image, 0, 0, FALSE, threads, &s);
  g_print ("untiled encode seconds %.2f\n", s);
  ref = timed (run_decode, self, z, 0, 0, FALSE, threads, &s);
  g_print ("untiled decode seconds %.2f (reference range [%.3g wide])\n", s,
           range_of (ref));

  names = g_strsplit (stats_list, ",", -1);
  for (i = 0; names[i]; i++)
    {
      g_autoptr (VaeTensor) dec = NULL, enc = NULL, dec2 = NULL;
      VaeKlStats            stats;
      gdouble               max_diff, t_dec, t_enc, unused;
      guint                 k;

      for (k = 0; k < G_N_ELEMENTS (known); k++)
        if (strcmp (names[i], known[k].name) == 0)
          break;
      if (k == G_N_ELEMENTS (known))
        {
          g_printerr ("bench-tiling-run: unknown statistics '%s'\n", names[i]);
          return 2;
        }
      stats = known[k].stats;

      dec = timed (run_decode, self, z, tile, stats, TRUE, threads, &t_dec);
      g_print ("decode %s psnr %.2f psnr-raw %.2f", names[i],
               psnr (dec, ref, 1.0, TRUE, &max_diff),
               psnr (dec, ref, range_of (ref), FALSE, NULL));
      g_print (" max %.3g seconds %.2f\n", max_diff, t_dec);
      if (out_dir && i == 0)
        {
          write_raw (out_dir, "untiled.f32", ref);
          write_raw (out_dir, "tiled.f32", dec);
        }

      enc = timed (run_encode, self, image, tile, stats, TRUE, threads, &t_enc);
      dec2 = timed (run_decode, self, enc, 0, 0, FALSE, threads, &unused);
      g_print ("encode %s psnr-latent %.2f psnr %.2f seconds %.2f\n", names[i],
               psnr (enc, z, range_of (z), FALSE, NULL),
               psnr (dec2, ref, 1.0, TRUE, NULL), t_enc);
    }

  vae_arch_autoencoder_kl.destroy (self);
  g_free (info.id);
  g_free (info.name);
  g_free (info.architecture);

  return 0;
}
