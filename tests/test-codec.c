/* gimp-vae tests: the range coder, the generic latent coder and the .vaez
 * container
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * References: the ideal code length -sum log2 p of the symbols coded
 * (computed here in double from the same tables, independent of the
 * coder), exact round trips, hand-made damaged files, and for the learned
 * codec tests/data/codec/reference.safetensors (tests/gen-codec-reference.py:
 * PyTorch's functional seed-f16 and numpy quantisation, contexts and ideal
 * code lengths, from docs/compression.md).
 */

#include <math.h>
#include <string.h>

#include "vae.h"
#include "png-io.h"
#include "vae-model-private.h"
#include "vae-weights.h"
#include "codec/entropy-model.h"
#include "codec/latent-coder.h"
#include "codec/range-coder.h"
#include "test-util.h"

/* A range coder with 32-bit range and 16-bit totals loses about 2^-8
 * relative precision per symbol in the worst case, far less on average;
 * plus the few bytes of its flush. */
#define CODER_OVERHEAD 0.005
#define CODER_SLACK_BYTES 8

static guint64 rng_state;

static guint32
rng_next (void)
{
  /* xorshift64*: enough for test data, identical on every machine */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (guint32) ((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static gdouble
rng_uniform (void)
{
  return (rng_next () + 0.5) / 4294967296.0;
}

static gint32
rng_laplace (gdouble scale)
{
  gdouble u = rng_uniform () - 0.5;

  return (gint32) nearbyint (-scale * copysign (log (1.0 - 2.0 * fabs (u)), u));
}

/* A strictly increasing cumulative table of n symbols from random
 * weights. */
static guint32 *
random_cdf (guint n)
{
  guint32 *cdf = g_new (guint32, n + 1);
  gdouble *w = g_new (gdouble, n);
  gdouble  total = 0.0;
  guint    i;

  for (i = 0; i < n; i++)
    total += w[i] = pow (rng_uniform (), 3.0) + 1e-3;
  cdf[0] = 0;
  for (i = 1; i < n; i++)
    {
      guint32 c = (guint32) (VAE_RC_FREQ_TOTAL * (w[i - 1] / total)) + cdf[i - 1];

      cdf[i] = MAX (c, cdf[i - 1] + 1);
    }
  cdf[n] = VAE_RC_FREQ_TOTAL;
  for (i = n - 1; i > 0 && cdf[i] >= cdf[i + 1]; i--)
    cdf[i] = cdf[i + 1] - 1;
  g_free (w);

  return cdf;
}

static void
test_range_coder_roundtrip (void)
{
  const guint   n_tables = 8;
  const guint   n = 200000;
  guint32      *cdf[8];
  guint         sizes[8];
  guint        *table = g_new (guint, n);
  guint        *symbol = g_new (guint, n);
  guint32      *raw = g_new (guint32, n);
  guint        *bit = g_new (guint, n);
  GByteArray   *out = g_byte_array_new ();
  VaeRangeEncoder enc;
  VaeRangeDecoder dec;
  VaeBitModel   model_e[4];
  VaeBitModel   model_d[4];
  gdouble       ideal = 0.0;
  guint         i;

  rng_state = 12345;
  for (i = 0; i < n_tables; i++)
    {
      sizes[i] = 2 + rng_next () % 300;
      cdf[i] = random_cdf (sizes[i]);
    }
  for (i = 0; i < 4; i++)
    {
      vae_bit_model_init (&model_e[i]);
      vae_bit_model_init (&model_d[i]);
    }

  vae_range_encoder_init (&enc, out);
  for (i = 0; i < n; i++)
    {
      guint32 u = rng_next () % VAE_RC_FREQ_TOTAL;
      guint   s = 0;

      table[i] = rng_next () % n_tables;
      /* symbols drawn from the table's own distribution */
      while (cdf[table[i]][s + 1] <= u)
        s++;
      symbol[i] = s;
      ideal -= log2 ((cdf[table[i]][s + 1] - cdf[table[i]][s]) /
                     (gdouble) VAE_RC_FREQ_TOTAL);
      vae_range_encode (&enc, cdf[table[i]][s], cdf[table[i]][s + 1] - cdf[table[i]][s]);

      bit[i] = rng_uniform () < 0.1 + 0.25 * (i % 4);
      vae_range_encode_bit (&enc, &model_e[i % 4], bit[i]);
      raw[i] = rng_next () & 0x7ff;
      vae_range_encode_bypass (&enc, raw[i], 11);
    }
  vae_range_encoder_finish (&enc);

  vae_range_decoder_init (&dec, out->data, out->len);
  for (i = 0; i < n; i++)
    {
      guint s = vae_range_decode (&dec, cdf[table[i]], sizes[table[i]]);

      if (s != symbol[i])
        g_error ("symbol %u: decoded %u, coded %u", i, s, symbol[i]);
      g_assert_cmpuint (vae_range_decode_bit (&dec, &model_d[i % 4]), ==, bit[i]);
      g_assert_cmpuint (vae_range_decode_bypass (&dec, 11), ==, raw[i]);
    }

  /* the multi-symbol part is close to ideal; the adaptive bits and the
   * raw bits are counted at what they may cost at most */
  g_assert_cmpfloat (out->len * 8.0, <=,
                     (ideal + n * 11.0 + n * 1.0) * (1 + CODER_OVERHEAD) +
                     8 * CODER_SLACK_BYTES);

  for (i = 0; i < n_tables; i++)
    g_free (cdf[i]);
  g_free (table);
  g_free (symbol);
  g_free (raw);
  g_free (bit);
  g_byte_array_unref (out);
}

/* Only a static model: the size must be within the stated overhead of the
 * ideal code length. */
static void
test_range_coder_efficiency (void)
{
  const guint     n = 100000;
  guint32        *cdf;
  GByteArray     *out = g_byte_array_new ();
  VaeRangeEncoder enc;
  gdouble         ideal = 0.0;
  guint           i;

  rng_state = 777;
  cdf = random_cdf (64);
  vae_range_encoder_init (&enc, out);
  for (i = 0; i < n; i++)
    {
      guint32 u = rng_next () % VAE_RC_FREQ_TOTAL;
      guint   s = 0;

      while (cdf[s + 1] <= u)
        s++;
      ideal -= log2 ((cdf[s + 1] - cdf[s]) / (gdouble) VAE_RC_FREQ_TOTAL);
      vae_range_encode (&enc, cdf[s], cdf[s + 1] - cdf[s]);
    }
  vae_range_encoder_finish (&enc);

  g_test_message ("%u symbols: %.1f bytes ideal, %u coded", n, ideal / 8, out->len);
  g_assert_cmpfloat (out->len, <=, ideal / 8 * (1 + CODER_OVERHEAD) + CODER_SLACK_BYTES);
  g_assert_cmpfloat (out->len, >=, ideal / 8 - 1);

  g_free (cdf);
  g_byte_array_unref (out);
}

/* Damaged streams decode to some symbols, never out of range, never
 * hang. */
static void
test_range_coder_garbage (void)
{
  guint8          data[4096];
  guint32        *cdf;
  VaeRangeDecoder dec;
  VaeBitModel     m;
  guint           i;

  rng_state = 99;
  cdf = random_cdf (37);
  for (i = 0; i < sizeof (data); i++)
    data[i] = i < 64 ? 0xff : rng_next ();
  vae_bit_model_init (&m);
  vae_range_decoder_init (&dec, data, sizeof (data));
  for (i = 0; i < 100000; i++)
    {
      g_assert_cmpuint (vae_range_decode (&dec, cdf, 37), <, 37);
      vae_range_decode_bit (&dec, &m);
      vae_range_decode_bypass (&dec, 5);
    }
  g_free (cdf);
}

/* --- the generic latent coder ------------------------------------------ */

static void
test_latent_coder_roundtrip (void)
{
  const guint C = 6;
  const guint H = 37;
  const guint W = 53;
  gsize       n = (gsize) C * H * W;
  gint32     *q = g_new (gint32, n);
  gint32     *back = g_new (gint32, n);
  GByteArray *out = g_byte_array_new ();
  GHashTable *counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  GHashTableIter iter;
  gpointer    key;
  gpointer    value;
  gdouble     entropy = 0.0;
  gsize       i;

  rng_state = 4242;
  for (i = 0; i < n; i++)
    {
      /* mostly small, a few far outside the unary range, the extremes */
      q[i] = rng_laplace (1.5);
      if (i % 997 == 0)
        q[i] = (gint32) (rng_next () % 100000) - 50000;
    }
  q[5] = VAE_CODEC_MAX_MAGNITUDE;
  q[6] = -VAE_CODEC_MAX_MAGNITUDE;

  for (i = 0; i < n; i++)
    {
      gpointer k = GINT_TO_POINTER (q[i]);

      g_hash_table_insert (counts, k,
                           GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (counts, k)) + 1));
    }
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gdouble p = GPOINTER_TO_INT (value) / (gdouble) n;

      entropy -= GPOINTER_TO_INT (value) * log2 (p);
    }

  vae_latent_coder_encode (q, C, H, W, out);
  g_assert_true (vae_latent_coder_decode (out->data, out->len, C, H, W, back, NULL));
  g_assert_cmpmem (q, n * sizeof (gint32), back, n * sizeof (gint32));

  /* i.i.d. values: the adaptive coder cannot beat their empirical entropy
   * by much, and should not lose more than its learning costs (the rare
   * large values cost their Exp-Golomb bits) */
  g_test_message ("%" G_GSIZE_FORMAT " values: empirical entropy %.0f bytes, "
                  "coded %u", n, entropy / 8, out->len);
  g_assert_cmpfloat (out->len, <, entropy / 8 * 1.15 + 64);

  g_hash_table_unref (counts);
  g_free (q);
  g_free (back);
  g_byte_array_unref (out);
}

