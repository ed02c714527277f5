/* gimp-vae tests - AutoencoderKL against its PyTorch reference
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tests/data/kl/<variant>/model.safetensors are small random models made
 * by tests/gen-kl-reference.py from the independent PyTorch implementation
 * in tests/kl_reference.py, one per layout:
 *
 *   sd     4 channels, quant convs, LDM names under "first_stage_model."
 *          among unrelated tensors, 1x1 shortcuts in both halves (F16)
 *   kl16   16 channels, no quant convs, diffusers names, legacy attention
 *          names in the decoder (F16)
 *   flux2  32 channels, BFL quant conv names, BatchNorm statistics, a
 *          decoder narrower than its encoder (BF16)
 *
 * and reference.safetensors what PyTorch computed for them in float32.
 * Encoder- and decoder-only files, files with metadata and damaged files
 * are derived from them here with a small safetensors writer.
 *
 * The full-size case (/kl/large/..., suite models-large) builds a
 * random-weight SD decoder of real size (83M-parameter VAE's 49.5M
 * decoder: channels 128/256/512/512, 2 res blocks) from a seeded
 * splitmix64 generator that kl_reference.py implements identically, writes
 * it to a temporary file, decodes a 4 x 64 x 64 latent to 512 x 512 and
 * compares with the fingerprint PyTorch left in large-fingerprint.txt.
 *
 * Tolerance: max |ours - reference| <= 1e-4 * max (1, max |reference|),
 * for the naive and the optimized kernels on 1 and 2 threads; the same for
 * the sampled values of the full-size case, and 1e-5 relative for its mean
 * and standard deviation.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vae.h"
#include "vae-weights.h"
#include "vae-run.h"
#include "vae-tensor-private.h"
#include "arch.h"
#include "test-util.h"

#define TOLERANCE        1e-4
#define STAT_TOLERANCE   1e-5
#define FACTOR           2      /* the small models have two levels */

typedef struct
{
  const gchar *variant;
  const gchar *id;
  guint        latent_channels;
  gdouble      scale;
  gdouble      shift;
  gboolean     bn;
} Variant;

static const Variant variants[] =
{
  { "sd",    "sd-vae",    4,  0.18215, 0.0,    FALSE },
  { "kl16",  "flux1-vae", 16, 0.3611,  0.1159, FALSE },
  { "flux2", "flux2-vae", 32, 1.0,     0.0,    TRUE },
};

typedef struct
{
  TestReference  tensors;
  VaeTensor     *latent_bn;    /* flux2 only */
  guint64        n_params;
} Reference;

/* --- helpers ------------------------------------------------------------- */

static gchar *
data_path (const gchar *variant,
           const gchar *file)
{
  return g_test_build_filename (G_TEST_DIST, "data", "kl", variant, file, NULL);
}

static void
reference_load (const Variant *v,
                Reference     *ref)
{
  g_autofree gchar      *path = data_path (v->variant, "reference.safetensors");
  g_autoptr(VaeWeights)  weights = NULL;
  GError                *error = NULL;

  weights = vae_safetensors_load (path, &error);
  g_assert_no_error (error);

  test_reference_read (weights, &ref->tensors);
  if (v->bn)
    ref->latent_bn = test_tensor_from_weight (weights, "latent_bn");
  ref->n_params = g_ascii_strtoull (vae_weights_get_metadata (weights,
                                                              "n_params"),
                                    NULL, 10);
}

static void
reference_clear (Reference *ref)
{
  test_reference_clear (&ref->tensors);
  g_clear_pointer (&ref->latent_bn, vae_tensor_unref);
}

/* The architecture straight from a file, as vae_model_load() builds it
 * for a single file, so that decoder output can be seen unclamped. */
typedef struct
{
  VaeWeights   *weights;
  gpointer      self;
  VaeModelInfo  info;
} Arch;

static gboolean
arch_open (Arch         *arch,
           const gchar  *path,
           GError      **error)
{
  memset (arch, 0, sizeof *arch);
  arch->weights = vae_weights_load (path, error);
  if (arch->weights == NULL)
    return FALSE;
  g_assert_true (vae_arch_autoencoder_kl.probe (arch->weights, arch->weights));
  arch->self = vae_arch_autoencoder_kl.create (arch->weights, arch->weights,
                                               &arch->info, error);

  return arch->self != NULL;
}

static void
arch_close (Arch *arch)
{
  if (arch->self)
    vae_arch_autoencoder_kl.destroy (arch->self);
  g_free (arch->info.id);
  g_free (arch->info.name);
  g_free (arch->info.architecture);
  vae_weights_free (arch->weights);
  memset (arch, 0, sizeof *arch);
}

static VaeTensor *
arch_run (Arch            *arch,
          gboolean         decoder,
          const VaeTensor *input,
          gboolean         reference,
          gint             n_threads)
{
  VaeOptions  options;
  VaeRun      run;
  VaeTensor  *out = NULL;
  GError     *error = NULL;
  gboolean    ok;

  vae_options_init (&options);
  options.reference = reference;
  options.n_threads = n_threads;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  if (decoder)
    ok = vae_arch_autoencoder_kl.decode (arch->self, input, &out, &run, &error);
  else
    ok = vae_arch_autoencoder_kl.encode (arch->self, input, &out, &run, &error);
  vae_run_clear (&run);
  g_assert_no_error (error);
  g_assert_true (ok);

  return out;
}

/* --- a small safetensors writer ------------------------------------------- */

typedef struct
{
  gchar        *name;
  guint         n_dims;
  gsize         shape[VAE_WEIGHT_MAX_DIMS];
  const gfloat *data;        /* NULL: filled by the fill callback */
} OutTensor;

