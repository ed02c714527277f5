/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The optimized ops against their reference kernels, over a table of
 * shapes, strides, paddings and fused epilogues, plus small cases computed
 * by hand.  Tolerance: max |fast - reference| <= 2e-5 * max (1, max
 * |reference|); the reference sums in double, the fast kernels in float
 * with at most a few thousand terms, whose rounding stays well inside it.
 */

#include <math.h>
#include <string.h>

#include "vae-error.h"
#include "vae-run.h"
#include "ops.h"
#include "test-util.h"

#define TOLERANCE 2e-5

static void
fill_random (VaeTensor *t,
             GRand     *rand,
             gdouble    lo,
             gdouble    hi)
{
  gsize i;

  for (i = 0; i < t->n_elements; i++)
    t->data[i] = (gfloat) g_rand_double_range (rand, lo, hi);
}

static gfloat *
random_array (GRand  *rand,
              gsize   n,
              gdouble scale)
{
  gfloat *a = g_new (gfloat, n);
  gsize   i;

  for (i = 0; i < n; i++)
    a[i] = (gfloat) g_rand_double_range (rand, -scale, scale);

  return a;
}

static void
assert_close (const VaeTensor *fast,
              const VaeTensor *ref)
{
  gdouble max_ref = 0.0, max_diff = 0.0;
  gsize   i;

  g_assert_true (vae_tensor_same_shape (fast, ref));
  for (i = 0; i < ref->n_elements; i++)
    {
      max_ref = MAX (max_ref, fabs (ref->data[i]));
      max_diff = MAX (max_diff, fabs ((gdouble) fast->data[i] - ref->data[i]));
    }
  if (max_diff > TOLERANCE * MAX (1.0, max_ref))
    g_error ("max |diff| %g exceeds %g (max |ref| %g)", max_diff,
             TOLERANCE * MAX (1.0, max_ref), max_ref);
}

typedef enum
{
  RES_NONE,
  RES_SEPARATE,
  RES_IN_PLACE
} Residual;

typedef struct
{
  const gchar   *name;
  gint           c_in, c_out, kernel, stride;
  gint           pad_top, pad_left, pad_bottom, pad_right;
  gint           upsample;
  gint           height, width;
  gboolean       bias;
  Residual       residual;
  VaeActivation  act;
} ConvCase;

static const ConvCase conv_cases[] = {
  { "3x3-s1-p1",            16, 24, 3, 1, 1, 1, 1, 1, 1, 17, 23, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "3x3-s1-p1-relu",       16, 16, 3, 1, 1, 1, 1, 1, 1, 32, 32, TRUE,  RES_NONE,     VAE_ACT_RELU },
  { "3x3-rgb-in",            3, 64, 3, 1, 1, 1, 1, 1, 1, 40, 56, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "3x3-to-rgb",           64,  3, 3, 1, 1, 1, 1, 1, 1, 24, 40, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "3x3-s2-p1-nobias",     32, 32, 3, 2, 1, 1, 1, 1, 1, 33, 46, FALSE, RES_NONE,     VAE_ACT_NONE },
  { "3x3-s2-pad-right-bottom", 8, 12, 3, 2, 0, 0, 1, 1, 1, 16, 20, TRUE,  RES_NONE,  VAE_ACT_NONE },
  { "3x3-s1-p0",             8,  8, 3, 1, 0, 0, 0, 0, 1, 12, 15, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "1x1",                  64, 256, 1, 1, 0, 0, 0, 0, 1, 19, 21, FALSE, RES_NONE,    VAE_ACT_NONE },
  { "1x1-bias-silu",        24, 40, 1, 1, 0, 0, 0, 0, 1, 13, 31, TRUE,  RES_NONE,     VAE_ACT_SILU },
  { "1x1-s2",               16,  8, 1, 2, 0, 0, 0, 0, 1, 20, 21, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "3x3-residual",         16, 16, 3, 1, 1, 1, 1, 1, 1, 21, 19, TRUE,  RES_SEPARATE, VAE_ACT_RELU },
  { "3x3-residual-in-place", 16, 16, 3, 1, 1, 1, 1, 1, 1, 21, 19, TRUE, RES_IN_PLACE, VAE_ACT_RELU },
  { "1x1-residual-in-place", 64, 64, 1, 1, 0, 0, 0, 0, 1, 16, 16, FALSE, RES_IN_PLACE, VAE_ACT_NONE },
  { "3x3-upsample2",        16, 16, 3, 1, 1, 1, 1, 1, 2, 13, 17, FALSE, RES_NONE,     VAE_ACT_NONE },
  { "3x3-upsample2-gelu",    8, 12, 3, 1, 1, 1, 1, 1, 2,  9, 11, TRUE,  RES_NONE,     VAE_ACT_GELU },
  { "5x5-s1-p2",             6, 10, 5, 1, 2, 2, 2, 2, 1, 14, 18, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "3x3-wide-row",         64, 64, 3, 1, 1, 1, 1, 1, 1,  6, 700, TRUE, RES_NONE,     VAE_ACT_RELU },
  { "3x3-1-pixel",           4,  4, 3, 1, 1, 1, 1, 1, 1,  1,  1, TRUE,  RES_NONE,     VAE_ACT_NONE },
};

