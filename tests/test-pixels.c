/* gimp-vae tests: the pixel adapter, interleaved <-> planar (suite image)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every expected value is worked out by hand in the comments: k / 255 and
 * k / 65535 as decimals, levels as the nearest integer with ties to even.
 * The ties are floats whose product with 255 (or 65535) is exactly k + 0.5
 * in float arithmetic, checked before use, so the rounding rule itself is
 * what is tested.
 */

#include <math.h>
#include <string.h>

#include "vae.h"

/* float32 carries 24 bits: k / 255 is within 3e-8 of the decimal */
#define LEVEL_TOLERANCE 1e-7

static VaeTensor *
image_of (gsize         height,
          gsize         width,
          const gfloat *values)
{
  VaeTensor *t = vae_tensor_new_3d (3, height, width, NULL);

  memcpy (vae_tensor_get_data (t), values, 3 * height * width * sizeof (gfloat));

  return t;
}

static void
test_bytes_per_pixel (void)
{
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGB_U8), ==, 3);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGBA_U8), ==, 4);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGB_U16), ==, 6);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGBA_U16), ==, 8);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGB_FLOAT), ==, 12);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGBA_FLOAT), ==, 16);
  g_assert_cmpuint (vae_pixel_format_get_bytes_per_pixel (99), ==, 0);
}

/* Two RGBA u8 pixels in a row of stride 12 (4 bytes of padding). */
static void
test_from_u8 (void)
{
  const guint8          pixels[12] = { 0, 1, 128, 255,   51, 102, 204, 17,
                                       0xee, 0xee, 0xee, 0xee };
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 1, 2, NULL);
  g_autoptr (VaeTensor) alpha = vae_tensor_new_3d (1, 1, 2, NULL);
  g_autoptr (GError)    error = NULL;
  const gfloat         *d;
  const gfloat         *a;

  g_assert_true (vae_tensor_from_pixels (rgb, alpha, 0, 1, pixels,
                                         VAE_PIXEL_FORMAT_RGBA_U8, 12, &error));
  g_assert_no_error (error);
  d = vae_tensor_peek_data (rgb);
  a = vae_tensor_peek_data (alpha);

  /* planes: R' = (0, 51), G' = (1, 102), B' = (128, 204) over 255 */
  g_assert_cmpfloat_with_epsilon (d[0], 0.0, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[1], 0.2, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[2], 0.0039215686, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[3], 0.4, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[4], 0.5019607843, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[5], 0.8, LEVEL_TOLERANCE);
  /* alpha: 255 -> 1, 17 -> 1/15 */
  g_assert_cmpfloat (a[0], ==, 1.0f);
  g_assert_cmpfloat_with_epsilon (a[1], 0.0666666667, LEVEL_TOLERANCE);
}

static void
test_from_u16 (void)
{
  const guint16         pixels[6] = { 0, 257, 32768,   65535, 13107, 1 };
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 1, 2, NULL);
  const gfloat         *d;

  g_assert_true (vae_tensor_from_pixels (rgb, NULL, 0, 1, pixels,
                                         VAE_PIXEL_FORMAT_RGB_U16,
                                         sizeof (pixels), NULL));
  d = vae_tensor_peek_data (rgb);
  /* 257 / 65535 = 1 / 255; 13107 / 65535 = 1 / 5; 32768 / 65535 */
  g_assert_cmpfloat (d[0], ==, 0.0f);
  g_assert_cmpfloat (d[1], ==, 1.0f);
  g_assert_cmpfloat_with_epsilon (d[2], 0.0039215686, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[3], 0.2, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[4], 0.5000076295, LEVEL_TOLERANCE);
  g_assert_cmpfloat_with_epsilon (d[5], 0.0000152590, LEVEL_TOLERANCE);
}

/* Floats are clamped to [0, 1] and NaN becomes 0 (the plug-in used to
 * pass NaN through CLAMP); the alpha of an RGB format is opaque. */
