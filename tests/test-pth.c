/* gimp-vae - tests of the PyTorch checkpoint reader (zip + pickle)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The fixtures in data/pth/ come from tests/gen-pth-fixtures.py: checkpoints
 * written by torch.save (torch 2.6 in the Debian 13 chroot) and, beside
 * each, the tensors torch itself read back, stored as F32 safetensors by
 * the generator's own writer.  Values must match bit for bit: widening
 * f16/bf16 to f32 is exact, and so is torch's .float().
 */

#include <math.h>
#include <string.h>

#include "vae-error.h"
#include "vae-latent.h"
#include "vae-model.h"
#include "vae-tensor-private.h"
#include "vae-weights.h"
#include "pth-private.h"
#include "test-util.h"

static gchar *
fixture (const gchar *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "pth", name, NULL);
}

static VaeWeights *
load_fixture (const gchar *name)
{
  g_autofree gchar *path = fixture (name);

  return test_load_weights (path);
}

static void
compare_with_expected (const gchar *file,
                       const gchar *expected_file)
{
  g_autoptr(VaeWeights) weights = load_fixture (file);
  g_autoptr(VaeWeights) expected = load_fixture (expected_file);
  g_autoptr(GPtrArray)  names = NULL;
  g_autoptr(GPtrArray)  expected_names = NULL;
  guint                 i;

  g_test_message ("%s against %s", file, expected_file);

  g_assert_cmpstr (vae_weights_get_display_name (weights), ==, file);

  names = vae_weights_list (weights);
  expected_names = vae_weights_list (expected);
  g_assert_cmpuint (names->len, ==, expected_names->len);
  g_assert_cmpuint (vae_weights_get_n_params (weights), ==,
                    vae_weights_get_n_params (expected));

  for (i = 0; i < names->len; i++)
    {
      const gchar      *name = g_ptr_array_index (expected_names, i);
      const VaeWeight  *got;
      const VaeWeight  *want;
      g_autofree gchar *key = g_strconcat ("dtype:", name, NULL);
      guint             d;

      g_assert_cmpstr (g_ptr_array_index (names, i), ==, name);
      got = vae_weights_lookup (weights, name);
      want = vae_weights_lookup (expected, name);
      g_assert_nonnull (got);
      g_assert_cmpstr (vae_dtype_name (got->dtype), ==,
                       vae_weights_get_metadata (expected, key));
      g_assert_cmpuint (got->n_dims, ==, want->n_dims);
      for (d = 0; d < got->n_dims; d++)
        g_assert_cmpuint (got->shape[d], ==, want->shape[d]);
      g_assert_cmpuint (got->n_elements, ==, want->n_elements);
      if (memcmp (got->data, want->data,
                  got->n_elements * sizeof (gfloat)) != 0)
        g_error ("%s: tensor '%s' differs from torch's", file, name);
    }
}

static void
test_good (void)
{
  compare_with_expected ("simple.pth", "simple.expected.safetensors");
  compare_with_expected ("simple-deflate.pth", "simple.expected.safetensors");
  compare_with_expected ("simple-zip64.pth", "simple.expected.safetensors");
  compare_with_expected ("lightning.ckpt", "lightning.expected.safetensors");
  compare_with_expected ("module.pth", "module.expected.safetensors");
  compare_with_expected ("proto4.pth", "proto4.expected.safetensors");
  /* integer tensors (token ids, counters, masks) are read over */
  compare_with_expected ("integers.pth", "integers.expected.safetensors");
  /* torch's legacy format: pickles, then the storages in a row */
  compare_with_expected ("legacy.pth", "legacy.expected.safetensors");
  compare_with_expected ("legacy-proto4.pth",
                         "legacy-proto4.expected.safetensors");
  compare_with_expected ("legacy-shared.pth",
                         "legacy-shared.expected.safetensors");
}

/* A stored entry's tensors are widened, and its CRC checked, only when a
 * model fetches them: the damage shows then, naming the entry. */
