/* gimp-vae tests: PSNR, SSIM, MS-SSIM, 8-bit quantization, difference maps
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reference: tests/data/metrics/reference.txt, written by
 * tests/gen-metrics-reference.py (float64 torch, full 2-D window; see
 * there).  The test images are rebuilt here with the same integer recipes,
 * so both sides score identical 8-bit images; the photo case reads
 * kodim23.png from VAE_SHARED_DIR.
 */

#include <math.h>
#include <string.h>

#include <gio/gio.h>

#include "vae.h"
#include "test-util.h"

/* Both sides work in float64 on the same inputs; what differs is the
 * order of summation (separable and streaming here, 2-D there) and libvae's
 * float 2x2 averaging between MS-SSIM scales.  Seen: below 1e-9. */
#define METRIC_TOLERANCE 1e-6

#define SSIM_C1 (0.01 * 0.01)

/* ------------------------------------------------------------------ */
/* Test images: the recipes of gen-metrics-reference.py                */

typedef struct
{
  gsize  c, h, w;
  gint  *v;        /* 8-bit values, [c][h][w] */
} Image8;

static Image8 *
image8_new (gsize c,
            gsize h,
            gsize w)
{
  Image8 *im = g_new (Image8, 1);

  im->c = c;
  im->h = h;
  im->w = w;
  im->v = g_new0 (gint, c * h * w);

  return im;
}

static void
image8_free (Image8 *im)
{
  if (im)
    {
      g_free (im->v);
      g_free (im);
    }
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Image8, image8_free)

#define AT(im, ch, y, x) ((im)->v[((ch) * (im)->h + (y)) * (im)->w + (x)])

static void
splitmix64_bytes (guint64  seed,
                  gsize    n,
                  gint    *out)
{
  guint64 state = seed;
  gsize   i;

  for (i = 0; i < n; i++)
    {
      guint64 z;

      state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
      z = state;
      z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
      z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
      out[i] = (gint) ((z ^ (z >> 31)) >> 56);
    }
}

