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
 *
 * AutoencoderKL has GroupNorm layers at every resolution.  Its tiled runs
 * make the whole-image statistics exactly, one GroupNorm at a time (see
 * core/arch/autoencoder-kl.c), so they too must give the untiled result
 * to float rounding: max |diff| <= 1e-4 * max (1, max |untiled|), the
 * tolerance tests/test-kl.c holds the KL code to against PyTorch, on the
 * small random models of tests/data/kl (public API, optimized and
 * reference kernels), and PSNR >= 45 dB (the bar) on a 1024x1024
 * photo with a random-weight SD-style model.
 *
 * Random-weight decoders make odd images from random latents, whose
 * statistics are the same everywhere, which would hide wrong statistics.
 * So the decoders get the latents their random encoder makes of an image
 * whose halves differ (a smooth "sky" over a busy "ground"; the real photo
 * for the 1024x1024 case): tiles normalised with their own statistics are
 * then far off (about 30 dB on the photo, see docs/tiling.md), and the
 * tests compare the raw decoder output too, not only the clamped image.
 */

#include <math.h>
#include <string.h>

#include "vae-image.h"
#include "vae-tiling.h"
#include "vae-run.h"
#include "vae-weights.h"
#include "arch.h"
#include "png-io.h"
#include "test-util.h"

#define KL_TOLERANCE 1e-4

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

typedef struct
{
  gsize w, h, tile, margin, overlap, scale;
} BlendCase;

static const BlendCase blend_cases[] = {
  { 40, 28, 12, 3, 4, 1 },
  { 40, 28, 12, 3, 4, 8 },   /* a decoder's: 8 image pixels a cell */
  { 9, 30, 8, 5, 2, 2 },     /* one column of tiles */
  { 16, 16, 16, 2, 4, 1 },   /* one tile */
  { 33, 17, 6, 0, 3, 1 },    /* no margin */
};

/* Every tile of a grid, cut from a map over its extent and blended back,
 * gives that map again: extents, offsets and weights agree. */
