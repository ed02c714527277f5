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

VaeWeights *
test_load_weights (const gchar *path)
{
  GError     *error = NULL;
  VaeWeights *weights = vae_weights_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (weights);

  return weights;
}

gchar *
test_shipped_model (const gchar *id)
{
  g_autofree gchar *file = g_strconcat (id, ".safetensors", NULL);

  return g_test_build_filename (G_TEST_DIST, "..", "data", "models", id, file,
                                NULL);
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

void
test_reference_read (VaeWeights    *weights,
                     TestReference *ref)
{
  ref->image = test_tensor_from_weight (weights, "image");
  ref->latent = test_tensor_from_weight (weights, "latent");
  ref->decoder_input = test_tensor_from_weight (weights, "decoder_input");
  ref->decoded = test_tensor_from_weight (weights, "decoded");
}

void
test_reference_clear (TestReference *ref)
{
  g_clear_pointer (&ref->image, vae_tensor_unref);
  g_clear_pointer (&ref->latent, vae_tensor_unref);
  g_clear_pointer (&ref->decoder_input, vae_tensor_unref);
  g_clear_pointer (&ref->decoded, vae_tensor_unref);
}

void
test_ldm_conv (TestAddTensor  add,
               gpointer       target,
               const gchar   *base,
               gsize          c_out,
               gsize          c_in,
               gsize          k)
{
  g_autofree gchar *wn = g_strconcat (base, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (base, ".bias", NULL);
  const gsize       ws[4] = { c_out, c_in, k, k };

  add (target, wn, 4, ws);
  add (target, bn, 1, &c_out);
}

void
test_ldm_norm (TestAddTensor  add,
               gpointer       target,
               const gchar   *base,
               gsize          c)
{
  g_autofree gchar *wn = g_strconcat (base, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (base, ".bias", NULL);

  add (target, wn, 1, &c);
  add (target, bn, 1, &c);
}

void
test_ldm_resnet (TestAddTensor  add,
                 gpointer       target,
                 const gchar   *base,
                 gsize          c_in,
                 gsize          c_out)
{
  g_autofree gchar *n1 = g_strconcat (base, ".norm1", NULL);
  g_autofree gchar *c1 = g_strconcat (base, ".conv1", NULL);
  g_autofree gchar *n2 = g_strconcat (base, ".norm2", NULL);
  g_autofree gchar *c2 = g_strconcat (base, ".conv2", NULL);
  g_autofree gchar *sc = g_strconcat (base, ".nin_shortcut", NULL);

  test_ldm_norm (add, target, n1, c_in);
  test_ldm_conv (add, target, c1, c_out, c_in, 3);
  test_ldm_norm (add, target, n2, c_out);
  test_ldm_conv (add, target, c2, c_out, c_out, 3);
  if (c_in != c_out)
    test_ldm_conv (add, target, sc, c_out, c_in, 1);
}

void
test_add_cases (const gchar   *prefix,
                gconstpointer  cases,
                gsize          n_cases,
                gsize          size,
                GTestDataFunc  func)
{
  gsize i;

  for (i = 0; i < n_cases; i++)
    {
      gconstpointer     data = (const guint8 *) cases + i * size;
      g_autofree gchar *path = g_strdup_printf ("%s/%s", prefix,
                                                *(const gchar *const *) data);

      g_test_add_data_func (path, data, func);
    }
}

gint
test_error_code (const gchar *name)
{
  /* In the order of VaeError. */
  static const gchar *names[] =
    { "IO", "FORMAT", "SHAPE", "UNSUPPORTED", "NO_MEMORY", "CANCELLED",
      "MODEL_MISMATCH", "INVALID_ARGUMENT" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (names[i], name) == 0)
      return i;

  g_error ("unknown error code '%s' in a list of cases", name);
  return -1;
}

GStrv
test_case_lines (const gchar *path)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv)    lines = NULL;
  GPtrArray        *cases = g_ptr_array_new ();
  GError           *error = NULL;
  guint             i;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '#' && lines[i][0] != '\0')
      g_ptr_array_add (cases, g_strdup (lines[i]));
  g_ptr_array_add (cases, NULL);

  return (GStrv) g_ptr_array_free (cases, FALSE);
}

void
test_read_mutants (const gchar      *name,
                   const guint8     *original,
                   gsize             size,
                   guint             n_rounds,
                   const TestDamage *damage,
                   TestReadFunc      read)
{
  enum { CUT, FLIP, SET, SET_IN_FOCUS };
  g_autofree gchar  *prefix = g_strconcat (name, ": ", NULL);
  g_autofree guint8 *copy = g_malloc (size);
  guint              n_loaded = 0;
  guint              n_refused = 0;
  guint              round;

  for (round = 0; round < n_rounds; round++)
    {
      g_autoptr (GError) error = NULL;
      gsize              length = size;
      gint               kind;
      guint              k;

      kind = g_test_rand_int_range (CUT, damage->focus_length ? SET_IN_FOCUS + 1
                                                                : SET_IN_FOCUS);
      memcpy (copy, original, size);
      if (kind == CUT)
        length = g_test_rand_int_range (0, size);
      else
        for (k = g_test_rand_int_range (1, damage->max_changes + 1); k > 0; k--)
          {
            gsize at = kind == SET_IN_FOCUS
              ? damage->focus_start + g_test_rand_int_range (0, damage->focus_length)
              : (gsize) g_test_rand_int_range (0, size);

            copy[at] = kind == FLIP ? copy[at] ^ (1 << g_test_rand_int_range (0, 8))
                                    : g_test_rand_int_range (0, 256);
          }

      if (read (copy, length, name, &error))
        {
          g_assert_no_error (error);
          n_loaded++;
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == VAE_ERROR);
          g_assert_true (g_str_has_prefix (error->message, prefix));
          n_refused++;
        }
    }

  g_test_message ("%s mutants: %u loaded, %u refused", name, n_loaded,
                  n_refused);
  g_assert_cmpuint (n_loaded, >, 0);
  g_assert_cmpuint (n_refused, >, 0);
}

void
test_touch_weights (VaeWeights *weights)
{
  g_autoptr (GPtrArray) names = vae_weights_list (weights);
  guint                 i;

  for (i = 0; i < names->len; i++)
    {
      const VaeWeight *w = vae_weights_lookup (weights,
                                               g_ptr_array_index (names, i));
      volatile gfloat  sum = 0.0f;
      gsize            j;

      for (j = 0; j < w->n_elements; j++)
        sum += w->data[j];
    }
}
