/* gimp-vae - tests of the safetensors reader and the weight store
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vae-error.h"
#include "vae-latent.h"
#include "vae-model.h"
#include "vae-registry.h"
#include "vae-weights.h"
#include "test-util.h"

/* Builds a safetensors file: length, the JSON padded with spaces to a
 * multiple of 8 (as writers do), then the data section. */
static GBytes *
build_file (const gchar  *json,
            const guint8 *section,
            gsize         section_size)
{
  GByteArray *bytes = g_byte_array_new ();
  gsize       json_length = strlen (json);
  gsize       padded = (json_length + 7) / 8 * 8;
  guint64     length_le = GUINT64_TO_LE ((guint64) padded);
  gsize       i;

  g_byte_array_append (bytes, (const guint8 *) &length_le, 8);
  g_byte_array_append (bytes, (const guint8 *) json, json_length);
  for (i = json_length; i < padded; i++)
    g_byte_array_append (bytes, (const guint8 *) " ", 1);
  if (section_size)
    g_byte_array_append (bytes, section, section_size);

  return g_byte_array_free_to_bytes (bytes);
}

static void
put_u16 (guint8  *p,
         guint16  v)
{
  v = GUINT16_TO_LE (v);
  memcpy (p, &v, 2);
}

static void
put_f32 (guint8 *p,
         gfloat  f)
{
  guint32 v;

  memcpy (&v, &f, 4);
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static void
put_f64 (guint8  *p,
         gdouble  d)
{
  guint64 v;

  memcpy (&v, &d, 8);
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static gboolean
same_bits (gfloat a,
           gfloat b)
{
  return memcmp (&a, &b, sizeof a) == 0;
}

/* The hand-built file.  Layout of the data section (offsets in bytes):
 *   0..24   "a"  F32  [2, 3]
 *   24..42  "b"  F16  [9]
 *   42..52  "c"  BF16 [5]
 *   52..60  "d"  F64  [1]
 *   60..64  "s"  F32  []      (a scalar)
 *   64..64  "e"  F32  [0, 3]  (empty)
 * The JSON lists them in another order: the store must follow the data.
 */
static const gchar hand_json[] =
  "{\"c\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[42,52]},"
  "\"__metadata__\":{\"format\":\"pt\",\"latent_channels\":\"4\"},"
  "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[60,64]},"
  "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
  "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[64,64]},"
  "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[52,60]},"
  "\"b\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[24,42]}}";

static const gfloat a_values[6] =
  { 0.0f, -0.0f, 1.5f, -2.25f, 3.4028234663852886e38f,
    1e-40f /* an f32 subnormal */ };

/* Half bit patterns and their values worked out by hand from the binary16
 * definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m. */
static const guint16 b_bits[9] =
  { 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3c00, 0xc000, 0x7bff };
static const gdouble b_values[9] =
  { 5.9604644775390625e-08,          /* 2^-24, smallest subnormal */
    6.0975551605224609e-05,          /* 1023 * 2^-24, largest subnormal */
    6.103515625e-05,                 /* 2^-14, smallest normal */
    INFINITY, -INFINITY,
    -0.0, 1.0, -2.0, 65504.0 };

/* bfloat16 is the top half of a binary32. */
static const guint16 c_bits[5] = { 0x3f80, 0xc049, 0x0001, 0x8000, 0xff80 };
static const gdouble c_values[5] =
  { 1.0, -3.140625, 9.183549615799121e-41 /* 2^-133 */, -0.0, -INFINITY };

static GBytes *
build_hand_file (void)
{
  guint8 section[64];
  guint  i;

  for (i = 0; i < 6; i++)
    put_f32 (section + 4 * i, a_values[i]);
  for (i = 0; i < 9; i++)
    put_u16 (section + 24 + 2 * i, b_bits[i]);
  for (i = 0; i < 5; i++)
    put_u16 (section + 42 + 2 * i, c_bits[i]);
  put_f64 (section + 52, 0.1);
  put_f32 (section + 60, 7.0f);

  return build_file (hand_json, section, sizeof section);
}

static gchar *
write_temp (GBytes      *bytes,
            const gchar *name)
{
  g_autoptr(GError) error = NULL;
  gchar            *dir;
  gchar            *path;

  dir = g_dir_make_tmp ("vae-st-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, name, NULL);
  g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                       g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_free (dir);

  return path;
}

static void
remove_temp (const gchar *path)
{
  g_autofree gchar *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
}

static void
check_hand_weights (VaeWeights *weights)
{
  static const gchar *order[] = { "a", "b", "c", "d", "s", "e" };
  g_autoptr(GPtrArray)  names = NULL;
  const VaeWeight      *w;
  guint                 i;

  g_assert_cmpuint (vae_weights_get_n_tensors (weights), ==, 6);
  /* 6 + 9 + 5 + 1 + 1 + 0 */
  g_assert_cmpuint (vae_weights_get_n_params (weights), ==, 22);

  names = vae_weights_list (weights);
  g_assert_cmpuint (names->len, ==, G_N_ELEMENTS (order));
  for (i = 0; i < names->len; i++)
    g_assert_cmpstr (g_ptr_array_index (names, i), ==, order[i]);

  g_assert_cmpstr (vae_weights_get_metadata (weights, "format"), ==, "pt");
  g_assert_cmpstr (vae_weights_get_metadata (weights, "latent_channels"),
                   ==, "4");
  g_assert_null (vae_weights_get_metadata (weights, "nope"));
  g_assert_false (vae_weights_has (weights, "__metadata__"));

  w = vae_weights_lookup (weights, "a");
  g_assert_nonnull (w);
  g_assert_cmpint (w->dtype, ==, VAE_DTYPE_F32);
  g_assert_cmpuint (w->n_dims, ==, 2);
  g_assert_cmpuint (w->shape[0], ==, 2);
  g_assert_cmpuint (w->shape[1], ==, 3);
  g_assert_cmpuint (w->n_elements, ==, 6);
  for (i = 0; i < 6; i++)
    g_assert_true (same_bits (w->data[i], a_values[i]));

  w = vae_weights_lookup (weights, "b");
  g_assert_nonnull (w);
  g_assert_cmpint (w->dtype, ==, VAE_DTYPE_F16);
  g_assert_cmpuint (w->n_elements, ==, 9);
  for (i = 0; i < 9; i++)
    g_assert_true (same_bits (w->data[i], (gfloat) b_values[i]));

  w = vae_weights_lookup (weights, "c");
  g_assert_nonnull (w);
  g_assert_cmpint (w->dtype, ==, VAE_DTYPE_BF16);
  for (i = 0; i < 5; i++)
    g_assert_true (same_bits (w->data[i], (gfloat) c_values[i]));

  w = vae_weights_lookup (weights, "d");
  g_assert_nonnull (w);
  g_assert_cmpint (w->dtype, ==, VAE_DTYPE_F64);
  g_assert_true (same_bits (w->data[0], (gfloat) 0.1));

  w = vae_weights_lookup (weights, "s");
  g_assert_nonnull (w);
  g_assert_cmpuint (w->n_dims, ==, 0);
  g_assert_cmpuint (w->n_elements, ==, 1);
  g_assert_cmpfloat (w->data[0], ==, 7.0f);

  w = vae_weights_lookup (weights, "e");
  g_assert_nonnull (w);
  g_assert_cmpuint (w->n_dims, ==, 2);
  g_assert_cmpuint (w->n_elements, ==, 0);
}

static void
test_hand_built (void)
{
  g_autoptr(GBytes)     bytes = build_hand_file ();
  g_autoptr(GError)     error = NULL;
  g_autoptr(VaeWeights) weights = NULL;
  g_autofree gchar     *path = write_temp (bytes, "hand.safetensors");
  gsize                 shape_a[2] = { 2, 3 };
  const gfloat         *data;

  weights = vae_weights_load (path, &error);
  g_assert_no_error (error);
  check_hand_weights (weights);
  g_assert_cmpstr (vae_weights_get_path (weights), ==, path);
  g_assert_cmpstr (vae_weights_get_display_name (weights), ==,
                   "hand.safetensors");

  data = vae_weights_get (weights, "a", 2, shape_a, &error);
  g_assert_no_error (error);
  g_assert_true (data == vae_weights_lookup (weights, "a")->data);
  /* b holds infinities: readable, but no weights a model may use */
  data = vae_weights_get_1d (weights, "b", 9, &error);
  g_assert_null (data);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==,
                   "hand.safetensors: tensor 'b' holds +inf at element 3; "
                   "the weights are damaged");
  g_clear_error (&error);
  data = vae_weights_get_1d (weights, "b", 9, &error);
  g_assert_null (data);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_clear_error (&error);
  g_clear_pointer (&weights, vae_weights_free);

  weights = vae_safetensors_load (path, &error);
  g_assert_no_error (error);
  check_hand_weights (weights);
  g_clear_pointer (&weights, vae_weights_free);

  weights = vae_safetensors_load_from_data (g_bytes_get_data (bytes, NULL),
                                            g_bytes_get_size (bytes),
                                            "parasite", &error);
  g_assert_no_error (error);
  check_hand_weights (weights);
  g_assert_cmpstr (vae_weights_get_path (weights), ==, "parasite");

  remove_temp (path);
}

/* The conversions on every one of the 65536 half values against the
 * compiler's own _Float16 conversion, where the compiler has one. */
static void
test_half_exhaustive (void)
{
#if defined(__FLT16_MAX__)
  guint32 i;

  for (i = 0; i < 65536; i++)
    {
      guint16  bits = i;
      _Float16 h;
      gfloat   expected;
      gfloat   got = vae_half_to_float (bits);

      memcpy (&h, &bits, 2);
      expected = (gfloat) h;
      if (isnan (expected))
        {
          g_assert_true (isnan (got));
          g_assert_cmpint (!! signbit (got), ==, !! (bits & 0x8000));
        }
      else
        {
          g_assert_true (same_bits (got, expected));
        }
    }
#else
  g_test_skip ("the compiler has no _Float16 to compare with");
#endif
}

/* Numbers computed independently with numpy in the Debian 13 chroot: the
 * header parsed with json, each tensor read with np.frombuffer(dtype="<f2")
 * and widened with .astype(np.float64); sums in float64. */
typedef struct
{
  const gchar *name;
  guint        n_dims;
  gsize        shape[4];
  gdouble      first;
  gdouble      last;
  gdouble      sum;
} RefTensor;

typedef struct
{
  const gchar *file;
  guint64      n_params;
  const gchar *first_names[3];
  const gchar *last_name;
  gdouble      sum;
  gdouble      sum_abs;
  gdouble      min;
  gdouble      max;
  RefTensor    tensors[4];
} RefFile;

static const RefFile taef2_reference[] =
{
  {
    "encoder.safetensors", 1338528,
    { "0.weight", "0.bias", "1.conv.0.weight" }, "14.bias",
    251.84707695245743, 44558.184379637241, -2.912109375, 1.1328125,
    {
      { "0.weight", 4, { 64, 3, 3, 3 },
        -0.1405029296875, -0.058135986328125, -0.072045683860778809 },
      { "0.bias", 1, { 64 },
        -0.023162841796875, -0.0025463104248046875, -0.092801094055175781 },
      { "14.weight", 4, { 32, 64, 3, 3 },
        -0.004474639892578125, -0.0301971435546875, 0.70014816522598267 },
      { "14.bias", 1, { 32 },
        0.0792236328125, -0.033477783203125, -0.0019969940185546875 },
    }
  },
  {
    "decoder.safetensors", 1338499,
    { "1.weight", "1.bias", "3.conv.0.weight" }, "19.bias",
    -627.3743234872818, 46165.157678365707, -3.830078125, 1.41015625,
    {
      { "1.weight", 4, { 64, 32, 3, 3 },
        -0.003170013427734375, -0.008758544921875, 8.68201744556427 },
      { "1.bias", 1, { 64 },
        0.298095703125, 0.489501953125, 19.876178741455078 },
      { "19.weight", 4, { 3, 64, 3, 3 },
        -0.004161834716796875, 0.0010986328125, 0.46632128953933716 },
      { "19.bias", 1, { 3 },
        0.349365234375, 0.3193359375, 1.00341796875 },
    }
  },
};

static void
test_taef2 (void)
{
  const gchar *shared = g_getenv ("VAE_SHARED_DIR");
  guint        f;

  for (f = 0; f < G_N_ELEMENTS (taef2_reference); f++)
    {
      const RefFile        *ref = &taef2_reference[f];
      g_autofree gchar     *path = NULL;
      g_autoptr(GError)     error = NULL;
      g_autoptr(VaeWeights) weights = NULL;
      g_autoptr(GPtrArray)  names = NULL;
      gdouble               sum = 0.0;
      gdouble               sum_abs = 0.0;
      gdouble               min = G_MAXDOUBLE;
      gdouble               max = -G_MAXDOUBLE;
      guint                 i;

      if (shared)
        path = g_build_filename (shared, "models", "taef2", ref->file, NULL);
      if (! path || ! g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_test_skip ("TAEF2 weights not found (VAE_SHARED_DIR)");
          return;
        }

      weights = vae_weights_load (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (vae_weights_get_n_tensors (weights), ==, 79);
      g_assert_cmpuint (vae_weights_get_n_params (weights), ==,
                        ref->n_params);
      g_assert_cmpstr (vae_weights_get_metadata (weights, "latent_channels"),
                       ==, "32");
      g_assert_cmpstr (vae_weights_get_metadata (weights, "arch_variant"),
                       ==, "flux_2");

      names = vae_weights_list (weights);
      for (i = 0; i < 3; i++)
        g_assert_cmpstr (g_ptr_array_index (names, i), ==,
                         ref->first_names[i]);
      g_assert_cmpstr (g_ptr_array_index (names, names->len - 1), ==,
                       ref->last_name);

      for (i = 0; i < names->len; i++)
        {
          const VaeWeight *w = vae_weights_lookup (weights,
                                                   g_ptr_array_index (names,
                                                                      i));
          gsize            j;

          g_assert_cmpint (w->dtype, ==, VAE_DTYPE_F16);
          for (j = 0; j < w->n_elements; j++)
            {
              sum += w->data[j];
              sum_abs += fabs (w->data[j]);
              min = MIN (min, w->data[j]);
              max = MAX (max, w->data[j]);
            }
        }
      /* Every value is exact (f16 widened); only the order of the float64
       * additions differs from numpy's pairwise sum. */
      g_assert_cmpfloat_with_epsilon (sum, ref->sum, 1e-9);
      g_assert_cmpfloat_with_epsilon (sum_abs, ref->sum_abs, 1e-8);
      g_assert_cmpfloat (min, ==, ref->min);
      g_assert_cmpfloat (max, ==, ref->max);

      for (i = 0; i < G_N_ELEMENTS (ref->tensors); i++)
        {
          const RefTensor *t = &ref->tensors[i];
          const gfloat    *data;
          gsize            n = 1;
          gsize            j;
          gdouble          tsum = 0.0;

          data = vae_weights_get (weights, t->name, t->n_dims, t->shape,
                                  &error);
          g_assert_no_error (error);
          for (j = 0; j < t->n_dims; j++)
            n *= t->shape[j];
          g_assert_cmpfloat (data[0], ==, t->first);
          g_assert_cmpfloat (data[n - 1], ==, t->last);
          for (j = 0; j < n; j++)
            tsum += data[j];
          g_assert_cmpfloat_with_epsilon (tsum, t->sum, 1e-12);
        }

      if (f == 0)
        {
          /* numpy: t["11.pool.1.weight"][100], t["3.conv.2.weight"][5,7,1,2] */
          const gfloat *gn = vae_weights_get_1d (weights, "11.pool.1.weight",
                                                 256, &error);
          const gfloat *conv = vae_weights_get_4d (weights, "3.conv.2.weight",
                                                   64, 64, 3, 3, &error);

          g_assert_no_error (error);
          g_assert_cmpfloat (gn[100], ==, 0.482177734375);
          g_assert_cmpfloat (conv[((5 * 64 + 7) * 3 + 1) * 3 + 2], ==,
                             -0.0037994384765625);
          g_assert_nonnull (vae_weights_get_4d (weights, "11.pool.0.weight",
                                                256, 64, 1, 1, &error));
          g_assert_no_error (error);
        }
      else
        {
          /* numpy: t["4.pool.3.weight"][63,255,0,0], t["12.weight"][1,2,0,1] */
          const gfloat *pool = vae_weights_get_4d (weights, "4.pool.3.weight",
                                                   64, 256, 1, 1, &error);
          const gfloat *conv = vae_weights_get_4d (weights, "12.weight",
                                                   64, 64, 3, 3, &error);

          g_assert_no_error (error);
          g_assert_cmpfloat (pool[63 * 256 + 255], ==, -0.0027637481689453125);
          g_assert_cmpfloat (conv[((1 * 64 + 2) * 3 + 0) * 3 + 1], ==,
                             -0.05999755859375);
        }
    }
}

static void
test_get_errors (void)
{
  g_autoptr(GBytes)     bytes = build_hand_file ();
  g_autoptr(GError)     error = NULL;
  g_autoptr(VaeWeights) weights = NULL;

  weights = vae_safetensors_load_from_data (g_bytes_get_data (bytes, NULL),
                                            g_bytes_get_size (bytes),
                                            "hand.safetensors", &error);
  g_assert_no_error (error);

  g_assert_null (vae_weights_get_4d (weights, "missing.weight", 1, 2, 3, 4,
                                     &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==,
                   "hand.safetensors: missing tensor 'missing.weight'");
  g_clear_error (&error);

  g_assert_null (vae_weights_get_4d (weights, "a", 2, 3, 1, 1, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==,
                   "hand.safetensors: tensor 'a' has shape [2, 3], "
                   "expected [2, 3, 1, 1]");
  g_clear_error (&error);

  g_assert_null (vae_weights_get_1d (weights, "b", 8, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==,
                   "hand.safetensors: tensor 'b' has shape [9], "
                   "expected [8]");
  g_clear_error (&error);
}

typedef struct
{
  const gchar *what;
  const gchar *json;        /* NULL: raw bytes below */
  gsize        section_size;
  const gchar *raw;
  gsize        raw_size;
  gint         code;
  const gchar *mention;     /* the message must contain this */
} Hostile;

#define T(x) "\"" x "\""
#define ENTRY(name, dtype, shape, offsets) \
  T (name) ":{\"dtype\":" T (dtype) ",\"shape\":" shape \
  ",\"data_offsets\":" offsets "}"

static const Hostile hostile_cases[] =
{
  { "empty file", NULL, 0, "", 0, VAE_ERROR_FORMAT, "too short" },
  { "truncated inside the length", NULL, 0, "\x10\0\0\0\0", 5,
    VAE_ERROR_FORMAT, "too short" },
  { "header length beyond the file", NULL, 0,
    "\x40\0\0\0\0\0\0\0{}      ", 16, VAE_ERROR_FORMAT, "past the end" },
  { "header length 2^63", NULL, 0,
    "\0\0\0\0\0\0\0\x80{}      ", 16, VAE_ERROR_FORMAT, "limit" },
  { "header length 2^64-1", NULL, 0,
    "\xff\xff\xff\xff\xff\xff\xff\xff{}      ", 16, VAE_ERROR_FORMAT,
    "limit" },
  { "bad JSON", "{\"a\": {\"dtype\": ", 0, NULL, 0, VAE_ERROR_FORMAT,
    "not valid JSON" },
  { "NUL in the JSON", NULL, 0, "\x08\0\0\0\0\0\0\0{\"a\0\":1}", 16,
    VAE_ERROR_FORMAT, "JSON" },
  { "JSON not an object", "[1, 2, 3]", 0, NULL, 0, VAE_ERROR_FORMAT,
    "not a JSON object" },
  /* json-glib's immutable parser aborts on a second top-level value */
  { "two top-level values", "{" ENTRY ("w", "F32", "[1]", "[0,4]") "} []", 4,
    NULL, 0, VAE_ERROR_FORMAT, "byte 55: more text after the JSON value" },
  { "two objects", "{} {}", 0, NULL, 0, VAE_ERROR_FORMAT,
    "more text after the JSON value" },
  { "trailing comma", "{\"__metadata__\":{\"a\":\"b\",}}", 0, NULL, 0,
    VAE_ERROR_FORMAT, "string key" },
  { "lone surrogate in a name", "{" ENTRY ("\\udc00", "F32", "[1]", "[0,4]")
    "}", 4, NULL, 0, VAE_ERROR_FORMAT, "lone low surrogate" },
  { "U+0000 in a name", "{" ENTRY ("a\\u0000b", "F32", "[1]", "[0,4]") "}",
    4, NULL, 0, VAE_ERROR_FORMAT, "\\u0000" },
  { "control character in a name", "{" ENTRY ("a\tb", "F32", "[1]", "[0,4]")
    "}", 4, NULL, 0, VAE_ERROR_FORMAT, "control character 0x09" },
  { "not UTF-8", "{\"__metadata__\":{\"a\":\"\xff\"}}", 0, NULL, 0,
    VAE_ERROR_FORMAT, "not UTF-8" },
  /* names reach messages: one line, no terminal escapes (found by
   * fuzzing) */
  { "newline in a name", "{" ENTRY ("a\\nb", "F32", "[3]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "tensor 'a\\nb': data_offsets [0, 8] hold 8" },
  { "escape in a dtype", "{" ENTRY ("w", "\\u001b[31m", "[2]", "[0,8]") "}",
    8, NULL, 0, VAE_ERROR_UNSUPPORTED, "has dtype \\x1b[31m" },
  { "deep nesting", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0, NULL, 0,
    VAE_ERROR_FORMAT, "nests deeper" },
  { "entry not an object", "{\"w\": [1, 2]}", 0, NULL, 0,
    VAE_ERROR_FORMAT, "'w'" },
  { "missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w' has no \"dtype\"" },
  { "dtype not a string", "{\"w\":{\"dtype\":5,\"shape\":[2],"
    "\"data_offsets\":[0,8]}}", 8, NULL, 0, VAE_ERROR_FORMAT,
    "'w' has no \"dtype\"" },
  { "missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w' has no \"shape\"" },
  { "missing offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w' has no \"data_offsets\"" },
  { "three offsets", "{" ENTRY ("w", "F32", "[2]", "[0,8,8]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w' has no \"data_offsets\"" },
  { "offsets out of range", "{" ENTRY ("w", "F32", "[2]", "[8,16]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w': data_offsets [8, 16] lie outside" },
  { "offsets reversed", "{" ENTRY ("w", "F32", "[0]", "[8,0]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w': data_offsets [8, 0]" },
  { "negative offset", "{" ENTRY ("w", "F32", "[2]", "[-8,0]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w' has no \"data_offsets\"" },
  { "overlapping offsets", "{" ENTRY ("x", "F32", "[2]", "[0,8]") ","
    ENTRY ("y", "F32", "[2]", "[4,12]") "}", 12, NULL, 0, VAE_ERROR_FORMAT,
    "'x' and 'y' overlap" },
  { "size not matching the shape", "{" ENTRY ("w", "F16", "[3]", "[0,8]")
    "}", 8, NULL, 0, VAE_ERROR_FORMAT,
    "'w': data_offsets [0, 8] hold 8 bytes, but shape [3] of F16 needs 6" },
  { "shape product overflow", "{" ENTRY ("w", "F32",
    "[4294967296,4294967296,2]", "[0,8]") "}", 8, NULL, 0,
    VAE_ERROR_FORMAT, "'w': the shape's element count overflows" },
  { "byte count overflow", "{" ENTRY ("w", "F32",
    "[4294967296,1073741824]", "[0,8]") "}", 8, NULL, 0,
    VAE_ERROR_FORMAT, "'w': shape [4294967296, 1073741824] is too large" },
  { "negative dimension", "{" ENTRY ("w", "F32", "[-2]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w': shape dimension 0" },
  { "fractional dimension", "{" ENTRY ("w", "F32", "[2.0]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'w': shape dimension 0" },
  { "unknown dtype", "{" ENTRY ("q", "Q4_0", "[8]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_UNSUPPORTED, "'q' has dtype Q4_0" },
  { "integer tensor of the wrong size", "{" ENTRY ("ids", "I64", "[2]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'ids': data_offsets [0, 8] hold 8 bytes" },
  { "integer tensor out of range", "{" ENTRY ("ids", "I32", "[4]", "[0,16]") "}", 8,
    NULL, 0, VAE_ERROR_FORMAT, "'ids': data_offsets [0, 16] lie outside" },
  { "fp8 dtype", "{" ENTRY ("w", "F8_E4M3", "[8]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_UNSUPPORTED, "'w' has dtype F8_E4M3" },
  { "five dimensions", "{" ENTRY ("w", "F32", "[1,1,1,1,2]", "[0,8]") "}", 8,
    NULL, 0, VAE_ERROR_UNSUPPORTED, "'w' has 5 dimensions" },
  { "metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, NULL, 0,
    VAE_ERROR_FORMAT, "\"__metadata__\" is not an object" },
  { "non-string metadata", "{\"__metadata__\":{\"ok\":\"1\",\"n\":1}}", 0,
    NULL, 0, VAE_ERROR_FORMAT, "metadata 'n' is not a string" },
  { "truncated data section", "{" ENTRY ("x", "F32", "[2]", "[0,8]") ","
    ENTRY ("y", "F32", "[2]", "[8,16]") "}", 12, NULL, 0, VAE_ERROR_FORMAT,
    "'y': data_offsets [8, 16] lie outside the data section (12 bytes)" },
};

static void
check_hostile (const Hostile *h,
               GBytes        *bytes)
{
  g_autoptr(GError)     error = NULL;
  g_autoptr(VaeWeights) weights = NULL;
  const gchar          *p;

  g_test_message ("case: %s", h->what);
  weights = vae_safetensors_load_from_data (g_bytes_get_data (bytes, NULL),
                                            g_bytes_get_size (bytes),
                                            "hostile.safetensors", &error);
  g_assert_null (weights);
  g_assert_error (error, VAE_ERROR, h->code);
  g_assert_true (g_str_has_prefix (error->message, "hostile.safetensors: "));
  for (p = error->message; *p; p++)
    if ((guchar) *p < 0x20)
      g_error ("case '%s': a control character in \"%s\"", h->what,
               error->message);
  if (! strstr (error->message, h->mention))
    g_error ("case '%s': message \"%s\" does not mention \"%s\"",
             h->what, error->message, h->mention);
}

static void
test_hostile (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      const Hostile     *h = &hostile_cases[i];
      g_autoptr(GBytes)  bytes = NULL;

      if (h->json)
        {
          g_autofree guint8 *section = g_malloc0 (MAX (h->section_size, 1));

          bytes = build_file (h->json, section, h->section_size);
        }
      else
        {
          bytes = g_bytes_new_static (h->raw, h->raw_size);
        }
      check_hostile (h, bytes);
    }
}

/* A header of many small values would cost json-glib about a hundred
 * bytes each: refused before it gets there. */
static void
test_many_values (void)
{
  g_autoptr(GString)    json = g_string_new ("{\"x\":[0");
  g_autoptr(GBytes)     bytes = NULL;
  g_autoptr(GError)     error = NULL;
  g_autoptr(VaeWeights) weights = NULL;
  guint                 i;

  for (i = 0; i < (1 << 21); i++)
    g_string_append (json, ",0");
  g_string_append (json, "]}");
  bytes = build_file (json->str, NULL, 0);

  weights = vae_safetensors_load_from_data (g_bytes_get_data (bytes, NULL),
                                            g_bytes_get_size (bytes),
                                            "many.safetensors", &error);
  g_assert_null (weights);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "more than 2097152 JSON values"));
}

/* Integer tensors (step counters, token ids of a full checkpoint) are
 * checked, then left out; a file read from disk widens a tensor only when
 * it is first looked up, and a model keeps only what it fetched. */
static void
test_integer_and_lazy (void)
{
  static const gchar json[] =
    "{" ENTRY ("w", "F16", "[2]", "[0,4]") ","
        ENTRY ("bn.num_batches_tracked", "I64", "[]", "[4,12]") ","
        ENTRY ("unused", "F32", "[1]", "[12,16]") "}";
  g_autoptr(GError)      error = NULL;
  g_autoptr(VaeWeights)  weights = NULL;
  g_autoptr(GBytes)      bytes = NULL;
  g_autofree gchar      *path = NULL;
  guint8                 section[16] = { 0 };
  const gfloat          *w;

  put_u16 (section, 0x3c00);       /* 1.0 */
  put_u16 (section + 2, 0xc000);   /* -2.0 */
  section[4] = 7;                  /* the I64 counter */
  put_f32 (section + 12, 5.0f);
  bytes = build_file (json, section, sizeof section);
  path = write_temp (bytes, "lazy.safetensors");

  weights = vae_weights_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_weights_get_n_tensors (weights), ==, 2);
  g_assert_false (vae_weights_has (weights, "bn.num_batches_tracked"));
  g_assert_cmpuint (vae_weights_get_n_used_params (weights), ==, 0);

  w = vae_weights_get_1d (weights, "w", 2, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (w[0], ==, 1.0f);
  g_assert_cmpfloat (w[1], ==, -2.0f);
  g_assert_cmpuint (vae_weights_get_n_used_params (weights), ==, 2);

  vae_weights_drop_unused (weights);
  remove_temp (path);
  g_assert_cmpuint (vae_weights_get_n_tensors (weights), ==, 1);
  g_assert_false (vae_weights_has (weights, "unused"));
  g_assert_cmpuint (vae_weights_get_n_params (weights), ==, 2);
  /* Still readable with the file gone: it was widened when fetched. */
  w = vae_weights_get_1d (weights, "w", 2, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (w[1], ==, -2.0f);
}

static void
test_hostile_files (void)
{
  g_autoptr(GError)      error = NULL;
  g_autoptr(VaeWeights)  weights = NULL;
  g_autoptr(GBytes)      empty = g_bytes_new_static ("", 0);
  g_autofree gchar      *path = write_temp (empty, "empty.safetensors");
  g_autofree gchar      *dir = g_path_get_dirname (path);
  g_autofree gchar      *missing = g_build_filename (dir, "missing.safetensors",
                                                     NULL);

  weights = vae_weights_load (path, &error);
  g_assert_null (weights);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, "empty.safetensors: "));
  g_clear_error (&error);

  weights = vae_weights_load (missing, &error);
  g_assert_null (weights);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_cmpstr (error->message, ==,
                   "missing.safetensors: cannot open: No such file or "
                   "directory");
  g_clear_error (&error);

  weights = vae_safetensors_load (dir, &error);
  g_assert_null (weights);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_clear_error (&error);

  remove_temp (path);
}

/* A FIFO or device given as a model, latent or registry: opening a FIFO
 * for reading waits for a writer, so a loader that does not refuse it
 * first hangs (the alarm turns that into a failure). */
static void
test_not_regular (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("vae-fifo-XXXXXX", &error);
  g_autofree gchar *fifo = NULL;
  g_autofree gchar *latent = NULL;
  g_autofree gchar *registry = NULL;

  g_assert_no_error (error);
  fifo = g_build_filename (dir, "model.safetensors", NULL);
  latent = g_build_filename (dir, "image.latent", NULL);
  registry = g_build_filename (dir, "models.json", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (mkfifo (latent, 0600), ==, 0);
  g_assert_cmpint (mkfifo (registry, 0600), ==, 0);

  alarm (60);

  g_assert_null (vae_weights_load (fifo, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_cmpstr (error->message, ==,
                   "model.safetensors: not a regular file but a FIFO");
  g_clear_error (&error);

  g_assert_null (vae_safetensors_load (fifo, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_clear_error (&error);

  g_assert_null (vae_model_load (fifo, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file but a FIFO"));
  g_clear_error (&error);

  g_assert_null (vae_latent_load (latent, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_cmpstr (error->message, ==,
                   "image.latent: not a regular file but a FIFO");
  g_clear_error (&error);

  g_assert_null (vae_registry_new_from_file (registry, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_cmpstr (error->message, ==,
                   "models.json: not a regular file but a FIFO");
  g_clear_error (&error);

  /* a device would read forever or as nothing */
  g_assert_null (vae_weights_load ("/dev/zero", &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_IO);
  g_assert_cmpstr (error->message, ==, "zero: not a regular file but a device");
  g_clear_error (&error);

  alarm (0);

  g_unlink (fifo);
  g_unlink (latent);
  g_unlink (registry);
  g_rmdir (dir);
}

static gboolean
read_mutant (const guint8  *data,
             gsize          size,
             const gchar   *name,
             GError       **error)
{
  g_autoptr(VaeWeights) weights = vae_safetensors_load_from_data (data, size,
                                                                  name, error);

  if (weights)
    test_touch_weights (weights);

  return weights != NULL;
}

static void
test_mutations (void)
{
  /* Mostly the header: that is where the parser decides. */
  static const TestDamage damage = { 4, 0, 8 };
  g_autoptr(GBytes)       bytes = build_hand_file ();

  test_read_mutants ("mutant", g_bytes_get_data (bytes, NULL),
                  g_bytes_get_size (bytes), 4000, &damage, read_mutant);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/hand-built", test_hand_built);
  g_test_add_func ("/safetensors/half-exhaustive", test_half_exhaustive);
  g_test_add_func ("/safetensors/taef2", test_taef2);
  g_test_add_func ("/safetensors/get-errors", test_get_errors);
  g_test_add_func ("/safetensors/hostile", test_hostile);
  g_test_add_func ("/safetensors/hostile-files", test_hostile_files);
  g_test_add_func ("/safetensors/many-values", test_many_values);
  g_test_add_func ("/safetensors/not-regular", test_not_regular);
  g_test_add_func ("/safetensors/integer-and-lazy", test_integer_and_lazy);
  g_test_add_func ("/safetensors/mutations", test_mutations);

  return g_test_run ();
}
