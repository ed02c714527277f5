/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Tiled encoding and decoding.  The grid and its blending weights are
 * checked against their definition (spans cover the axis, neighbours
 * overlap by exactly the overlap, weights sum to 1 everywhere).  For the
 * TAESD family tiles are exact by construction (each tile carries a margin
 * as wide as the receptive field of the tiled layers; the GroupNorm layers
 * run on the whole map), so tiled results must equal untiled ones to float
 * rounding: max |diff| <= 1e-4 * max (1, max |whole|) on the small test
 * models, the tolerance test-taesd.c holds either run to against PyTorch
 * (the Winograd convs round differently where a tile's edge moves their
 * 4x4 output grid, and TAESANA chains 30 convs), and a PSNR of at
 * least 45 dB (the bar; in practice far above) between tiled and
 * untiled TAEF2 on a real 1024x1024 photo.
 */

#include <math.h>

#include "vae-tiling.h"
#include "png-io.h"

typedef struct
{
  gsize size, max_len, overlap, align, scale;
} SplitCase;

static const SplitCase split_cases[] = {
  { 100, 40, 8, 1, 1 },
  { 100, 40, 8, 1, 8 },
  { 128, 32, 6, 4, 1 },
  { 37, 16, 5, 1, 2 },
  { 64, 64, 8, 1, 1 },     /* one tile */
  { 65, 64, 8, 1, 1 },
  { 1000, 100, 20, 8, 1 },
  { 50, 12, 10, 1, 4 },    /* max_len < 2 overlap: the step grows */
};

static void
test_split (void)
{
  guint c;

  g_test_summary ("Spans cover the axis, overlap by exactly the overlap, "
                  "and their weights sum to 1");

  for (c = 0; c < G_N_ELEMENTS (split_cases); c++)
    {
      const SplitCase    *sc = &split_cases[c];
      g_autoptr (GArray)  spans = vae_tiles_split (sc->size, sc->max_len,
                                                   sc->overlap, sc->align);
      guint               i;
      gsize               x;

      g_assert_cmpuint (spans->len, >=, 1);
      g_assert_cmpuint (g_array_index (spans, VaeSpan, 0).start, ==, 0);
      for (i = 0; i < spans->len; i++)
        {
          const VaeSpan *s = &g_array_index (spans, VaeSpan, i);

          g_assert_cmpuint (s->start % sc->align, ==, 0);
          g_assert_cmpuint (s->len, <=, MAX (MAX (sc->max_len, 2 * sc->overlap),
                                             spans->len == 1 ? sc->size : 0));
          g_assert_cmpuint (s->len, >=, MIN (sc->overlap, sc->size));
          if (i + 1 < spans->len)
            g_assert_cmpuint (s->start + s->len, ==,
                              g_array_index (spans, VaeSpan, i + 1).start + sc->overlap);
          else
            g_assert_cmpuint (s->start + s->len, ==, sc->size);
        }

      for (x = 0; x < sc->size * sc->scale; x++)
        {
          gdouble sum = 0.0;

          for (i = 0; i < spans->len; i++)
            {
              const VaeSpan *s = &g_array_index (spans, VaeSpan, i);

              if (x >= s->start * sc->scale && x < (s->start + s->len) * sc->scale)
                sum += vae_tiles_weight (spans, i, sc->overlap, sc->scale, x);
            }
          g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
        }
    }
}

static gdouble
max_abs_diff (const VaeTensor *a,
              const VaeTensor *b)
{
  const gfloat *pa = vae_tensor_peek_data (a), *pb = vae_tensor_peek_data (b);
  gdouble       m = 0.0;
  gsize         i;

  g_assert_true (vae_tensor_same_shape (a, b));
  for (i = 0; i < vae_tensor_get_n_elements (a); i++)
    m = MAX (m, fabs ((gdouble) pa[i] - pb[i]));

  return m;
}

static gdouble
max_abs (const VaeTensor *t)
{
  const gfloat *p = vae_tensor_peek_data (t);
  gdouble       m = 0.0;
  gsize         i;

  for (i = 0; i < vae_tensor_get_n_elements (t); i++)
    m = MAX (m, fabs (p[i]));

  return m;
}

/* PSNR of a against b for values spanning @peak. */
static gdouble
psnr_peak (const VaeTensor *a,
           const VaeTensor *b,
           gdouble          peak)
{
  const gfloat *pa = vae_tensor_peek_data (a), *pb = vae_tensor_peek_data (b);
  gdouble       mse = 0.0;
  gsize         i, n = vae_tensor_get_n_elements (a);

  for (i = 0; i < n; i++)
    mse += ((gdouble) pa[i] - pb[i]) * ((gdouble) pa[i] - pb[i]);
  mse /= n;

  return mse > 0.0 ? 10.0 * log10 (peak * peak / mse) : INFINITY;
}