/* Sum over a (2r+1)^2 box with clamped coordinates. */
static Image8 *
box_sum (const Image8 *im,
         gint          r)
{
  Image8 *out = image8_new (im->c, im->h, im->w);
  gsize   ch;
  gint    y, x, dy, dx;
  gint    h = (gint) im->h, w = (gint) im->w;

  for (ch = 0; ch < im->c; ch++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        {
          gint s = 0;

          for (dy = -r; dy <= r; dy++)
            for (dx = -r; dx <= r; dx++)
              s += AT (im, ch, CLAMP (y + dy, 0, h - 1), CLAMP (x + dx, 0, w - 1));
          AT (out, ch, y, x) = s;
        }

  return out;
}

static Image8 *
synthetic (guint64 seed,
           gsize   c,
           gsize   h,
           gsize   w)
{
  g_autoptr (Image8) noise = image8_new (c, h, w);
  g_autoptr (Image8) sum = NULL;
  Image8 *out = image8_new (c, h, w);
  gsize   ch, y, x;

  splitmix64_bytes (seed, c * h * w, noise->v);
  sum = box_sum (noise, 2);
  for (ch = 0; ch < c; ch++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        {
          gint smooth = AT (sum, ch, y, x) / 25;
          gint ramp = (gint) ((2 * x + y + 37 * ch) % 160);

          AT (out, ch, y, x) = CLAMP ((smooth - 128) * 3 + 48 + ramp, 0, 255);
        }

  return out;
}

static Image8 *
distort (const Image8 *im,
         const gchar  *kind,
         guint64       seed)
{
  Image8 *out = image8_new (im->c, im->h, im->w);
  gsize   n = im->c * im->h * im->w;
  gsize   i, ch, y, x;

  if (strcmp (kind, "identical") == 0)
    {
      memcpy (out->v, im->v, n * sizeof (gint));
    }
  else if (strcmp (kind, "noise") == 0)
    {
      splitmix64_bytes (seed + 1000, n, out->v);
      for (i = 0; i < n; i++)
        out->v[i] = CLAMP (im->v[i] + (out->v[i] >> 3) - 16, 0, 255);
    }
  else if (strcmp (kind, "blur") == 0)
    {
      g_autoptr (Image8) sum = box_sum (im, 1);

      for (i = 0; i < n; i++)
        out->v[i] = (sum->v[i] + 4) / 9;
    }
  else if (strcmp (kind, "shift") == 0)
    {
      for (ch = 0; ch < im->c; ch++)
        for (y = 0; y < im->h; y++)
          for (x = 0; x < im->w; x++)
            AT (out, ch, y, x) = AT (im, ch, y, MIN (x + 2, im->w - 1));
    }
  else if (strcmp (kind, "contrast") == 0)
    {
      for (i = 0; i < n; i++)
        out->v[i] = (im->v[i] + 128) / 2;
    }
  else if (strcmp (kind, "invert") == 0)
    {
      for (i = 0; i < n; i++)
        out->v[i] = 255 - im->v[i];
    }
  else
    {
      g_error ("unknown distortion %s in the reference", kind);
    }

  return out;
}

static VaeTensor *
to_tensor (const Image8 *im)
{
  VaeTensor *t = vae_tensor_new_3d (im->c, im->h, im->w, NULL);
  gfloat    *d = vae_tensor_get_data (t);
  gsize      i;

  for (i = 0; i < im->c * im->h * im->w; i++)
    d[i] = (gfloat) (im->v[i] / 255.0);

  return t;
}

/* ------------------------------------------------------------------ */
/* A minimal PNG reader: 8-bit RGB or RGBA, not interlaced, as the Kodak
 * files are.  Only what the photo case needs. */

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | p[3];
}

static guint8
paeth (gint a,
       gint b,
       gint c)
{
  gint p = a + b - c;
  gint pa = ABS (p - a), pb = ABS (p - b), pc = ABS (p - c);

  if (pa <= pb && pa <= pc)
    return a;
  return pb <= pc ? b : c;
}

static Image8 *
read_png_rgb (const gchar  *path,
              GError      **error)
{
  static const guint8 signature[8] = { 137, 'P', 'N', 'G', 13, 10, 26, 10 };
  g_autofree guint8 *file = NULL;
  g_autoptr (GByteArray) idat = g_byte_array_new ();
  g_autoptr (GConverter) inflater = NULL;
  g_autofree guint8 *raw = NULL;
  Image8 *im;
  gsize   size, pos = 8;
  gsize   w = 0, h = 0, bpp = 0, stride, raw_size, in_done = 0, out_done = 0;
  gsize   y, x, ch;

  if (! g_file_get_contents (path, (gchar **) &file, &size, error))
    return NULL;
  g_assert_true (size > 8 && memcmp (file, signature, 8) == 0);

  while (pos + 12 <= size)
    {
      guint32       len = be32 (file + pos);
      const guint8 *type = file + pos + 4;
      const guint8 *data = file + pos + 8;

      g_assert_cmpuint (pos + 12 + len, <=, size);
      if (memcmp (type, "IHDR", 4) == 0)
        {
          w = be32 (data);
          h = be32 (data + 4);
          g_assert_cmpuint (data[8], ==, 8);              /* bit depth */
          g_assert_true (data[9] == 2 || data[9] == 6);   /* RGB(A) */
          g_assert_cmpuint (data[12], ==, 0);             /* interlace */
          bpp = data[9] == 2 ? 3 : 4;
        }
      else if (memcmp (type, "IDAT", 4) == 0)
        {
          g_byte_array_append (idat, data, len);
        }
      else if (memcmp (type, "IEND", 4) == 0)
        {
          break;
        }
      pos += 12 + len;
    }
  g_assert_true (w > 0 && h > 0);

  stride = w * bpp;
  raw_size = h * (stride + 1);
  raw = g_malloc (raw_size);
  inflater = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB));
  while (out_done < raw_size)
    {
      gsize            n_read = 0, n_written = 0;
      GConverterResult r;

      r = g_converter_convert (inflater, idat->data + in_done,
                               idat->len - in_done, raw + out_done,
                               raw_size - out_done, G_CONVERTER_INPUT_AT_END,
                               &n_read, &n_written, error);
      if (r == G_CONVERTER_ERROR)
        return NULL;
      in_done += n_read;
      out_done += n_written;
      if (r == G_CONVERTER_FINISHED)
        break;
    }
  g_assert_cmpuint (out_done, ==, raw_size);

  /* Undo the per-row filters in place. */
  for (y = 0; y < h; y++)
    {
      guint8       *row = raw + y * (stride + 1) + 1;
      const guint8 *up = y > 0 ? raw + (y - 1) * (stride + 1) + 1 : NULL;
      guint8        filter = row[-1];

      for (x = 0; x < stride; x++)
        {
          gint a = x >= bpp ? row[x - bpp] : 0;
          gint b = up ? up[x] : 0;
          gint c = up && x >= bpp ? up[x - bpp] : 0;

          switch (filter)
            {
            case 0: break;
            case 1: row[x] += a; break;
            case 2: row[x] += b; break;
            case 3: row[x] += (a + b) / 2; break;
            case 4: row[x] += paeth (a, b, c); break;
            default: g_assert_not_reached ();
            }
        }
    }

  im = image8_new (3, h, w);
  for (ch = 0; ch < 3; ch++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        AT (im, ch, y, x) = raw[y * (stride + 1) + 1 + x * bpp + ch];

  return im;
}