static void
run_conv_case (const ConvCase *c,
               gint            n_threads)
{
  g_autoptr (GRand)     rand = g_rand_new_with_seed (1234);
  g_autoptr (VaeTensor) in = NULL, residual = NULL, fast = NULL, ref = NULL;
  g_autoptr (GError)    error = NULL;
  g_autofree gfloat    *weight = NULL, *bias = NULL;
  VaeOptions            options;
  VaeRun                run;
  VaeConv2d             conv;
  gsize                 ho, wo;

  weight = random_array (rand, (gsize) c->c_out * c->c_in * c->kernel * c->kernel,
                         1.0 / sqrt (c->c_in * c->kernel * c->kernel));
  bias = c->bias ? random_array (rand, c->c_out, 0.5) : NULL;
  vae_conv2d_init (&conv, c->c_in, c->c_out, c->kernel, c->stride, 0, weight, bias);
  conv.pad_top = c->pad_top;
  conv.pad_left = c->pad_left;
  conv.pad_bottom = c->pad_bottom;
  conv.pad_right = c->pad_right;
  conv.upsample = c->upsample;

  in = vae_tensor_new_3d (c->c_in, c->height, c->width, &error);
  g_assert_no_error (error);
  fill_random (in, rand, -1.0, 1.0);
  vae_conv2d_out_size (&conv, c->height, c->width, &ho, &wo);

  ref = vae_tensor_new_3d (c->c_out, ho, wo, &error);
  g_assert_no_error (error);
  if (c->residual != RES_NONE)
    {
      residual = vae_tensor_new_3d (c->c_out, ho, wo, &error);
      g_assert_no_error (error);
      fill_random (residual, rand, -1.0, 1.0);
    }
  vae_conv2d_reference (&conv, in, residual, c->act, ref);

  vae_options_init (&options);
  options.n_threads = n_threads;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  if (c->residual == RES_IN_PLACE)
    {
      fast = vae_tensor_copy (residual, &error);
      g_assert_no_error (error);
      g_assert_true (vae_op_conv2d (&run, &conv, in, fast, c->act, &fast, &error));
    }
  else
    {
      g_assert_true (vae_op_conv2d (&run, &conv, in, residual, c->act, &fast, &error));
    }
  g_assert_no_error (error);
  vae_run_clear (&run);

  assert_close (fast, ref);
}

static void
test_conv_case (gconstpointer data)
{
  run_conv_case (data, 1);
  run_conv_case (data, 2);
  run_conv_case (data, 3);
}

/* 1 channel, all-ones 3x3 kernel, zero padding: each output is the sum of
 * the 3x3 neighbourhood inside the image. */
