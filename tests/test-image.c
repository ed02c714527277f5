/* gimp-vae tests: padding, cropping and resizing images
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reference: tests/data/image/reference.txt, written by
 * tests/gen-image-reference.py from numpy.pad and from
 * torch.nn.functional.interpolate (bicubic, antialias=True, cross-checked
 * against PIL).  Inputs are made on both sides from splitmix64.
 */

#include <math.h>
#include <string.h>

#include "vae.h"
#include "test-util.h"

/* Resampling sums up to a few dozen float products per output value; the
 * reference is float64.  1e-5 is ~100 float ulps of values near 1. */
#define RESIZE_TOLERANCE 1e-5

static guint64
splitmix64 (guint64 *state)
{
  guint64 z;

  *state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  z = *state;
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);

  return z ^ (z >> 31);
}

/* Same as test_input() in gen-image-reference.py. */
static VaeTensor *
make_input (guint64 seed,
            gsize   c,
            gsize   h,
            gsize   w)
{
  VaeTensor *t = vae_tensor_new_3d (c, h, w, NULL);
  gfloat    *d = vae_tensor_get_data (t);
  guint64    state = seed;
  gsize      i;

  for (i = 0; i < c * h * w; i++)
    d[i] = (gfloat) ((splitmix64 (&state) >> 40) / (gdouble) (1 << 24));

  return t;
}

typedef struct
{
  gchar  **header;
  gdouble *values;
  gsize    n_values;
} RefCase;

static GPtrArray *reference_cases;

static void
ref_case_free (gpointer p)
{
  RefCase *rc = p;

  g_strfreev (rc->header);
  g_free (rc->values);
  g_free (rc);
}

static void
load_reference (void)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data",
                                                  "image", "reference.txt",
                                                  NULL);
  g_auto (GStrv)    lines = test_case_lines (path);
  guint             i;

  /* a line of fields, then a line of the output's values */
  reference_cases = g_ptr_array_new_with_free_func (ref_case_free);
  for (i = 0; lines[i] && lines[i + 1]; i += 2)
    {
      RefCase  *rc = g_new0 (RefCase, 1);
      gchar   **tokens;
      guint     k;

      rc->header = g_strsplit (lines[i], " ", -1);
      tokens = g_strsplit (lines[i + 1], " ", -1);
      rc->n_values = g_strv_length (tokens);
      rc->values = g_new (gdouble, rc->n_values);
      for (k = 0; k < rc->n_values; k++)
        rc->values[k] = g_ascii_strtod (tokens[k], NULL);
      g_strfreev (tokens);
      g_ptr_array_add (reference_cases, rc);
    }
}

static gsize
field (const RefCase *rc,
       guint          i)
{
  return (gsize) g_ascii_strtoull (rc->header[i], NULL, 10);
}

/* Runs @op (pad or resize) of libvae on a reference case's input. */
typedef VaeTensor * (* RunCase) (const RefCase   *rc,
                                 const VaeTensor *in,
                                 GError         **error);

/* Runs every reference case of @op through @run and compares the output
 * with the reference: its shape (the input's channels, the height and
 * width in the header's fields @h_field and @w_field), then each value to
 * within @tolerance.  Returns how many cases there were. */
static guint
check_cases (const gchar *op,
             RunCase      run,
             guint        h_field,
             guint        w_field,
             gdouble      tolerance)
{
  guint i, n_cases = 0;

  for (i = 0; i < reference_cases->len; i++)
    {
      RefCase              *rc = g_ptr_array_index (reference_cases, i);
      g_autoptr (VaeTensor) in = NULL;
      g_autoptr (VaeTensor) out = NULL;
      g_autoptr (GError)    error = NULL;
      const gfloat         *d;
      gdouble               max_diff = 0.0;
      gsize                 k;

      if (strcmp (rc->header[0], op) != 0)
        continue;

      in = make_input (field (rc, 2), field (rc, 3), field (rc, 4),
                       field (rc, 5));
      out = run (rc, in, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (vae_tensor_get_dim (out, 0), ==, field (rc, 3));
      g_assert_cmpuint (vae_tensor_get_dim (out, 1), ==, field (rc, h_field));
      g_assert_cmpuint (vae_tensor_get_dim (out, 2), ==, field (rc, w_field));
      g_assert_cmpuint (vae_tensor_get_n_elements (out), ==, rc->n_values);

      d = vae_tensor_peek_data (out);
      for (k = 0; k < rc->n_values; k++)
        {
          /* the file's digits give the float an exact case must match
           * only once rounded to a float */
          gdouble want = tolerance > 0.0 ? rc->values[k]
                                         : (gfloat) rc->values[k];
          gdouble diff = fabs (d[k] - want);

          g_assert_cmpfloat (diff, <=, tolerance);
          max_diff = MAX (max_diff, diff);
        }
      g_test_message ("%s case %s: max |diff| %.3g", op, rc->header[1],
                      max_diff);
      n_cases++;
    }

  return n_cases;
}

static VaeTensor *
run_pad (const RefCase   *rc,
         const VaeTensor *in,
         GError         **error)
{
  VaePadMode mode = strcmp (rc->header[7], "edge") == 0 ? VAE_PAD_EDGE
                                                        : VAE_PAD_REFLECT;

  return vae_image_pad (in, field (rc, 6), mode, error);
}

static void
test_pad_reference (void)
{
  /* Padding only copies values: exact. */
  g_assert_cmpuint (check_cases ("pad", run_pad, 8, 9, 0.0), >=, 5);
}

static VaeTensor *
run_resize (const RefCase   *rc,
            const VaeTensor *in,
            GError         **error)
{
  return vae_image_resize (in, field (rc, 7), field (rc, 6), error);
}

static void
test_resize_reference (void)
{
  g_assert_cmpuint (check_cases ("resize", run_resize, 6, 7,
                                 RESIZE_TOLERANCE), >=, 8);
}

/* The weights of every output pixel sum to 1, so a constant image stays
 * constant whatever the sizes. */
static void
test_resize_constant (void)
{
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (2, 37, 23, NULL);
  gfloat *d = vae_tensor_get_data (in);
  gsize   sizes[][2] = { { 5, 3 }, { 100, 41 }, { 1, 80 }, { 23, 37 } };
  gsize   i, k;

  for (k = 0; k < 2 * 37 * 23; k++)
    d[k] = k < 37 * 23 ? 0.25f : -3.0f;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (VaeTensor) out = NULL;
      g_autoptr (GError) error = NULL;
      const gfloat *o;
      gsize         plane = sizes[i][0] * sizes[i][1];

      out = vae_image_resize (in, sizes[i][0], sizes[i][1], &error);
      g_assert_no_error (error);
      o = vae_tensor_peek_data (out);
      for (k = 0; k < 2 * plane; k++)
        g_assert_cmpfloat_with_epsilon (o[k], k < plane ? 0.25 : -3.0, 1e-5);
    }
}