static void
test_blend (void)
{
  guint c;

  for (c = 0; c < G_N_ELEMENTS (blend_cases); c++)
    {
      const BlendCase      *bc = &blend_cases[c];
      const gsize           s = bc->scale;
      g_auto (VaeTileGrid)  grid = { 0 };
      g_autoptr (VaeTensor) map = vae_tensor_new_3d (2, bc->h * s, bc->w * s, NULL);
      g_autoptr (VaeTensor) out = vae_tensor_new_3d (2, bc->h * s, bc->w * s, NULL);
      guint                 ix, iy;
      gsize                 i;

      grid.w = bc->w;
      grid.h = bc->h;
      grid.tile = bc->tile;
      grid.margin = bc->margin;
      grid.overlap = bc->overlap;
      grid.xs = vae_tiles_split (bc->w, bc->tile, bc->overlap, 1);
      grid.ys = vae_tiles_split (bc->h, bc->tile, bc->overlap, 1);
      for (i = 0; i < map->n_elements; i++)
        map->data[i] = (gfloat) sin (0.37 * i) + 2.0f;

      for (iy = 0; iy < grid.ys->len; iy++)
        for (ix = 0; ix < grid.xs->len; ix++)
          {
            g_autoptr (VaeTensor) tile = NULL;
            gsize                 x0, y0, x1, y1;

            vae_tile_grid_extent (&grid, ix, iy, &x0, &y0, &x1, &y1);
            g_assert_cmpuint (x1 - x0, <=, g_array_index (grid.xs, VaeSpan, ix).len +
                                           2 * bc->margin);
            tile = vae_tiles_crop (map, VAE_PAD_EDGE, x0 * s, y0 * s,
                                   (x1 - x0) * s, (y1 - y0) * s, NULL);
            g_assert_nonnull (tile);
            vae_tiles_blend (out, tile, &grid, ix, iy);
          }

      for (i = 0; i < map->n_elements; i++)
        g_assert_cmpfloat_with_epsilon (out->data[i], map->data[i], 1e-5);
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

  /* Big enough for several tiles of the smallest size the margin allows;
   * its width off the factor: tiles read it as padded, the untiled run
   * pads a copy. */
  side = f * 40;
  image = vae_tensor_new_3d (3, side, side + f * 3 + 5, &error);
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

/* --- AutoencoderKL ------------------------------------------------------- */

/* A smooth sky over a busy ground, so that tiles' statistics differ. */
static VaeTensor *
sky_and_ground (gsize width,
                gsize height)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  VaeTensor        *image = vae_tensor_new_3d (3, height, width, NULL);
  gfloat           *d = vae_tensor_get_data (image);
  gsize             c, y, x;

  for (c = 0; c < 3; c++)
    for (y = 0; y < height; y++)
      for (x = 0; x < width; x++)
        {
          gdouble v;

          if (y < height * 2 / 5)
            v = 0.5 + 0.3 * c / 2.0 + 0.1 * y / height;
          else
            v = 0.15 + 0.5 * g_rand_double (rand) *
                (0.5 + 0.5 * sin (x * 0.7 + c) * cos (y * 0.3));
          d[(c * height + y) * width + x] = (gfloat) v;
        }

  return image;
}

static gdouble
value_range (const VaeTensor *t)
{
  const gfloat *p = vae_tensor_peek_data (t);
  gdouble       lo = INFINITY, hi = -INFINITY;
  gsize         i;

  for (i = 0; i < vae_tensor_get_n_elements (t); i++)
    {
      lo = MIN (lo, p[i]);
      hi = MAX (hi, p[i]);
    }

  return hi - lo;
}

static void
assert_exact (const gchar     *what,
              const VaeTensor *tiled,
              const VaeTensor *whole)
{
  const gdouble diff = max_abs_diff (tiled, whole);
  const gdouble tolerance = KL_TOLERANCE * MAX (1.0, max_abs (whole));

  g_test_message ("%s: max |tiled - untiled| %.3g (tolerance %.3g), PSNR %.1f dB "
                  "(peak: the untiled range %.3g)", what, diff, tolerance,
                  psnr_peak (tiled, whole, value_range (whole)), value_range (whole));
  /* NaN must fail */
  g_assert_true (diff <= tolerance);
}

typedef struct
{
  const gchar *variant;
  gboolean     reference;
} KlSmallCase;

static const KlSmallCase kl_small_cases[] = {
  { "sd", FALSE },
  { "kl16", FALSE },
  { "flux2", FALSE },
  { "kl16", TRUE },
};

typedef struct
{
  GCancellable *cancellable;
  gdouble       at;
  gdouble       last;
} CancelAt;

static void
cancel_at (gdouble      fraction,
           const gchar *stage,
           gpointer     data)
{
  CancelAt *c = data;

  g_assert_cmpfloat (fraction, >=, c->last);
  c->last = fraction;
  if (fraction >= c->at)
    g_cancellable_cancel (c->cancellable);
}

/* The small models through the public API, tiles chosen by tile_size and
 * by a memory budget: tiled equals untiled. */
static void
test_kl_small (gconstpointer data)
{
  const KlSmallCase    *kc = data;
  g_autofree gchar     *path = g_test_build_filename (G_TEST_DIST, "data", "kl",
                                                      kc->variant, "model.safetensors",
                                                      NULL);
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (VaeLatent) whole = NULL, tiled = NULL;
  g_autoptr (VaeTensor) out_whole = NULL, out_tiled = NULL, out_budget = NULL;
  g_autoptr (GError)    error = NULL;
  VaeOptions            options;
  guint                 f;

  model = vae_model_load (path, &error);
  g_assert_no_error (error);
  f = vae_model_get_factor (model);

  /* Not a multiple of the tiles, nor square, nor of the factor (tiles
   * read it as padded, the untiled run pads a copy); the reference
   * kernels get a smaller one (their attention holds n^2 doubles). */
  image = kc->reference ? sky_and_ground (f * 18, f * 14)
                        : sky_and_ground (f * 62 + 1, f * 45 - 1);

  vae_options_init (&options);
  options.reference = kc->reference;
  g_assert_true (vae_model_encode (model, image, &whole, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, whole, &out_whole, &options, NULL, NULL, NULL,
                                   &error));
  g_assert_no_error (error);

  options.tile_size = kc->reference ? f * 10 : f * 12;
  g_assert_true (vae_model_encode (model, image, &tiled, &options, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, whole, &out_tiled, &options, NULL, NULL, NULL,
                                   &error));
  g_assert_no_error (error);
  assert_exact ("latents, tile_size", vae_latent_get_tensor (tiled),
                vae_latent_get_tensor (whole));
  assert_exact ("decoded, tile_size", out_tiled, out_whole);

  if (kc->reference)
    return;

  /* Cancelling half-way through a tiled decode stops it. */
  {
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (VaeTensor)    never = NULL;
    CancelAt                 at = { cancellable, 0.5, 0.0 };

    g_assert_false (vae_model_decode (model, whole, &never, &options, cancellable,
                                      cancel_at, &at, &error));
    g_assert_error (error, VAE_ERROR, VAE_ERROR_CANCELLED);
    g_assert_null (never);
    g_assert_cmpfloat (at.last, <, 0.75);
    g_clear_error (&error);
  }

  /* A budget far below what the decode needs whole (8 MiB) makes the
   * planner tile it, from the architecture's memory estimate; one below
   * what even its smallest tiles need is refused. */
  options.tile_size = 0;
  options.memory_budget = 1 << 20;
  g_assert_false (vae_model_decode (model, whole, &out_budget, &options, NULL, NULL,
                                    NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY);
  g_clear_error (&error);
  options.memory_budget = 2 << 20;
  g_test_expect_message ("libvae", G_LOG_LEVEL_DEBUG, "KL decode tiles*");
  g_assert_true (vae_model_decode (model, whole, &out_budget, &options, NULL, NULL, NULL,
                                   &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  assert_exact ("decoded, memory budget", out_budget, out_whole);
}

/* The LDM tensors of an SD-style VAE with level widths @ch (2 ResNet
 * blocks per encoder level, 3 per decoder level, 4 latent channels,
 * quant convs), filled like tests/kl_reference.py's generator does:
 * GroupNorm gains 1 + u / 8, biases u / 32, conv weights
 * u sqrt (3 / fan_in), u uniform in [-1, 1). */
typedef struct
{
  VaeWeights *weights;
  GRand      *rand;
} RandomWeights;

static void
add_random (gpointer     target,
            const gchar *name,
            guint        n_dims,
            const gsize *shape)
{
  RandomWeights *r = target;
  VaeWeight     *t;
  GError        *error = NULL;
  gdouble        a;
  gsize          i;

  t = vae_weights_add (r->weights, name, VAE_DTYPE_F32, n_dims, shape,
                       &error);
  g_assert_no_error (error);
  a = n_dims == 1 ? 0.0 : sqrt (3.0 / (shape[1] * shape[2] * shape[3]));
  for (i = 0; i < t->n_elements; i++)
    {
      gdouble u = g_rand_double_range (r->rand, -1.0, 1.0);

      if (n_dims > 1)
        t->data[i] = (gfloat) (u * a);
      else if (g_str_has_suffix (name, "weight") && strstr (name, "norm"))
        t->data[i] = (gfloat) (1.0 + u / 8);
      else
        t->data[i] = (gfloat) (u / 32);
    }
}

static void
add_mid (RandomWeights *r,
         const gchar   *half,
         gsize          c)
{
  static const gchar *const proj[] = { "q", "k", "v", "proj_out" };
  g_autofree gchar         *b1 = g_strconcat (half, ".mid.block_1", NULL);
  g_autofree gchar         *b2 = g_strconcat (half, ".mid.block_2", NULL);
  g_autofree gchar         *norm = g_strconcat (half, ".mid.attn_1.norm", NULL);
  guint                     i;

  test_ldm_resnet (add_random, r, b1, c, c);
  test_ldm_norm (add_random, r, norm, c);
  for (i = 0; i < G_N_ELEMENTS (proj); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("%s.mid.attn_1.%s", half, proj[i]);

      test_ldm_conv (add_random, r, name, c, c, 1);
    }
  test_ldm_resnet (add_random, r, b2, c, c);
}

static VaeWeights *
sd_style_weights (const gsize *ch,
                  guint        n_levels)
{
  VaeWeights       *w = vae_weights_new ("random-sd-style.safetensors");
  g_autoptr (GRand) rand = g_rand_new_with_seed (2024);
  RandomWeights     r = { w, rand };
  const gsize       top = ch[n_levels - 1];
  gsize             c;
  guint             i, j;

  test_ldm_conv (add_random, &r, "encoder.conv_in", ch[0], 3, 3);
  c = ch[0];
  for (i = 0; i < n_levels; i++)
    {
      for (j = 0; j < 2; j++)
        {
          g_autofree gchar *base = g_strdup_printf ("encoder.down.%u.block.%u", i, j);

          test_ldm_resnet (add_random, &r, base, c, ch[i]);
          c = ch[i];
        }
      if (i + 1 < n_levels)
        {
          g_autofree gchar *base = g_strdup_printf ("encoder.down.%u.downsample.conv", i);

          test_ldm_conv (add_random, &r, base, c, c, 3);
        }
    }
  add_mid (&r, "encoder", top);
  test_ldm_norm (add_random, &r, "encoder.norm_out", top);
  test_ldm_conv (add_random, &r, "encoder.conv_out", 8, top, 3);
  test_ldm_conv (add_random, &r, "quant_conv", 8, 8, 1);

  test_ldm_conv (add_random, &r, "post_quant_conv", 4, 4, 1);
  test_ldm_conv (add_random, &r, "decoder.conv_in", top, 4, 3);
  add_mid (&r, "decoder", top);
  c = top;
  for (i = n_levels; i-- > 0; )
    {
      for (j = 0; j < 3; j++)
        {
          g_autofree gchar *base = g_strdup_printf ("decoder.up.%u.block.%u", i, j);

          test_ldm_resnet (add_random, &r, base, c, ch[i]);
          c = ch[i];
        }
      if (i > 0)
        {
          g_autofree gchar *base = g_strdup_printf ("decoder.up.%u.upsample.conv", i);

          test_ldm_conv (add_random, &r, base, c, c, 3);
        }
    }
  test_ldm_norm (add_random, &r, "decoder.norm_out", ch[0]);
  test_ldm_conv (add_random, &r, "decoder.conv_out", 3, ch[0], 3);

  return w;
}

/* Untiled with tile 0; with split >= 0 that split rather than the
 * planned one. */
static VaeTensor *
kl_run (gpointer         self,
        gboolean         decoder,
        const VaeTensor *in,
        gsize            tile,
        gint             split)
{
  const VaeArchClass *arch = &vae_arch_autoencoder_kl;
  VaeOptions          options;
  VaeRun              run;
  VaeTensor          *out = NULL;
  GError             *error = NULL;
  gboolean            ok;

  vae_options_init (&options);
  vae_run_init (&run, &options, NULL, NULL, NULL);
  if (tile && split >= 0)
    ok = (decoder ? vae_kl_decode_tiled_with : vae_kl_encode_tiled_with)
         (self, in, &out, tile, VAE_KL_STATS_EXACT, split, &run, &error);
  else if (tile)
    ok = (decoder ? arch->decode_tiled : arch->encode_tiled) (self, in, &out, tile,
                                                               &run, &error);
  else
    ok = (decoder ? arch->decode : arch->encode) (self, in, &out, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  /* The progress total counts every pass's work, no more. */
  g_assert_cmpfloat (fabs (run.work_done / run.work_total - 1.0), <, 1e-9);
  vae_run_clear (&run);

  return out;
}

/* The bar: a random-weight SD-style model on a 1024x1024 photo,
 * 2 x 2 tiles of 512 pixels, PSNR tiled vs untiled >= 45 dB. */
static void
test_kl_photo (void)
{
  static const gsize    ch[] = { 32, 64, 64, 64 };
  const gchar          *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar     *photo = NULL;
  g_autoptr (VaeWeights) weights = NULL;
  g_autoptr (VaeTensor) image = NULL, z = NULL, z_tiled = NULL;
  g_autoptr (VaeTensor) out = NULL, out_tiled = NULL, img = NULL, img_tiled = NULL;
  g_autoptr (GError)    error = NULL;
  VaeModelInfo          info = { 0, };
  gpointer              self;
  gdouble               psnr_latent, psnr_image;

  photo = g_build_filename (shared ? shared : "", "data", "train_seed",
                            "popos_nasa_45068.png", NULL);
  if (shared == NULL || ! g_file_test (photo, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("the 1024x1024 photo is not in VAE_SHARED_DIR");
      return;
    }
  image = test_read_png (photo);

  weights = sd_style_weights (ch, G_N_ELEMENTS (ch));
  self = vae_arch_autoencoder_kl.create (weights, weights, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info.factor, ==, 8);

  z = kl_run (self, FALSE, image, 0, -1);
  out = kl_run (self, TRUE, z, 0, -1);
  z_tiled = kl_run (self, FALSE, image, 768, -1);
  out_tiled = kl_run (self, TRUE, z, 768, -1);

  assert_exact ("SD-style [32, 64, 64, 64], 1024x1024 photo, latents", z_tiled, z);
  assert_exact ("decoded (raw)", out_tiled, out);
  img = test_clamped (out);
  img_tiled = test_clamped (out_tiled);
  psnr_latent = psnr_peak (z_tiled, z, value_range (z));
  psnr_image = psnr_peak (img_tiled, img, 1.0);
  g_test_message ("PSNR tiled vs untiled: latents %.1f dB (peak: their range), "
                  "decoded image %.1f dB", psnr_latent, psnr_image);
  g_assert_cmpfloat (psnr_latent, >=, 45.0);
  g_assert_cmpfloat (psnr_image, >=, 45.0);

  vae_arch_autoencoder_kl.destroy (self);
  g_free (info.id);
  g_free (info.name);
  g_free (info.architecture);
}

/* Every split between the levels run whole (in bands) and the tiled
 * ones, both ways, on a small SD-style model: tiled equals untiled, and
 * the progress adds up (kl_run). */
static void
test_kl_splits (void)
{
  static const gsize    ch[] = { 32, 32, 64, 64 };
  g_autoptr (VaeWeights) weights = sd_style_weights (ch, G_N_ELEMENTS (ch));
  g_autoptr (VaeTensor) image = sky_and_ground (8 * 23, 8 * 19);
  g_autoptr (VaeTensor) z = NULL, out = NULL;
  g_autoptr (GError)    error = NULL;
  VaeModelInfo          info = { 0, };
  gpointer              self;
  gint                  split;

  self = vae_arch_autoencoder_kl.create (weights, weights, &info, &error);
  g_assert_no_error (error);
  z = kl_run (self, FALSE, image, 0, -1);
  out = kl_run (self, TRUE, z, 0, -1);

  for (split = 0; split <= (gint) G_N_ELEMENTS (ch); split++)
    {
      g_autoptr (VaeTensor) z_tiled = kl_run (self, FALSE, image, 8 * 8, split);
      g_autoptr (VaeTensor) out_tiled = kl_run (self, TRUE, z, 8 * 8, split);
      g_autofree gchar     *what = g_strdup_printf ("split %d, latents", split);

      assert_exact (what, z_tiled, z);
      assert_exact ("decoded", out_tiled, out);
    }

  vae_arch_autoencoder_kl.destroy (self);
  g_free (info.id);
  g_free (info.name);
  g_free (info.architecture);
}

/* --- planning: cost and memory against the image size ------------------- */

/* Tiles read the image as vae_image_pad() pads it: a crop through
 * vae_tiles_crop() equals the same crop of the padded copy. */
static void
test_crop_padded (void)
{
  static const gsize    sizes[][2] = { { 13, 7 }, { 1, 9 }, { 8, 8 }, { 5, 1 } };
  static const gsize    boxes[][4] = {
    { 0, 0, 8, 8 }, { 3, 2, 20, 17 }, { 10, 5, 22, 30 }, { 0, 6, 31, 2 },
  };
  g_autoptr (GRand)     rand = g_rand_new_with_seed (3);
  guint                 s, b, m;

  for (s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (m = 0; m < 2; m++)
      {
        const VaePadMode      mode = m ? VAE_PAD_REFLECT : VAE_PAD_EDGE;
        g_autoptr (VaeTensor) image = vae_tensor_new_3d (3, sizes[s][1], sizes[s][0], NULL);
        g_autoptr (VaeTensor) padded = NULL;
        gfloat               *d = vae_tensor_get_data (image);
        gsize                 i;

        for (i = 0; i < vae_tensor_get_n_elements (image); i++)
          d[i] = (gfloat) g_rand_double (rand);
        /* Padded to a multiple of 40 covers every box below. */
        padded = vae_image_pad (image, 40, mode, NULL);
        g_assert_nonnull (padded);

        for (b = 0; b < G_N_ELEMENTS (boxes); b++)
          {
            g_autoptr (VaeTensor) want = vae_image_crop (padded, boxes[b][0], boxes[b][1],
                                                         boxes[b][2], boxes[b][3], NULL);
            g_autoptr (VaeTensor) got = vae_tiles_crop (image, mode, boxes[b][0],
                                                        boxes[b][1], boxes[b][2],
                                                        boxes[b][3], NULL);

            g_assert_nonnull (want);
            g_assert_nonnull (got);
            g_assert_cmpfloat (max_abs_diff (got, want), ==, 0.0);
          }
      }
}

typedef struct
{
  const VaeArchClass *arch;
  VaeWeights         *encoder;
  VaeWeights         *decoder;
  VaeModelInfo        info;
  gpointer            self;
} Arch;

/* An architecture's instance straight from its weight files (the
 * planner is internal), or FALSE when the files are not there. */
static gboolean
arch_load (Arch               *a,
           const VaeArchClass *arch,
           const gchar        *encoder,
           const gchar        *decoder)
{
  g_autoptr (GError) error = NULL;

  memset (a, 0, sizeof *a);
  if (! g_file_test (encoder, G_FILE_TEST_EXISTS) ||
      ! g_file_test (decoder, G_FILE_TEST_EXISTS))
    return FALSE;

  a->arch = arch;
  a->encoder = vae_weights_load (encoder, &error);
  g_assert_no_error (error);
  a->decoder = strcmp (encoder, decoder) == 0 ? a->encoder
                                              : vae_weights_load (decoder, &error);
  g_assert_no_error (error);
  a->self = arch->create (a->encoder, a->decoder, &a->info, &error);
  g_assert_no_error (error);

  return TRUE;
}

static void
arch_clear (Arch *a)
{
  if (a->self)
    a->arch->destroy (a->self);
  if (a->decoder != a->encoder)
    vae_weights_free (a->decoder);
  vae_weights_free (a->encoder);
  g_free (a->info.id);
  g_free (a->info.name);
  g_free (a->info.architecture);
}

static VaePlan
plan_ok (const Arch *a,
         gboolean    decoder,
         gsize       side,
         gsize       budget)
{
  g_autoptr (GError) error = NULL;
  VaePlan            plan;

  a->arch->plan (a->self, decoder, side, side, FALSE, budget, 0, &plan, &error);
  g_assert_no_error (error);
  g_test_message ("%s %s %" G_GSIZE_FORMAT "^2, budget %" G_GSIZE_FORMAT
                  " MiB: tiles of %" G_GSIZE_FORMAT ", %.2f TFLOP (%.2f x untiled), "
                  "%" G_GSIZE_FORMAT " MiB", a->info.id, decoder ? "decode" : "encode",
                  side, budget >> 20, plan.tile, plan.flops / 1e12,
                  plan.flops / a->arch->flops (a->self, decoder, side, side),
                  plan.memory >> 20);
  return plan;
}

/* Twice the side, four times the pixels: the planned work (margins and
 * every pass included) grows as the untiled work does (4 times for the
 * TAESD family; more with AutoencoderKL's attention, quadratic in the
 * pixels), at most 4.5 / 4 times that for an encode, within the budget.
 * Before, fixed costs that grew with the image ate the budget, and the
 * tiles shrank to 128 pixels whose margins cost 20 times their area
 * (issue 11, item 10): 51 times the work for 4 times the pixels.
 * Decoding gets 6 / 4: its output image is fixed memory too (768 MiB of
 * the 1.5 GiB at 8192^2 with TAEF2), so its tiles are smaller at the
 * larger size.  @overhead, when not 0: the planned work is at most that
 * many times the untiled work (the TAESD family's tiles are at least
 * MIN_TILE_MARGINS margins wide). */
static void
assert_linear (const Arch *a,
               gsize       side,
               gsize       budget,
               gdouble     overhead)
{
  gint d;

  for (d = 0; d < 2; d++)
    {
      const VaePlan small = plan_ok (a, d, side, budget);
      const VaePlan large = plan_ok (a, d, 2 * side, budget);
      const gdouble untiled = a->arch->flops (a->self, d, 2 * side, 2 * side) /
                              a->arch->flops (a->self, d, side, side);

      g_test_message ("  work %" G_GSIZE_FORMAT "^2 / %" G_GSIZE_FORMAT "^2 = %.2f "
                      "(untiled %.2f)", 2 * side, side, large.flops / small.flops,
                      untiled);
      g_assert_cmpfloat (large.flops / small.flops, <=, untiled * (d ? 6.0 : 4.5) / 4);
      if (overhead > 0)
        g_assert_cmpfloat (large.flops, <=,
                           overhead * a->arch->flops (a->self, d, 2 * side, 2 * side));
      /* The plans' own estimates stay within the budget. */
      g_assert_cmpuint (small.memory, <=, budget);
      g_assert_cmpuint (large.memory, <=, budget);
    }
}

/* No plan fits: a clear error from the planner, so before anything is
 * allocated. */
static void
assert_refused (const Arch *a,
                gboolean    decoder,
                gsize       side,
                gsize       budget)
{
  g_autoptr (GError) error = NULL;
  VaePlan            plan;

  g_assert_false (a->arch->plan (a->self, decoder, side, side, FALSE, budget, 0,
                                 &plan, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY);
  g_test_message ("%s", error->message);
}

static void
test_plan_taesd (void)
{
  g_autofree gchar *enc = g_test_build_filename (G_TEST_DIST, "data", "taesd", "taef2",
                                                 "encoder.safetensors", NULL);
  g_autofree gchar *dec = g_test_build_filename (G_TEST_DIST, "data", "taesd", "taef2",
                                                 "decoder.safetensors", NULL);
  Arch              a;

  g_test_summary ("The small TAEF2-shaped model (a quarter of TAEF2's widths) "
                  "plans 8192^2 at most 4.5 times the work of 4096^2 within "
                  "the default budget, and refuses what cannot fit");

  g_assert_true (arch_load (&a, &vae_arch_taesd, enc, dec));
  assert_linear (&a, 4096, VAE_DEFAULT_MEMORY_BUDGET, 2.6);
  /* The latent-resolution maps alone are over 32 MiB at 8192^2. */
  assert_refused (&a, FALSE, 8192, 32 << 20);
  assert_refused (&a, TRUE, 8192, 32 << 20);
  arch_clear (&a);
}

/* The same with the real TAEF2: the 68-minute encode. */
static void
test_plan_taef2 (void)
{
  const gchar      *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar *enc = g_build_filename (shared ? shared : "", "models", "taef2",
                                            "encoder.safetensors", NULL);
  g_autofree gchar *dec = g_build_filename (shared ? shared : "", "models", "taef2",
                                            "decoder.safetensors", NULL);
  Arch              a;

  if (shared == NULL || ! arch_load (&a, &vae_arch_taesd, enc, dec))
    {
      g_test_skip ("TAEF2 weights are not in VAE_SHARED_DIR");
      return;
    }
  assert_linear (&a, 4096, VAE_DEFAULT_MEMORY_BUDGET, 2.6);
  /* 16384^2: the latent-resolution part alone needs about 2 GiB. */
  assert_refused (&a, FALSE, 16384, VAE_DEFAULT_MEMORY_BUDGET);
  assert_refused (&a, TRUE, 16384, VAE_DEFAULT_MEMORY_BUDGET);
  arch_clear (&a);
}

/* Through the public API: a run that cannot fit its budget fails with
 * VAE_ERROR_NO_MEMORY, whatever the architecture. */
static void
assert_public_refused (const gchar *model_path,
                       gsize        side,
                       gsize        budget)
{
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) image = NULL, out = NULL;
  g_autoptr (VaeLatent) latent = NULL, none = NULL;
  g_autoptr (GError)    error = NULL;
  VaeOptions            options;

  model = vae_model_load (model_path, &error);
  g_assert_no_error (error);
  image = sky_and_ground (side, side);

  /* The default budget holds it. */
  vae_options_init (&options);
  g_assert_true (vae_model_encode (model, image, &latent, &options, NULL, NULL, NULL,
                                   &error));
  g_assert_no_error (error);

  options.memory_budget = budget;
  g_assert_false (vae_model_encode (model, image, &none, &options, NULL, NULL, NULL,
                                    &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY);
  g_test_message ("%s: %s", model_path, error->message);
  g_assert_null (none);
  g_clear_error (&error);

  g_assert_false (vae_model_decode (model, latent, &out, &options, NULL, NULL, NULL,
                                    &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY);
  g_test_message ("%s: %s", model_path, error->message);
  g_assert_null (out);
}

static void
test_plan_refused (void)
{
  g_autofree gchar *taef2 = g_test_build_filename (G_TEST_DIST, "data", "taesd", "taef2",
                                                   NULL);
  g_autofree gchar *kl = g_test_build_filename (G_TEST_DIST, "data", "kl", "sd",
                                                "model.safetensors", NULL);
  g_autofree gchar *seed = g_test_build_filename (G_TEST_DIST, "data", "seed",
                                                  "model.safetensors", NULL);

  g_test_summary ("A budget below what a run needs at the least is a clear "
                  "VAE_ERROR_NO_MEMORY, for every architecture");

  assert_public_refused (taef2, 256, 64 << 10);
  assert_public_refused (kl, 256, 64 << 10);
  assert_public_refused (seed, 256, 64 << 10);
}

static void
test_plan_kl (void)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data", "kl", "sd",
                                                  "model.safetensors", NULL);
  Arch              a;

  g_test_summary ("A small KL model's planned work grows from 1024^2 to 2048^2 "
                  "at most 4.5 / 4 times as fast as its untiled work, under a "
                  "budget its maps at 2048^2 nearly fill, and it refuses what "
                  "cannot fit");

  g_assert_true (arch_load (&a, &vae_arch_autoencoder_kl, path, path));
  assert_linear (&a, 1024, 384 << 20, 0.0);
  /* Where the budget could not even hold two copies of the image and the
   * latent maps, the plan used to fall through to tiles of 128 pixels. */
  assert_refused (&a, FALSE, 2048, 96 << 20);
  assert_refused (&a, TRUE, 2048, 96 << 20);
  arch_clear (&a);
}

int
main (int    argc,
      char **argv)
{
  static const gchar *const variants[] = { "taesd", "taef1", "taef2", "taesana" };
  guint                     i;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tiling/split", test_split);
  g_test_add_func ("/tiling/blend", test_blend);
  for (i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/tiling/taesd-small/%s", variants[i]);

      g_test_add_data_func (path, variants[i], test_taesd_small);
    }
  g_test_add_func ("/tiling/taef2-photo", test_taef2_photo);
  for (i = 0; i < G_N_ELEMENTS (kl_small_cases); i++)
    {
      g_autofree gchar *path = g_strdup_printf ("/tiling/kl-small/%s%s",
                                                kl_small_cases[i].variant,
                                                kl_small_cases[i].reference
                                                ? "-reference" : "");

      g_test_add_data_func (path, &kl_small_cases[i], test_kl_small);
    }
  g_test_add_func ("/tiling/kl-splits", test_kl_splits);
  g_test_add_func ("/tiling/crop-padded", test_crop_padded);
  g_test_add_func ("/tiling/plan/taesd-small", test_plan_taesd);
  g_test_add_func ("/tiling/plan/taef2", test_plan_taef2);
  g_test_add_func ("/tiling/plan/kl-small", test_plan_kl);
  g_test_add_func ("/tiling/plan/refused", test_plan_refused);
  g_test_add_func ("/tiling/kl-sd-style-photo", test_kl_photo);

  return g_test_run ();
}