static void
test_from_float (void)
{
  const gfloat          pixels[6] = { NAN, -0.5f, 1.5f,   INFINITY, -INFINITY, 0.25f };
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 1, 2, NULL);
  g_autoptr (VaeTensor) alpha = vae_tensor_new_3d (1, 1, 2, NULL);
  const gfloat         *d;

  g_assert_true (vae_tensor_from_pixels (rgb, alpha, 0, 1, pixels,
                                         VAE_PIXEL_FORMAT_RGB_FLOAT,
                                         sizeof (pixels), NULL));
  d = vae_tensor_peek_data (rgb);
  g_assert_cmpfloat (d[0], ==, 0.0f);   /* NaN */
  g_assert_cmpfloat (d[1], ==, 1.0f);   /* +inf */
  g_assert_cmpfloat (d[2], ==, 0.0f);   /* -0.5 */
  g_assert_cmpfloat (d[3], ==, 0.0f);   /* -inf */
  g_assert_cmpfloat (d[4], ==, 1.0f);   /* 1.5 */
  g_assert_cmpfloat (d[5], ==, 0.25f);
  g_assert_cmpfloat (vae_tensor_peek_data (alpha)[0], ==, 1.0f);
  g_assert_cmpfloat (vae_tensor_peek_data (alpha)[1], ==, 1.0f);
}

/* Bands: rows 1 and 2 of a 4-row image, the rest untouched. */
static void
test_from_band (void)
{
  const guint8          band[2][3] = { { 255, 0, 0 }, { 0, 255, 0 } };
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 4, 1, NULL);
  const gfloat         *d;

  g_assert_true (vae_tensor_from_pixels (rgb, NULL, 1, 2, band,
                                         VAE_PIXEL_FORMAT_RGB_U8, 3, NULL));
  d = vae_tensor_peek_data (rgb);
  /* R' plane rows 0..3, then G' */
  g_assert_cmpfloat (d[0], ==, 0.0f);
  g_assert_cmpfloat (d[1], ==, 1.0f);
  g_assert_cmpfloat (d[2], ==, 0.0f);
  g_assert_cmpfloat (d[3], ==, 0.0f);
  g_assert_cmpfloat (d[4 + 1], ==, 0.0f);
  g_assert_cmpfloat (d[4 + 2], ==, 1.0f);
}

/* Levels: nearest, ties to even, and no rounding up of values just under a
 * tie (v * 255 + 0.5 in float rounds 0.49999997 up to 1). */
static void
test_to_u8_rounding (void)
{
  gfloat                values[3 * 8];
  g_autoptr (VaeTensor) rgb = NULL;
  guint8                out[3 * 8];
  gfloat                tie_0_5 = 0.5f / 255.0f;
  gfloat                tie_2_5 = 2.5f / 255.0f;
  gfloat                tie_127_5 = 127.5f / 255.0f;
  gfloat                under = nextafterf (0.5f, 0.0f) / 255.0f;
  guint                 i;

  /* the premises: these are exact ties, and that one is not */
  g_assert_cmpfloat (tie_0_5 * 255.0f, ==, 0.5f);
  g_assert_cmpfloat (tie_2_5 * 255.0f, ==, 2.5f);
  g_assert_cmpfloat (tie_127_5 * 255.0f, ==, 127.5f);
  g_assert_cmpfloat (under * 255.0f, <, 0.5f);

  for (i = 0; i < G_N_ELEMENTS (values); i++)
    values[i] = 0.0f;
  /* R' plane: 8 pixels in one row */
  values[0] = tie_0_5;      /* 0.5   -> 0 (even) */
  values[1] = tie_2_5;      /* 2.5   -> 2 (even) */
  values[2] = tie_127_5;    /* 127.5 -> 128 (even) */
  values[3] = under;        /* < 0.5 -> 0 */
  values[4] = NAN;          /* -> 0 */
  values[5] = -3.0f;        /* -> 0 */
  values[6] = 7.0f;         /* -> 255 */
  values[7] = 0.2f;         /* 51.000001 -> 51 */
  rgb = image_of (1, 8, values);

  g_assert_true (vae_tensor_to_pixels (rgb, NULL, 0, 1, out,
                                       VAE_PIXEL_FORMAT_RGB_U8, sizeof (out),
                                       NULL));
  g_assert_cmpuint (out[0 * 3], ==, 0);
  g_assert_cmpuint (out[1 * 3], ==, 2);
  g_assert_cmpuint (out[2 * 3], ==, 128);
  g_assert_cmpuint (out[3 * 3], ==, 0);
  g_assert_cmpuint (out[4 * 3], ==, 0);
  g_assert_cmpuint (out[5 * 3], ==, 0);
  g_assert_cmpuint (out[6 * 3], ==, 255);
  g_assert_cmpuint (out[7 * 3], ==, 51);
}

