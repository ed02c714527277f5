/* gimp-vae tests - seed-f16 against its PyTorch definition
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tests/data/seed/model.safetensors is a small seed-f16 (8 latent
 * channels, encoder widths 16/24/32, 64-wide tokens in 2 blocks of 2
 * heads, MLP 128, head 24/16) with random F16 weights in every parameter,
 * written the way tools/train/export.py writes the real model;
 * reference.safetensors holds what tools/train/seedf16.py computed from
 * those weights in float32 (tests/gen-seed-reference.py, which also checks
 * tools/train/reference.py agrees): latents of two non-square images and
 * raw (unclamped) decoder outputs of three independent latents, the last
 * one of 288 tokens, more than one key block of the attention op.
 *
 * Tolerance: max |ours - reference| <= 1e-4 * max (1, max |reference|),
 * for the naive reference kernels and the optimized ones, on 1 and 2
 * threads.  float32 summation order alone moves these values by ~1e-6.
 *
 * Also: loading and info, FLOPs against the spec's cost formula, split
 * encoder / decoder files, malformed files (each names what is wrong), a
 * 1024 x 1024 decode (finite, and progress adds up to the FLOPs), and with
 * the real weights of each shipped model (data/models/seed-f16 and
 * seed-f16-v2) a Kodak round trip against the PSNR figures the trainer
 * stored in the file (vae.eval_kodak).
 */

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "vae.h"
#include "vae-error.h"
#include "vae-weights.h"
#include "arch.h"
#include "png-io.h"
#include "test-util.h"

#define TOLERANCE     1e-4
#define PSNR_TOL_DB   0.05

/* The test model's shape, as the generator built it. */
#define C             8
#define ENC_C1        16
#define ENC_C2        24
#define ENC_C3        32
#define DIM           64
#define DEPTH         2
#define HEADS         2
#define HIDDEN        128
#define HEAD_C1       24
#define HEAD_C2       16

static gchar *
data_path (const gchar *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", "seed", file, NULL);
}

static VaeWeights *
load_data (const gchar *file)
{
  g_autofree gchar *path = data_path (file);

  return test_load_weights (path);
}

/* --- the small model ---------------------------------------------------- */

/* MACs of one pass, written from the cost section of docs/seed-f16.md. */
static gdouble
spec_macs (gboolean decoder,
           gdouble  height,
           gdouble  width)
{
  const gdouble p4 = height * width / 16, p8 = p4 / 4, p16 = p8 / 4, n = p16;

  if (! decoder)
    return 768.0 * C * p16 +
           48.0 * ENC_C1 * 9 * p4 + 2.0 * ENC_C1 * ENC_C1 * 9 * p4 +
           4.0 * ENC_C1 * ENC_C2 * 9 * p8 + 2.0 * ENC_C2 * ENC_C2 * 9 * p8 +
           4.0 * ENC_C2 * ENC_C3 * 9 * p16 + 2.0 * ENC_C3 * ENC_C3 * 9 * p16 +
           (gdouble) ENC_C3 * C * p16;

  return (gdouble) C * 768 * p16 + (gdouble) C * DIM * 9 * p16 +
         DEPTH * n * (3.0 * DIM * DIM + DIM * DIM + 2.0 * DIM * HIDDEN) +
         DEPTH * 2.0 * n * n * DIM +
         (gdouble) DIM * 4 * HEAD_C1 * p16 + 2.0 * HEAD_C1 * HEAD_C1 * 9 * p8 +
         (gdouble) HEAD_C1 * 4 * HEAD_C2 * 9 * p8 + 48.0 * HEAD_C2 * 9 * p4 +
         2.0 * HEAD_C2 * HEAD_C2 * 9 * p4 + (gdouble) HEAD_C2 * 48 * 9 * p4;
}

