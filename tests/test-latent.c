/* gimp-vae tests: latents, the .latent file and latent arithmetic
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * References: tests/data/latent/, written by tests/gen-latent-reference.py
 * (an independent safetensors writer in Python, hostile variants, numpy
 * slerp and a Python transcription of the noise generator); published
 * SplitMix64 and xoshiro256** output vectors; hand-computed cases.
 */

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "vae.h"
#include "vae-latent-private.h"
#include "test-util.h"

/* Results are formed in double and rounded once to float; the references
 * are float64.  Values are within a few units, so 1e-6 is a few ulps. */
#define MATH_TOLERANCE 1e-6

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static gchar *
data_path (const gchar *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "latent", name, NULL);
}

static VaeLatent *
latent_from_values (gsize         c,
                    gsize         h,
                    gsize         w,
                    const gfloat *values)
{
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (c, h, w, NULL);
  VaeLatent *latent;

  memcpy (vae_tensor_get_data (t), values, c * h * w * sizeof (gfloat));
  latent = vae_latent_new (t, NULL);
  g_assert_nonnull (latent);

  return latent;
}

/* Same as test_latent() in gen-latent-reference.py: k / 2^22 - 2. */
static VaeLatent *
test_latent (guint64 seed,
             gsize   c,
             gsize   h,
             gsize   w)
{
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (c, h, w, NULL);
  gfloat  *d = vae_tensor_get_data (t);
  guint64  state = seed;
  gsize    i;

  for (i = 0; i < c * h * w; i++)
    d[i] = (gfloat) ((vae_splitmix64 (&state) >> 40) / (gdouble) (1 << 22)
                     - 2.0);

  return vae_latent_new (t, NULL);
}

static const gfloat *
values_of (const VaeLatent *latent)
{
  return vae_tensor_peek_data (vae_latent_get_tensor (latent));
}

static gsize
n_values (const VaeLatent *latent)
{
  return vae_tensor_get_n_elements (vae_latent_get_tensor (latent));
}

static void
assert_same_values (const VaeLatent *a,
                    const VaeLatent *b)
{
  g_assert_true (vae_tensor_same_shape (vae_latent_get_tensor (a),
                                        vae_latent_get_tensor (b)));
  g_assert_cmpmem (values_of (a), n_values (a) * sizeof (gfloat),
                   values_of (b), n_values (b) * sizeof (gfloat));
}

static void
assert_values_close (const VaeLatent *latent,
                     const gdouble   *want,
                     gsize            n,
                     gdouble          tolerance)
{
  const gfloat *d = values_of (latent);
  gdouble       max_diff = 0.0;
  gsize         i;

  g_assert_cmpuint (n_values (latent), ==, n);
  for (i = 0; i < n; i++)
    max_diff = MAX (max_diff, fabs (d[i] - want[i]));
  g_test_message ("max |diff| %.3g", max_diff);
  g_assert_cmpfloat (max_diff, <=, tolerance);
}

static void
assert_metadata (const VaeLatent *latent,
                 const gchar     *model_id,
                 const gchar     *model_hash,
                 guint            width,
                 guint            height)
{
  guint w = 99, h = 99;

  g_assert_cmpstr (vae_latent_get_model_id (latent), ==, model_id);
  g_assert_cmpstr (vae_latent_get_model_hash (latent), ==, model_hash);
  g_assert_true (vae_latent_get_image_size (latent, &w, &h) == (width != 0));
  g_assert_cmpuint (w, ==, width);
  g_assert_cmpuint (h, ==, height);
}

/* ------------------------------------------------------------------ */
/* The object                                                           */