/* The adapter and the quantiser PSNR is quoted on agree level for level. */
static void
test_to_u8_matches_quantizer (void)
{
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 1, 256 * 5, NULL);
  g_autoptr (VaeTensor) quantized = NULL;
  g_autofree guint8    *out = g_malloc (3 * 256 * 5);
  gfloat               *d = vae_tensor_get_data (rgb);
  gsize                 n = 3 * 256 * 5;
  gsize                 i;

  /* every level, its ties and the floats beside them */
  for (i = 0; i < n; i++)
    {
      gfloat k = (gfloat) ((i / 5) % 256);

      switch (i % 5)
        {
        case 0: d[i] = k / 255.0f; break;
        case 1: d[i] = (k + 0.5f) / 255.0f; break;
        case 2: d[i] = nextafterf ((k + 0.5f) / 255.0f, 0.0f); break;
        case 3: d[i] = nextafterf ((k + 0.5f) / 255.0f, 1.0f); break;
        default: d[i] = (k - 0.5f) / 255.0f; break;
        }
    }
  quantized = vae_tensor_copy (rgb, NULL);
  vae_image_quantize_8bit (quantized);

  g_assert_true (vae_tensor_to_pixels (rgb, NULL, 0, 1, out,
                                       VAE_PIXEL_FORMAT_RGB_U8, n, NULL));
  for (i = 0; i < n; i++)
    {
      gsize  pixel = i % (256 * 5);
      guint  channel = i / (256 * 5);
      gfloat level = vae_tensor_peek_data (quantized)[i] * 255.0f;

      /* level * 255 / 255 may miss the integer by an ulp */
      g_assert_cmpfloat_with_epsilon (level, out[pixel * 3 + channel], 1e-3);
    }
}

static void
test_to_u16 (void)
{
  gfloat                values[3 * 4] = { 0 };
  g_autoptr (VaeTensor) rgb = NULL;
  g_autoptr (VaeTensor) alpha = vae_tensor_new_3d (1, 1, 4, NULL);
  guint16               out[4 * 4];
  gfloat                tie = 2.5f / 65535.0f;

  g_assert_cmpfloat (tie * 65535.0f, ==, 2.5f);
  values[0] = tie;                 /* 2.5 -> 2 (even) */
  values[1] = 0.2f;                /* 13107.0000... -> 13107 */
  values[2] = 1.0f;                /* 65535 */
  values[3] = NAN;                 /* 0 */
  rgb = image_of (1, 4, values);
  vae_tensor_get_data (alpha)[0] = 0.5f;   /* 32767.5 -> 32768 (even) */
  vae_tensor_get_data (alpha)[1] = 2.0f;   /* 65535 */

  g_assert_true (vae_tensor_to_pixels (rgb, alpha, 0, 1, out,
                                       VAE_PIXEL_FORMAT_RGBA_U16, sizeof (out),
                                       NULL));
  g_assert_cmpuint (out[0], ==, 2);
  g_assert_cmpuint (out[4], ==, 13107);
  g_assert_cmpuint (out[8], ==, 65535);
  g_assert_cmpuint (out[12], ==, 0);
  g_assert_cmpuint (out[3], ==, 32768);
  g_assert_cmpuint (out[7], ==, 65535);
  g_assert_cmpuint (out[11], ==, 0);
}

/* Float out: clamped, NaN 0, opaque alpha without an alpha tensor, and
 * the bytes past each row's end (stride padding) left alone. */