static void
test_info (void)
{
  g_autofree gchar      *path = data_path ("model.safetensors");
  g_autoptr (VaeModel)   model = test_load_model (path);
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  guint64                n_params;
  const gsize            sizes[][2] = { { 64, 48 }, { 768, 512 }, { 1024, 1024 } };
  guint                  i;

  g_assert_cmpstr (vae_model_get_architecture (model), ==, "seed-f16");
  g_assert_cmpstr (vae_model_get_id (model), ==, "seed-f16");
  g_assert_cmpstr (vae_model_get_name (model), ==,
                   "seed-f16 test model (random weights)");
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==, C);
  g_assert_cmpuint (vae_model_get_factor (model), ==, 16);
  g_assert_true (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));

  n_params = g_ascii_strtoull (vae_weights_get_metadata (ref, "encoder_params"), NULL, 10) +
             g_ascii_strtoull (vae_weights_get_metadata (ref, "decoder_params"), NULL, 10);
  g_assert_cmpuint (vae_model_get_n_params (model), ==, n_params);

  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      const gsize w = sizes[i][0], h = sizes[i][1];

      g_assert_cmpfloat_with_epsilon (vae_model_get_gflops (model, FALSE, w, h),
                                      2 * spec_macs (FALSE, h, w) / 1e9, 1e-9);
      g_assert_cmpfloat_with_epsilon (vae_model_get_gflops (model, TRUE, w, h),
                                      2 * spec_macs (TRUE, h, w) / 1e9, 1e-9);
    }
}

/* The raw, unclamped decoder output, straight from the architecture. */
static VaeTensor *
decode_raw (const VaeTensor *latent,
            gboolean         reference,
            gint             n_threads,
            gdouble         *work_done,
            gdouble         *work_total)
{
  g_autoptr (VaeWeights) w = load_data ("model.safetensors");
  VaeModelInfo           info = { 0 };
  VaeTensor             *image = NULL;
  VaeOptions             options;
  VaeRun                 run;
  gpointer               arch;
  GError                *error = NULL;

  g_assert_true (vae_arch_seed_f16.probe (w, w));
  arch = vae_arch_seed_f16.create (w, w, &info, &error);
  g_assert_no_error (error);

  vae_options_init (&options);
  options.reference = reference;
  options.n_threads = n_threads;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  g_assert_true (vae_arch_seed_f16.decode (arch, latent, &image, &run, &error));
  g_assert_no_error (error);
  if (work_done)
    *work_done = run.work_done;
  if (work_total)
    *work_total = run.work_total;
  vae_run_clear (&run);

  vae_arch_seed_f16.destroy (arch);
  g_free (info.id);
  g_free (info.name);
  g_free (info.architecture);

  return image;
}

/* The reference's two cases through every run: encoded when @data is
 * FALSE, decoded without the public API's clamp when TRUE. */
static void
check_runs (gconstpointer data)
{
  static const gchar *const cases[2][2][2] =
    { { { "image_a", "latent_a" }, { "image_b", "latent_b" } },
      { { "dec_a", "decoded_a" }, { "dec_b", "decoded_b" } } };
  const gboolean         decoder = GPOINTER_TO_INT (data);
  g_autofree gchar      *path = data_path ("model.safetensors");
  /* decode_raw () loads its own weights */
  g_autoptr (VaeModel)   model = decoder ? NULL : test_load_model (path);
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  guint                  c, i;

  for (c = 0; c < G_N_ELEMENTS (cases[decoder]); c++)
    {
      const gchar *const   *names = cases[decoder][c];
      g_autoptr (VaeTensor) in = test_tensor_from_weight (ref, names[0]);
      g_autoptr (VaeTensor) expect = test_tensor_from_weight (ref, names[1]);

      for (i = 0; i < TEST_N_RUNS; i++)
        {
          g_autofree gchar     *what = test_run_name (names[1], i);
          g_autoptr (VaeTensor) out = NULL;

          if (decoder)
            out = decode_raw (in, test_runs[i].reference,
                              test_runs[i].n_threads, NULL, NULL);
          else
            out = test_run_encode (model, in, test_runs[i].reference,
                                   test_runs[i].n_threads);
          test_assert_close_tensors (what, out, expect, TOLERANCE);
        }
    }
}