typedef void (* FillFunc) (const OutTensor *t,
                           gfloat          *dest,
                           gsize            n,
                           gpointer         user_data);

static gsize
out_elements (const OutTensor *t)
{
  gsize n = 1;
  guint i;

  for (i = 0; i < t->n_dims; i++)
    n *= t->shape[i];

  return n;
}

/* Writes @tensors (OutTensor) as F32, with optional metadata given as
 * key, value, ..., NULL.  Data is streamed, never held whole. */
static void
write_safetensors (const gchar        *path,
                   GArray             *tensors,
                   FillFunc            fill,
                   gpointer            user_data,
                   const gchar *const *metadata)
{
  GString *header = g_string_new ("{");
  FILE    *f;
  guint64  length, offset = 0;
  guint    i, k;

  if (metadata && metadata[0])
    {
      g_string_append (header, "\"__metadata__\":{");
      for (i = 0; metadata[i]; i += 2)
        g_string_append_printf (header, "%s\"%s\":\"%s\"", i ? "," : "",
                                metadata[i], metadata[i + 1]);
      g_string_append (header, "},");
    }
  for (i = 0; i < tensors->len; i++)
    {
      const OutTensor *t = &g_array_index (tensors, OutTensor, i);
      guint64          bytes = out_elements (t) * sizeof (gfloat);

      g_string_append_printf (header, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                              i ? "," : "", t->name);
      for (k = 0; k < t->n_dims; k++)
        g_string_append_printf (header, "%s%" G_GSIZE_FORMAT, k ? "," : "",
                                t->shape[k]);
      g_string_append_printf (header, "],\"data_offsets\":[%" G_GUINT64_FORMAT
                              ",%" G_GUINT64_FORMAT "]}", offset,
                              offset + bytes);
      offset += bytes;
    }
  g_string_append_c (header, '}');
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');

  f = fopen (path, "wb");
  g_assert_nonnull (f);
  length = GUINT64_TO_LE (header->len);
  g_assert_cmpuint (fwrite (&length, 8, 1, f), ==, 1);
  g_assert_cmpuint (fwrite (header->str, 1, header->len, f), ==, header->len);
  for (i = 0; i < tensors->len; i++)
    {
      const OutTensor *t = &g_array_index (tensors, OutTensor, i);
      const gsize      n = out_elements (t);

      /* Little-endian hosts only, like the rest of the test data. */
      if (t->data)
        {
          g_assert_cmpuint (fwrite (t->data, sizeof (gfloat), n, f), ==, n);
        }
      else
        {
          gfloat *buf = g_new (gfloat, MAX (n, 1));

          fill (t, buf, n, user_data);
          g_assert_cmpuint (fwrite (buf, sizeof (gfloat), n, f), ==, n);
          g_free (buf);
        }
    }
  g_assert_cmpint (fclose (f), ==, 0);
  g_string_free (header, TRUE);
}

static void
out_tensor_clear (gpointer p)
{
  g_free (((OutTensor *) p)->name);
}

static GArray *
out_tensors_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (OutTensor));

  g_array_set_clear_func (a, out_tensor_clear);

  return a;
}

static void
out_tensors_add (GArray       *a,
                 const gchar  *name,
                 guint         n_dims,
                 const gsize  *shape,
                 const gfloat *data)
{
  OutTensor t = { 0, };

  t.name = g_strdup (name);
  t.n_dims = n_dims;
  memcpy (t.shape, shape, n_dims * sizeof (gsize));
  t.data = data;
  g_array_append_val (a, t);
}

/* What to change when copying a file. */
typedef enum
{
  COPY_ALL,
  COPY_DROP,          /* leave out @name */
  COPY_RESHAPE,       /* give @name another shape of as many elements */
  COPY_NAN,           /* put a NaN into @name */
  COPY_INF,           /* put -inf into @name */
  COPY_ONLY_PREFIXED  /* keep only names with one of the prefixes in @name */
} CopyMode;

/* Copies @src into @dest as F32 (whatever it was stored as), changed as
 * @mode says, with @metadata. */
static void
copy_model (const gchar        *src,
            const gchar        *dest,
            CopyMode            mode,
            const gchar        *name,
            const gchar *const *metadata)
{
  g_autoptr (VaeWeights) w = NULL;
  g_autoptr (GPtrArray)  names = NULL;
  g_autoptr (GArray)     out = out_tensors_new ();
  g_auto (GStrv)         keep = NULL;
  GError                *error = NULL;
  gboolean               touched = FALSE;
  guint                  i;

  w = vae_weights_load (src, &error);
  g_assert_no_error (error);
  names = vae_weights_list (w);
  if (mode == COPY_ONLY_PREFIXED)
    keep = g_strsplit (name, ",", -1);

  for (i = 0; i < names->len; i++)
    {
      const VaeWeight *t = vae_weights_lookup (w, g_ptr_array_index (names, i));
      gsize            shape[VAE_WEIGHT_MAX_DIMS];
      guint            n_dims = t->n_dims;

      memcpy (shape, t->shape, sizeof shape);
      if (mode == COPY_ONLY_PREFIXED)
        {
          gboolean wanted = FALSE;
          guint    k;

          for (k = 0; keep[k]; k++)
            wanted |= g_str_has_prefix (t->name, keep[k]);
          if (! wanted)
            continue;
          touched = TRUE;
        }
      else if (mode != COPY_ALL && g_strcmp0 (t->name, name) == 0)
        {
          touched = TRUE;
          if (mode == COPY_DROP)
            continue;
          if (mode == COPY_NAN || mode == COPY_INF)
            {
              /* the copy is this function's own: change it in place */
              ((gfloat *) t->data)[t->n_elements / 2] =
                mode == COPY_NAN ? NAN : -INFINITY;
              out_tensors_add (out, t->name, n_dims, shape, t->data);
              continue;
            }
          /* Same number of elements, another shape: flat, or 1-D split
           * in two. */
          if (n_dims > 1)
            {
              shape[0] = t->n_elements;
              n_dims = 1;
            }
          else
            {
              g_assert_cmpuint (shape[0] % 2, ==, 0);
              shape[0] /= 2;
              shape[1] = 2;
              n_dims = 2;
            }
        }
      out_tensors_add (out, t->name, n_dims, shape, t->data);
    }
  g_assert_true (mode == COPY_ALL || touched);

  write_safetensors (dest, out, NULL, NULL, metadata);
}

