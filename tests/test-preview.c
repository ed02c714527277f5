/* gimp-vae tests: latent previews and latent resizing (suite latent)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The projection, its fallback and its ridge fit against cases worked out
 * by hand in the comments (the fit: a 2 x 2 system solved with Cramer's
 * rule); sizes of resized latents and shrunk images from the rounding the
 * functions document.  The small random-weight models of tests/data/taesd
 * stand in for a model that can encode and one that cannot.
 */

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vae.h"
#include "vae-preview-private.h"

/* outputs are floats computed in double */
#define FLOAT_TOLERANCE 1e-6

static VaeLatent *
latent_of (guint         channels,
           gsize         height,
           gsize         width,
           const gfloat *values)
{
  VaeTensor *tensor = vae_tensor_new_3d (channels, height, width, NULL);
  VaeLatent *latent;

  memcpy (vae_tensor_get_data (tensor), values,
          channels * height * width * sizeof (gfloat));
  latent = vae_latent_new (tensor, NULL);
  vae_tensor_unref (tensor);

  return latent;
}

static void
assert_picture (const VaeTensor *picture,
                const gdouble   *expected,
                gsize            n)
{
  gsize i;

  g_assert_cmpuint (vae_tensor_get_n_elements (picture), ==, n);
  for (i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (vae_tensor_peek_data (picture)[i],
                                    expected[i], FLOAT_TOLERANCE);
}

/* Two channels, two latent pixels:
 *   z0 = (1, -1), z1 = (0.5, 2)
 *   R' = 0.2 z0 + 0.1 z1 + 0.3   = (0.55, 0.3)
 *   G' = 0.5                     = (0.5, 0.5)
 *   B' = 0.5 z0 - 0.5 z1         = (0.25, -1.5 -> 0)
 *   and a third pixel (3, 0) for the top clamp: R' 0.9, B' 1.5 -> 1 */
static void
test_apply (void)
{
  const gdouble                   weights[3 * 3] = { 0.2, 0.1, 0.3,
                                                     0.0, 0.0, 0.5,
                                                     0.5, -0.5, 0.0 };
  const gfloat                    z[2 * 3] = { 1.0f, -1.0f, 3.0f,
                                               0.5f, 2.0f, 0.0f };
  const gdouble                   expected[3 * 3] = { 0.55, 0.3, 0.9,
                                                      0.5, 0.5, 0.5,
                                                      0.25, 0.0, 1.0 };
  g_autoptr (VaeLatentProjection) projection = NULL;
  g_autoptr (VaeLatent)           latent = latent_of (2, 1, 3, z);
  g_autoptr (VaeLatent)           wrong = NULL;
  g_autoptr (VaeTensor)           picture = NULL;
  g_autoptr (GError)              error = NULL;

  projection = vae_latent_projection_new_from_weights (2, weights);
  g_assert_true (vae_latent_projection_is_fitted (projection));
  picture = vae_latent_projection_apply (projection, latent, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_dim (picture, 0), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (picture, 1), ==, 1);
  g_assert_cmpuint (vae_tensor_get_dim (picture, 2), ==, 3);
  assert_picture (picture, expected, 9);

  wrong = latent_of (1, 1, 3, z);
  g_assert_null (vae_latent_projection_apply (projection, wrong, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
}

/* Without a model: channel c feeds colour c mod 3, each standardised over
 * the latents shown, the mean of a colour's channels mapped by
 * 0.5 + v / 5.5.  Four channels over two pixels:
 *   ch0 (1, 3): mean 2, std 1 -> (-1, 1)   R'
 *   ch1 (0, 0): constant      -> (0, 0)    G'
 *   ch2 (5, 1): mean 3, std 2 -> (1, -1)   B'
 *   ch3 (2, 4): mean 3, std 1 -> (-1, 1)   R'
 *   R' = 0.5 + (-1, 1) / 5.5 = (0.3181818, 0.6818182), G' = 0.5,
 *   B' = (0.6818182, 0.3181818) */
static void
test_fallback (void)
{
  const gfloat                    z[4 * 2] = { 1, 3,  0, 0,  5, 1,  2, 4 };
  const gdouble                   expected[3 * 2] = { 0.3181818182, 0.6818181818,
                                                      0.5, 0.5,
                                                      0.6818181818, 0.3181818182 };
  g_autoptr (VaeLatentProjection) projection = NULL;
  g_autoptr (VaeLatent)           latent = latent_of (4, 1, 2, z);
  g_autoptr (VaeTensor)           picture = NULL;
  g_autoptr (GError)              error = NULL;

  projection = vae_latent_projection_new (NULL, 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (vae_latent_projection_is_fitted (projection));
  picture = vae_latent_projection_apply (projection, latent, &error);
  g_assert_no_error (error);
  assert_picture (picture, expected, 6);
}

/* One channel z = (0, 1, 2, 3) whose blocks have the colour t = 2 z + 0.1
 * in R', G' and B'.  The normal equations with the ridge on the weight
 * (1e-3 times the mean diagonal of the channels, here 14):
 *   [14.014  6] [w]   [28.6]        sum z^2 = 14, sum z = 6, n = 4,
 *   [ 6      4] [b] = [12.4]        sum z t = 28.6, sum t = 12.4
 *   det = 20.056, w = 40 / 20.056 = 1.99441564,
 *   b = 2.1736 / 20.056 = 0.10837655.
 * Applied to z = (0, 0.25): (b, b + w / 4) = (0.10837655, 0.60698045).
 * With factor 2 each block holds t - d, t + d, t + d, t - d, whose mean
 * is t: the same answer. */
static void
test_fit (void)
{
  const gfloat           z[4] = { 0, 1, 2, 3 };
  const gfloat           probe_z[2] = { 0.0f, 0.25f };
  const gdouble          expected[3 * 2] = { 0.1083765457, 0.6069804547,
                                             0.1083765457, 0.6069804547,
                                             0.1083765457, 0.6069804547 };
  g_autoptr (VaeLatent)  latent = latent_of (1, 1, 4, z);
  g_autoptr (VaeLatent)  probe = latent_of (1, 1, 2, probe_z);
  guint                  factor;

  for (factor = 1; factor <= 2; factor++)
    {
      const gdouble                   d[4] = { -0.05, 0.05, 0.05, -0.05 };
      g_autoptr (VaeTensor)           image = vae_tensor_new_3d (3, factor, 4 * factor, NULL);
      g_autoptr (VaeLatentProjection) projection = vae_latent_projection_new (NULL, 1, NULL, NULL);
      g_autoptr (VaeTensor)           picture = NULL;
      gfloat                         *pixels = vae_tensor_get_data (image);
      gsize                           w = 4 * factor;
      gsize                           x, y;
      guint                           c;

      for (c = 0; c < 3; c++)
        for (y = 0; y < factor; y++)
          for (x = 0; x < w; x++)
            pixels[c * factor * w + y * w + x] =
              2.0 * z[x / factor] + 0.1 + (factor == 2 ? d[y * 2 + x % 2] : 0.0);

      g_assert_true (vae_latent_projection_fit (projection, image, latent, factor));
      g_assert_true (vae_latent_projection_is_fitted (projection));
      picture = vae_latent_projection_apply (projection, probe, NULL);
      assert_picture (picture, expected, 6);
    }
}

/* A model that encodes gets a fitted map, one that cannot the fallback,
 * and so do latents with another channel count than the model's. */
static void
test_new_for_models (void)
{
  g_autofree gchar               *dir = g_test_build_filename (G_TEST_DIST, "data", "taesd", "taesd", NULL);
  g_autofree gchar               *source = g_build_filename (dir, "decoder.safetensors", NULL);
  g_autofree gchar               *tmp = NULL;
  g_autofree gchar               *decoder = NULL;
  g_autofree gchar               *contents = NULL;
  gsize                           length;
  g_autoptr (VaeModel)            both = NULL;
  g_autoptr (VaeModel)            decoder_only = NULL;
  g_autoptr (VaeLatentProjection) projection = NULL;
  g_autoptr (GError)              error = NULL;

  both = vae_model_load (dir, &error);
  g_assert_no_error (error);
  projection = vae_latent_projection_new (both, 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vae_latent_projection_is_fitted (projection));
  g_clear_pointer (&projection, vae_latent_projection_free);

  projection = vae_latent_projection_new (both, 16, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (vae_latent_projection_is_fitted (projection));
  g_clear_pointer (&projection, vae_latent_projection_free);

  /* alone in a folder: beside its encoder it would load as both */
  tmp = g_dir_make_tmp ("test-preview-XXXXXX", &error);
  g_assert_no_error (error);
  decoder = g_build_filename (tmp, "decoder.safetensors", NULL);
  g_file_get_contents (source, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (decoder, contents, length, &error);
  g_assert_no_error (error);
  decoder_only = vae_model_load (decoder, &error);
  g_unlink (decoder);
  g_rmdir (tmp);
  g_assert_no_error (error);
  g_assert_false (vae_model_can_encode (decoder_only));
  projection = vae_latent_projection_new (decoder_only, 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (vae_latent_projection_is_fitted (projection));
}

/* The photo-fitted table is keyed by content hash and channel count. */
static void
test_table (void)
{
  const gchar   *taef2 = "sha256:dda8234bc4b4387833a68aa34ee8c8c2";
  const gdouble *weights = vae_latent_rgb_lookup (taef2, 32);

  g_assert_nonnull (weights);
  /* first R' weight and B' bias, as tools/fit-latent-rgb.py printed them */
  g_assert_cmpfloat (weights[0], ==, -0.0117674);
  g_assert_cmpfloat (weights[3 * 33 - 1], ==, 0.37084);
  g_assert_null (vae_latent_rgb_lookup (taef2, 16));
  g_assert_null (vae_latent_rgb_lookup ("sha256:0000", 32));
  g_assert_null (vae_latent_rgb_lookup (NULL, 32));
}

/* 4 x 2 latents of an image of 30 x 14 resized to 2 x 1: the image size
 * scales alike, round (30 * 2 / 4) = 15, round (14 * 1 / 2) = 7; constant
 * latents stay constant; the model stays. */
static void
test_latent_resize (void)
{
  gfloat                 z[2 * 2 * 4];
  g_autoptr (VaeLatent)  latent = NULL;
  g_autoptr (VaeLatent)  resized = NULL;
  g_autoptr (VaeLatent)  same = NULL;
  g_autoptr (GError)     error = NULL;
  guint                  width, height;
  guint                  i;

  for (i = 0; i < G_N_ELEMENTS (z); i++)
    z[i] = i < 8 ? 0.7f : -1.25f;
  latent = latent_of (2, 2, 4, z);
  vae_latent_set_model (latent, "m", "sha256:1234");
  vae_latent_set_image_size (latent, 30, 14);

  resized = vae_latent_resize (latent, 2, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_latent_get_width (resized), ==, 2);
  g_assert_cmpuint (vae_latent_get_height (resized), ==, 1);
  g_assert_true (vae_latent_get_image_size (resized, &width, &height));
  g_assert_cmpuint (width, ==, 15);
  g_assert_cmpuint (height, ==, 7);
  g_assert_cmpstr (vae_latent_get_model_id (resized), ==, "m");
  g_assert_cmpstr (vae_latent_get_model_hash (resized), ==, "sha256:1234");
  for (i = 0; i < 2; i++)
    {
      g_assert_cmpfloat_with_epsilon (vae_tensor_peek_data (vae_latent_get_tensor (resized))[i],
                                      0.7, FLOAT_TOLERANCE);
      g_assert_cmpfloat_with_epsilon (vae_tensor_peek_data (vae_latent_get_tensor (resized))[2 + i],
                                      -1.25, FLOAT_TOLERANCE);
    }

  same = vae_latent_resize (latent, 4, 2, &error);
  g_assert_true (same == latent);
}

/* Shrinking keeps the aspect: 7 x 3 to at most 5 is 5 x round (15 / 7) =
 * 5 x 2; 10 x 4 to at most 5 is 5 x 2; what already fits stays. */
static void
test_latent_shrink (void)
{
  gfloat                 z[10 * 4] = { 0 };
  g_autoptr (VaeLatent)  a = latent_of (1, 3, 7, z);
  g_autoptr (VaeLatent)  b = latent_of (1, 4, 10, z);
  g_autoptr (VaeLatent)  small = NULL;

  small = vae_latent_shrink (a, 5, NULL);
  g_assert_cmpuint (vae_latent_get_width (small), ==, 5);
  g_assert_cmpuint (vae_latent_get_height (small), ==, 2);
  g_clear_pointer (&small, vae_latent_unref);

  small = vae_latent_shrink (b, 5, NULL);
  g_assert_cmpuint (vae_latent_get_width (small), ==, 5);
  g_assert_cmpuint (vae_latent_get_height (small), ==, 2);
  g_clear_pointer (&small, vae_latent_unref);

  small = vae_latent_shrink (b, 10, NULL);
  g_assert_true (small == b);
}

/* Images: at most @max_side and both sides multiples of @multiple.
 *   100 x 60 (h x w), 50, 8: scale 0.5, w round (30 / 8) * 8 = 32,
 *     h round (50 / 8) * 8 = 48
 *   20 x 20, 50, 8: scale 1, round (2.5) = 3 (half away from zero) -> 24
 *   24 x 16, 50, 8: fits, multiples already: the same tensor */
static void
test_image_shrink (void)
{
  g_autoptr (VaeTensor) big = vae_tensor_new_3d (3, 100, 60, NULL);
  g_autoptr (VaeTensor) odd = vae_tensor_new_3d (3, 20, 20, NULL);
  g_autoptr (VaeTensor) fits = vae_tensor_new_3d (3, 24, 16, NULL);
  g_autoptr (VaeTensor) out = NULL;

  out = vae_image_shrink (big, 50, 8, NULL);
  g_assert_cmpuint (vae_tensor_get_dim (out, 1), ==, 48);
  g_assert_cmpuint (vae_tensor_get_dim (out, 2), ==, 32);
  g_clear_pointer (&out, vae_tensor_unref);

  out = vae_image_shrink (odd, 50, 8, NULL);
  g_assert_cmpuint (vae_tensor_get_dim (out, 1), ==, 24);
  g_assert_cmpuint (vae_tensor_get_dim (out, 2), ==, 24);
  g_clear_pointer (&out, vae_tensor_unref);

  out = vae_image_shrink (fits, 50, 8, NULL);
  g_assert_true (out == fits);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/preview/apply", test_apply);
  g_test_add_func ("/preview/fallback", test_fallback);
  g_test_add_func ("/preview/fit", test_fit);
  g_test_add_func ("/preview/new-for-models", test_new_for_models);
  g_test_add_func ("/preview/table", test_table);
  g_test_add_func ("/preview/latent-resize", test_latent_resize);
  g_test_add_func ("/preview/latent-shrink", test_latent_shrink);
  g_test_add_func ("/preview/image-shrink", test_image_shrink);

  return g_test_run ();
}