/* --- the container ------------------------------------------------------- */

static VaeLatent *
smooth_latent (guint c,
               guint h,
               guint w)
{
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (c, h, w, NULL);
  gfloat    *d = vae_tensor_get_data (t);
  VaeLatent *latent;
  guint      k;
  guint      y;
  guint      x;

  rng_state = 31337;
  for (k = 0; k < c; k++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        d[((gsize) k * h + y) * w + x] =
          (k + 1) * 0.3f * sinf (0.21f * x + k) * cosf (0.13f * y) +
          0.2f * (gfloat) (rng_uniform () - 0.5) + k;
  latent = vae_latent_new (t, NULL);
  vae_latent_set_model (latent, "some-model",
                        "sha256:0123456789abcdef0123456789abcdef");
  vae_latent_set_image_size (latent, w * 8 - 3, h * 8);

  return latent;
}

static void
test_container_latent (void)
{
  g_autoptr (VaeLatent) latent = smooth_latent (4, 40, 56);
  g_autoptr (VaeLatent) back = NULL;
  g_autoptr (GBytes)    file = NULL;
  VaeCompressSettings   settings;
  VaeCompressedInfo     info;
  const gfloat         *a;
  const gfloat         *b;
  guint                 width;
  guint                 height;
  gdouble               worst = 0.0;
  gsize                 i;

  vae_compress_settings_init (&settings);
  settings.quality = 80;
  file = vae_compress_latent (latent, &settings, NULL);
  g_assert_nonnull (file);

  g_assert_true (vae_compressed_read_info (file, &info, NULL));
  g_assert_cmpint (info.kind, ==, VAE_COMPRESS_LATENT);
  g_assert_cmpstr (info.model_id, ==, "some-model");
  g_assert_cmpstr (info.model_hash, ==, "0123456789abcdef");
  g_assert_cmpuint (info.width, ==, 56 * 8 - 3);
  g_assert_cmpuint (info.height, ==, 40 * 8);
  g_assert_cmpuint (info.channels, ==, 4);
  g_assert_cmpfloat (info.quality, ==, 80.0);
  g_assert_cmpuint (info.size, ==, g_bytes_get_size (file));
  vae_compressed_info_clear (&info);

  back = vae_decompress_latent (NULL, file, NULL);
  g_assert_nonnull (back);
  g_assert_cmpstr (vae_latent_get_model_id (back), ==, "some-model");
  g_assert_cmpstr (vae_latent_get_model_hash (back), ==,
                   "sha256:0123456789abcdef0123456789abcdef");
  g_assert_true (vae_latent_get_image_size (back, &width, &height));
  g_assert_cmpuint (width, ==, 56 * 8 - 3);
  g_assert_cmpuint (height, ==, 40 * 8);

  /* quality 80: a step of 2^(2 - 800/125) = 0.047 standard deviations per
   * channel; uniform quantisation errs by at most half a step */
  a = vae_tensor_peek_data (vae_latent_get_tensor (latent));
  b = vae_tensor_peek_data (vae_latent_get_tensor (back));
  for (i = 0; i < 4 * 40 * 56; i++)
    worst = MAX (worst, fabs (a[i] - b[i]) / ((i / (40 * 56) + 1) * 0.3 / sqrt (2)));
  g_test_message ("worst error %.4f of a channel's spread", worst);
  g_assert_cmpfloat (worst, <=, 0.5 * exp2 (2.0 - 800 / 125.0) * 1.2);
}

typedef GBytes * (* CompressFunc) (const VaeCompressSettings *settings,
                                    gpointer                   data);

/* A file for each of the @n_targets rates at @targets: never over the
 * rate, and under it by little (a quality step is 0.1). */
static void
check_rate_control (const gdouble *targets,
                    guint          n_targets,
                    CompressFunc   compress,
                    gpointer       data)
{
  guint i;

  for (i = 0; i < n_targets; i++)
    {
      g_autoptr (GBytes)  file = NULL;
      VaeCompressSettings settings;
      VaeCompressedInfo   info;

      vae_compress_settings_init (&settings);
      settings.target_bpp = targets[i];
      file = compress (&settings, data);
      g_assert_true (vae_compressed_read_info (file, &info, NULL));
      g_test_message ("target %.3f bpp: %.4f bpp at quality %.1f",
                      targets[i], info.bpp, info.quality);
      g_assert_cmpfloat (info.bpp, <=, targets[i]);
      g_assert_cmpfloat (info.bpp, >=, targets[i] * 0.9);
      vae_compressed_info_clear (&info);
    }
}

static GBytes *
compress_latent (const VaeCompressSettings *settings,
                 gpointer                   latent)
{
  return vae_compress_latent (latent, settings, NULL);
}

static void
test_container_rate_control (void)
{
  g_autoptr (VaeLatent) latent = smooth_latent (16, 48, 64);
  const gdouble         targets[] = { 0.05, 0.1, 0.25, 0.5, 1.0 };

  check_rate_control (targets, G_N_ELEMENTS (targets), compress_latent,
                      latent);
}

/* Every truncation and a flip of every byte give an error, never a crash
 * (the checksum covers the file). */
static void
test_container_damage (void)
{
  g_autoptr (VaeLatent) latent = smooth_latent (3, 8, 8);
  g_autoptr (GBytes)    file = NULL;
  VaeCompressSettings   settings;
  const guint8         *data;
  gsize                 size;
  gsize                 i;

  vae_compress_settings_init (&settings);
  file = vae_compress_latent (latent, &settings, NULL);
  data = g_bytes_get_data (file, &size);

  for (i = 0; i < size; i++)
    {
      g_autoptr (GBytes)    cut = g_bytes_new (data, i);
      g_autoptr (GError)    error = NULL;
      g_autoptr (VaeLatent) back = vae_decompress_latent (NULL, cut, &error);

      g_assert_null (back);
      g_assert_error (error, VAE_ERROR, VAE_ERROR_FORMAT);
    }
  for (i = 0; i < size; i++)
    {
      g_autofree guint8    *copy = g_memdup2 (data, size);
      g_autoptr (GBytes)    bad = NULL;
      g_autoptr (GError)    error = NULL;
      g_autoptr (VaeLatent) back = NULL;

      copy[i] ^= 0x10;
      bad = g_bytes_new (copy, size);
      back = vae_decompress_latent (NULL, bad, &error);
      g_assert_null (back);
      g_assert_nonnull (error);
    }
}

/* --- the learned codec (seed-f16-codec) ----------------------------------- */

/* Latents quantised by libvae's encoder and by PyTorch's round to other
 * integers only where a value lies within float noise of a rounding
 * boundary. */
#define Q_AGREEMENT 0.995
/* The coder against the ideal code length of the same symbols: the range
 * coder's loss, plus a few bytes. */
#define RATE_OVERHEAD 0.01
#define RATE_SLACK_BITS 64
/* The decoder's output against PyTorch's for the same latents (the
 * reference stored as F16: 1e-3 of rounding), as in test-seed-f16.c. */
#define IMAGE_TOLERANCE 3e-3

static VaeModel *
codec_model (void)
{
  g_autofree gchar *path = test_shipped_model ("seed-f16-codec");
  /* the repository ships it: no skip */
  VaeModel         *model = test_load_model (path);

  g_assert_true (vae_model_can_compress (model));

  return model;
}

/* The crop gen-codec-reference.py uses: rows 100..243, columns 250..457
 * of kodim23. */
static VaeTensor *
reference_crop (void)
{
  const gchar      *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar *path = NULL;
  g_autoptr (VaeTensor) photo = NULL;
  VaeTensor        *crop;

  if (shared == NULL)
    return NULL;
  path = g_build_filename (shared, "data", "kodak", "kodim23.png", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  photo = test_read_png (path);
  crop = vae_image_crop (photo, 250, 100, 208, 144, NULL);
  g_assert_nonnull (crop);

  return crop;
}

static VaeWeights *
reference_data (void)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data", "codec",
                                                  "reference.safetensors", NULL);

  return test_load_weights (path);
}