static void
test_conv_hand (void)
{
  static const gfloat input[] = { 1, 2, 3,
                                  4, 5, 6 };
  static const gfloat expect[] = { 12 + 0.5, 21 + 0.5, 16 + 0.5,
                                   12 + 0.5, 21 + 0.5, 16 + 0.5 };
  static const gfloat ones[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  static const gfloat half = 0.5f;
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (1, 2, 3, NULL);
  g_autoptr (VaeTensor) out = NULL;
  g_autoptr (GError)    error = NULL;
  VaeRun                run;
  VaeConv2d             conv;
  guint                 i;

  g_test_summary ("A 3x3 box filter on a 2x3 image, computed by hand");

  memcpy (in->data, input, sizeof input);
  vae_conv2d_init (&conv, 1, 1, 3, 1, 1, ones, &half);
  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_true (vae_op_conv2d (&run, &conv, in, NULL, VAE_ACT_NONE, &out, &error));
  g_assert_no_error (error);
  vae_run_clear (&run);

  for (i = 0; i < G_N_ELEMENTS (expect); i++)
    g_assert_cmpfloat_with_epsilon (out->data[i], expect[i], 1e-6);
}

/* Stride 2 with SD's right/bottom padding: 4x4 -> 2x2, the kernel picks
 * the top-left tap only, so out = in[2y][2x]. */
static void
test_conv_stride_hand (void)
{
  static const gfloat tap[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (1, 4, 4, NULL);
  g_autoptr (VaeTensor) out = NULL;
  VaeRun                run;
  VaeConv2d             conv;
  gint                  i;

  for (i = 0; i < 16; i++)
    in->data[i] = i;
  vae_conv2d_init (&conv, 1, 1, 3, 2, 0, tap, NULL);
  conv.pad_bottom = conv.pad_right = 1;
  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_true (vae_op_conv2d (&run, &conv, in, NULL, VAE_ACT_NONE, &out, NULL));
  vae_run_clear (&run);

  g_assert_cmpuint (VAE_T_H (out), ==, 2);
  g_assert_cmpuint (VAE_T_W (out), ==, 2);
  g_assert_cmpfloat (out->data[0], ==, 0);
  g_assert_cmpfloat (out->data[1], ==, 2);
  g_assert_cmpfloat (out->data[2], ==, 8);
  g_assert_cmpfloat (out->data[3], ==, 10);
}

static void
test_conv_bad_shapes (void)
{
  static const gfloat w[3 * 3 * 9] = { 0 };
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (2, 8, 8, NULL);
  g_autoptr (VaeTensor) tiny = vae_tensor_new_3d (3, 1, 1, NULL);
  g_autoptr (VaeTensor) out = NULL;
  g_autoptr (GError)    error = NULL;
  VaeRun                run;
  VaeConv2d             conv;

  vae_conv2d_init (&conv, 3, 3, 3, 1, 0, w, NULL);
  vae_run_init (&run, NULL, NULL, NULL, NULL);

  g_assert_false (vae_op_conv2d (&run, &conv, in, NULL, VAE_ACT_NONE, &out, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_assert_null (out);
  g_clear_error (&error);

  /* 1x1 input, 3x3 kernel, no padding: nothing to compute. */
  g_assert_false (vae_op_conv2d (&run, &conv, tiny, NULL, VAE_ACT_NONE, &out, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_assert_null (out);

  vae_run_clear (&run);
}

static void
test_conv_cancel (void)
{
  static const gfloat w[9] = { 1 };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (VaeTensor)    in = vae_tensor_new_3d (1, 8, 8, NULL);
  g_autoptr (VaeTensor)    out = NULL;
  g_autoptr (GError)       error = NULL;
  VaeRun                   run;
  VaeConv2d                conv;

  vae_conv2d_init (&conv, 1, 1, 3, 1, 1, w, NULL);
  g_cancellable_cancel (cancellable);
  vae_run_init (&run, NULL, cancellable, NULL, NULL);
  g_assert_false (vae_op_conv2d (&run, &conv, in, NULL, VAE_ACT_NONE, &out, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_CANCELLED);
  vae_run_clear (&run);
}

typedef struct
{
  const gchar   *name;
  gint           channels, groups, height, width;
  gdouble        mean, spread;
  VaeActivation  act;
} NormCase;

static const NormCase norm_cases[] = {
  { "4-groups-relu",        256, 4, 17, 13, 0.0, 1.0, VAE_ACT_RELU },
  { "32-groups-silu",        64, 32, 9, 31, 0.3, 2.0, VAE_ACT_SILU },
  { "1-group",               16, 1, 20, 20, -1.0, 0.5, VAE_ACT_NONE },
  { "large-mean-small-spread", 8, 2, 64, 64, 100.0, 0.01, VAE_ACT_NONE },
  { "1-pixel",               32, 8, 1, 1, 0.0, 1.0, VAE_ACT_NONE },
};

static void
test_norm_case (gconstpointer data)
{
  const NormCase       *c = data;
  g_autoptr (GRand)     rand = g_rand_new_with_seed (99);
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (c->channels, c->height, c->width, NULL);
  g_autoptr (VaeTensor) ref = vae_tensor_new_3d (c->channels, c->height, c->width, NULL);
  g_autoptr (GError)    error = NULL;
  g_autofree gfloat    *gamma = random_array (rand, c->channels, 2.0);
  g_autofree gfloat    *beta = random_array (rand, c->channels, 1.0);
  const VaeGroupNorm    norm = { c->groups, 1e-6f, gamma, beta };
  VaeRun                run;

  fill_random (in, rand, c->mean - c->spread, c->mean + c->spread);
  vae_group_norm_reference (&norm, in, c->act, ref);

  /* In place, as the architectures use it. */
  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_true (vae_op_group_norm (&run, &norm, in, c->act, in, &error));
  g_assert_no_error (error);
  vae_run_clear (&run);

  /* Normalised values are O(1) whatever the input scale; the
   * large-mean case checks that no precision is lost to cancellation. */
  assert_close (in, ref);
}

/* Two groups of one channel, two pixels each: (x - mean) / std is -1, +1. */
static void
test_norm_hand (void)
{
  static const gfloat       input[] = { 1, 3, 10, 30 };
  static const VaeGroupNorm norm = { 2, 0.0f, NULL, NULL };
  g_autoptr (VaeTensor)     t = vae_tensor_new_3d (2, 1, 2, NULL);
  VaeRun                    run;

  memcpy (t->data, input, sizeof input);
  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_true (vae_op_group_norm (&run, &norm, t, VAE_ACT_NONE, t, NULL));
  vae_run_clear (&run);

  g_assert_cmpfloat_with_epsilon (t->data[0], -1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (t->data[1], 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (t->data[2], -1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (t->data[3], 1.0, 1e-6);
}

/* Statistics gathered from the four quadrants of a map, each seen as a
 * crop with a one-pixel margin, reproduce GroupNorm of the whole map when
 * applied to any crop. */
static void
test_norm_stats (void)
{
  g_autoptr (GRand)     rand = g_rand_new_with_seed (3);
  g_autoptr (VaeTensor) whole = vae_tensor_new_3d (16, 12, 10, NULL);
  g_autoptr (VaeTensor) ref = vae_tensor_new_3d (16, 12, 10, NULL);
  g_autoptr (GError)    error = NULL;
  g_autofree gfloat    *gamma = random_array (rand, 16, 2.0);
  g_autofree gfloat    *beta = random_array (rand, 16, 1.0);
  const VaeGroupNorm    norm = { 4, 1e-6f, gamma, beta };
  VaeNormStats         *stats = vae_norm_stats_new ();
  VaeRun                run;
  gint                  pass, q;

  g_test_summary ("GroupNorm with whole-map statistics gathered from tiles");

  fill_random (whole, rand, -1.0, 3.0);
  vae_group_norm_reference (&norm, whole, VAE_ACT_NONE, ref);

  vae_run_init (&run, NULL, NULL, NULL, NULL);
  run.norm_stats = stats;
  for (pass = 0; pass < 2; pass++)
    for (q = 0; q < 4; q++)
      {
        /* Quadrant q owns [x0, x0 + 5) x [y0, y0 + 6); its crop adds a
         * margin of 1 where the map allows. */
        const gsize           x0 = (q % 2) * 5, y0 = (q / 2) * 6;
        const gsize           cx = x0 ? x0 - 1 : 0, cy = y0 ? y0 - 1 : 0;
        const gsize           cw = MIN (x0 + 6, 10) - cx, ch = MIN (y0 + 7, 12) - cy;
        g_autoptr (VaeTensor) crop = vae_tensor_new_3d (16, ch, cw, NULL);
        gsize                 c, y, x;

        for (c = 0; c < 16; c++)
          for (y = 0; y < ch; y++)
            for (x = 0; x < cw; x++)
              crop->data[(c * ch + y) * cw + x] = whole->data[(c * 12 + cy + y) * 10 + cx + x];

        vae_norm_stats_begin (stats, pass ? VAE_NORM_STATS_APPLY : VAE_NORM_STATS_COLLECT,
                              cw, ch, x0 - cx, y0 - cy, x0 - cx + 5, y0 - cy + 6);
        g_assert_true (vae_op_group_norm (&run, &norm, crop, VAE_ACT_NONE, crop,
                                          &error));
        g_assert_no_error (error);

        if (pass == 1)
          for (c = 0; c < 16; c++)
            for (y = 0; y < ch; y++)
              for (x = 0; x < cw; x++)
                g_assert_cmpfloat_with_epsilon (crop->data[(c * ch + y) * cw + x],
                                                ref->data[(c * 12 + cy + y) * 10 + cx + x],
                                                1e-5);
      }

  /* A forward pass with more GroupNorm calls than were collected. */
  vae_norm_stats_begin (stats, VAE_NORM_STATS_APPLY, 10, 12, 0, 0, 10, 12);
  g_assert_true (vae_op_group_norm (&run, &norm, whole, VAE_ACT_NONE, whole, &error));
  g_assert_false (vae_op_group_norm (&run, &norm, whole, VAE_ACT_NONE, whole, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);

  vae_run_clear (&run);
  vae_norm_stats_free (stats);
}

static void
test_norm_bad_groups (void)
{
  static const VaeGroupNorm norm = { 4, 1e-6f, NULL, NULL };
  g_autoptr (VaeTensor)     t = vae_tensor_new_3d (6, 2, 2, NULL);
  g_autoptr (GError)        error = NULL;
  VaeRun                    run;

  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_false (vae_op_group_norm (&run, &norm, t, VAE_ACT_NONE, t, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  vae_run_clear (&run);
}

static void
test_elementwise (void)
{
  static const gfloat input[] = { -2.0f, -0.5f, 0.0f, 0.5f, 3.0f, 30.0f };
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (1, 2, 3, NULL);
  g_autoptr (VaeTensor) u = vae_tensor_new_3d (1, 2, 3, NULL);
  g_autoptr (VaeTensor) bad = vae_tensor_new_3d (1, 3, 2, NULL);
  g_autoptr (GError)    error = NULL;
  VaeRun                run;
  guint                 i;

  vae_run_init (&run, NULL, NULL, NULL, NULL);

  memcpy (t->data, input, sizeof input);
  vae_op_activate (&run, t, VAE_ACT_RELU);
  for (i = 0; i < 6; i++)
    g_assert_cmpfloat (t->data[i], ==, MAX (input[i], 0.0f));

  /* silu (x) = x / (1 + e^-x); gelu (x) = x Phi (x), erf form. */
  memcpy (t->data, input, sizeof input);
  vae_op_activate (&run, t, VAE_ACT_SILU);
  g_assert_cmpfloat_with_epsilon (t->data[0], -2.0 / (1.0 + exp (2.0)), 1e-6);
  g_assert_cmpfloat_with_epsilon (t->data[4], 3.0 / (1.0 + exp (-3.0)), 1e-6);
  memcpy (t->data, input, sizeof input);
  vae_op_activate (&run, t, VAE_ACT_GELU);
  g_assert_cmpfloat_with_epsilon (t->data[1], -0.5 * 0.5 * (1.0 + erf (-0.5 / G_SQRT2)), 1e-6);
  g_assert_cmpfloat_with_epsilon (t->data[5], 30.0, 1e-5);

  /* TAESD's latent clamp: tanh (x / 3) * 3. */
  memcpy (t->data, input, sizeof input);
  vae_op_tanh_clamp (&run, t, 3.0f);
  for (i = 0; i < 6; i++)
    g_assert_cmpfloat_with_epsilon (t->data[i], tanh (input[i] / 3.0) * 3.0, 1e-6);

  memcpy (t->data, input, sizeof input);
  memcpy (u->data, input, sizeof input);
  g_assert_true (vae_op_add (&run, t, u, &error));
  for (i = 0; i < 6; i++)
    g_assert_cmpfloat (t->data[i], ==, 2 * input[i]);
  g_assert_false (vae_op_add (&run, t, bad, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);

  vae_run_clear (&run);
}

static void
test_upsample (void)
{
  static const gfloat input[] = { 1, 2,
                                  3, 4 };
  static const gfloat expect[] = { 1, 1, 2, 2,
                                   1, 1, 2, 2,
                                   3, 3, 4, 4,
                                   3, 3, 4, 4 };
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (1, 2, 2, NULL);
  g_autoptr (VaeTensor) up = NULL;
  VaeRun                run;

  memcpy (t->data, input, sizeof input);
  vae_run_init (&run, NULL, NULL, NULL, NULL);
  up = vae_op_upsample_nearest (&run, t, 2, NULL);
  vae_run_clear (&run);

  g_assert_nonnull (up);
  g_assert_cmpmem (up->data, sizeof expect, expect, sizeof expect);
}

/* The fused upsample + conv equals upsampling first, then convolving. */
static void
test_upsample_fused (void)
{
  g_autoptr (GRand)     rand = g_rand_new_with_seed (7);
  g_autoptr (VaeTensor) in = vae_tensor_new_3d (8, 11, 7, NULL);
  g_autoptr (VaeTensor) up = NULL, a = NULL, b = NULL;
  g_autofree gfloat    *w = random_array (rand, 8 * 8 * 9, 0.3);
  VaeConv2d             conv;
  VaeRun                run;

  fill_random (in, rand, -1, 1);
  vae_run_init (&run, NULL, NULL, NULL, NULL);

  vae_conv2d_init (&conv, 8, 8, 3, 1, 1, w, NULL);
  up = vae_op_upsample_nearest (&run, in, 2, NULL);
  g_assert_true (vae_op_conv2d (&run, &conv, up, NULL, VAE_ACT_NONE, &a, NULL));
  conv.upsample = 2;
  g_assert_true (vae_op_conv2d (&run, &conv, in, NULL, VAE_ACT_NONE, &b, NULL));
  vae_run_clear (&run);

  assert_close (b, a);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  TEST_ADD_CASES ("/ops/conv2d", conv_cases, test_conv_case);
  g_test_add_func ("/ops/conv2d/hand", test_conv_hand);
  g_test_add_func ("/ops/conv2d/stride-hand", test_conv_stride_hand);
  g_test_add_func ("/ops/conv2d/bad-shapes", test_conv_bad_shapes);
  g_test_add_func ("/ops/conv2d/cancel", test_conv_cancel);

  TEST_ADD_CASES ("/ops/group-norm", norm_cases, test_norm_case);
  g_test_add_func ("/ops/group-norm/hand", test_norm_hand);
  g_test_add_func ("/ops/group-norm/bad-groups", test_norm_bad_groups);
  g_test_add_func ("/ops/group-norm/tile-statistics", test_norm_stats);

  g_test_add_func ("/ops/elementwise", test_elementwise);
  g_test_add_func ("/ops/upsample/hand", test_upsample);
  g_test_add_func ("/ops/upsample/fused", test_upsample_fused);

  return g_test_run ();
}