static gchar *
temp_dir (void)
{
  GError *error = NULL;
  gchar  *dir = g_dir_make_tmp ("test-kl-XXXXXX", &error);

  g_assert_no_error (error);

  return dir;
}

/* --- small models ---------------------------------------------------------- */

static void
test_info (gconstpointer data)
{
  const Variant      *v = data;
  g_autofree gchar   *path = data_path (v->variant, "model.safetensors");
  g_autoptr(VaeModel) model = test_load_model (path);
  Reference           ref = { 0, };
  gdouble             scale, shift;
  Arch                arch;
  GError             *error = NULL;

  reference_load (v, &ref);
  g_assert_cmpstr (vae_model_get_architecture (model), ==, "autoencoder-kl");
  g_assert_cmpstr (vae_model_get_id (model), ==, v->id);
  g_assert_cmpuint (vae_model_get_latent_channels (model), ==, v->latent_channels);
  g_assert_cmpuint (vae_model_get_factor (model), ==, FACTOR);
  g_assert_true (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));
  vae_model_get_latent_scaling (model, &scale, &shift);
  g_assert_cmpfloat (scale, ==, v->scale);
  g_assert_cmpfloat (shift, ==, v->shift);
  g_test_message ("%s: %s", v->variant, vae_model_get_name (model));

  /* The sd file also holds tensors of a diffusion model and a text
   * encoder; parameters are counted per file, so only the pure ones can
   * be compared with PyTorch's count. */
  if (strcmp (v->variant, "sd") != 0)
    g_assert_cmpuint (vae_model_get_n_params (model), ==,
                      ref.n_params + (v->bn ? 2 * 4 * v->latent_channels : 0));

  g_assert_true (arch_open (&arch, path, &error));
  g_assert_no_error (error);
  if (v->bn)
    {
      g_assert_cmpuint (arch.info.norm_patch, ==, 2);
      g_assert_cmpuint (arch.info.norm_channels, ==, 4 * v->latent_channels);
      g_assert_cmpfloat (arch.info.norm_eps, ==, 1e-4);
      g_assert_nonnull (arch.info.norm_mean);
      g_assert_nonnull (arch.info.norm_var);
    }
  else
    {
      g_assert_cmpuint (arch.info.norm_patch, ==, 0);
      g_assert_null (arch.info.norm_mean);
    }
  arch_close (&arch);
  reference_clear (&ref);
}