static void
test_to_float_stride (void)
{
  const gfloat          values[3 * 2 * 1] = { NAN, 0.75f,   -1.0f, 0.5f,   2.0f, 0.125f };
  g_autoptr (VaeTensor) rgb = image_of (2, 1, values);
  guint8                out[2 * 20];
  gfloat                px[4];
  guint                 i;

  memset (out, 0xab, sizeof (out));
  g_assert_true (vae_tensor_to_pixels (rgb, NULL, 0, 2, out,
                                       VAE_PIXEL_FORMAT_RGBA_FLOAT, 20, NULL));
  memcpy (px, out, sizeof (px));
  g_assert_cmpfloat (px[0], ==, 0.0f);
  g_assert_cmpfloat (px[1], ==, 0.0f);
  g_assert_cmpfloat (px[2], ==, 1.0f);
  g_assert_cmpfloat (px[3], ==, 1.0f);
  memcpy (px, out + 20, sizeof (px));
  g_assert_cmpfloat (px[0], ==, 0.75f);
  g_assert_cmpfloat (px[1], ==, 0.5f);
  g_assert_cmpfloat (px[2], ==, 0.125f);
  g_assert_cmpfloat (px[3], ==, 1.0f);
  for (i = 16; i < 20; i++)
    {
      g_assert_cmpuint (out[i], ==, 0xab);
      g_assert_cmpuint (out[20 + i], ==, 0xab);
    }
}

/* u8 -> tensor -> u8 gives every level back. */
static void
test_u8_round_trip (void)
{
  guint8                in[256 * 4];
  guint8                out[256 * 4];
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 1, 256, NULL);
  g_autoptr (VaeTensor) alpha = vae_tensor_new_3d (1, 1, 256, NULL);
  guint                 i;

  for (i = 0; i < sizeof (in); i++)
    in[i] = (guint8) (i * 7 + i / 4);
  g_assert_true (vae_tensor_from_pixels (rgb, alpha, 0, 1, in,
                                         VAE_PIXEL_FORMAT_RGBA_U8, sizeof (in),
                                         NULL));
  g_assert_true (vae_tensor_to_pixels (rgb, alpha, 0, 1, out,
                                       VAE_PIXEL_FORMAT_RGBA_U8, sizeof (out),
                                       NULL));
  g_assert_cmpmem (in, sizeof (in), out, sizeof (out));
}

static void
test_refusals (void)
{
  g_autoptr (VaeTensor) rgb = vae_tensor_new_3d (3, 2, 2, NULL);
  g_autoptr (VaeTensor) gray = vae_tensor_new_3d (1, 2, 2, NULL);
  g_autoptr (VaeTensor) small_alpha = vae_tensor_new_3d (1, 2, 1, NULL);
  guint8                buffer[64] = { 0 };
  GError               *error = NULL;

  g_assert_false (vae_tensor_from_pixels (gray, NULL, 0, 2, buffer,
                                          VAE_PIXEL_FORMAT_RGB_U8, 6, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  g_assert_false (vae_tensor_to_pixels (rgb, small_alpha, 0, 2, buffer,
                                        VAE_PIXEL_FORMAT_RGBA_U8, 8, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);

  /* rows 1 and 2 of a 2-row image */
  g_assert_false (vae_tensor_to_pixels (rgb, NULL, 1, 2, buffer,
                                        VAE_PIXEL_FORMAT_RGB_U8, 6, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vae_tensor_to_pixels (rgb, NULL, G_MAXSIZE, 2, buffer,
                                        VAE_PIXEL_FORMAT_RGB_U8, 6, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* a stride shorter than two RGB u16 pixels (12 bytes) */
  g_assert_false (vae_tensor_from_pixels (rgb, NULL, 0, 2, buffer,
                                          VAE_PIXEL_FORMAT_RGB_U16, 11, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (vae_tensor_from_pixels (rgb, NULL, 0, 2, buffer, 42, 64,
                                          &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pixels/bytes-per-pixel", test_bytes_per_pixel);
  g_test_add_func ("/pixels/from-u8", test_from_u8);
  g_test_add_func ("/pixels/from-u16", test_from_u16);
  g_test_add_func ("/pixels/from-float", test_from_float);
  g_test_add_func ("/pixels/from-band", test_from_band);
  g_test_add_func ("/pixels/to-u8-rounding", test_to_u8_rounding);
  g_test_add_func ("/pixels/to-u8-matches-quantizer", test_to_u8_matches_quantizer);
  g_test_add_func ("/pixels/to-u16", test_to_u16);
  g_test_add_func ("/pixels/to-float-stride", test_to_float_stride);
  g_test_add_func ("/pixels/u8-round-trip", test_u8_round_trip);
  g_test_add_func ("/pixels/refusals", test_refusals);

  return g_test_run ();
}