static void
test_lazy_crc (void)
{
  g_autoptr(VaeWeights) weights = load_fixture ("bad-crc.pth");
  g_autoptr(GError)     error = NULL;

  /* conv.bias is in another entry */
  g_assert_nonnull (vae_weights_get_1d (weights, "conv.bias", 4, &error));
  g_assert_no_error (error);

  g_assert_null (vae_weights_get_4d (weights, "conv.weight", 4, 3, 3, 3,
                                     &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==, "bad-crc.pth: tensor 'conv.weight': "
                   "simple/data/0 is damaged (CRC mismatch)");
}

/* The AutoencoderKL in the fixture @file. */
static VaeModel *
load_kl_fixture (const gchar *file)
{
  g_autofree gchar *path = fixture (file);
  VaeModel         *model = test_load_model (path);

  g_assert_cmpstr (vae_model_get_architecture (model), ==, "autoencoder-kl");

  return model;
}

static VaeTensor *
decode_sample (VaeModel *model)
{
  g_autoptr(VaeTensor) values = vae_tensor_new_3d (4, 6, 5, NULL);
  g_autoptr(VaeLatent) latent = NULL;
  g_autoptr(GError)    error = NULL;
  VaeTensor           *image = NULL;
  gsize                i;

  for (i = 0; i < 4 * 6 * 5; i++)
    values->data[i] = sinf (0.37f * i) * 1.5f;
  latent = vae_latent_new (values, &error);
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, latent, &image, NULL, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);

  return image;
}

static VaeLatent *
encode_sample (VaeModel *model)
{
  g_autoptr(VaeTensor) image = vae_tensor_new_3d (3, 12, 10, NULL);
  g_autoptr(GError)    error = NULL;
  VaeLatent           *latent = NULL;
  gsize                i;

  for (i = 0; i < 3 * 12 * 10; i++)
    image->data[i] = 0.5f + 0.4f * cosf (0.21f * i);
  g_assert_true (vae_model_encode (model, image, &latent, NULL, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);

  return latent;
}

/* Checkpoints as real ones are laid out (see gen-pth-fixtures.py), each
 * holding the VAE of kl-vae.safetensors: the model found in each must
 * decode and encode to the twin's bits.  vae-train-ema.ckpt also holds
 * other trained weights under the plain names: only its EMA copy is the
 * twin. */
static void
test_layouts (void)
{
  static const gchar *const files[] =
    {
      "sd-v1.ckpt", "vae-ft-ema-pruned.ckpt", "vae-train-ema.ckpt",
      "ddp.pth", "legacy-vae.pth",
    };
  g_autoptr(VaeModel)  twin = load_kl_fixture ("kl-vae.safetensors");
  g_autoptr(VaeTensor) want = decode_sample (twin);
  g_autoptr(VaeLatent) want_latent = encode_sample (twin);
  const VaeTensor     *want_values = vae_latent_get_tensor (want_latent);
  guint                i;

  for (i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr(VaeModel)  model = load_kl_fixture (files[i]);
      g_autoptr(VaeTensor) got = decode_sample (model);
      g_autoptr(VaeLatent) latent = encode_sample (model);
      const VaeTensor     *values = vae_latent_get_tensor (latent);

      g_test_message ("%s", files[i]);
      g_assert_cmpuint (got->n_elements, ==, want->n_elements);
      if (memcmp (got->data, want->data,
                  want->n_elements * sizeof (gfloat)) != 0)
        g_error ("%s decodes other than kl-vae.safetensors", files[i]);
      g_assert_cmpuint (values->n_elements, ==, want_values->n_elements);
      if (memcmp (values->data, want_values->data,
                  want_values->n_elements * sizeof (gfloat)) != 0)
        g_error ("%s encodes other than kl-vae.safetensors", files[i]);
    }
}

/* What the roots and the EMA choice look like from the weights. */
static void
test_roots (void)
{
  g_autoptr(VaeWeights) weights = load_fixture ("vae-train-ema.ckpt");
  g_autoptr(VaeWeights) twin = load_fixture ("kl-vae.safetensors");
  g_autoptr(GError)     error = NULL;
  g_autoptr(GPtrArray)  names = NULL;
  const VaeWeight      *w;
  const VaeWeight      *want;

  /* as stored */
  g_assert_true (vae_weights_has (weights,
                                  "state_dict.encoder.conv_in.weight"));
  g_assert_false (vae_weights_uses_ema (weights));

  g_assert_false (vae_weights_set_root (weights, "nothing."));
  g_assert_true (vae_weights_set_root (weights, "state_dict."));
  g_assert_true (vae_weights_uses_ema (weights));
  g_assert_cmpstr (vae_weights_get_root (weights), ==, "state_dict.");

  /* the EMA copies answer for the plain names, and are not listed */
  names = vae_weights_list (weights);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "encoder.conv_in.weight");
  g_assert_false (g_ptr_array_find_with_equal_func (names,
                                                    "model_ema.decay",
                                                    g_str_equal, NULL));
  w = vae_weights_lookup (weights, "encoder.conv_in.weight");
  want = vae_weights_lookup (twin, "encoder.conv_in.weight");
  g_assert_nonnull (w);
  g_assert_cmpstr (w->name, ==, "state_dict.model_ema.encoderconv_inweight");
  g_assert_cmpmem (w->data, w->n_elements * sizeof (gfloat), want->data,
                   want->n_elements * sizeof (gfloat));
  /* a tensor without a copy is itself */
  w = vae_weights_lookup (weights, "loss.logvar");
  g_assert_nonnull (w);
  g_assert_cmpstr (w->name, ==, "state_dict.loss.logvar");
}