/* The encoder (or the decoder) against PyTorch in every test run. */
static void
check_runs (const Variant *v,
            gboolean       decoder)
{
  g_autofree gchar *stage = g_strdup_printf ("%s %s", v->variant,
                                             decoder ? "decode" : "encode");
  g_autofree gchar *path = data_path (v->variant, "model.safetensors");
  Reference         ref = { 0, };
  Arch              arch;
  GError           *error = NULL;
  guint             i;

  reference_load (v, &ref);
  g_assert_true (arch_open (&arch, path, &error));
  g_assert_no_error (error);

  for (i = 0; i < TEST_N_RUNS; i++)
    {
      g_autofree gchar    *what = NULL;
      g_autoptr(VaeTensor) out = NULL;

      what = test_run_name (stage, i);
      out = arch_run (&arch, decoder,
                      decoder ? ref.tensors.decoder_input : ref.tensors.image,
                      test_runs[i].reference, test_runs[i].n_threads);
      test_assert_close_tensors (what, out,
                                 decoder ? ref.tensors.decoded
                                         : ref.tensors.latent,
                                 TOLERANCE);
    }

  arch_close (&arch);
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

/* Through the public API: encode an image, decode a latent (clamped). */
static void
test_model_api (gconstpointer data)
{
  const Variant        *v = data;
  g_autofree gchar     *path = data_path (v->variant, "model.safetensors");
  g_autoptr(VaeModel)   model = test_load_model (path);
  g_autoptr(VaeLatent)  latent = NULL;
  g_autoptr(VaeLatent)  input = NULL;
  g_autoptr(VaeTensor)  image = NULL;
  g_autoptr(VaeTensor)  expect = NULL;
  Reference             ref = { 0, };
  VaeOptions            options;
  GError               *error = NULL;

  reference_load (v, &ref);
  vae_options_init (&options);
  options.n_threads = 2;

  g_assert_true (vae_model_encode (model, ref.tensors.image, &latent, &options, NULL,
                                   NULL, NULL, &error));
  g_assert_no_error (error);
  test_assert_close_tensors ("vae_model_encode",
                             vae_latent_get_tensor (latent), ref.tensors.latent,
                             TOLERANCE);

  input = vae_latent_new (ref.tensors.decoder_input, &error);
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (model, input, &image, &options, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);
  expect = test_clamped (ref.tensors.decoded);
  test_assert_close_tensors ("vae_model_decode", image, expect, TOLERANCE);

  reference_clear (&ref);
}

/* FLUX.2: the normalisation the model info describes, applied to our
 * latent, gives what PyTorch's patchify + BatchNorm gives. */
static void
test_flux2_normalisation (void)
{
  const Variant        *v = &variants[2];
  g_autofree gchar     *path = data_path (v->variant, "model.safetensors");
  g_autoptr(VaeTensor)  latent = NULL;
  g_autoptr(VaeTensor)  norm = NULL;
  Reference             ref = { 0, };
  Arch                  arch;
  GError               *error = NULL;
  gsize                 c, y, x, i, j, p;
  gsize                 h, w;

  g_assert_true (v->bn);
  reference_load (v, &ref);
  g_assert_true (arch_open (&arch, path, &error));
  g_assert_no_error (error);

  latent = arch_run (&arch, FALSE, ref.tensors.image, FALSE, 2);
  p = arch.info.norm_patch;
  h = VAE_T_H (latent) / p;
  w = VAE_T_W (latent) / p;
  norm = vae_tensor_new_3d (VAE_T_C (latent) * p * p, h, w, &error);
  g_assert_no_error (error);

  for (c = 0; c < VAE_T_C (latent); c++)
    for (i = 0; i < p; i++)
      for (j = 0; j < p; j++)
        {
          const gsize k = (c * p + i) * p + j;
          const gdouble inv = 1.0 / sqrt (arch.info.norm_var[k] +
                                          arch.info.norm_eps);

          for (y = 0; y < h; y++)
            for (x = 0; x < w; x++)
              norm->data[(k * h + y) * w + x] =
                (latent->data[(c * VAE_T_H (latent) + y * p + i) *
                              VAE_T_W (latent) + x * p + j] -
                 arch.info.norm_mean[k]) * inv;
        }
  test_assert_close_tensors ("flux2 diffusion-space latent", norm,
                             ref.latent_bn, TOLERANCE);

  arch_close (&arch);
  reference_clear (&ref);
}

/* The halves, each alone in a file, under either kind of file name. */
static void
test_halves (gconstpointer data)
{
  const Variant       *v = data;
  g_autofree gchar    *src = data_path (v->variant, "model.safetensors");
  g_autofree gchar    *dir = temp_dir ();
  const gchar         *p = strcmp (v->variant, "sd") == 0 ? "first_stage_model."
                                                          : "";
  g_autofree gchar    *enc_keep = g_strdup_printf ("%sencoder.,%squant_conv.",
                                                   p, p);
  g_autofree gchar    *dec_keep = g_strdup_printf ("%sdecoder.,%spost_quant_conv.",
                                                   p, p);
  g_autofree gchar    *enc_file = g_build_filename (dir, "vae-encoder.safetensors", NULL);
  g_autofree gchar    *dec_file = g_build_filename (dir, "half.safetensors", NULL);
  Reference            ref = { 0, };
  guint                pass;

  reference_load (v, &ref);
  copy_model (src, enc_file, COPY_ONLY_PREFIXED, enc_keep, NULL);
  copy_model (src, dec_file, COPY_ONLY_PREFIXED, dec_keep, NULL);

  for (pass = 0; pass < 2; pass++)
    {
      g_autoptr(VaeModel)  model = test_load_model (pass == 0 ? enc_file
                                                              : dec_file);
      g_autoptr(VaeLatent) latent = NULL;
      g_autoptr(VaeTensor) image = NULL;
      VaeOptions           options;
      GError              *error = NULL;

      g_assert_cmpstr (vae_model_get_id (model), ==, v->id);
      g_assert_cmpuint (vae_model_get_latent_channels (model), ==,
                        v->latent_channels);
      g_assert_cmpuint (vae_model_get_factor (model), ==, FACTOR);
      g_assert_cmpint (vae_model_can_encode (model), ==, pass == 0);
      g_assert_cmpint (vae_model_can_decode (model), ==, pass == 1);

      vae_options_init (&options);
      vae_model_encode (model, ref.tensors.image, &latent, &options, NULL, NULL, NULL,
                        &error);
      if (pass == 0)
        {
          g_assert_no_error (error);
          test_assert_close_tensors ("encoder-only file",
                                     vae_latent_get_tensor (latent),
                        ref.tensors.latent, TOLERANCE);
        }
      else
        {
          g_assert_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED);
          g_clear_error (&error);
          latent = vae_latent_new (ref.tensors.decoder_input, &error);
          g_assert_no_error (error);
          g_assert_true (vae_model_decode (model, latent, &image, &options,
                                           NULL, NULL, NULL, &error));
          g_assert_no_error (error);
          {
            g_autoptr(VaeTensor) expect = test_clamped (ref.tensors.decoded);

            test_assert_close_tensors ("decoder-only file", image, expect,
                                       TOLERANCE);
          }
        }
    }

  reference_clear (&ref);
  test_remove_dir (dir);
}

/* A whole VAE in a file whose name says "encoder" (BFL's
 * full_encoder_small_decoder.safetensors): the loader hands it over as the
 * encoder half only, and the decoder must still be found in it. */
static void
test_encoder_named_file (void)
{
  g_autofree gchar    *src = data_path ("flux2", "model.safetensors");
  g_autofree gchar    *dir = temp_dir ();
  g_autofree gchar    *path = g_build_filename (dir, "full_encoder_small_decoder.safetensors",
                                                NULL);
  g_autoptr(VaeModel)  model = NULL;

  copy_model (src, path, COPY_ALL, NULL, NULL);
  model = test_load_model (path);
  g_assert_cmpstr (vae_model_get_id (model), ==, "flux2-vae");
  g_assert_true (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));
  g_clear_pointer (&model, vae_model_unref);
  test_remove_dir (dir);
}