static void
test_object (void)
{
  gsize  shape2[2] = { 4, 4 };
  g_autoptr (VaeTensor) flat = vae_tensor_new (2, shape2, NULL);
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (16, 5, 7, NULL);
  g_autoptr (VaeLatent) latent = NULL;
  GError *error = NULL;

  g_assert_null (vae_latent_new (flat, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  latent = vae_latent_new (t, &error);
  g_assert_no_error (error);
  g_assert_true (vae_latent_get_tensor (latent) == t);
  g_assert_cmpuint (vae_latent_get_channels (latent), ==, 16);
  g_assert_cmpuint (vae_latent_get_height (latent), ==, 5);
  g_assert_cmpuint (vae_latent_get_width (latent), ==, 7);
  assert_metadata (latent, NULL, NULL, 0, 0);

  vae_latent_set_model (latent, "taef2", "sha256:feed");
  vae_latent_set_image_size (latent, 50, 33);
  assert_metadata (latent, "taef2", "sha256:feed", 50, 33);

  vae_latent_set_model (latent, "", NULL);
  vae_latent_set_image_size (latent, 0, 12);
  assert_metadata (latent, NULL, NULL, 0, 0);

  g_assert_true (vae_latent_ref (latent) == latent);
  vae_latent_unref (latent);
  vae_latent_unref (NULL);
}

/* ------------------------------------------------------------------ */
/* Files                                                                */

/* Awkward floats: -0, the smallest subnormal, the largest finite value. */
static VaeLatent *
awkward_latent (void)
{
  gfloat     v[2 * 3 * 4];
  guint32    bits = 1;
  VaeLatent *latent;
  gsize      i;

  for (i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (gfloat) i * -0.3f + 1.7f;
  v[0] = -0.0f;
  memcpy (&v[1], &bits, 4);
  v[2] = G_MAXFLOAT;
  v[3] = -G_MAXFLOAT;
  v[4] = 1e-30f;

  latent = latent_from_values (2, 3, 4, v);
  vae_latent_set_model (latent, "taesd-\"quoted\"\\id", "sha256:0123abcd");
  vae_latent_set_image_size (latent, 27, 20);

  return latent;
}

static void
test_serialize_roundtrip (void)
{
  g_autoptr (VaeLatent) latent = awkward_latent ();
  g_autoptr (VaeLatent) back = NULL;
  g_autoptr (VaeLatent) bare = test_latent (5, 4, 2, 3);
  g_autoptr (VaeLatent) bare_back = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  bytes = vae_latent_serialize (latent, &error);
  g_assert_no_error (error);
  back = vae_latent_deserialize (bytes, &error);
  g_assert_no_error (error);
  assert_same_values (latent, back);
  assert_metadata (back, "taesd-\"quoted\"\\id", "sha256:0123abcd", 27, 20);

  /* Without model and size they stay unknown. */
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = vae_latent_serialize (bare, &error);
  g_assert_no_error (error);
  bare_back = vae_latent_deserialize (bytes, &error);
  g_assert_no_error (error);
  assert_same_values (bare, bare_back);
  assert_metadata (bare_back, NULL, NULL, 0, 0);
}

static void
test_save_load_roundtrip (void)
{
  g_autoptr (VaeLatent) latent = awkward_latent ();
  g_autoptr (VaeLatent) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("vae-latent-XXXXXX", &error);
  g_autofree gchar *path = NULL;
  g_autofree gchar *missing = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "x.latent", NULL);

  g_assert_true (vae_latent_save (latent, path, &error));
  g_assert_no_error (error);
  back = vae_latent_load (path, &error);
  g_assert_no_error (error);
  assert_same_values (latent, back);
  assert_metadata (back, "taesd-\"quoted\"\\id", "sha256:0123abcd", 27, 20);

  missing = g_build_filename (dir, "no-such-dir", "x.latent", NULL);
  g_assert_false (vae_latent_save (latent, missing, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (vae_latent_load (missing, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_clear_error (&error);

  g_remove (path);
  g_rmdir (dir);
}

/* What ComfyUI's "Load Latent" needs from our file, checked on the bytes
 * with a JSON parser of our own rather than libvae's reader. */
static void
test_file_layout (void)
{
  g_autoptr (VaeLatent) latent = awkward_latent ();
  g_autoptr (GBytes) bytes = vae_latent_serialize (latent, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize         size, i;
  guint64       header_length;
  JsonObject   *root, *entry, *meta;
  JsonArray    *shape, *offsets;
  const gsize   n_bytes = 2 * 3 * 4 * 4;

  data = g_bytes_get_data (bytes, &size);
  memcpy (&header_length, data, 8);
  header_length = GUINT64_FROM_LE (header_length);
  g_assert_cmpuint (header_length % 8, ==, 0);
  g_assert_cmpuint (size, ==, 8 + header_length + n_bytes);
  g_assert_cmpint (data[8], ==, '{');
  g_assert_true (json_parser_load_from_data (parser, (const gchar *) data + 8,
                                             header_length, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));

  entry = json_object_get_object_member (root, "latent_tensor");
  g_assert_cmpstr (json_object_get_string_member (entry, "dtype"), ==, "F32");
  shape = json_object_get_array_member (entry, "shape");
  g_assert_cmpuint (json_array_get_length (shape), ==, 4);
  g_assert_cmpint (json_array_get_int_element (shape, 0), ==, 1);
  g_assert_cmpint (json_array_get_int_element (shape, 1), ==, 2);
  g_assert_cmpint (json_array_get_int_element (shape, 2), ==, 3);
  g_assert_cmpint (json_array_get_int_element (shape, 3), ==, 4);
  offsets = json_object_get_array_member (entry, "data_offsets");
  g_assert_cmpint (json_array_get_int_element (offsets, 0), ==, 0);
  g_assert_cmpint (json_array_get_int_element (offsets, 1), ==, n_bytes);

  /* ComfyUI skips its 1 / 0.18215 legacy rescale only when this tensor
   * exists. */
  entry = json_object_get_object_member (root, "latent_format_version_0");
  g_assert_nonnull (entry);
  g_assert_cmpstr (json_object_get_string_member (entry, "dtype"), ==, "F32");
  shape = json_object_get_array_member (entry, "shape");
  g_assert_cmpuint (json_array_get_length (shape), ==, 1);
  g_assert_cmpint (json_array_get_int_element (shape, 0), ==, 0);
  offsets = json_object_get_array_member (entry, "data_offsets");
  g_assert_cmpint (json_array_get_int_element (offsets, 0), ==, n_bytes);
  g_assert_cmpint (json_array_get_int_element (offsets, 1), ==, n_bytes);

  meta = json_object_get_object_member (root, "__metadata__");
  g_assert_cmpstr (json_object_get_string_member (meta,
                   "latent_format_version_0"), ==, "1");
  g_assert_cmpstr (json_object_get_string_member (meta, "vae.format_version"),
                   ==, "1");
  g_assert_cmpstr (json_object_get_string_member (meta,
                   "vae.value_convention"), ==, "raw");
  g_assert_cmpstr (json_object_get_string_member (meta, "vae.image_width"),
                   ==, "27");
  g_assert_cmpstr (json_object_get_string_member (meta, "vae.image_height"),
                   ==, "20");
  g_assert_cmpstr (json_object_get_string_member (meta, "vae.model_hash"),
                   ==, "sha256:0123abcd");

  /* Padding is spaces; data is little-endian f32. */
  for (i = 8 + header_length - 1; data[i] != '}'; i--)
    g_assert_cmpint (data[i], ==, ' ');
  for (i = 0; i < 2 * 3 * 4; i++)
    {
      guint32 bits;
      gfloat  v;

      memcpy (&bits, data + 8 + header_length + 4 * i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&v, &bits, 4);
      g_assert_cmpmem (&v, 4, values_of (latent) + i, 4);
    }
}

/* The files gen-latent-reference.py writes as other programs would.
 * Element i holds ((i * stride) % period) * scale + offset, as the
 * generator's values_*() make it: exact in the files' types. */
typedef struct
{
  const gchar *name;         /* of the test and the file (.latent) */
  gboolean     deserialize;  /* read as a parasite is, from memory */
  guint        channels;
  guint        height;
  guint        width;
  const gchar *model_id;
  const gchar *model_hash;
  guint        image_width;
  guint        image_height;
  guint        stride;
  guint        period;
  gdouble      scale;
  gdouble      offset;
} ReadCase;

static const ReadCase read_cases[] =
{
  { "python-written", FALSE, 4, 3, 5, "taef2", "sha256:0123abcd", 37, 21,
    37, 101, 0.125, -6.0 },
  { "comfy-style", FALSE, 16, 2, 3, NULL, NULL, 0, 0, 1, 7, 0.5, -1.5 },
  { "f16-3d", TRUE, 2, 3, 4, NULL, NULL, 0, 0, 1, 24, 0.25, -3.0 },
};

static void
test_read_case (gconstpointer data)
{
  const ReadCase       *rc = data;
  g_autofree gchar     *file = g_strconcat (rc->name, ".latent", NULL);
  g_autofree gchar     *path = data_path (file);
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (GError)    error = NULL;
  const gfloat         *d;
  gsize                 i;

  if (rc->deserialize)
    {
      g_autofree gchar  *contents = NULL;
      g_autoptr (GBytes) bytes = NULL;
      gsize              size;

      g_file_get_contents (path, &contents, &size, &error);
      g_assert_no_error (error);
      bytes = g_bytes_new (contents, size);
      latent = vae_latent_deserialize (bytes, &error);
    }
  else
    {
      latent = vae_latent_load (path, &error);
    }
  g_assert_no_error (error);
  g_assert_cmpuint (vae_latent_get_channels (latent), ==, rc->channels);
  g_assert_cmpuint (vae_latent_get_height (latent), ==, rc->height);
  g_assert_cmpuint (vae_latent_get_width (latent), ==, rc->width);
  assert_metadata (latent, rc->model_id, rc->model_hash, rc->image_width,
                   rc->image_height);

  d = values_of (latent);
  for (i = 0; i < rc->channels * rc->height * rc->width; i++)
    g_assert_cmpfloat (d[i], ==,
                       ((i * rc->stride) % rc->period) * rc->scale
                       + rc->offset);
}

static void
test_hostile_files (void)
{
  g_autofree gchar *list = data_path ("hostile.txt");
  g_auto (GStrv) lines = test_case_lines (list);
  guint i;

  for (i = 0; lines[i]; i++)
    {
      g_auto (GStrv) f = NULL;
      g_autofree gchar *path = NULL;
      g_autoptr (GError) error = NULL;
      VaeLatent *latent;

      f = g_strsplit (lines[i], " ", 2);
      path = data_path (f[0]);
      latent = vae_latent_load (path, &error);
      g_test_message ("%s: %s", f[0], error ? error->message : "loaded!");
      g_assert_null (latent);
      g_assert_error (error, VAE_ERROR, test_error_code (f[1]));
    }

  g_assert_cmpuint (i, >=, 15);
}

/* Builds a safetensors file around @header with @data_size zero bytes. */
static GBytes *
make_file (const gchar *header,
           gsize        data_size)
{
  gsize    hl = strlen (header);
  guint64  le = GUINT64_TO_LE ((guint64) hl);
  guint8  *buf = g_malloc0 (8 + hl + data_size);

  memcpy (buf, &le, 8);
  memcpy (buf + 8, header, hl);

  return g_bytes_new_take (buf, 8 + hl + data_size);
}

/* Consistent files (the data is all there) whose sizes are absurd. */
static void
test_absurd_sizes (void)
{
  const struct { const gchar *shape; gsize n; } cases[] =
  {
    { "[1,5000,1,1]", 5000 },
    { "[1,1,1,70000]", 70000 },
    { "[70000,1,1]", 70000 },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *header = NULL;
      g_autoptr (GBytes) bytes = NULL;
      g_autoptr (GError) error = NULL;

      header = g_strdup_printf ("{\"latent_tensor\":{\"dtype\":\"F32\","
                                "\"shape\":%s,\"data_offsets\":[0,%"
                                G_GSIZE_FORMAT "]}}",
                                cases[i].shape, 4 * cases[i].n);
      bytes = make_file (header, 4 * cases[i].n);
      g_assert_null (vae_latent_deserialize (bytes, &error));
      g_test_message ("%s: %s", cases[i].shape, error->message);
      g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
    }
}

/* Every prefix of a good file is an error, never a crash; so is every
 * file with a byte changed, or it reads as a latent of sane size. */
static void
test_truncations_and_mutations (void)
{
  g_autoptr (VaeLatent) latent = awkward_latent ();
  g_autoptr (GBytes) bytes = vae_latent_serialize (latent, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261126);
  const guint8 *data;
  gsize         size, cut;
  guint         i, n_loaded = 0;

  data = g_bytes_get_data (bytes, &size);
  for (cut = 0; cut < size; cut++)
    {
      g_autoptr (GBytes) part = g_bytes_new (data, cut);
      g_autoptr (GError) error = NULL;

      g_assert_null (vae_latent_deserialize (part, &error));
      g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
    }

  for (i = 0; i < 3000; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, size);
      g_autoptr (GBytes) mutated = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (VaeLatent) back = NULL;

      copy[g_rand_int_range (rand, 0, size)] = g_rand_int_range (rand, 0, 256);
      mutated = g_bytes_new (copy, size);
      back = vae_latent_deserialize (mutated, &error);
      if (back)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (n_values (back), ==, 2 * 3 * 4);
          n_loaded++;
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == VAE_ERROR);
        }
    }
  g_test_message ("%u of 3000 mutated files still loaded", n_loaded);
}

static void
test_serialize_non_finite (void)
{
  gfloat values[4] = { 1, 2, NAN, 4 };
  g_autoptr (VaeLatent) latent = latent_from_values (1, 2, 2, values);
  g_autoptr (GError) error = NULL;

  g_assert_null (vae_latent_serialize (latent, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ */
/* Arithmetic                                                           */

typedef struct
{
  gchar  **header;
  gdouble *values;
  gsize    n;
} RefCase;

static RefCase *
find_reference (const gchar *kind,
                const gchar *param)
{
  g_autofree gchar *path = data_path ("math-reference.txt");
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint i;

  g_file_get_contents (path, &text, NULL, NULL);
  g_assert_nonnull (text);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i + 1]; i++)
    {
      g_auto (GStrv) h = g_strsplit (lines[i], " ", -1);
      g_auto (GStrv) v = NULL;
      RefCase *rc;
      guint    k;

      if (g_strv_length (h) < 4 || strcmp (h[0], kind) != 0 ||
          (param && strcmp (h[3], param) != 0))
        continue;

      rc = g_new0 (RefCase, 1);
      rc->header = g_steal_pointer (&h);
      v = g_strsplit (lines[i + 1], " ", -1);
      rc->n = g_strv_length (v);
      rc->values = g_new (gdouble, rc->n);
      for (k = 0; k < rc->n; k++)
        rc->values[k] = g_ascii_strtod (v[k], NULL);
      return rc;
    }

  g_error ("no %s %s case in math-reference.txt", kind, param ? param : "");

  return NULL;
}

static void
ref_case_free (RefCase *rc)
{
  g_strfreev (rc->header);
  g_free (rc->values);
  g_free (rc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RefCase, ref_case_free)

static void
test_lerp (void)
{
  const gfloat av[6] = { 0, 1, 2, -3, 4, 10 };
  const gfloat bv[6] = { 4, 1, -2, 5, 4, -10 };
  /* (1 - t) a + t b at t = 0.25 and t = 1.5 */
  const gdouble want25[6] = { 1, 1, 1, -1, 4, 5 };
  const gdouble want150[6] = { 6, 1, -4, 9, 4, -20 };
  g_autoptr (VaeLatent) a = latent_from_values (2, 1, 3, av);
  g_autoptr (VaeLatent) b = latent_from_values (2, 1, 3, bv);
  g_autoptr (VaeLatent) r = NULL;
  g_autoptr (VaeLatent) r2 = NULL;
  g_autoptr (GError) error = NULL;

  vae_latent_set_model (a, "m", "h1");
  vae_latent_set_image_size (a, 24, 8);
  vae_latent_set_model (b, "m", "h1");
  vae_latent_set_image_size (b, 23, 7);

  r = vae_latent_lerp (a, b, 0.25, &error);
  g_assert_no_error (error);
  assert_values_close (r, want25, 6, 0);
  assert_metadata (r, "m", "h1", 24, 8);

  r2 = vae_latent_lerp (a, b, 1.5, &error);
  g_assert_no_error (error);
  assert_values_close (r2, want150, 6, 0);
}

static void
test_slerp_reference (void)
{
  const gchar *ts[] = { "0.0", "0.25", "0.5", "0.8", "1.0", "1.3", "-0.2" };
  g_autoptr (VaeLatent) a = test_latent (101, 3, 4, 5);
  g_autoptr (VaeLatent) b = test_latent (202, 3, 4, 5);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ts); i++)
    {
      g_autoptr (RefCase) rc = find_reference ("slerp", ts[i]);
      g_autoptr (VaeLatent) r = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("slerp t = %s", ts[i]);
      r = vae_latent_slerp (a, b, g_ascii_strtod (ts[i], NULL), &error);
      g_assert_no_error (error);
      assert_values_close (r, rc->values, rc->n, MATH_TOLERANCE);
    }
}

/* b = 1.5 a + a little: the angle is tiny and slerp must be lerp. */
static void
test_slerp_near_parallel (void)
{
  g_autoptr (RefCase) rc = find_reference ("slerp-near", "0.3");
  g_autoptr (VaeLatent) a = test_latent (101, 3, 4, 5);
  g_autoptr (VaeLatent) b = NULL;
  g_autoptr (VaeLatent) r = NULL;
  g_autoptr (VaeLatent) l = NULL;
  g_autoptr (GError) error = NULL;
  gfloat near[60];
  gsize  i;

  g_assert_cmpuint (g_strv_length (rc->header), ==, 4 + 60);
  for (i = 0; i < 60; i++)
    near[i] = (gfloat) g_ascii_strtod (rc->header[4 + i], NULL);
  b = latent_from_values (3, 4, 5, near);

  r = vae_latent_slerp (a, b, 0.3, &error);
  g_assert_no_error (error);
  assert_values_close (r, rc->values, rc->n, MATH_TOLERANCE);
  l = vae_latent_lerp (a, b, 0.3, &error);
  assert_same_values (r, l);
}

/* Orthogonal vectors of equal norm 2: half way the weights are
 * sin (pi/4) / sin (pi/2) = 1/sqrt 2 each, so the result has norm 2 too. */
static void
test_slerp_orthogonal (void)
{
  const gfloat av[4] = { 2, 0, 0, 0 };
  const gfloat bv[4] = { 0, 0, -2, 0 };
  const gdouble want[4] = { G_SQRT2, 0, -G_SQRT2, 0 };
  g_autoptr (VaeLatent) a = latent_from_values (4, 1, 1, av);
  g_autoptr (VaeLatent) b = latent_from_values (4, 1, 1, bv);
  g_autoptr (VaeLatent) r = vae_latent_slerp (a, b, 0.5, NULL);

  assert_values_close (r, want, 4, 1e-6);
}

static void
test_adjust (void)
{
  const gfloat  v[6] = { 1, -2, 3, 0.5f, 0, -1 };    /* 2 channels of 3 */
  const gdouble cg[2] = { 2, -1 };
  const gdouble co[2] = { 0.25, 10 };
  /* global: v * 3 - 1 */
  const gdouble want_global[6] = { 2, -7, 8, 0.5, -1, -4 };
  /* then * cg[c] + co[c] */
  const gdouble want_all[6] = { 4.25, -13.75, 16.25, 9.5, 11, 14 };
  /* per-channel gain only, on v * 1 + 0 */
  const gdouble want_cg[6] = { 2, -4, 6, -0.5, 0, 1 };
  g_autoptr (VaeLatent) l = latent_from_values (2, 1, 3, v);
  g_autoptr (VaeLatent) r1 = NULL;
  g_autoptr (VaeLatent) r2 = NULL;
  g_autoptr (VaeLatent) r3 = NULL;
  GError *error = NULL;
  gdouble bad[2] = { 1, INFINITY };

  vae_latent_set_model (l, "id", "hash");
  vae_latent_set_image_size (l, 3, 1);

  r1 = vae_latent_adjust (l, 3, -1, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_values_close (r1, want_global, 6, 0);
  assert_metadata (r1, "id", "hash", 3, 1);

  r2 = vae_latent_adjust (l, 3, -1, cg, co, &error);
  g_assert_no_error (error);
  assert_values_close (r2, want_all, 6, 0);

  r3 = vae_latent_adjust (l, 1, 0, cg, NULL, &error);
  g_assert_no_error (error);
  assert_values_close (r3, want_cg, 6, 0);

  g_assert_null (vae_latent_adjust (l, NAN, 0, NULL, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (vae_latent_adjust (l, 1, 0, NULL, bad, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_mix (void)
{
  const gfloat  av[6] = { 1, 2, 3, 4, 5, 6 };       /* 3 channels of 2 */
  const gfloat  bv[6] = { -1, -2, 7, 8, 9, -6 };
  const gdouble w[3] = { 0, 1, 0.25 };
  const gdouble want[6] = { 1, 2, 7, 8, 6, 3 };
  g_autoptr (VaeLatent) a = latent_from_values (3, 2, 1, av);
  g_autoptr (VaeLatent) b = latent_from_values (3, 2, 1, bv);
  g_autoptr (VaeLatent) r = NULL;
  GError *error = NULL;
  gdouble bad[3] = { 0, NAN, 1 };

  vae_latent_set_image_size (b, 2, 1);
  r = vae_latent_mix (a, b, w, &error);
  g_assert_no_error (error);
  assert_values_close (r, want, 6, 0);
  /* The first input's metadata, even where it is unknown. */
  assert_metadata (r, NULL, NULL, 0, 0);

  g_assert_null (vae_latent_mix (a, b, bad, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_compatibility_checks (void)
{
  g_autoptr (VaeLatent) a = test_latent (1, 4, 3, 3);
  g_autoptr (VaeLatent) b = test_latent (2, 4, 3, 3);
  g_autoptr (VaeLatent) c = test_latent (3, 4, 3, 3);
  g_autoptr (VaeLatent) other_shape = test_latent (4, 4, 3, 2);
  g_autoptr (VaeLatent) r = NULL;
  const gdouble w[4] = { 0.5, 0.5, 0.5, 0.5 };
  const struct
  {
    VaeLatent *other;
    gint       code;
  } refused[] = { { b, VAE_ERROR_MODEL_MISMATCH },
                  { other_shape, VAE_ERROR_SHAPE } };
  GError *error = NULL;
  guint   i;

  vae_latent_set_model (a, "taef2", "hash-a");
  vae_latent_set_model (b, "taesd", "hash-b");
  /* c has no hash: combinable with either. */

  for (i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_assert_null (vae_latent_lerp (a, refused[i].other, 0.5, &error));
      g_assert_error (error, VAE_ERROR, refused[i].code);
      g_clear_error (&error);
      g_assert_null (vae_latent_slerp (a, refused[i].other, 0.5, &error));
      g_assert_error (error, VAE_ERROR, refused[i].code);
      g_clear_error (&error);
      g_assert_null (vae_latent_mix (a, refused[i].other, w, &error));
      g_assert_error (error, VAE_ERROR, refused[i].code);
      g_clear_error (&error);
    }

  g_assert_null (vae_latent_lerp (a, c, NAN, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  r = vae_latent_slerp (c, a, 0.5, &error);
  g_assert_no_error (error);
  assert_metadata (r, NULL, NULL, 0, 0);
  g_clear_pointer (&r, vae_latent_unref);
  r = vae_latent_mix (a, c, w, &error);
  g_assert_no_error (error);
  assert_metadata (r, "taef2", "hash-a", 0, 0);
}

/* Published first outputs: SplitMix64 from state 0, and xoshiro256**
 * from the state {1, 2, 3, 4} (the vector of the reference
 * implementation's test suites). */
static void
test_generator_vectors (void)
{
  const guint64 splitmix[3] =
  {
    G_GUINT64_CONSTANT (0xE220A8397B1DCDAF),
    G_GUINT64_CONSTANT (0x6E789E6AA1B965F4),
    G_GUINT64_CONSTANT (0x06C45D188009454F),
  };
  const guint64 xoshiro[6] =
  {
    G_GUINT64_CONSTANT (11520),
    G_GUINT64_CONSTANT (0),
    G_GUINT64_CONSTANT (1509978240),
    G_GUINT64_CONSTANT (1215971899390074240),
    G_GUINT64_CONSTANT (1216172134540287360),
    G_GUINT64_CONSTANT (607988272756665600),
  };
  guint64   state = 0;
  VaeRandom random;
  guint     i;

  for (i = 0; i < G_N_ELEMENTS (splitmix); i++)
    g_assert_cmphex (vae_splitmix64 (&state), ==, splitmix[i]);

  vae_random_init_state (&random, 1, 2, 3, 4);
  for (i = 0; i < G_N_ELEMENTS (xoshiro); i++)
    g_assert_cmpuint (vae_random_next (&random), ==, xoshiro[i]);
}

static void
test_noise_reference (void)
{
  g_autoptr (RefCase) rc = find_reference ("noise", NULL);
  g_autoptr (VaeLatent) base = NULL;
  g_autoptr (VaeLatent) r = NULL;
  g_autoptr (GError) error = NULL;
  guint64 seed = g_ascii_strtoull (rc->header[2], NULL, 10);
  gdouble strength = g_ascii_strtod (rc->header[3], NULL);

  base = test_latent (g_ascii_strtoull (rc->header[1], NULL, 10),
                      g_ascii_strtoull (rc->header[4], NULL, 10),
                      g_ascii_strtoull (rc->header[5], NULL, 10),
                      g_ascii_strtoull (rc->header[6], NULL, 10));
  vae_latent_set_model (base, "x", "y");
  r = vae_latent_add_noise (base, seed, strength, &error);
  g_assert_no_error (error);
  assert_values_close (r, rc->values, rc->n, MATH_TOLERANCE);
  assert_metadata (r, "x", "y", 0, 0);
}

/* Seeded noise is repeatable, differs between seeds, and has the asked
 * standard deviation: over n = 65536 values the sample mean is within
 * 5 sigma / sqrt (n) of 0 and the sample std within 2 % (its own standard
 * error is ~0.3 %). */
static void
test_noise_properties (void)
{
  g_autoptr (VaeTensor) zeros = vae_tensor_new_3d (16, 64, 64, NULL);
  g_autoptr (VaeLatent) base = vae_latent_new (zeros, NULL);
  g_autoptr (VaeLatent) r1 = vae_latent_add_noise (base, 42, 2.0, NULL);
  g_autoptr (VaeLatent) r2 = vae_latent_add_noise (base, 42, 2.0, NULL);
  g_autoptr (VaeLatent) r3 = vae_latent_add_noise (base, 43, 2.0, NULL);
  g_autoptr (VaeLatent) r0 = vae_latent_add_noise (base, 42, 0.0, NULL);
  GError       *error = NULL;
  const gfloat *d = values_of (r1);
  gsize         n = n_values (r1), i;
  gdouble       sum = 0, sum2 = 0, mean, std;

  assert_same_values (r1, r2);
  g_assert_true (memcmp (values_of (r1), values_of (r3),
                         n * sizeof (gfloat)) != 0);
  assert_same_values (base, r0);

  for (i = 0; i < n; i++)
    {
      sum += d[i];
      sum2 += (gdouble) d[i] * d[i];
    }
  mean = sum / n;
  std = sqrt (sum2 / n - mean * mean);
  g_test_message ("noise mean %.4f std %.4f", mean, std);
  g_assert_cmpfloat (fabs (mean), <, 5 * 2.0 / sqrt (n));
  g_assert_cmpfloat (fabs (std - 2.0), <, 0.04);

  g_assert_null (vae_latent_add_noise (base, 1, -1.0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (vae_latent_add_noise (base, 1, NAN, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/latent/object", test_object);
  g_test_add_func ("/latent/file/serialize-roundtrip", test_serialize_roundtrip);
  g_test_add_func ("/latent/file/save-load-roundtrip", test_save_load_roundtrip);
  g_test_add_func ("/latent/file/layout", test_file_layout);
  TEST_ADD_CASES ("/latent/file", read_cases, test_read_case);
  g_test_add_func ("/latent/file/hostile", test_hostile_files);
  g_test_add_func ("/latent/file/absurd-sizes", test_absurd_sizes);
  g_test_add_func ("/latent/file/truncations-mutations",
                   test_truncations_and_mutations);
  g_test_add_func ("/latent/file/non-finite", test_serialize_non_finite);
  g_test_add_func ("/latent/math/lerp", test_lerp);
  g_test_add_func ("/latent/math/slerp-reference", test_slerp_reference);
  g_test_add_func ("/latent/math/slerp-near-parallel",
                   test_slerp_near_parallel);
  g_test_add_func ("/latent/math/slerp-orthogonal", test_slerp_orthogonal);
  g_test_add_func ("/latent/math/adjust", test_adjust);
  g_test_add_func ("/latent/math/mix", test_mix);
  g_test_add_func ("/latent/math/compatibility", test_compatibility_checks);
  g_test_add_func ("/latent/math/generator-vectors", test_generator_vectors);
  g_test_add_func ("/latent/math/noise-reference", test_noise_reference);
  g_test_add_func ("/latent/math/noise-properties", test_noise_properties);

  return g_test_run ();
}