static Image8 *
crop8 (const Image8 *im,
       gsize         x0,
       gsize         y0,
       gsize         w,
       gsize         h)
{
  Image8 *out = image8_new (im->c, h, w);
  gsize   ch, y, x;

  for (ch = 0; ch < im->c; ch++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        AT (out, ch, y, x) = AT (im, ch, y0 + y, x0 + x);

  return out;
}

/* ------------------------------------------------------------------ */
/* Reference cases                                                      */

static void
check_close (const gchar *what,
             gdouble      got,
             gdouble      want,
             gdouble      tolerance)
{
  g_test_message ("  %-8s got %.12g want %.12g", what, got, want);
  if (isinf (want))
    g_assert_true (isinf (got) && got > 0);
  else
    g_assert_cmpfloat_with_epsilon (got, want, tolerance);
}

/* Runs every reference line whose image name starts with @prefix; the
 * photo image is passed in when it is the one asked for. */
static guint
run_reference (const gchar  *prefix,
               const Image8 *photo)
{
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "data",
                                                  "metrics", "reference.txt",
                                                  NULL);
  g_auto (GStrv)    lines = test_case_lines (path);
  guint             i, n_cases = 0;

  for (i = 0; lines[i]; i++)
    {
      gchar **f;
      g_autoptr (Image8) base = NULL;
      g_autoptr (Image8) other = NULL;
      g_autoptr (VaeTensor) a = NULL;
      g_autoptr (VaeTensor) b = NULL;
      g_autoptr (GError) error = NULL;
      guint64    seed;
      gsize      c, h, w;
      gdouble    psnr, ssim, ms_ssim;
      VaeQuality q;

      if (! g_str_has_prefix (lines[i], prefix))
        continue;

      f = g_strsplit (lines[i], " ", -1);
      g_assert_cmpuint (g_strv_length (f), ==, 10);
      seed = g_ascii_strtoull (f[2], NULL, 10);
      c = g_ascii_strtoull (f[3], NULL, 10);
      h = g_ascii_strtoull (f[4], NULL, 10);
      w = g_ascii_strtoull (f[5], NULL, 10);
      g_test_message ("%s %s (%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                      ", %s MS-SSIM scales)", f[0], f[1], w, h, f[9]);

      base = photo ? crop8 (photo, 0, 0, photo->w, photo->h)
                   : synthetic (seed, c, h, w);
      g_assert_cmpuint (base->c, ==, c);
      g_assert_cmpuint (base->h, ==, h);
      g_assert_cmpuint (base->w, ==, w);
      other = distort (base, f[1], seed);
      a = to_tensor (base);
      b = to_tensor (other);

      g_assert_true (vae_psnr (a, b, &psnr, &error));
      g_assert_no_error (error);
      g_assert_true (vae_ssim (a, b, &ssim, &error));
      g_assert_no_error (error);
      g_assert_true (vae_ms_ssim (a, b, &ms_ssim, &error));
      g_assert_no_error (error);
      g_assert_true (vae_quality (a, b, &q, &error));
      g_assert_no_error (error);

      check_close ("PSNR", psnr, g_ascii_strtod (f[6], NULL), METRIC_TOLERANCE);
      check_close ("SSIM", ssim, g_ascii_strtod (f[7], NULL), METRIC_TOLERANCE);
      check_close ("MS-SSIM", ms_ssim, g_ascii_strtod (f[8], NULL),
                   METRIC_TOLERANCE);

      /* vae_quality shares the finest scale between SSIM and MS-SSIM; it
       * must give the very same figures as the separate calls. */
      g_assert_true (q.psnr == psnr);
      g_assert_cmpfloat (q.ssim, ==, ssim);
      g_assert_cmpfloat (q.ms_ssim, ==, ms_ssim);

      g_strfreev (f);
      n_cases++;
    }

  return n_cases;
}