/* SD1/SDXL and SD3/FLUX.1 look alike; metadata tells them apart. */
static void
test_metadata (void)
{
  static const struct
  {
    const gchar *variant;
    const gchar *meta[5];
    const gchar *id;
    gdouble      scale, shift;
  } cases[] =
  {
    { "sd",   { "modelspec.architecture", "stable-diffusion-xl-v1-base/vae", NULL },
      "sd-vae", 0.13025, 0.0 },
    { "kl16", { "modelspec.architecture", "stable-diffusion-v3-medium", NULL },
      "sd3-vae", 1.5305, 0.0609 },
    { "kl16", { "modelspec.architecture", "Flux.1-dev", NULL },
      "flux1-vae", 0.3611, 0.1159 },
    { "sd",   { "scaling_factor", "0.5", "shift_factor", "-0.25", NULL },
      "sd-vae", 0.5, -0.25 },
    { "sd",   { "scaling_factor", "nonsense", NULL },
      "sd-vae", 0.18215, 0.0 },
  };
  g_autofree gchar *dir = temp_dir ();
  guint             i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar   *src = data_path (cases[i].variant, "model.safetensors");
      g_autofree gchar   *dest = g_build_filename (dir, "vae.safetensors", NULL);
      g_autoptr(VaeModel) model = NULL;
      gdouble             scale, shift;

      copy_model (src, dest, COPY_ALL, NULL, cases[i].meta);
      model = test_load_model (dest);
      vae_model_get_latent_scaling (model, &scale, &shift);
      g_test_message ("%s = %s: %s, %g, %g", cases[i].meta[0], cases[i].meta[1],
                      vae_model_get_id (model), scale, shift);
      g_assert_cmpstr (vae_model_get_id (model), ==, cases[i].id);
      g_assert_cmpfloat (scale, ==, cases[i].scale);
      g_assert_cmpfloat (shift, ==, cases[i].shift);
      g_clear_pointer (&model, vae_model_unref);
      g_assert_cmpint (g_remove (dest), ==, 0);
    }

  test_remove_dir (dir);
}

/* Damaged files: every problem is a GError naming the tensor. */
static void
test_damaged (void)
{
  static const struct
  {
    const gchar *variant;
    CopyMode     mode;
    const gchar *name;
    gint         code;
  } cases[] =
  {
    { "sd",    COPY_DROP,    "first_stage_model.decoder.up.0.block.1.conv2.bias", VAE_ERROR_FORMAT },
    { "sd",    COPY_DROP,    "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight", VAE_ERROR_FORMAT },
    { "sd",    COPY_DROP,    "first_stage_model.encoder.mid.attn_1.v.bias", VAE_ERROR_FORMAT },
    { "sd",    COPY_RESHAPE, "first_stage_model.encoder.mid.attn_1.q.weight", VAE_ERROR_SHAPE },
    { "sd",    COPY_RESHAPE, "first_stage_model.decoder.conv_out.weight", VAE_ERROR_SHAPE },
    { "sd",    COPY_RESHAPE, "first_stage_model.quant_conv.weight", VAE_ERROR_SHAPE },
    { "kl16",  COPY_DROP,    "decoder.mid_block.attentions.0.proj_attn.weight", VAE_ERROR_FORMAT },
    { "kl16",  COPY_DROP,    "encoder.conv_norm_out.bias", VAE_ERROR_FORMAT },
    { "kl16",  COPY_RESHAPE, "decoder.up_blocks.0.upsamplers.0.conv.weight", VAE_ERROR_SHAPE },
    { "kl16",  COPY_RESHAPE, "encoder.down_blocks.1.resnets.0.norm2.weight", VAE_ERROR_SHAPE },
    { "flux2", COPY_RESHAPE, "bn.running_var", VAE_ERROR_SHAPE },
    { "flux2", COPY_DROP,    "bn.running_mean", VAE_ERROR_FORMAT },
    { "flux2", COPY_RESHAPE, "decoder.post_quant_conv.weight", VAE_ERROR_SHAPE },
    /* a NaN or infinity spreads to the whole image */
    { "sd",    COPY_NAN,     "first_stage_model.decoder.conv_in.weight", VAE_ERROR_FORMAT },
    { "sd",    COPY_INF,     "first_stage_model.encoder.mid.attn_1.k.bias", VAE_ERROR_FORMAT },
    { "kl16",  COPY_NAN,     "decoder.up_blocks.0.resnets.0.norm1.weight", VAE_ERROR_FORMAT },
    { "flux2", COPY_INF,     "bn.running_var", VAE_ERROR_FORMAT },
  };
  g_autofree gchar *dir = temp_dir ();
  guint             i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar   *src = data_path (cases[i].variant, "model.safetensors");
      g_autofree gchar   *dest = g_build_filename (dir, "vae.safetensors", NULL);
      g_autoptr(VaeModel) model = NULL;
      GError             *error = NULL;

      copy_model (src, dest, cases[i].mode, cases[i].name, NULL);
      model = vae_model_load (dest, &error);
      g_assert_null (model);
      g_assert_nonnull (error);
      g_test_message ("%s %s: %s", cases[i].mode == COPY_DROP ? "without" :
                      cases[i].mode == COPY_RESHAPE ? "reshaped" : "poisoned",
                      cases[i].name, error->message);
      g_assert_error (error, VAE_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].name));
      g_clear_error (&error);
      g_assert_cmpint (g_remove (dest), ==, 0);
    }

  test_remove_dir (dir);
}