/* Infinities are read as stored, but a model gets no tensor holding one
 * (vae_weights_get). */
static void
check_special (VaeWeights   *weights,
               const gchar  *name,
               const gfloat *values,
               gsize         n_values,
               const gchar  *message)
{
  const VaeWeight *w = vae_weights_lookup (weights, name);
  GError          *error = NULL;

  g_assert_nonnull (w);
  g_assert_cmpmem (w->data, w->n_elements * sizeof (gfloat), values,
                   n_values * sizeof (gfloat));
  g_assert_null (vae_weights_get_1d (weights, name, n_values, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
}

/* Independent of torch: the special values the generator stored by bit
 * pattern, worked out by hand from the binary16 / bfloat16 definitions. */
static void
test_special_values (void)
{
  static const gfloat half[9] =
    { 5.9604644775390625e-08f, 6.0975551605224609e-05f, 6.103515625e-05f,
      INFINITY, -INFINITY, -0.0f, 1.0f, 65504.0f,
      0.333251953125f /* 0x3555 = 2^-2 * (1 + 341/1024) */ };
  static const gfloat bf16[4] =
    { 9.183549615799121e-41f, -0.0f, -INFINITY, 3.140625f };
  g_autoptr(VaeWeights) weights = load_fixture ("simple.pth");
  g_autoptr(GError)     error = NULL;
  const gfloat         *data;
  const VaeWeight      *w;

  check_special (weights, "half.special", half, G_N_ELEMENTS (half),
                 "simple.pth: tensor 'half.special' holds +inf at element 3; "
                 "the weights are damaged");
  check_special (weights, "bf16.special", bf16, G_N_ELEMENTS (bf16),
                 "simple.pth: tensor 'bf16.special' holds -inf at element 2; "
                 "the weights are damaged");

  data = vae_weights_get_4d (weights, "conv.weight", 4, 3, 3, 3, &error);
  g_assert_no_error (error);
  g_assert_nonnull (data);

  /* tied.row is row 1 of tied.a */
  g_assert_cmpmem (vae_weights_lookup (weights, "tied.row")->data,
                   3 * sizeof (gfloat),
                   vae_weights_lookup (weights, "tied.a")->data + 3,
                   3 * sizeof (gfloat));

  /* 'expanded' repeats each row's single element (stride 0) */
  w = vae_weights_lookup (weights, "expanded");
  g_assert_nonnull (w);
  g_assert_cmpfloat (w->data[4], ==, w->data[7]);

  w = vae_weights_lookup (weights, "scalar");
  g_assert_nonnull (w);
  g_assert_cmpuint (w->n_dims, ==, 0);
  g_assert_cmpfloat (w->data[0], ==, 2.5f);

  w = vae_weights_lookup (weights, "double");
  g_assert_cmpint (w->dtype, ==, VAE_DTYPE_F64);
  g_assert_cmpfloat (w->data[0], ==, (gfloat) 0.1);
  g_assert_cmpfloat (w->data[1], ==, -INFINITY);
}

static void
test_hostile (void)
{
  g_autofree gchar  *list_path = fixture ("hostile.tsv");
  g_auto(GStrv)      lines = test_case_lines (list_path);
  g_autoptr(GError)  error = NULL;
  guint              i;

  for (i = 0; lines[i]; i++)
    {
      g_auto(GStrv)         fields = NULL;
      g_autofree gchar     *path = NULL;
      g_autofree gchar     *prefix = NULL;
      g_autoptr(VaeWeights) weights = NULL;

      fields = g_strsplit (lines[i], "\t", 3);
      g_assert_cmpuint (g_strv_length (fields), ==, 3);

      path = fixture (fields[0]);
      weights = vae_weights_load (path, &error);
      g_test_message ("%s: %s", fields[0],
                      error ? error->message : "(loaded)");
      g_assert_null (weights);
      g_assert_error (error, VAE_ERROR, test_error_code (fields[1]));
      prefix = g_strconcat (fields[0], ": ", NULL);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      if (! strstr (error->message, fields[2]))
        g_error ("%s: message \"%s\" does not mention \"%s\"",
                 fields[0], error->message, fields[2]);
      g_clear_error (&error);
    }

  g_assert_cmpuint (i, >=, 30);
}

static GBytes *
read_fixture (const gchar *name)
{
  g_autofree gchar  *path = fixture (name);
  g_autoptr(GError)  error = NULL;
  gchar             *contents;
  gsize              length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);

  return g_bytes_new_take (contents, length);
}

static gboolean
read_zip_mutant (const guint8  *data,
                 gsize          size,
                 const gchar   *name,
                 GError       **error)
{
  g_autoptr(VaeWeights) weights = vae_pth_parse (data, size, name, NULL,
                                                 error);

  if (weights)
    test_touch_weights (weights);

  return weights != NULL;
}

/* Damage to the zip structure of a good checkpoint: most of it is caught
 * by the directory checks or the CRCs, the rest must still load. */
static void
test_zip_mutations (void)
{
  g_autoptr(GBytes) bytes = read_fixture ("simple.pth");
  gsize             size = g_bytes_get_size (bytes);
  /* the central directory and end records at the tail */
  TestDamage        damage = { 3, size - MIN (size, 1400), MIN (size, 1400) };

  test_read_mutants ("mutant.pth", g_bytes_get_data (bytes, NULL), size, 3000,
                     &damage, read_zip_mutant);
}

/* The views a damaged pickle gives must stay inside their storages. */
static gboolean
read_pickle_mutant (const guint8  *data,
                    gsize          size,
                    const gchar   *name,
                    GError       **error)
{
  g_autoptr(GPtrArray) tensors = vae_pickle_load_tensors (data, size, name,
                                                          error);
  guint                i;

  if (! tensors)
    return FALSE;

  for (i = 0; i < tensors->len; i++)
    {
      const VaePickleTensor *t = g_ptr_array_index (tensors, i);
      guint64                last = t->offset;
      guint                  d;

      if (t->n_elements == 0)
        continue;
      for (d = 0; d < t->n_dims; d++)
        last += (t->shape[d] - 1) * t->stride[d];
      g_assert_cmpuint (last, <, t->storage_numel);
    }

  return TRUE;
}

/* Damage to the pickle itself, past the CRC: the VM must refuse or return
 * views that stay inside their storages. */
static void
test_pickle_mutations (void)
{
  static const gchar      *files[] = { "simple.pth", "lightning.ckpt",
                                       "module.pth", "proto4.pth" };
  static const TestDamage  damage = { 3, 0, 0 };
  guint                    f;

  for (f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autoptr(GBytes)  bytes = read_fixture (files[f]);
      g_autoptr(GError)  error = NULL;
      g_autoptr(VaeZip)  zip = NULL;
      g_autoptr(GBytes)  pickle = NULL;
      const VaeZipEntry *entry = NULL;
      guint              i;

      zip = vae_zip_open (g_bytes_get_data (bytes, NULL),
                          g_bytes_get_size (bytes), files[f], &error);
      g_assert_no_error (error);
      for (i = 0; i < vae_zip_get_n_entries (zip) && ! entry; i++)
        if (g_str_has_suffix (vae_zip_get_entry (zip, i)->name, "/data.pkl"))
          entry = vae_zip_get_entry (zip, i);
      g_assert_nonnull (entry);
      pickle = vae_zip_read (zip, entry, &error);
      g_assert_no_error (error);

      g_test_message ("%s", files[f]);
      test_read_mutants ("mutant.pkl", g_bytes_get_data (pickle, NULL),
                         g_bytes_get_size (pickle), 1000, &damage,
                         read_pickle_mutant);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pth/good", test_good);
  g_test_add_func ("/pth/lazy-crc", test_lazy_crc);
  g_test_add_func ("/pth/layouts", test_layouts);
  g_test_add_func ("/pth/roots", test_roots);
  g_test_add_func ("/pth/special-values", test_special_values);
  g_test_add_func ("/pth/hostile", test_hostile);
  g_test_add_func ("/pth/zip-mutations", test_zip_mutations);
  g_test_add_func ("/pth/pickle-mutations", test_pickle_mutations);

  return g_test_run ();
}