/* rows [y0, y0 + h) and columns [x0, x0 + w) of every channel */
static VaeTensor *
crop (const VaeTensor *t,
      gsize            y0,
      gsize            x0,
      gsize            h,
      gsize            w)
{
  const gsize   c = vae_tensor_get_dim (t, 0);
  const gsize   th = vae_tensor_get_dim (t, 1), tw = vae_tensor_get_dim (t, 2);
  const gfloat *src = vae_tensor_peek_data (t);
  VaeTensor    *out = vae_tensor_new_3d (c, h, w, NULL);
  gfloat       *dst = vae_tensor_get_data (out);
  gsize         k, y;

  g_assert_cmpuint (y0 + h, <=, th);
  g_assert_cmpuint (x0 + w, <=, tw);
  for (k = 0; k < c; k++)
    for (y = 0; y < h; y++)
      memcpy (dst + (k * h + y) * w, src + (k * th + y0 + y) * tw + x0,
              w * sizeof (gfloat));

  return out;
}

/* 288 tokens: the attention op's key blocks of 256 plus a partial one. */
static void
test_decode_many_tokens (void)
{
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  g_autoptr (VaeTensor)  latent = test_tensor_from_weight (ref, "dec_c");
  g_autoptr (VaeTensor)  tl = test_tensor_from_weight (ref, "decoded_c_tl");
  g_autoptr (VaeTensor)  br = test_tensor_from_weight (ref, "decoded_c_br");
  guint                  i;

  for (i = 0; i < TEST_N_RUNS; i++)
    {
      g_autofree gchar     *what_tl = test_run_name ("decoded_c top left", i);
      g_autofree gchar     *what_br = test_run_name ("decoded_c bottom right",
                                                     i);
      g_autoptr (VaeTensor) image = NULL;
      g_autoptr (VaeTensor) a = NULL, b = NULL;

      /* the naive attention is O(n^2) in double: fine at 288 tokens */
      image = decode_raw (latent, test_runs[i].reference,
                          test_runs[i].n_threads, NULL, NULL);
      g_assert_cmpuint (vae_tensor_get_dim (image, 1), ==, 256);
      g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 288);
      a = crop (image, 0, 0, 48, 64);
      b = crop (image, 256 - 48, 288 - 64, 48, 64);
      test_assert_close_tensors (what_tl, a, tl, TOLERANCE);
      test_assert_close_tensors (what_br, b, br, TOLERANCE);
    }
}