/* A top-level EMA copy ("ema", as several training scripts save one
 * beside "model") is the one loaded: the model-side copy here is the
 * fixture's weights halved, the EMA copy the fixture itself. */
static void
test_ema_wrapper (void)
{
  g_autofree gchar     *src = data_path ("sd", "model.safetensors");
  g_autofree gchar     *dir = temp_dir ();
  g_autofree gchar     *dest = g_build_filename (dir, "train.safetensors",
                                                 NULL);
  g_autoptr(VaeWeights) w = NULL;
  g_autoptr(GPtrArray)  names = NULL;
  g_autoptr(GPtrArray)  halves = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray)     out = out_tensors_new ();
  g_autoptr(VaeModel)   want_model = NULL;
  g_autoptr(VaeModel)   got_model = NULL;
  g_autoptr(VaeTensor)  values = vae_tensor_new_3d (4, 5, 6, NULL);
  g_autoptr(VaeLatent)  latent = NULL;
  g_autoptr(VaeTensor)  want = NULL;
  g_autoptr(VaeTensor)  got = NULL;
  GError               *error = NULL;
  guint                 i;
  gsize                 j;

  w = vae_weights_load (src, &error);
  g_assert_no_error (error);
  names = vae_weights_list (w);
  for (i = 0; i < names->len; i++)
    {
      const VaeWeight  *t = vae_weights_lookup (w, g_ptr_array_index (names,
                                                                       i));
      gfloat           *half = g_new (gfloat, MAX (t->n_elements, 1));
      g_autofree gchar *plain = g_strconcat ("model.", t->name, NULL);
      g_autofree gchar *ema = g_strconcat ("ema.", t->name, NULL);

      for (j = 0; j < t->n_elements; j++)
        half[j] = 0.5f * t->data[j];
      g_ptr_array_add (halves, half);
      out_tensors_add (out, plain, t->n_dims, t->shape, half);
      out_tensors_add (out, ema, t->n_dims, t->shape, t->data);
    }
  write_safetensors (dest, out, NULL, NULL, NULL);

  for (j = 0; j < values->n_elements; j++)
    values->data[j] = cosf (0.3f * j);
  latent = vae_latent_new (values, &error);
  g_assert_no_error (error);

  want_model = test_load_model (src);
  got_model = test_load_model (dest);
  g_assert_true (vae_model_decode (want_model, latent, &want, NULL, NULL,
                                   NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vae_model_decode (got_model, latent, &got, NULL, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got->data, got->n_elements * sizeof (gfloat), want->data,
                   want->n_elements * sizeof (gfloat));

  g_assert_cmpint (g_remove (dest), ==, 0);
  test_remove_dir (dir);
}

/* Finite latents at the edge of the float range overflow to infinities
 * and NaN inside the network: garbage out, but no undefined behaviour on
 * the way (the sanitizer build runs this; vae_fast_exp's exponent
 * arithmetic overflowed on NaN). */
static void
test_huge_latent (void)
{
  g_autofree gchar    *path = data_path ("sd", "model.safetensors");
  g_autoptr(VaeModel)  model = test_load_model (path);
  g_autoptr(VaeTensor) t = vae_tensor_new_3d (4, 5, 6, NULL);
  g_autoptr(VaeLatent) latent = NULL;
  g_autoptr(VaeTensor) image = NULL;
  GError              *error = NULL;
  gsize                i;

  for (i = 0; i < t->n_elements; i++)
    t->data[i] = i % 2 ? 3e38f : -3e38f;
  latent = vae_latent_new (t, &error);
  g_assert_no_error (error);

  g_assert_true (vae_model_decode (model, latent, &image, NULL, NULL, NULL,
                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (image);
}

static void
test_wrong_latent (void)
{
  g_autofree gchar    *path = data_path ("sd", "model.safetensors");
  g_autoptr(VaeModel)  model = test_load_model (path);
  g_autoptr(VaeTensor) t = vae_tensor_new_3d (16, 5, 6, NULL);
  g_autoptr(VaeLatent) latent = vae_latent_new (t, NULL);
  g_autoptr(VaeTensor) image = NULL;
  GError              *error = NULL;

  g_assert_false (vae_model_decode (model, latent, &image, NULL, NULL, NULL,
                                    NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
}

static void
test_cancel (void)
{
  g_autofree gchar         *path = data_path ("kl16", "model.safetensors");
  g_autoptr(VaeModel)       model = test_load_model (path);
  g_autoptr(GCancellable)   cancellable = g_cancellable_new ();
  g_autoptr(VaeTensor)      t = vae_tensor_new_3d (16, 4, 4, NULL);
  g_autoptr(VaeLatent)      latent = vae_latent_new (t, NULL);
  g_autoptr(VaeTensor)      image = NULL;
  GError                   *error = NULL;

  g_cancellable_cancel (cancellable);
  g_assert_false (vae_model_decode (model, latent, &image, NULL, cancellable,
                                    NULL, NULL, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_CANCELLED);
  g_clear_error (&error);
}

/* --- the full-size decoder ------------------------------------------------- */

#define LARGE_SEED G_GUINT64_CONSTANT (0x5EEDC0DE)

static guint64
fnv1a64 (const gchar *text)
{
  guint64 h = G_GUINT64_CONSTANT (0xCBF29CE484222325);

  for (; *text; text++)
    h = (h ^ (guchar) *text) * G_GUINT64_CONSTANT (0x100000001B3);

  return h;
}

/* splitmix64 (Steele, Lea, Flood): output i of the stream at @state. */
static inline guint64
splitmix64 (guint64 state,
            guint64 i)
{
  guint64 z = state + (i + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);

  return z ^ (z >> 31);
}

/* 2u - 1 for u the top 24 bits of output i: exact in float. */
static inline gfloat
signed_uniform (guint64 state,
                guint64 i)
{
  gfloat u = (gfloat) (splitmix64 (state, i) >> 40) * (1.0f / 16777216.0f);

  return u * 2.0f - 1.0f;
}

/* kl_reference.generated_tensor () */
static void
fill_generated (const OutTensor *t,
                gfloat          *dest,
                gsize            n,
                gpointer         user_data)
{
  const guint64 state = LARGE_SEED ^ fnv1a64 (t->name);
  gsize         i, fan_in = 1;
  gfloat        a;
  guint         k;

  if (t->n_dims == 1 && g_str_has_suffix (t->name, "weight"))
    {
      for (i = 0; i < n; i++)
        dest[i] = signed_uniform (state, i) * 0.125f + 1.0f;
      return;
    }
  if (t->n_dims == 1)
    {
      for (i = 0; i < n; i++)
        dest[i] = signed_uniform (state, i) * 0.03125f;
      return;
    }

  for (k = 1; k < t->n_dims; k++)
    fan_in *= t->shape[k];
  a = (gfloat) sqrt (3.0 / fan_in);
  for (i = 0; i < n; i++)
    dest[i] = signed_uniform (state, i) * a;
}

/* A tensor for the fill callback, for the test_ldm_* builders. */
static void
add_generated (gpointer     tensors,
               const gchar *name,
               guint        n_dims,
               const gsize *shape)
{
  out_tensors_add (tensors, name, n_dims, shape, NULL);
}

/* The LDM tensor list of the SD decoder: channels 128, 256, 512, 512,
 * 3 ResNets per level, 4 latent channels, with post_quant_conv. */
static GArray *
large_decoder_tensors (void)
{
  static const gsize ch[] = { 128, 256, 512, 512 };
  GArray            *a = out_tensors_new ();
  gsize              c = 512;
  gint               i, j;

  test_ldm_conv (add_generated, a, "post_quant_conv", 4, 4, 1);
  test_ldm_conv (add_generated, a, "decoder.conv_in", 512, 4, 3);
  test_ldm_resnet (add_generated, a, "decoder.mid.block_1", 512, 512);
  test_ldm_norm (add_generated, a, "decoder.mid.attn_1.norm", 512);
  test_ldm_conv (add_generated, a, "decoder.mid.attn_1.q", 512, 512, 1);
  test_ldm_conv (add_generated, a, "decoder.mid.attn_1.k", 512, 512, 1);
  test_ldm_conv (add_generated, a, "decoder.mid.attn_1.v", 512, 512, 1);
  test_ldm_conv (add_generated, a, "decoder.mid.attn_1.proj_out", 512, 512, 1);
  test_ldm_resnet (add_generated, a, "decoder.mid.block_2", 512, 512);
  for (i = 3; i >= 0; i--)
    {
      for (j = 0; j < 3; j++)
        {
          g_autofree gchar *base = g_strdup_printf ("decoder.up.%d.block.%d", i, j);

          test_ldm_resnet (add_generated, a, base, c, ch[i]);
          c = ch[i];
        }
      if (i != 0)
        {
          g_autofree gchar *base = g_strdup_printf ("decoder.up.%d.upsample.conv", i);

          test_ldm_conv (add_generated, a, base, c, c, 3);
        }
    }
  test_ldm_norm (add_generated, a, "decoder.norm_out", 128);
  test_ldm_conv (add_generated, a, "decoder.conv_out", 3, 128, 3);

  return a;
}

typedef struct
{
  gdouble  mean, std, min, max;
  guint64  n_params;
  GArray  *index;    /* gsize */
  GArray  *value;    /* gdouble */
} Fingerprint;

static void
fingerprint_load (Fingerprint *fp)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data", "kl",
                                                  "large-fingerprint.txt", NULL);
  g_autofree gchar *text = NULL;
  g_auto (GStrv)    lines = NULL;
  GError           *error = NULL;
  guint             i;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  fp->index = g_array_new (FALSE, FALSE, sizeof (gsize));
  fp->value = g_array_new (FALSE, FALSE, sizeof (gdouble));

  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], " ", 2);

      if (! f[0] || ! f[1] || f[0][0] == '#')
        continue;
      if (strcmp (f[0], "mean") == 0)
        fp->mean = g_ascii_strtod (f[1], NULL);
      else if (strcmp (f[0], "std") == 0)
        fp->std = g_ascii_strtod (f[1], NULL);
      else if (strcmp (f[0], "min") == 0)
        fp->min = g_ascii_strtod (f[1], NULL);
      else if (strcmp (f[0], "max") == 0)
        fp->max = g_ascii_strtod (f[1], NULL);
      else if (strcmp (f[0], "params") == 0)
        fp->n_params = g_ascii_strtoull (f[1], NULL, 10);
      else
        {
          gsize   idx = g_ascii_strtoull (f[0], NULL, 10);
          gdouble v = g_ascii_strtod (f[1], NULL);

          g_array_append_val (fp->index, idx);
          g_array_append_val (fp->value, v);
        }
    }
  g_assert_cmpuint (fp->index->len, >=, 100);
}

static void
test_large (void)
{
  g_autofree gchar     *dir = temp_dir ();
  g_autofree gchar     *path = g_build_filename (dir, "sd-vae-random.safetensors", NULL);
  g_autoptr (GArray)    tensors = large_decoder_tensors ();
  g_autoptr (VaeTensor) latent = NULL;
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (VaeModel)  model = NULL;
  Fingerprint           fp = { 0, };
  Arch                  arch;
  GError               *error = NULL;
  gdouble               sum = 0.0, sum2 = 0.0, lo = INFINITY, hi = -INFINITY;
  gdouble               mean, std, max_diff = 0.0, max_ref = 0.0, tolerance;
  guint64               n_params = 0;
  gint64                t0;
  const guint64         state = LARGE_SEED ^ fnv1a64 ("latent");
  gsize                 i;

  fingerprint_load (&fp);
  for (i = 0; i < tensors->len; i++)
    n_params += out_elements (&g_array_index (tensors, OutTensor, i));
  g_assert_cmpuint (n_params, ==, fp.n_params);

  t0 = g_get_monotonic_time ();
  write_safetensors (path, tensors, fill_generated, NULL, NULL);

  /* It is an SD VAE decoder to the model loader. */
  model = test_load_model (path);
  g_assert_cmpstr (vae_model_get_id (model), ==, "sd-vae");
  g_assert_cmpuint (vae_model_get_factor (model), ==, 8);
  g_assert_false (vae_model_can_encode (model));
  g_assert_true (vae_model_can_decode (model));
  g_test_message ("decode 512x512: %.0f GFLOP",
                  vae_model_get_gflops (model, TRUE, 512, 512));
  g_clear_pointer (&model, vae_model_unref);

  latent = vae_tensor_new_3d (4, 64, 64, &error);
  g_assert_no_error (error);
  for (i = 0; i < latent->n_elements; i++)
    latent->data[i] = signed_uniform (state, i) * (gfloat) sqrt (3.0);

  g_assert_true (arch_open (&arch, path, &error));
  g_assert_no_error (error);
  g_test_message ("weights written and loaded in %.1f s",
                  (g_get_monotonic_time () - t0) / 1e6);
  t0 = g_get_monotonic_time ();
  image = arch_run (&arch, TRUE, latent, FALSE, 0);
  g_test_message ("decoded in %.1f s", (g_get_monotonic_time () - t0) / 1e6);
  arch_close (&arch);
  g_assert_cmpuint (image->n_elements, ==, 3 * 512 * 512);

  for (i = 0; i < image->n_elements; i++)
    {
      gdouble x = image->data[i];

      sum += x;
      sum2 += x * x;
      lo = MIN (lo, x);
      hi = MAX (hi, x);
    }
  mean = sum / image->n_elements;
  std = sqrt (MAX (sum2 / image->n_elements - mean * mean, 0.0));
  for (i = 0; i < fp.index->len; i++)
    {
      gsize   idx = g_array_index (fp.index, gsize, i);
      gdouble ref = g_array_index (fp.value, gdouble, i);

      g_assert_cmpuint (idx, <, image->n_elements);
      max_diff = MAX (max_diff, fabs (image->data[idx] - ref));
      if (isnan (image->data[idx]))
        max_diff = INFINITY;
      max_ref = MAX (max_ref, fabs (ref));
    }

  tolerance = TOLERANCE * MAX (1.0, max_ref);
  g_test_message ("mean %.7f (ref %.7f), std %.7f (ref %.7f), range [%.4f, "
                  "%.4f] (ref [%.4f, %.4f]); %u samples: max |diff| %.3g "
                  "(tolerance %.3g)", mean, fp.mean, std, fp.std, lo, hi,
                  fp.min, fp.max, fp.index->len, max_diff, tolerance);
  g_assert_cmpfloat (max_diff, <=, tolerance);
  g_assert_cmpfloat (fabs (mean - fp.mean), <=, STAT_TOLERANCE * MAX (1.0, fabs (fp.mean)));
  g_assert_cmpfloat (fabs (std - fp.std), <=, STAT_TOLERANCE * MAX (1.0, fp.std));
  g_assert_cmpfloat (fabs (lo - fp.min), <=, tolerance);
  g_assert_cmpfloat (fabs (hi - fp.max), <=, tolerance);

  g_array_unref (fp.index);
  g_array_unref (fp.value);
  test_remove_dir (dir);
}

int
main (int    argc,
      char **argv)
{
  guint i;

  g_test_init (&argc, &argv, NULL);

  /* meson runs this one on its own, as suite models-large (-p), and skips
   * it in suite models (-s). */
  g_test_add_func ("/kl/large/sd-decoder-512", test_large);

  for (i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      const Variant *v = &variants[i];
      static const struct
      {
        const gchar   *name;
        GTestDataFunc  func;
      } tests[] =
      {
        { "info",      test_info },
        { "encode",    test_encode },
        { "decode",    test_decode },
        { "model-api", test_model_api },
        { "halves",    test_halves },
      };
      guint j;

      for (j = 0; j < G_N_ELEMENTS (tests); j++)
        {
          g_autofree gchar *path = g_strdup_printf ("/kl/%s/%s", v->variant,
                                                    tests[j].name);

          g_test_add_data_func (path, v, tests[j].func);
        }
    }
  g_test_add_func ("/kl/flux2/normalisation", test_flux2_normalisation);
  g_test_add_func ("/kl/flux2/encoder-named-file", test_encoder_named_file);
  g_test_add_func ("/kl/metadata", test_metadata);
  g_test_add_func ("/kl/damaged", test_damaged);
  g_test_add_func ("/kl/wrong-latent", test_wrong_latent);
  g_test_add_func ("/kl/huge-latent", test_huge_latent);
  g_test_add_func ("/kl/ema-wrapper", test_ema_wrapper);
  g_test_add_func ("/kl/cancel", test_cancel);

  return g_test_run ();
}
