/* gimp-vae tests - the TAESD family against its PyTorch reference
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The models in tests/data/taesd/<variant>/ are small random models in the
 * exact upstream layouts (TAESD, TAEF1, TAEF2 with the midblock GroupNorm
 * pool, TAESANA f32), stored as F32, BF16 or F16; reference.safetensors
 * holds what tests/gen-taesd-reference.py computed for them with PyTorch in
 * float32: the encoder's output for `image` and the raw decoder output for
 * the independent latent `decoder_input`.
 *
 * Tolerance: max |ours - reference| <= 1e-4 * max (1, max |reference|),
 * for both the naive reference kernels and the optimized ones, on 1 and 2
 * threads.  float32 summation order alone moves these values by ~1e-6.
 */

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vae.h"
#include "vae-weights.h"
#include "test-util.h"

#define TOLERANCE 1e-4

typedef struct
{
  const gchar *variant;
  guint        latent_channels;
  guint        factor;
} Variant;

/* What the loader must detect, from tensor shapes alone: the files carry
 * no architecture metadata on purpose. */
static const Variant variants[] =
{
  { "taesd",   4,  8 },
  { "taef1",   16, 8 },
  { "taef2",   32, 8 },
  { "taesana", 32, 32 },
};

typedef struct
{
  TestReference tensors;    /* decoded clamped to [0, 1] like
                             * vae_model_decode () */
  guint64       n_params;
} Reference;

static gchar *
model_dir (const Variant *v)
{
  return g_test_build_filename (G_TEST_DIST, "data", "taesd", v->variant,
                                NULL);
}

static void
reference_load (const Variant *v,
                Reference     *ref)
{
  g_autofree gchar      *dir = model_dir (v);
  g_autofree gchar      *path = g_build_filename (dir, "reference.safetensors",
                                                  NULL);
  g_autoptr(VaeWeights)  weights = NULL;
  GError                *error = NULL;
  gfloat                *d;
  gsize                  i;

  weights = vae_safetensors_load (path, &error);
  g_assert_no_error (error);

  test_reference_read (weights, &ref->tensors);
  ref->n_params =
    g_ascii_strtoull (vae_weights_get_metadata (weights, "encoder_params"),
                      NULL, 10) +
    g_ascii_strtoull (vae_weights_get_metadata (weights, "decoder_params"),
                      NULL, 10);

  d = vae_tensor_get_data (ref->tensors.decoded);
  for (i = 0; i < vae_tensor_get_n_elements (ref->tensors.decoded); i++)
    d[i] = CLAMP (d[i], 0.0f, 1.0f);
}

static void
reference_clear (Reference *ref)
{
  test_reference_clear (&ref->tensors);
}

static void
assert_info (VaeModel      *model,
             const Variant *v)
{
  g_assert_cmpstr (vae_model_get_architecture (model), ==, "taesd");
  /* The folders are named after the variant id the engine must report. */
  g_assert_cmpstr (vae_model_get_id (model), ==, v->variant);
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==,
                    v->latent_channels);
  g_assert_cmpuint (vae_model_get_factor (model), ==, v->factor);
}

static void
test_info (gconstpointer data)
{
  const Variant      *v = data;
  g_autofree gchar   *dir = model_dir (v);
  g_autoptr(VaeModel) model = test_load_model (dir);
  Reference           ref = { 0 };

  reference_load (v, &ref);
  assert_info (model, v);
  g_assert_true (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));
  /* Parameter count as PyTorch counts it for the same modules. */
  g_assert_cmpuint (vae_model_get_n_params (model), ==, ref.n_params);
  reference_clear (&ref);
}

static VaeTensor *
decode (VaeModel        *model,
        VaeTensor       *latent_tensor,
        gboolean         reference,
        gint             n_threads,
        GError         **error)
{
  g_autoptr(VaeLatent) latent = NULL;
  VaeTensor           *image = NULL;
  VaeOptions           options;

  latent = vae_latent_new (latent_tensor, error);
  if (latent == NULL)
    return NULL;

  vae_options_init (&options);
  options.reference = reference;
  options.n_threads = n_threads;
  if (!vae_model_decode (model, latent, &image, &options, NULL, NULL, NULL,
                         error))
    {
      g_assert_null (image);
      return NULL;
    }

  return image;
}


/* The encoder (or the decoder) against PyTorch in every test run. */
static void
check_runs (const Variant *v,
            gboolean       decoder)
{
  g_autofree gchar   *stage = g_strdup_printf ("%s %s", v->variant,
                                               decoder ? "decode" : "encode");
  g_autofree gchar   *dir = model_dir (v);
  g_autoptr(VaeModel) model = test_load_model (dir);
  Reference           ref = { 0 };
  guint               i;

  reference_load (v, &ref);
  for (i = 0; i < TEST_N_RUNS; i++)
    {
      g_autofree gchar    *what = NULL;
      g_autoptr(VaeTensor) out = NULL;
      GError              *error = NULL;

      what = test_run_name (stage, i);
      if (decoder)
        out = decode (model, ref.tensors.decoder_input,
                      test_runs[i].reference, test_runs[i].n_threads, &error);
      else
        out = test_run_encode (model, ref.tensors.image,
                               test_runs[i].reference, test_runs[i].n_threads);
      g_assert_no_error (error);
      test_assert_close_tensors (what, out,
                                 decoder ? ref.tensors.decoded
                                         : ref.tensors.latent,
                                 TOLERANCE);
    }
  reference_clear (&ref);
}