static void
test_crop (void)
{
  g_autoptr (VaeTensor) in = make_input (7, 3, 10, 12);
  g_autoptr (VaeTensor) out = NULL;
  g_autoptr (GError) error = NULL;
  const gfloat *s = vae_tensor_peek_data (in);
  const gfloat *d;
  gsize         c, y, x;

  out = vae_image_crop (in, 3, 2, 9, 8, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_dim (out, 0), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (out, 1), ==, 8);
  g_assert_cmpuint (vae_tensor_get_dim (out, 2), ==, 9);

  d = vae_tensor_peek_data (out);
  for (c = 0; c < 3; c++)
    for (y = 0; y < 8; y++)
      for (x = 0; x < 9; x++)
        g_assert_cmpfloat (d[(c * 8 + y) * 9 + x], ==,
                           s[(c * 10 + y + 2) * 12 + x + 3]);
}

static void
test_crop_bounds (void)
{
  g_autoptr (VaeTensor) in = make_input (7, 3, 10, 12);
  /* x, y, width, height; each outside the 12x10 image or empty. */
  gsize bad[][4] =
  {
    { 0, 0, 13, 10 },
    { 0, 0, 12, 11 },
    { 1, 0, 12, 10 },
    { 0, 1, 12, 10 },
    { 12, 0, 1, 1 },
    { 0, 10, 1, 1 },
    { 0, 0, 0, 5 },
    { 0, 0, 5, 0 },
    { G_MAXSIZE, 0, 2, 1 },
    { 2, 0, G_MAXSIZE, 1 },
    { 0, G_MAXSIZE - 1, 1, 3 },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      VaeTensor *out;

      out = vae_image_crop (in, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
                            &error);
      g_assert_null (out);
      g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_pad_crop_roundtrip (void)
{
  g_autoptr (VaeTensor) in = make_input (9, 3, 13, 17);
  VaePadMode modes[] = { VAE_PAD_EDGE, VAE_PAD_REFLECT };
  guint      i;

  for (i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr (VaeTensor) padded = NULL;
      g_autoptr (VaeTensor) back = NULL;
      g_autoptr (GError) error = NULL;

      padded = vae_image_pad (in, 8, modes[i], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (vae_tensor_get_dim (padded, 1), ==, 16);
      g_assert_cmpuint (vae_tensor_get_dim (padded, 2), ==, 24);

      back = vae_image_crop (padded, 0, 0, 17, 13, &error);
      g_assert_no_error (error);
      g_assert_true (vae_tensor_same_shape (in, back));
      g_assert_cmpmem (vae_tensor_peek_data (in),
                       vae_tensor_get_n_elements (in) * sizeof (gfloat),
                       vae_tensor_peek_data (back),
                       vae_tensor_get_n_elements (back) * sizeof (gfloat));
    }
}

static void
test_bad_arguments (void)
{
  gsize shape2[2] = { 4, 4 };
  g_autoptr (VaeTensor) flat = vae_tensor_new (2, shape2, NULL);
  g_autoptr (VaeTensor) img = make_input (1, 1, 4, 4);
  GError *error = NULL;

  g_assert_null (vae_image_pad (img, 0, VAE_PAD_EDGE, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_null (vae_image_pad (img, 4, (VaePadMode) 42, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_null (vae_image_pad (flat, 8, VAE_PAD_EDGE, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  g_assert_null (vae_image_crop (flat, 0, 0, 1, 1, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  g_assert_null (vae_image_resize (flat, 2, 2, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  g_assert_null (vae_image_resize (img, 0, 2, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_null (vae_image_resize (img, 2, 0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  load_reference ();

  g_test_add_func ("/image/pad/reference", test_pad_reference);
  g_test_add_func ("/image/pad/crop-roundtrip", test_pad_crop_roundtrip);
  g_test_add_func ("/image/crop/values", test_crop);
  g_test_add_func ("/image/crop/bounds", test_crop_bounds);
  g_test_add_func ("/image/resize/reference", test_resize_reference);
  g_test_add_func ("/image/resize/constant", test_resize_constant);
  g_test_add_func ("/image/bad-arguments", test_bad_arguments);

  rc = g_test_run ();
  g_ptr_array_unref (reference_cases);

  return rc;
}