/* Through the public API the decoded image is clamped to [0, 1]. */
static void
test_decode_model (void)
{
  g_autofree gchar      *path = data_path ("model.safetensors");
  g_autoptr (VaeModel)   model = test_load_model (path);
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  g_autoptr (VaeTensor)  z = test_tensor_from_weight (ref, "dec_b");
  g_autoptr (VaeTensor)  raw = test_tensor_from_weight (ref, "decoded_b");
  g_autoptr (VaeTensor)  expect = test_clamped (raw);
  g_autoptr (VaeLatent)  latent = NULL;
  g_autoptr (VaeTensor)  image = NULL;
  GError                *error = NULL;
  VaeOptions             options;

  latent = vae_latent_new (z, &error);
  g_assert_no_error (error);
  vae_options_init (&options);
  vae_model_decode (model, latent, &image, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  test_assert_close_tensors ("decoded_b through vae_model_decode", image,
                             expect, TOLERANCE);
}

/* A 64 x 64 latent (4096 tokens): runs, gives finite values, and the
 * progress the ops report adds up to the model's FLOPs. */
static void
test_decode_1024 (void)
{
  g_autoptr (GRand)     rand = g_rand_new_with_seed (1024);
  g_autoptr (VaeTensor) latent = vae_tensor_new_3d (C, 64, 64, NULL);
  g_autoptr (VaeTensor) image = NULL;
  gfloat               *z = vae_tensor_get_data (latent);
  const gfloat         *y;
  gdouble               done, total;
  gsize                 i;

  for (i = 0; i < vae_tensor_get_n_elements (latent); i++)
    z[i] = (gfloat) g_rand_double_range (rand, -2.5, 2.5);
  image = decode_raw (latent, FALSE, 2, &done, &total);
  g_assert_cmpuint (vae_tensor_get_dim (image, 0), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (image, 1), ==, 1024);
  g_assert_cmpuint (vae_tensor_get_dim (image, 2), ==, 1024);
  y = vae_tensor_peek_data (image);
  for (i = 0; i < vae_tensor_get_n_elements (image); i++)
    if (! isfinite (y[i]))
      g_error ("1024 x 1024 decode: value %g at %" G_GSIZE_FORMAT, y[i], i);

  g_test_message ("1024 x 1024: progress %.6g of %.6g FLOPs", done, total);
  g_assert_cmpfloat_with_epsilon (total, 2 * spec_macs (TRUE, 1024, 1024),
                                  1e-6 * total);
  g_assert_cmpfloat_with_epsilon (done, total, 1e-9 * total);
}

static void
test_wrong_channels (void)
{
  g_autofree gchar     *path = data_path ("model.safetensors");
  g_autoptr (VaeModel)  model = test_load_model (path);
  const guint           channels[] = { C - 1, C + 1, 3 };
  guint                 i;

  for (i = 0; i < G_N_ELEMENTS (channels); i++)
    {
      g_autoptr (VaeTensor) z = vae_tensor_new_3d (channels[i], 3, 4, NULL);
      g_autoptr (VaeLatent) latent = NULL;
      g_autoptr (VaeTensor) image = NULL;
      VaeOptions            options;
      GError               *error = NULL;

      latent = vae_latent_new (z, &error);
      g_assert_no_error (error);
      vae_options_init (&options);
      vae_model_decode (model, latent, &image, &options, NULL, NULL, NULL,
                        &error);
      g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
      g_assert_null (image);
      g_clear_error (&error);
    }
}

/* --- modified copies of the model file ---------------------------------- */

typedef gboolean (* EditFunc) (const gchar  *name,
                               guint        *n_dims,
                               gsize        *shape,
                               gpointer      data);

/* Writes the tensors of @w whose names start with @prefix (all: "") as an
 * F32 safetensors file, each passed through @edit (which may drop it or
 * change its shape; the data is then zero-padded or cut), with the
 * metadata of @w, where @meta_key, when set, becomes @meta_value (NULL:
 * removed). */
static void
write_model (VaeWeights  *w,
             const gchar *path,
             const gchar *prefix,
             EditFunc     edit,
             gpointer     edit_data,
             const gchar *meta_key,
             const gchar *meta_value)
{
  static const gchar *const keys[] = { "vae.architecture", "vae.config",
                                       "vae.id", "vae.name", "vae.license" };
  g_autoptr (GPtrArray)   names = vae_weights_list (w);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode)    root = NULL;
  g_autoptr (GByteArray)  body = g_byte_array_new ();
  g_autoptr (GString)     file = NULL;
  g_autofree gchar       *header = NULL;
  GError                 *error = NULL;
  guint64                 len;
  guint                   i, k;

  json_builder_begin_object (b);
  for (i = 0; i < names->len; i++)
    {
      const gchar     *name = g_ptr_array_index (names, i);
      const VaeWeight *t = vae_weights_lookup (w, name);
      gsize            shape[VAE_WEIGHT_MAX_DIMS];
      guint            n_dims = t->n_dims;
      gsize            n = 1, start = body->len;

      if (! g_str_has_prefix (name, prefix))
        continue;
      memcpy (shape, t->shape, sizeof shape);
      if (edit && ! edit (name, &n_dims, shape, edit_data))
        continue;
      for (k = 0; k < n_dims; k++)
        n *= shape[k];
      g_byte_array_append (body, (const guint8 *) t->data,
                           MIN (n, t->n_elements) * sizeof (gfloat));
      if (n > t->n_elements)
        g_byte_array_set_size (body, start + n * sizeof (gfloat));

      json_builder_set_member_name (b, name);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dtype");
      json_builder_add_string_value (b, "F32");
      json_builder_set_member_name (b, "shape");
      json_builder_begin_array (b);
      for (k = 0; k < n_dims; k++)
        json_builder_add_int_value (b, shape[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "data_offsets");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, start);
      json_builder_add_int_value (b, body->len);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  for (k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      const gchar *value = vae_weights_get_metadata (w, keys[k]);

      if (meta_key && strcmp (keys[k], meta_key) == 0)
        value = meta_value;
      if (value == NULL)
        continue;
      json_builder_set_member_name (b, keys[k]);
      json_builder_add_string_value (b, value);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  header = json_generator_to_data (gen, NULL);

  /* the header padded with spaces to a multiple of 8, as writers do */
  len = GUINT64_TO_LE ((guint64) (strlen (header) + 7) / 8 * 8);
  file = g_string_new_len ((const gchar *) &len, 8);
  g_string_append (file, header);
  while ((file->len - 8) % 8 != 0)
    g_string_append_c (file, ' ');
  g_string_append_len (file, (const gchar *) body->data, body->len);
  g_file_set_contents (path, file->str, file->len, &error);
  g_assert_no_error (error);
}

static void
test_split_files (void)
{
  g_autoptr (VaeWeights) w = load_data ("model.safetensors");
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  g_autoptr (VaeTensor)  image = test_tensor_from_weight (ref, "image_a");
  g_autoptr (VaeTensor)  expect = test_tensor_from_weight (ref, "latent_a");
  g_autoptr (VaeTensor)  z = test_tensor_from_weight (ref, "dec_a");
  g_autoptr (VaeTensor)  expect_image = test_tensor_from_weight (ref,
                                                                 "decoded_a");
  GError                *error = NULL;
  gchar                 *dir;
  guint                  which;
  gsize                  i;

  for (i = 0; i < vae_tensor_get_n_elements (expect_image); i++)
    {
      gfloat *d = vae_tensor_get_data (expect_image);

      d[i] = CLAMP (d[i], 0.0f, 1.0f);
    }

  /* 0: encoder file only, 1: decoder file only, 2: both */
  for (which = 0; which < 3; which++)
    {
      g_autofree gchar     *enc = NULL, *dec = NULL;
      g_autoptr (VaeModel)  model = NULL;
      g_autoptr (VaeLatent) latent = NULL;
      g_autoptr (VaeTensor) out = NULL;
      VaeOptions            options;

      dir = g_dir_make_tmp ("test-seed-XXXXXX", &error);
      g_assert_no_error (error);
      enc = g_build_filename (dir, "seed-f16-encoder.safetensors", NULL);
      dec = g_build_filename (dir, "seed-f16-decoder.safetensors", NULL);
      if (which != 1)
        write_model (w, enc, "encoder.", NULL, NULL, NULL, NULL);
      if (which != 0)
        write_model (w, dec, "decoder.", NULL, NULL, NULL, NULL);

      model = test_load_model (dir);
      g_assert_cmpstr (vae_model_get_architecture (model), ==, "seed-f16");
      g_assert_cmpuint (vae_model_get_latent_channels (model), ==, C);
      g_assert_true (vae_model_can_encode (model) == (which != 1));
      g_assert_true (vae_model_can_decode (model) == (which != 0));
      vae_options_init (&options);

      vae_model_encode (model, image, &latent, &options, NULL, NULL, NULL, &error);
      if (which == 1)
        {
          g_assert_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED);
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          test_assert_close_tensors ("split-file encode",
                                     vae_latent_get_tensor (latent),
                                     expect, TOLERANCE);
        }
      g_clear_pointer (&latent, vae_latent_unref);

      latent = vae_latent_new (z, &error);
      g_assert_no_error (error);
      vae_model_decode (model, latent, &out, &options, NULL, NULL, NULL, &error);
      if (which == 0)
        {
          g_assert_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED);
          g_clear_error (&error);
        }
      else
        {
          g_assert_no_error (error);
          test_assert_close_tensors ("split-file decode", out, expect_image,
                                     TOLERANCE);
        }

      g_clear_pointer (&model, vae_model_unref);
      test_remove_dir (dir);
      g_free (dir);
    }
}

