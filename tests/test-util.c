/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "test-util.h"

const TestRun test_runs[TEST_N_RUNS] =
{
  { TRUE,  1 },
  { TRUE,  2 },
  { FALSE, 1 },
  { FALSE, 2 },
};

gchar *
test_run_name (const gchar *what,
               guint        i)
{
  return g_strdup_printf ("%s (%s kernels, %d thread%s)", what,
                          test_runs[i].reference ? "naive" : "optimized",
                          test_runs[i].n_threads,
                          test_runs[i].n_threads > 1 ? "s" : "");
}

VaeModel *
test_load_model (const gchar *path)
{
  GError   *error = NULL;
  VaeModel *model = vae_model_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (model);

  return model;
}

VaeTensor *
test_tensor_from_weight (VaeWeights  *weights,
                         const gchar *name)
{
  const VaeWeight *w = vae_weights_lookup (weights, name);
  VaeTensor       *t;
  GError          *error = NULL;

  g_assert_nonnull (w);
  t = vae_tensor_new (w->n_dims, w->shape, &error);
  g_assert_no_error (error);
  memcpy (vae_tensor_get_data (t), w->data, w->n_elements * sizeof (gfloat));

  return t;
}

VaeTensor *
test_run_encode (VaeModel        *model,
                 const VaeTensor *image,
                 gboolean         reference,
                 gint             n_threads)
{
  g_autoptr (VaeLatent) latent = NULL;
  VaeOptions            options;
  GError               *error = NULL;

  vae_options_init (&options);
  options.reference = reference;
  options.n_threads = n_threads;
  vae_model_encode (model, image, &latent, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (latent);

  return vae_tensor_copy (vae_latent_get_tensor (latent), NULL);
}

VaeTensor *
test_clamped (const VaeTensor *t)
{
  VaeTensor *c = vae_tensor_copy (t, NULL);
  gfloat    *d = vae_tensor_get_data (c);
  gsize      i;

  for (i = 0; i < vae_tensor_get_n_elements (c); i++)
    d[i] = CLAMP (d[i], 0.0f, 1.0f);

  return c;
}

void
test_assert_close (const gchar  *what,
                   const gfloat *got,
                   const gfloat *ref,
                   gsize         n,
                   gdouble       tolerance)
{
  gdouble max_diff = 0.0, max_ref = 0.0, allowed;
  gsize   worst = 0, i;

  for (i = 0; i < n; i++)
    {
      gdouble diff = fabs ((gdouble) got[i] - ref[i]);

      /* NaN must fail, so compare with ! <= */
      if (! (diff <= max_diff))
        {
          max_diff = diff;
          worst = i;
        }
      max_ref = MAX (max_ref, fabs (ref[i]));
    }

  allowed = tolerance * MAX (1.0, max_ref);
  g_test_message ("%s: max |diff| %.3g (tolerance %.3g, max |ref| %.3g)",
                  what, max_diff, allowed, max_ref);
  if (! (max_diff <= allowed))
    g_error ("%s: max |diff| %.6g > %.3g at flat index %" G_GSIZE_FORMAT
             " (ours %.7g, reference %.7g)", what, max_diff, allowed, worst,
             got[worst], ref[worst]);
}

void
test_assert_close_tensors (const gchar     *what,
                           const VaeTensor *got,
                           const VaeTensor *ref,
                           gdouble          tolerance)
{
  g_autofree gchar *got_shape = vae_tensor_shape_to_string (got);
  g_autofree gchar *ref_shape = vae_tensor_shape_to_string (ref);
  g_autofree gchar *label = g_strdup_printf ("%s %s", what, ref_shape);

  if (! vae_tensor_same_shape (got, ref))
    g_error ("%s: shape %s, reference %s", what, got_shape, ref_shape);

  test_assert_close (label, vae_tensor_peek_data (got),
                     vae_tensor_peek_data (ref),
                     vae_tensor_get_n_elements (ref), tolerance);
}

void
test_remove_dir (const gchar *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar     *name;

  if (dir == NULL)
    {
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        g_assert_cmpint (g_remove (path), ==, 0);
      return;
    }
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      test_remove_dir (child);
    }
  g_assert_cmpint (g_rmdir (path), ==, 0);
}