static void
test_taesd_small (gconstpointer data)
{
  const gchar          *variant = data;
  g_autofree gchar     *dir = g_test_build_filename (G_TEST_DIST, "data", "taesd",
                                                     variant, NULL);
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (VaeLatent) whole = NULL, tiled = NULL;
  g_autoptr (VaeTensor) out_whole = NULL, out_tiled = NULL;
  g_autoptr (GError)    error = NULL;
  g_autoptr (GRand)     rand = g_rand_new_with_seed (5);
  VaeOptions            options;
  guint                 f;
  gfloat               *d;
  gsize                 i, side;

  model = vae_model_load (dir, &error);
  g_assert_no_error (error);
  f = vae_model_get_factor (model);

  /* Big enough for several tiles of the smallest size the margin allows. */
  side = f * 40;
  image = vae_tensor_new_3d (3, side, side + f * 3, &error);
  g_assert_no_error (error);
  d = vae_tensor_get_data (image);
  for (i = 0; i < vae_tensor_get_n_elements (image); i++)
    d[i] = (gfloat) g_rand_double (rand);

  vae_options_init (&options);
  g_assert_true (vae_model_encode (model, image, &whole, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, whole, &out_whole, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  options.tile_size = f * 16;
  g_assert_true (vae_model_encode (model, image, &tiled, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, whole, &out_tiled, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  g_test_message ("%s: latents max |tiled - whole| %.2g, image %.2g", variant,
                  max_abs_diff (vae_latent_get_tensor (tiled), vae_latent_get_tensor (whole)),
                  max_abs_diff (out_tiled, out_whole));
  g_assert_cmpfloat (max_abs_diff (vae_latent_get_tensor (tiled),
                                   vae_latent_get_tensor (whole)), <=,
                     1e-4 * MAX (1.0, max_abs (vae_latent_get_tensor (whole))));
  g_assert_cmpfloat (max_abs_diff (out_tiled, out_whole), <=,
                     1e-4 * MAX (1.0, max_abs (out_whole)));
}

static void
test_taef2_photo (void)
{
  const gchar          *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar     *model_dir = NULL, *photo = NULL;
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (VaeLatent) whole = NULL, tiled = NULL;
  g_autoptr (VaeTensor) out_whole = NULL, out_tiled = NULL;
  g_autoptr (GError)    error = NULL;
  VaeOptions            options;
  gdouble               psnr_latent_domain, psnr_image;

  model_dir = g_build_filename (shared ? shared : "", "models", "taef2", NULL);
  photo = g_build_filename (shared ? shared : "", "data", "train_seed",
                            "popos_nasa_45068.png", NULL);
  if (shared == NULL || ! g_file_test (model_dir, G_FILE_TEST_IS_DIR) ||
      ! g_file_test (photo, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("TAEF2 weights or the 1024x1024 photo are not in VAE_SHARED_DIR");
      return;
    }

  model = vae_model_load (model_dir, &error);
  g_assert_no_error (error);
  image = test_read_png (photo);
  g_assert_cmpuint (vae_tensor_get_dim (image, 1), ==, 1024);
  g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 1024);

  vae_options_init (&options);
  g_assert_true (vae_model_encode (model, image, &whole, &options, NULL, NULL, NULL, &error));
  g_assert_true (vae_model_decode (model, whole, &out_whole, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* Tiles of 256 pixels: a 4 x 4 grid plus margins. */
  options.tile_size = 256;
  g_assert_true (vae_model_encode (model, image, &tiled, &options, NULL, NULL, NULL, &error));
  g_assert_true (vae_model_decode (model, whole, &out_tiled, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* Latents span about [-6, 6]: PSNR with that peak, like images with 1. */
  psnr_latent_domain = psnr_peak (vae_latent_get_tensor (tiled),
                                  vae_latent_get_tensor (whole), 12.0);
  psnr_image = psnr_peak (out_tiled, out_whole, 1.0);

  g_test_message ("TAEF2 1024x1024, tiles of 256: PSNR tiled vs whole: latents "
                  "%.1f dB (peak 12), decoded %.1f dB; max |diff| %.2g / %.2g",
                  psnr_latent_domain, psnr_image,
                  max_abs_diff (vae_latent_get_tensor (tiled), vae_latent_get_tensor (whole)),
                  max_abs_diff (out_tiled, out_whole));
  g_assert_cmpfloat (psnr_latent_domain, >=, 45.0);
  g_assert_cmpfloat (psnr_image, >=, 45.0);
}

int
main (int    argc,
      char **argv)
{
  static const gchar *const variants[] = { "taesd", "taef1", "taef2", "taesana" };
  guint                     i;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tiling/split", test_split);
  for (i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/tiling/taesd-small/%s", variants[i]);

      g_test_add_data_func (path, variants[i], test_taesd_small);
    }
  g_test_add_func ("/tiling/taef2-photo", test_taef2_photo);

  return g_test_run ();
}