typedef struct
{
  const gchar *name;          /* the tensor to edit */
  gboolean     drop;          /* or: its first dimension + 1 */
} Edit;

static gboolean
edit_tensor (const gchar *name,
             guint       *n_dims,
             gsize       *shape,
             gpointer     data)
{
  const Edit *e = data;

  if (strcmp (name, e->name) != 0)
    return TRUE;
  if (e->drop)
    return FALSE;
  shape[0] += 1;

  return TRUE;
}

typedef struct
{
  const gchar *what;
  Edit         edit;
  const gchar *meta_key;
  const gchar *meta_value;
  gint         code;
  const gchar *message_part;  /* the error must name it */
} BadCase;

#define CONFIG_START "{\"architecture\": \"seed-f16\", \"dim\": 64, \"depth\": 2, "

static const BadCase bad_cases[] = {
  { "missing-block-tensor", { "decoder.blocks.1.fc2.bias", TRUE }, NULL, NULL,
    VAE_ERROR_FORMAT, "decoder.blocks.1.fc2.bias" },
  { "missing-norm-out", { "decoder.norm_out.weight", TRUE }, NULL, NULL,
    VAE_ERROR_FORMAT, "decoder.norm_out.weight" },
  { "missing-encoder-res", { "encoder.res2.conv2.weight", TRUE }, NULL, NULL,
    VAE_ERROR_FORMAT, "encoder.res2.conv2.weight" },
  { "wrong-proj-shape", { "decoder.blocks.0.attn.proj.weight", FALSE }, NULL, NULL,
    VAE_ERROR_SHAPE, "decoder.blocks.0.attn.proj.weight" },
  { "wrong-skip-shape", { "decoder.skip.bias", FALSE }, NULL, NULL,
    VAE_ERROR_SHAPE, "decoder.skip.bias" },
  { "wrong-pca-bias", { "decoder.pca.bias", FALSE }, NULL, NULL,
    VAE_ERROR_SHAPE, "decoder.pca.bias" },
  { "no-config", { "", FALSE }, "vae.config", NULL,
    VAE_ERROR_FORMAT, "vae.config" },
  { "config-not-json", { "", FALSE }, "vae.config", "{heads: 2",
    VAE_ERROR_FORMAT, "vae.config" },
  { "config-no-heads", { "", FALSE }, "vae.config",
    CONFIG_START "\"ln_eps\": 1e-6, \"rope_base\": 100.0}",
    VAE_ERROR_FORMAT, "heads" },
  { "config-heads-3", { "", FALSE }, "vae.config",
    CONFIG_START "\"heads\": 3, \"ln_eps\": 1e-6, \"rope_base\": 100.0}",
    VAE_ERROR_SHAPE, "heads" },
  { "config-heads-string", { "", FALSE }, "vae.config",
    CONFIG_START "\"heads\": \"2\", \"ln_eps\": 1e-6, \"rope_base\": 100.0}",
    VAE_ERROR_FORMAT, "heads" },
  { "config-negative-eps", { "", FALSE }, "vae.config",
    CONFIG_START "\"heads\": 2, \"ln_eps\": -1e-6, \"rope_base\": 100.0}",
    VAE_ERROR_FORMAT, "ln_eps" },
  { "config-bad-base", { "", FALSE }, "vae.config",
    CONFIG_START "\"heads\": 2, \"ln_eps\": 1e-6, \"rope_base\": 0}",
    VAE_ERROR_FORMAT, "rope_base" },
  { "config-wrong-depth", { "", FALSE }, "vae.config",
    "{\"depth\": 4, \"heads\": 2, \"ln_eps\": 1e-6, \"rope_base\": 100.0}",
    VAE_ERROR_SHAPE, "depth" },
  { "config-tanh-gelu", { "", FALSE }, "vae.config",
    CONFIG_START "\"heads\": 2, \"ln_eps\": 1e-6, \"rope_base\": 100.0, \"gelu\": \"tanh\"}",
    VAE_ERROR_UNSUPPORTED, "GELU" },
};