static void
test_learned_matches_reference (void)
{
  static const guint qualities[] = { 0, 375, 1000 };
  g_autoptr (VaeModel)  model = codec_model ();
  g_autoptr (VaeTensor) crop = reference_crop ();
  VaeWeights           *ref;
  guint                 i;

  if (crop == NULL)
    {
      g_test_skip ("kodim23 is not in VAE_SHARED_DIR");
      return;
    }
  ref = reference_data ();

  for (i = 0; i < G_N_ELEMENTS (qualities); i++)
    {
      g_autofree gchar      *qname = g_strdup_printf ("q-%u", qualities[i]);
      g_autofree gchar      *bname = g_strdup_printf ("bits-%u", qualities[i]);
      g_autoptr (GBytes)     file = NULL;
      g_autoptr (VaeLatent)  latent = NULL;
      g_autoptr (GError)     error = NULL;
      const VaeEntropyModel *em = vae_model_get_entropy_model (model);
      const VaeWeight       *wq = vae_weights_lookup (ref, qname);
      const gfloat          *want;
      const gfloat          *bits;
      g_autofree gint32     *q = NULL;
      VaeCompressSettings    settings;
      VaeCompressedInfo      info;
      gsize                  n;
      gsize                  same = 0;
      gsize                  j;
      gdouble                coded;

      g_assert_nonnull (wq);
      n = wq->n_elements;
      want = vae_weights_get (ref, qname, wq->n_dims, wq->shape, &error);
      bits = vae_weights_get_1d (ref, bname, 1, &error);
      g_assert_no_error (error);

      vae_compress_settings_init (&settings);
      settings.quality = qualities[i] / 10.0;
      file = vae_compress_image (model, crop, &settings, NULL, NULL, NULL, NULL,
                                 &error);
      g_assert_no_error (error);
      g_assert_true (vae_compressed_read_info (file, &info, &error));
      g_assert_cmpint (info.kind, ==, VAE_COMPRESS_LEARNED);
      g_assert_cmpstr (info.model_id, ==, "seed-f16-codec");
      g_assert_cmpuint (info.width, ==, 208);
      g_assert_cmpuint (info.height, ==, 144);
      g_assert_cmpuint (info.channels * info.latent_height * info.latent_width, ==, n);

      /* the symbols, read back by the decoder */
      latent = vae_decompress_latent (model, file, &error);
      g_assert_no_error (error);
      q = g_new (gint32, n);
      {
        const gfloat *zh = vae_tensor_peek_data (vae_latent_get_tensor (latent));
        gsize         plane = n / info.channels;
        g_autofree gfloat *back = g_new (gfloat, n);

        /* re-quantising the dequantised latents gives the symbols back */
        vae_entropy_model_quantize (em, qualities[i], zh, plane, q);
        vae_entropy_model_dequantize (em, qualities[i], q, plane, back);
        g_assert_cmpmem (zh, n * sizeof (gfloat), back, n * sizeof (gfloat));
      }
      for (j = 0; j < n; j++)
        same += q[j] == (gint32) want[j];
      coded = 8.0 * info.size;
      g_test_message ("quality %.1f: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                      " symbols as PyTorch's; file %.0f bits, ideal %.0f bits "
                      "for the symbols", qualities[i] / 10.0, same, n, coded,
                      bits[0]);
      g_assert_cmpfloat (same, >=, Q_AGREEMENT * n);
      /* the whole file against the reference symbols' ideal length plus
       * the header: only where the symbols agree is this exact */
      g_assert_cmpfloat (coded, <=, bits[0] * (1 + RATE_OVERHEAD) + RATE_SLACK_BITS +
                         8 * 60 + 32 * (n - same));
      g_assert_cmpfloat (coded, >=, bits[0] * (1 - RATE_OVERHEAD) - 32.0 * (n - same));

      if (qualities[i] == 375)
        {
          g_autoptr (VaeTensor) image = NULL;
          const VaeWeight      *wi = vae_weights_lookup (ref, "image-375");
          const gfloat         *want_img;
          const gfloat         *got;
          gdouble               worst = 0.0;

          /* decoding the very symbols PyTorch decoded: only where all
           * agree is the image comparable pixel by pixel */
          g_assert_cmpuint (same, ==, n);
          want_img = vae_weights_get (ref, "image-375", wi->n_dims, wi->shape, &error);
          g_assert_no_error (error);
          image = vae_decompress_image (model, file, NULL, NULL, NULL, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (vae_tensor_get_n_elements (image), ==, wi->n_elements);
          got = vae_tensor_peek_data (image);
          /* the public decode clamps to [0, 1] */
          for (j = 0; j < wi->n_elements; j++)
            worst = MAX (worst, fabs (got[j] - CLAMP (want_img[j], 0.0f, 1.0f)));
          g_test_message ("decoded image: max |difference| %.2e", worst);
          g_assert_cmpfloat (worst, <=, IMAGE_TOLERANCE);
        }
      vae_compressed_info_clear (&info);
    }
  vae_weights_free (ref);
}

/* A file made on the plain reference kernels decodes to the same symbols
 * and, within float noise, the same image on the optimised path, and the
 * other way round: the entropy coding never depends on the code path. */
static void
test_learned_cross_path (void)
{
  g_autoptr (VaeModel)  model = codec_model ();
  g_autoptr (VaeTensor) whole = reference_crop ();
  g_autoptr (VaeTensor) crop = NULL;
  GBytes               *file[2];
  VaeLatent            *latent[2][2];
  VaeTensor            *image[2][2];
  VaeOptions            options[2];
  VaeCompressSettings   settings;
  gint                  enc;
  gint                  dec;
  gsize                 n;
  gsize                 i;
  gsize                 agree = 0;

  if (whole == NULL)
    {
      g_test_skip ("kodim23 is not in VAE_SHARED_DIR");
      return;
    }
  /* small: the reference kernels are slow */
  crop = vae_image_crop (whole, 40, 30, 96, 80, NULL);
  vae_compress_settings_init (&settings);
  settings.quality = 50;
  for (enc = 0; enc < 2; enc++)
    {
      vae_options_init (&options[enc]);
      options[enc].reference = enc == 1;
    }
  for (enc = 0; enc < 2; enc++)
    {
      file[enc] = vae_compress_image (model, crop, &settings, &options[enc],
                                      NULL, NULL, NULL, NULL);
      g_assert_nonnull (file[enc]);
      for (dec = 0; dec < 2; dec++)
        {
          latent[enc][dec] = vae_decompress_latent (model, file[enc], NULL);
          image[enc][dec] = vae_decompress_image (model, file[enc], &options[dec],
                                                  NULL, NULL, NULL, NULL);
          g_assert_nonnull (latent[enc][dec]);
          g_assert_nonnull (image[enc][dec]);
        }
    }

  for (enc = 0; enc < 2; enc++)
    {
      const VaeTensor *a = vae_latent_get_tensor (latent[enc][0]);
      const VaeTensor *b = vae_latent_get_tensor (latent[enc][1]);
      const gfloat    *pa = vae_tensor_peek_data (image[enc][0]);
      const gfloat    *pb = vae_tensor_peek_data (image[enc][1]);

      n = vae_tensor_get_n_elements (a);
      g_assert_cmpmem (vae_tensor_peek_data (a), n * sizeof (gfloat),
                       vae_tensor_peek_data (b), n * sizeof (gfloat));
      for (i = 0; i < vae_tensor_get_n_elements (image[enc][0]); i++)
        g_assert_cmpfloat (fabs (pa[i] - pb[i]), <=, 1e-4);
    }

  /* the two encoders agree but for values on a rounding boundary */
  {
    const gfloat *a = vae_tensor_peek_data (vae_latent_get_tensor (latent[0][0]));
    const gfloat *b = vae_tensor_peek_data (vae_latent_get_tensor (latent[1][0]));

    for (i = 0; i < n; i++)
      agree += a[i] == b[i];
    g_test_message ("%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                    " symbols agree between the encoders", agree, n);
    g_assert_cmpfloat (agree, >=, Q_AGREEMENT * n);
  }

  for (enc = 0; enc < 2; enc++)
    {
      g_bytes_unref (file[enc]);
      for (dec = 0; dec < 2; dec++)
        {
          vae_latent_unref (latent[enc][dec]);
          vae_tensor_unref (image[enc][dec]);
        }
    }
}

typedef struct
{
  VaeModel  *model;
  VaeTensor *image;
} ImageJob;

static GBytes *
compress_image (const VaeCompressSettings *settings,
                gpointer                   data)
{
  ImageJob *job = data;

  return vae_compress_image (job->model, job->image, settings, NULL, NULL,
                             NULL, NULL, NULL);
}

static void
test_learned_rate_control (void)
{
  g_autoptr (VaeModel)  model = codec_model ();
  g_autoptr (VaeTensor) crop = reference_crop ();
  const gdouble         targets[] = { 0.1, 0.25, 0.4 };
  ImageJob              job = { model, crop };

  if (crop == NULL)
    {
      g_test_skip ("kodim23 is not in VAE_SHARED_DIR");
      return;
    }
  check_rate_control (targets, G_N_ELEMENTS (targets), compress_image, &job);
}

/* A learned file names its model: another model is refused. */
static void
test_learned_other_model (void)
{
  g_autoptr (VaeModel)  model = codec_model ();
  g_autoptr (VaeModel)  other = NULL;
  g_autoptr (VaeTensor) image = vae_tensor_new_3d (3, 48, 64, NULL);
  g_autoptr (GBytes)    file = NULL;
  g_autoptr (GError)    error = NULL;
  g_autoptr (VaeLatent) latent = NULL;
  g_autofree gchar     *path = test_shipped_model ("seed-f16");
  VaeCompressSettings   settings;

  vae_compress_settings_init (&settings);
  file = vae_compress_image (model, image, &settings, NULL, NULL, NULL, NULL,
                             &error);
  g_assert_no_error (error);
  other = test_load_model (path);
  latent = vae_decompress_latent (other, file, &error);
  g_assert_null (latent);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
  g_clear_error (&error);
  latent = vae_decompress_latent (NULL, file, &error);
  g_assert_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/codec/range-coder/roundtrip", test_range_coder_roundtrip);
  g_test_add_func ("/codec/range-coder/efficiency", test_range_coder_efficiency);
  g_test_add_func ("/codec/range-coder/garbage", test_range_coder_garbage);
  g_test_add_func ("/codec/latent-coder/roundtrip", test_latent_coder_roundtrip);
  g_test_add_func ("/codec/container/latent", test_container_latent);
  g_test_add_func ("/codec/container/rate-control", test_container_rate_control);
  g_test_add_func ("/codec/container/damage", test_container_damage);
  g_test_add_func ("/codec/learned/matches-reference", test_learned_matches_reference);
  g_test_add_func ("/codec/learned/cross-path", test_learned_cross_path);
  g_test_add_func ("/codec/learned/rate-control", test_learned_rate_control);
  g_test_add_func ("/codec/learned/other-model", test_learned_other_model);

  return g_test_run ();
}
