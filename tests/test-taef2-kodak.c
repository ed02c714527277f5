/* gimp-vae tests - TAEF2 round trips on Kodak photos against published PSNRs
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The real TAEF2 weights ($VAE_SHARED_DIR/models/taef2) encode and decode
 * full-size Kodak photos; the decoded image, quantised to 8 bits, must have
 * the PSNR against the original listed in
 * $VAE_SHARED_DIR/data/kodak/taef2-reference.tsv (PyTorch, float32 compute,
 * 8-bit, peak 255) to within 0.02 dB.  The images include the best
 * (kodim23) and worst (kodim13) of the set and two portrait ones, so that a
 * height/width mix-up cannot pass.
 */

#include <math.h>
#include <string.h>

#include "png-io.h"

#define PSNR_TOLERANCE_DB 0.02

static const gchar *images[] = { "kodim23", "kodim13", "kodim04", "kodim19" };

static const gchar *
shared_dir (void)
{
  const gchar *dir = g_getenv ("VAE_SHARED_DIR");

  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return NULL;

  return dir;
}

/* An 8-bit RGB PNG as a [3, H, W] tensor of k / 255. */
/* image name -> PSNR (dB), from the two-column TSV with a header line. */
static GHashTable *
read_reference (const gchar *path)
{
  g_autofree gchar  *text = NULL;
  g_auto(GStrv)      lines = NULL;
  GHashTable        *table;
  GError            *error = NULL;
  guint              i;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);

  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (text, "\n", -1);
  for (i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (g_strstrip (lines[i]), "\t", -1);
      gdouble      *psnr;
      gchar        *end;

      if (fields[0] == NULL || fields[0][0] == '\0')
        continue;
      g_assert_cmpuint (g_strv_length (fields), ==, 2);
      psnr = g_new (gdouble, 1);
      *psnr = g_ascii_strtod (fields[1], &end);
      g_assert_true (end != fields[1] && *end == '\0');
      g_hash_table_insert (table, g_strdup (fields[0]), psnr);
    }
  g_assert_cmpuint (g_hash_table_size (table), ==, 24);

  return table;
}

static void
test_kodak (void)
{
  const gchar            *shared = shared_dir ();
  g_autofree gchar       *model_path = NULL;
  g_autofree gchar       *tsv = NULL;
  g_autoptr(VaeModel)     model = NULL;
  g_autoptr(GHashTable)   reference = NULL;
  VaeOptions              options;
  gdouble                 worst = 0.0;
  GError                 *error = NULL;
  guint                   i;

  if (shared != NULL)
    model_path = g_build_filename (shared, "models", "taef2", NULL);
  if (model_path == NULL ||
      !g_file_test (model_path, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no TAEF2 weights: set VAE_SHARED_DIR to the shared "
                   "folder holding models/taef2 and data/kodak");
      return;
    }

  tsv = g_build_filename (shared, "data", "kodak", "taef2-reference.tsv",
                          NULL);
  reference = read_reference (tsv);

  model = vae_model_load (model_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==, 32);
  g_assert_cmpuint (vae_model_get_factor (model), ==, 8);

  vae_options_init (&options);

  for (i = 0; i < G_N_ELEMENTS (images); i++)
    {
      g_autofree gchar     *file = g_strconcat (images[i], ".png", NULL);
      g_autofree gchar     *png = g_build_filename (shared, "data", "kodak",
                                                    file, NULL);
      g_autoptr(VaeTensor)  original = test_read_png (png);
      g_autoptr(VaeLatent)  latent = NULL;
      g_autoptr(VaeTensor)  decoded = NULL;
      const gdouble        *expected;
      gdouble               psnr;

      expected = g_hash_table_lookup (reference, images[i]);
      g_assert_nonnull (expected);

      vae_model_encode (model, original, &latent, &options, NULL, NULL, NULL,
                        &error);
      g_assert_no_error (error);
      g_assert_cmpuint (vae_latent_get_channels (latent), ==, 32);
      g_assert_cmpuint (vae_latent_get_width (latent), ==,
                        vae_tensor_get_dim (original, 2) / 8);
      g_assert_cmpuint (vae_latent_get_height (latent), ==,
                        vae_tensor_get_dim (original, 1) / 8);

      vae_model_decode (model, latent, &decoded, &options, NULL, NULL, NULL,
                        &error);
      g_assert_no_error (error);
      g_assert_true (vae_tensor_same_shape (decoded, original));

      vae_image_quantize_8bit (decoded);
      vae_psnr (original, decoded, &psnr, &error);
      g_assert_no_error (error);

      g_test_message ("%s %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                      ": PSNR %.3f dB, reference %.3f dB, diff %+.4f dB",
                      images[i], vae_tensor_get_dim (original, 2),
                      vae_tensor_get_dim (original, 1), psnr, *expected,
                      psnr - *expected);
      worst = MAX (worst, fabs (psnr - *expected));
      if (!(fabs (psnr - *expected) <= PSNR_TOLERANCE_DB))
        g_error ("%s: PSNR %.4f dB, reference %.3f dB: off by more than "
                 "%.2f dB", images[i], psnr, *expected, PSNR_TOLERANCE_DB);
    }

  g_test_message ("max |PSNR - reference| %.4f dB (tolerance %.2f dB)",
                  worst, PSNR_TOLERANCE_DB);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/taef2/kodak-psnr", test_kodak);

  return g_test_run ();
}