static void
test_bad_file (gconstpointer data)
{
  const BadCase         *c = data;
  g_autoptr (VaeWeights) w = load_data ("model.safetensors");
  g_autoptr (VaeModel)   model = NULL;
  g_autofree gchar      *dir = NULL;
  g_autofree gchar      *path = NULL;
  GError                *error = NULL;

  dir = g_dir_make_tmp ("test-seed-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "model.safetensors", NULL);
  write_model (w, path, "", edit_tensor, (gpointer) &c->edit, c->meta_key,
               c->meta_value);

  model = vae_model_load (path, &error);
  g_test_message ("%s: %s", c->what, error ? error->message : "(loaded)");
  g_assert_null (model);
  g_assert_error (error, VAE_ERROR, c->code);
  g_assert_nonnull (strstr (error->message, c->message_part));
  g_clear_error (&error);
  test_remove_dir (dir);
}

/* The unedited F32 copy loads and decodes like the F16 original: the
 * writer above is not what makes the bad cases fail. */
static void
test_rewritten_file (void)
{
  g_autoptr (VaeWeights) w = load_data ("model.safetensors");
  g_autoptr (VaeWeights) ref = load_data ("reference.safetensors");
  g_autoptr (VaeTensor)  image = test_tensor_from_weight (ref, "image_b");
  g_autoptr (VaeTensor)  expect = test_tensor_from_weight (ref, "latent_b");
  g_autoptr (VaeTensor)  latent = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autofree gchar      *dir = NULL;
  g_autofree gchar      *path = NULL;
  GError                *error = NULL;

  dir = g_dir_make_tmp ("test-seed-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "model.safetensors", NULL);
  write_model (w, path, "", NULL, NULL, NULL, NULL);
  model = test_load_model (path);
  latent = test_run_encode (model, image, FALSE, 2);
  test_assert_close_tensors ("rewritten file", latent, expect, TOLERANCE);
  g_clear_pointer (&model, vae_model_unref);
  test_remove_dir (dir);
}

/* --- the real weights ------------------------------------------------------ */

/* image name (without .png) -> PSNR, from vae.eval_kodak: per-image
 * figures when the file has them ("per_image": {"kodim01": 25.1, ...} or
 * {"kodim01.png": {"psnr_db": 25.1}, ...}); NULL when it has only the
 * mean. */
static GHashTable *
eval_per_image (JsonObject *eval)
{
  JsonNode   *node = json_object_get_member (eval, "per_image");
  GHashTable *table;
  GList      *members, *l;

  if (node == NULL || ! JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  members = json_object_get_members (json_node_get_object (node));
  for (l = members; l; l = l->next)
    {
      JsonNode *v = json_object_get_member (json_node_get_object (node), l->data);
      gdouble  *psnr = g_new (gdouble, 1);
      gchar    *name = g_strdup (l->data);

      if (g_str_has_suffix (name, ".png"))
        name[strlen (name) - 4] = '\0';
      if (JSON_NODE_HOLDS_OBJECT (v))
        *psnr = json_object_get_double_member (json_node_get_object (v), "psnr_db");
      else
        *psnr = json_node_get_double (v);
      g_hash_table_insert (table, name, psnr);
    }
  g_list_free (members);

  return table;
}

static void
test_kodak (gconstpointer data)
{
  const gchar            *id = data;
  const gchar            *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar       *weights = test_shipped_model (id);
  g_autofree gchar       *kodak = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (VaeWeights)  w = NULL;
  g_autoptr (JsonParser)  parser = json_parser_new ();
  g_autoptr (GHashTable)  per_image = NULL;
  JsonObject             *eval;
  const gchar            *text;
  VaeOptions              options;
  GError                 *error = NULL;
  gdouble                 sum = 0.0, worst = 0.0;
  guint                   i, n = 0;

  /* the repository ships the weights and their figures: no skip */
  g_assert_true (g_file_test (weights, G_FILE_TEST_IS_REGULAR));
  if (shared)
    kodak = g_build_filename (shared, "data", "kodak", NULL);
  if (kodak == NULL || ! g_file_test (kodak, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("no Kodak photos: set VAE_SHARED_DIR to the shared folder");
      return;
    }

  w = test_load_weights (weights);
  text = vae_weights_get_metadata (w, "vae.eval_kodak");
  g_assert_nonnull (text);
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  eval = json_node_get_object (json_parser_get_root (parser));
  per_image = eval_per_image (eval);

  model = test_load_model (weights);
  g_assert_cmpstr (vae_model_get_architecture (model), ==, "seed-f16");
  vae_options_init (&options);

  /* With per-image figures, compare those images; with only the mean,
   * all 24 (the mean is over all of them). */
  for (i = 1; i <= 24; i++)
    {
      g_autofree gchar     *name = g_strdup_printf ("kodim%02u", i);
      g_autofree gchar     *file = g_strconcat (name, ".png", NULL);
      g_autofree gchar     *png = g_build_filename (kodak, file, NULL);
      g_autoptr (VaeTensor) original = NULL;
      g_autoptr (VaeLatent) latent = NULL;
      g_autoptr (VaeTensor) decoded = NULL;
      const gdouble        *expected = NULL;
      gdouble               psnr;

      if (per_image && ! (expected = g_hash_table_lookup (per_image, name)))
        continue;

      original = test_read_png (png);
      vae_model_encode (model, original, &latent, &options, NULL, NULL, NULL,
                        &error);
      g_assert_no_error (error);
      vae_model_decode (model, latent, &decoded, &options, NULL, NULL, NULL,
                        &error);
      g_assert_no_error (error);
      vae_image_quantize_8bit (decoded);
      vae_psnr (original, decoded, &psnr, &error);
      g_assert_no_error (error);
      sum += psnr;
      n++;

      if (expected)
        {
          g_test_message ("%s: PSNR %.3f dB, PyTorch %.3f dB, diff %+.4f dB",
                          name, psnr, *expected, psnr - *expected);
          worst = MAX (worst, fabs (psnr - *expected));
          if (! (fabs (psnr - *expected) <= PSNR_TOL_DB))
            g_error ("%s: PSNR %.4f dB, PyTorch %.3f dB: off by more than "
                     "%.2f dB", name, psnr, *expected, PSNR_TOL_DB);
        }
      else
        {
          g_test_message ("%s: PSNR %.3f dB", name, psnr);
        }
    }

  if (per_image == NULL)
    {
      gdouble mean = sum / MAX (n, 1);
      gdouble expected = json_object_get_double_member (eval, "psnr_db");

      g_assert_cmpuint (n, ==, 24);
      g_test_message ("Kodak mean PSNR %.3f dB, PyTorch %.3f dB (only the mean "
                      "is in vae.eval_kodak), diff %+.4f dB",
                      mean, expected, mean - expected);
      if (! (fabs (mean - expected) <= PSNR_TOL_DB))
        g_error ("Kodak mean PSNR %.4f dB, PyTorch %.3f dB: off by more than "
                 "%.2f dB", mean, expected, PSNR_TOL_DB);
    }
  else
    {
      g_assert_cmpuint (n, >, 0);
      g_test_message ("max |PSNR - PyTorch| %.4f dB over %u images (tolerance "
                      "%.2f dB)", worst, n, PSNR_TOL_DB);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/seed-f16/info", test_info);
  g_test_add_data_func ("/seed-f16/encode", GINT_TO_POINTER (FALSE),
                        check_runs);
  g_test_add_data_func ("/seed-f16/decode", GINT_TO_POINTER (TRUE),
                        check_runs);
  g_test_add_func ("/seed-f16/decode-288-tokens", test_decode_many_tokens);
  g_test_add_func ("/seed-f16/decode-clamped", test_decode_model);
  g_test_add_func ("/seed-f16/decode-1024", test_decode_1024);
  g_test_add_func ("/seed-f16/wrong-channels", test_wrong_channels);
  g_test_add_func ("/seed-f16/split-files", test_split_files);
  g_test_add_func ("/seed-f16/rewritten-file", test_rewritten_file);
  TEST_ADD_CASES ("/seed-f16/bad-file", bad_cases, test_bad_file);
  g_test_add_data_func ("/seed-f16/kodak", "seed-f16", test_kodak);
  g_test_add_data_func ("/seed-f16/kodak-v2", "seed-f16-v2", test_kodak);

  return g_test_run ();
}