static void
test_reference_synthetic (void)
{
  g_assert_cmpuint (run_reference ("synth-", NULL), ==, 24);
}

static void
test_reference_photo (void)
{
  const gchar *shared = g_getenv ("VAE_SHARED_DIR");
  g_autofree gchar *path = NULL;
  g_autoptr (Image8) full = NULL;
  g_autoptr (Image8) crop = NULL;
  g_autoptr (GError) error = NULL;

  if (! shared)
    {
      g_test_skip ("VAE_SHARED_DIR is not set");
      return;
    }
  path = g_build_filename (shared, "data", "kodak", "kodim23.png", NULL);
  if (! g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip_printf ("%s is missing", path);
      return;
    }

  full = read_png_rgb (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (full->w, ==, 768);
  g_assert_cmpuint (full->h, ==, 512);

  /* The crop of gen-metrics-reference.py's PHOTO. */
  crop = crop8 (full, 256, 128, 256, 256);
  g_assert_cmpuint (run_reference ("kodim23 ", crop), ==, 6);
}

/* ------------------------------------------------------------------ */
/* Hand-computed cases                                                  */

static VaeTensor *
constant_image (gsize  c,
                gsize  h,
                gsize  w,
                gfloat value)
{
  VaeTensor *t = vae_tensor_new_3d (c, h, w, NULL);
  gfloat    *d = vae_tensor_get_data (t);
  gsize      i;

  for (i = 0; i < c * h * w; i++)
    d[i] = value;

  return t;
}

/* Two flat images: no variance, so the contrast-structure term is
 * C2 / C2 = 1 and SSIM is the luminance term alone,
 * (2 a b + C1) / (a^2 + b^2 + C1), everywhere.  At 32x32 MS-SSIM has two
 * scales (16x16 is the last >= 11) with weights 0.0448 and 0.2856
 * renormalised to sum 1: cs^w0 * ssim^w1 = ssim^(0.2856 / 0.3304). */
static void
test_constant_images (void)
{
  const gdouble a = 0.25, b = 0.625;
  g_autoptr (VaeTensor) ta = constant_image (3, 32, 32, a);
  g_autoptr (VaeTensor) tb = constant_image (3, 32, 32, b);
  g_autoptr (GError) error = NULL;
  gdouble lum = (2 * a * b + SSIM_C1) / (a * a + b * b + SSIM_C1);
  gdouble psnr, ssim, ms_ssim;

  g_assert_true (vae_psnr (ta, tb, &psnr, &error));
  g_assert_cmpfloat_with_epsilon (psnr, 10 * log10 (1.0 / ((b - a) * (b - a))),
                                  1e-9);
  g_assert_true (vae_ssim (ta, tb, &ssim, &error));
  g_assert_cmpfloat_with_epsilon (ssim, lum, 1e-9);
  g_assert_true (vae_ms_ssim (ta, tb, &ms_ssim, &error));
  g_assert_cmpfloat_with_epsilon (ms_ssim, pow (lum, 0.2856 / 0.3304), 1e-9);
  g_assert_no_error (error);
}

static void
test_identical (void)
{
  g_autoptr (Image8) im = synthetic (5, 3, 40, 30);
  g_autoptr (VaeTensor) t = to_tensor (im);
  g_autoptr (GError) error = NULL;
  VaeQuality q;

  g_assert_true (vae_quality (t, t, &q, &error));
  g_assert_no_error (error);
  g_assert_true (isinf (q.psnr) && q.psnr > 0);
  g_assert_cmpfloat_with_epsilon (q.ssim, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (q.ms_ssim, 1.0, 1e-12);
}

static void
test_errors (void)
{
  g_autoptr (VaeTensor) a = constant_image (3, 20, 20, 0.5f);
  g_autoptr (VaeTensor) b = constant_image (3, 20, 21, 0.5f);
  g_autoptr (VaeTensor) small_a = constant_image (3, 10, 40, 0.5f);
  g_autoptr (VaeTensor) small_b = constant_image (3, 10, 40, 0.75f);
  gsize   flat_shape[2] = { 20, 20 };
  g_autoptr (VaeTensor) flat = vae_tensor_new (2, flat_shape, NULL);
  GError *error = NULL;
  gdouble v;
  VaeQuality q;

  g_assert_false (vae_psnr (a, b, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vae_ssim (a, b, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vae_ms_ssim (a, b, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vae_quality (a, b, &q, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vae_ssim (flat, flat, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (vae_difference_map (a, b, VAE_DIFF_HEATMAP, 1.0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  /* Below 11 pixels SSIM is undefined: an error on its own, NaN inside
   * vae_quality, whose PSNR is still good. */
  g_assert_false (vae_ssim (small_a, small_b, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vae_ms_ssim (small_a, small_b, &v, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_true (vae_quality (small_a, small_b, &q, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (q.psnr, 10 * log10 (16.0), 1e-9);
  g_assert_true (isnan (q.ssim) && isnan (q.ms_ssim));

  g_assert_null (vae_difference_map (a, a, VAE_DIFF_AMPLIFIED, 0.0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (vae_difference_map (a, a, VAE_DIFF_AMPLIFIED, NAN, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_quantize (void)
{
  /* input, expected k (value k / 255) */
  const gfloat cases[][2] =
  {
    { -0.5f, 0 }, { 0.0f, 0 }, { 1.0f, 255 }, { 7.0f, 255 },
    { 0.31f, 79 },            /* 79.05 */
    { 0.001f, 0 },            /* 0.255 */
    { 0.003f, 1 },            /* 0.765 */
    { 100.0f / 255.0f, 100 },
    { -INFINITY, 0 }, { INFINITY, 255 }, { NAN, 0 },
  };
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (1, 1, G_N_ELEMENTS (cases),
                                               NULL);
  gfloat *d = vae_tensor_get_data (t);
  gsize   i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    d[i] = cases[i][0];
  vae_image_quantize_8bit (t);
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("quantize %g -> %g (want %g)", cases[i][0],
                      d[i] * 255.0, cases[i][1]);
      g_assert_cmpfloat (d[i], ==, cases[i][1] / 255.0f);
    }
}

static void
test_difference_amplified (void)
{
  g_autoptr (VaeTensor) a = constant_image (2, 1, 3, 0.5f);
  g_autoptr (VaeTensor) b = constant_image (2, 1, 3, 0.5f);
  g_autoptr (VaeTensor) map = NULL;
  g_autoptr (GError) error = NULL;
  gfloat       *bd = vae_tensor_get_data (b);
  const gfloat  want[6] = { 0.0f, 0.4f, 1.0f, 0.8f, 1.0f, 0.2f };
  const gfloat *m;
  gsize         i;

  /* |a - b| = 0, .1, .3 | .2, .5, .05, times 4, clamped */
  bd[0] = 0.5f;  bd[1] = 0.6f;  bd[2] = 0.2f;
  bd[3] = 0.3f;  bd[4] = 1.0f;  bd[5] = 0.45f;
  map = vae_difference_map (a, b, VAE_DIFF_AMPLIFIED, 4.0, &error);
  g_assert_no_error (error);
  g_assert_true (vae_tensor_same_shape (map, a));
  m = vae_tensor_peek_data (map);
  for (i = 0; i < 6; i++)
    g_assert_cmpfloat_with_epsilon (m[i], want[i], 1e-6);
}

static void
test_difference_heatmap (void)
{
  /* Mean absolute difference over 3 channels for each of 7 pixels, gain
   * 2: 0, 0.125, 0.1875, 0.25, 0.375, 0.5, 0.75 -> ramp positions 0,
   * 0.25, 0.375, 0.5, 0.75, 1, 1 (clamped). */
  const gfloat diff[7] = { 0, 0.125f, 0.1875f, 0.25f, 0.375f, 0.5f, 0.75f };
  const gfloat want[7][3] =
  {
    { 0, 0, 0 },        /* black */
    { 0, 0, 1 },        /* blue */
    { 0.5f, 0, 0.5f },  /* half way blue -> red */
    { 1, 0, 0 },        /* red */
    { 1, 1, 0 },        /* yellow */
    { 1, 1, 1 },        /* white */
    { 1, 1, 1 },        /* clamped */
  };
  g_autoptr (VaeTensor) a = constant_image (3, 1, 7, 0.0f);
  g_autoptr (VaeTensor) b = constant_image (3, 1, 7, 0.0f);
  g_autoptr (VaeTensor) map = NULL;
  g_autoptr (GError) error = NULL;
  gfloat       *bd = vae_tensor_get_data (b);
  const gfloat *m;
  gsize         i, ch;

  /* Spread each difference unevenly over the channels, mean unchanged. */
  for (i = 0; i < 7; i++)
    {
      bd[i] = 2.0f * diff[i];
      bd[7 + i] = -0.5f * diff[i];
      bd[14 + i] = 0.5f * diff[i];
    }
  map = vae_difference_map (a, b, VAE_DIFF_HEATMAP, 2.0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vae_tensor_get_dim (map, 0), ==, 3);
  g_assert_cmpuint (vae_tensor_get_dim (map, 1), ==, 1);
  g_assert_cmpuint (vae_tensor_get_dim (map, 2), ==, 7);
  m = vae_tensor_peek_data (map);
  for (i = 0; i < 7; i++)
    for (ch = 0; ch < 3; ch++)
      g_assert_cmpfloat_with_epsilon (m[ch * 7 + i], want[i][ch], 1e-6);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/metrics/reference/synthetic", test_reference_synthetic);
  g_test_add_func ("/metrics/reference/photo", test_reference_photo);
  g_test_add_func ("/metrics/constant-images", test_constant_images);
  g_test_add_func ("/metrics/identical", test_identical);
  g_test_add_func ("/metrics/errors", test_errors);
  g_test_add_func ("/metrics/quantize-8bit", test_quantize);
  g_test_add_func ("/metrics/difference/amplified", test_difference_amplified);
  g_test_add_func ("/metrics/difference/heatmap", test_difference_heatmap);

  return g_test_run ();
}