static void
test_encode (gconstpointer data)
{
  check_runs (data, FALSE);
}

static void
test_decode (gconstpointer data)
{
  check_runs (data, TRUE);
}

/* A folder holding only one half of the model, made at test time. */
static gchar *
half_model_dir (const Variant *v,
                const gchar   *file)
{
  g_autofree gchar *src_dir = model_dir (v);
  g_autofree gchar *src = g_build_filename (src_dir, file, NULL);
  g_autofree gchar *dest = NULL;
  g_autofree gchar *contents = NULL;
  gchar            *dir;
  gsize             length;
  GError           *error = NULL;

  dir = g_dir_make_tmp ("test-taesd-XXXXXX", &error);
  g_assert_no_error (error);
  dest = g_build_filename (dir, file, NULL);
  g_file_get_contents (src, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (dest, contents, length, &error);
  g_assert_no_error (error);

  return dir;
}

static void
half_model_dir_remove (const gchar *dir,
                       const gchar *file)
{
  g_autofree gchar *path = g_build_filename (dir, file, NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_encoder_only (gconstpointer data)
{
  const Variant       *v = data;
  g_autofree gchar    *dir = half_model_dir (v, "encoder.safetensors");
  g_autoptr(VaeModel)  model = test_load_model (dir);
  g_autoptr(VaeTensor) latent = NULL;
  g_autoptr(VaeTensor) image = NULL;
  Reference            ref = { 0 };
  GError              *error = NULL;

  reference_load (v, &ref);
  assert_info (model, v);
  g_assert_true (vae_model_can_encode (model));
  g_assert_false (vae_model_can_decode (model));

  latent = test_run_encode (model, ref.tensors.image, FALSE, 2);
  test_assert_close_tensors ("encoder-only encode", latent, ref.tensors.latent,
                             TOLERANCE);

  image = decode (model, ref.tensors.decoder_input, FALSE, 2, &error);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED);
  g_assert_null (image);
  g_clear_error (&error);

  reference_clear (&ref);
  g_clear_pointer (&model, vae_model_unref);
  half_model_dir_remove (dir, "encoder.safetensors");
}

static void
test_decoder_only (gconstpointer data)
{
  const Variant       *v = data;
  g_autofree gchar    *dir = half_model_dir (v, "decoder.safetensors");
  g_autoptr(VaeModel)  model = test_load_model (dir);
  g_autoptr(VaeLatent) latent = NULL;
  g_autoptr(VaeTensor) image = NULL;
  VaeOptions           options;
  Reference            ref = { 0 };
  GError              *error = NULL;

  reference_load (v, &ref);
  assert_info (model, v);
  g_assert_false (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));

  image = decode (model, ref.tensors.decoder_input, FALSE, 2, &error);
  g_assert_no_error (error);
  test_assert_close_tensors ("decoder-only decode", image, ref.tensors.decoded,
                             TOLERANCE);

  vae_options_init (&options);
  vae_model_encode (model, ref.tensors.image, &latent, &options, NULL, NULL, NULL,
                    &error);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED);
  g_assert_null (latent);
  g_clear_error (&error);

  reference_clear (&ref);
  g_clear_pointer (&model, vae_model_unref);
  half_model_dir_remove (dir, "decoder.safetensors");
}

static void
test_wrong_channels (gconstpointer data)
{
  const Variant      *v = data;
  g_autofree gchar   *dir = model_dir (v);
  g_autoptr(VaeModel) model = test_load_model (dir);
  /* One channel too many, one too few, and an RGB image passed as latent. */
  const guint         channels[] = { v->latent_channels + 1,
                                     v->latent_channels - 1, 3 };
  guint               i;

  for (i = 0; i < G_N_ELEMENTS (channels); i++)
    {
      g_autoptr(VaeTensor) tensor = NULL;
      g_autoptr(VaeTensor) image = NULL;
      GError              *error = NULL;

      /* taesd: 4 - 1 is already the RGB case */
      if (i == 2 && channels[1] == 3)
        continue;
      tensor = vae_tensor_new_3d (channels[i], 6, 8, &error);
      g_assert_no_error (error);
      image = decode (model, tensor, FALSE, 1, &error);
      g_test_message ("%u channels: %s", channels[i],
                      error ? error->message : "(no error)");
      g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
      g_assert_null (image);
      g_clear_error (&error);
    }
}

int
main (int    argc,
      char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);

  for (i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      const Variant *v = &variants[i];
      static const struct
      {
        const gchar   *name;
        GTestDataFunc  func;
      } tests[] =
      {
        { "info",           test_info },
        { "encode",         test_encode },
        { "decode",         test_decode },
        { "encoder-only",   test_encoder_only },
        { "decoder-only",   test_decoder_only },
        { "wrong-channels", test_wrong_channels },
      };
      guint j;

      for (j = 0; j < G_N_ELEMENTS (tests); j++)
        {
          g_autofree gchar *path = g_strdup_printf ("/taesd/%s/%s",
                                                    v->variant,
                                                    tests[j].name);
          g_test_add_data_func (path, v, tests[j].func);
        }
    }

  return g_test_run ();
}
