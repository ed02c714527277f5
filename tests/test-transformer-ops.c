/* gimp-vae tests - the transformer ops: LayerNorm, linear, 2-D RoPE,
 * pixel shuffle / unshuffle and the token-major transpose
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each optimized kernel against its naive reference over a table of
 * shapes, on 1, 2 and 3 threads, plus cases computed by hand or from a
 * property the op must have (RoPE: attention scores depend only on the
 * offset between two tokens; shuffle undoes unshuffle).
 *
 * Tolerances: LayerNorm and linear 1e-5 * max (1, max |reference|) (the
 * references sum in double; float sums of up to 1024 products are off by
 * ~1e-6 relative).  GELU's vectorised erf: |fast - erf GELU in double| <=
 * 1e-6 * max (1, |x|) (Abramowitz & Stegun 7.1.26 is good to 1.5e-7 in
 * erf).  RoPE: 1e-6 (same tables; only float rotation order differs).
 * Shuffles and transposes move data: exact.
 */

#include <math.h>
#include <string.h>

#include "vae-error.h"
#include "vae-run.h"
#include "ops.h"
#include "test-util.h"

static gfloat *
random_array (GRand   *rand,
              gsize    n,
              gdouble  center,
              gdouble  range)
{
  gfloat *a = g_new (gfloat, MAX (n, 1));
  gsize   i;

  for (i = 0; i < n; i++)
    a[i] = (gfloat) (center + g_rand_double_range (rand, -range, range));

  return a;
}

static void
run_begin (VaeRun   *run,
           gint      n_threads,
           gboolean  reference)
{
  VaeOptions options;

  vae_options_init (&options);
  options.n_threads = n_threads;
  options.reference = reference;
  vae_run_init (run, &options, NULL, NULL, NULL);
  vae_run_begin (run, "test", 1e15);
}

/* --- LayerNorm ------------------------------------------------------------ */

typedef struct
{
  const gchar *name;
  gsize        n_tokens;
  gsize        dim;
  gdouble      center;     /* inputs uniform in center +- range */
  gdouble      range;
  gfloat       eps;
} LnCase;

static const LnCase ln_cases[] = {
  { "1x1",             1,    1,    0.0, 1.0, 1e-6f },
  { "3x4",             3,    4,    0.5, 1.0, 1e-6f },
  { "seed-width",    200,  256,    0.0, 3.0, 1e-6f },
  { "odd-width",      77,   37,   -2.0, 0.5, 1e-5f },
  { "large-mean",     65,  128, 1000.0, 0.1, 1e-6f },
  { "tiny-spread",    10,   64,    0.0, 1e-4, 1e-6f },
  { "wide",          130, 1024,    0.0, 1.0, 1e-6f },
};

static void
test_layer_norm_case (gconstpointer data)
{
  const LnCase      *c = data;
  g_autoptr (GRand)  rand = g_rand_new_with_seed (17);
  const gsize        n = c->n_tokens * c->dim;
  g_autofree gfloat *x = random_array (rand, n, c->center, c->range);
  g_autofree gfloat *gamma = random_array (rand, c->dim, 1.0, 0.5);
  g_autofree gfloat *beta = random_array (rand, c->dim, 0.0, 0.5);
  g_autofree gfloat *ref = g_new (gfloat, n);
  g_autofree gfloat *out = g_new (gfloat, n);
  const VaeLayerNorm norm = { c->dim, c->eps, gamma, beta };
  gint               threads;

  vae_layer_norm_reference (&norm, x, c->n_tokens, ref);
  for (threads = 1; threads <= 3; threads++)
    {
      g_autofree gchar *what = g_strdup_printf ("layer norm %s, %d thread(s)",
                                                c->name, threads);
      g_autoptr (GError) error = NULL;
      VaeRun             run;

      memset (out, 0xff, n * sizeof (gfloat));
      run_begin (&run, threads, FALSE);
      g_assert_true (vae_op_layer_norm (&run, &norm, x, c->n_tokens, out, &error));
      g_assert_no_error (error);
      test_assert_close (what, out, ref, n, 1e-5);

      /* in place */
      memcpy (out, x, n * sizeof (gfloat));
      g_assert_true (vae_op_layer_norm (&run, &norm, out, c->n_tokens, out,
                                        &error));
      test_assert_close (what, out, ref, n, 1e-5);
      vae_run_clear (&run);
    }
}

/* Row (1, 2, 3, 4): mean 2.5, biased variance 1.25, so the normalised row
 * is (-3, -1, 1, 3) / (2 sqrt 1.25) = (-3, -1, 1, 3) / sqrt 5; then
 * gamma 2, beta 1.  Row (7, 7, 7, 7) has variance 0: eps 0.25 gives 0. */
static void
test_layer_norm_hand (void)
{
  const gfloat       x[] = { 1, 2, 3, 4, 7, 7, 7, 7 };
  const gfloat       gamma[] = { 2, 2, 2, 2 }, beta[] = { 1, 1, 1, 1 };
  const VaeLayerNorm no_eps = { 4, 0.0f, gamma, beta };
  const VaeLayerNorm eps = { 4, 0.25f, gamma, beta };
  const gdouble      s5 = sqrt (5.0);
  const gdouble      expect[] = { 1 - 6 / s5, 1 - 2 / s5, 1 + 2 / s5,
                                  1 + 6 / s5, 1, 1, 1, 1 };
  gfloat             out[8];
  g_autoptr (GError) error = NULL;
  VaeRun             run;
  gint               reference;
  guint              i;

  for (reference = 0; reference <= 1; reference++)
    {
      run_begin (&run, 1, reference);
      g_assert_true (vae_op_layer_norm (&run, &no_eps, x, 1, out, &error));
      g_assert_true (vae_op_layer_norm (&run, &eps, x + 4, 1, out + 4, &error));
      g_assert_no_error (error);
      for (i = 0; i < G_N_ELEMENTS (expect); i++)
        g_assert_cmpfloat_with_epsilon (out[i], expect[i], 1e-6);
      vae_run_clear (&run);
    }
}

/* --- linear ----------------------------------------------------------------- */

typedef enum
{
  RES_NONE,
  RES_SEPARATE,
  RES_IN_PLACE
} ResidualMode;

typedef struct
{
  const gchar   *name;
  gsize          n_tokens;
  gint           d_in;
  gint           d_out;
  gboolean       bias;
  ResidualMode   residual;
  VaeActivation  act;
} LinearCase;

static const LinearCase linear_cases[] = {
  { "1-token",        1,    3,    5, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "no-bias",       37,   16,   24, FALSE, RES_NONE,     VAE_ACT_NONE },
  { "qkv",          300,   64,  192, TRUE,  RES_NONE,     VAE_ACT_NONE },
  { "fc1-gelu",     257,   64,  256, TRUE,  RES_NONE,     VAE_ACT_GELU },
  { "gelu-no-bias",  50,   32,   40, FALSE, RES_NONE,     VAE_ACT_GELU },
  { "fc2-in-place", 300,  256,   64, TRUE,  RES_IN_PLACE, VAE_ACT_NONE },
  { "proj-residual",129,   64,   64, TRUE,  RES_SEPARATE, VAE_ACT_NONE },
  { "silu-residual", 70,   24,   24, TRUE,  RES_SEPARATE, VAE_ACT_SILU },
  { "wide",         600, 1024,  256, TRUE,  RES_IN_PLACE, VAE_ACT_NONE },
  { "odd",           99,   13,   17, TRUE,  RES_IN_PLACE, VAE_ACT_GELU },
};

static void
test_linear_case (gconstpointer data)
{
  const LinearCase  *c = data;
  g_autoptr (GRand)  rand = g_rand_new_with_seed (23);
  const gsize        n_in = c->n_tokens * c->d_in;
  const gsize        n_out = c->n_tokens * c->d_out;
  const gdouble      w_range = sqrt (3.0 / c->d_in) * 2.0;
  g_autofree gfloat *x = random_array (rand, n_in, 0.0, 1.0);
  g_autofree gfloat *w = random_array (rand, (gsize) c->d_out * c->d_in, 0.0, w_range);
  g_autofree gfloat *b = random_array (rand, c->d_out, 0.0, 0.5);
  g_autofree gfloat *res = random_array (rand, n_out, 0.0, 2.0);
  g_autofree gfloat *ref = g_new (gfloat, n_out);
  g_autofree gfloat *out = g_new (gfloat, n_out);
  const VaeLinear    linear = { c->d_in, c->d_out, w, c->bias ? b : NULL };
  gint               threads, reference;

  vae_linear_reference (&linear, x, c->n_tokens,
                        c->residual != RES_NONE ? res : NULL, c->act, ref);

  for (reference = 0; reference <= 1; reference++)
    for (threads = 1; threads <= 3; threads++)
      {
        g_autofree gchar *what = g_strdup_printf ("linear %s, %s, %d thread(s)",
                                                  c->name,
                                                  reference ? "naive" : "optimized",
                                                  threads);
        g_autoptr (GError) error = NULL;
        const gfloat      *r = NULL;
        VaeRun             run;

        memset (out, 0xff, n_out * sizeof (gfloat));
        if (c->residual == RES_SEPARATE)
          r = res;
        else if (c->residual == RES_IN_PLACE)
          {
            memcpy (out, res, n_out * sizeof (gfloat));
            r = out;
          }
        run_begin (&run, threads, reference);
        g_assert_true (vae_op_linear (&run, &linear, x, c->n_tokens, r, c->act,
                                      out, &error));
        g_assert_no_error (error);
        /* The op reports its FLOPs as progress. */
        g_assert_cmpfloat (run.work_done, ==,
                           vae_linear_flops (&linear, c->n_tokens));
        test_assert_close (what, out, ref, n_out, 1e-5);
        vae_run_clear (&run);
      }
}

/* in [[1, 2], [3, 4]], W [[1, 0], [0, 1], [1, -1]], b (0.5, -1, 0),
 * residual [[10, 20, 30], [0, 0, 0]]. */
static void
test_linear_hand (void)
{
  const gfloat       x[] = { 1, 2, 3, 4 };
  const gfloat       w[] = { 1, 0, 0, 1, 1, -1 };
  const gfloat       b[] = { 0.5f, -1, 0 };
  const gfloat       res[] = { 10, 20, 30, 0, 0, 0 };
  const gfloat       expect[] = { 11.5f, 21, 29, 3.5f, 3, -1 };
  const VaeLinear    linear = { 2, 3, w, b };
  gfloat             out[6];
  g_autoptr (GError) error = NULL;
  VaeRun             run;
  gint               reference;
  guint              i;

  for (reference = 0; reference <= 1; reference++)
    {
      run_begin (&run, 2, reference);
      g_assert_true (vae_op_linear (&run, &linear, x, 2, res, VAE_ACT_NONE, out,
                                    &error));
      g_assert_no_error (error);
      for (i = 0; i < G_N_ELEMENTS (expect); i++)
        g_assert_cmpfloat (out[i], ==, expect[i]);
      vae_run_clear (&run);
    }
}

/* The optimized GELU (the linear's epilogue) against 0.5 x (1 + erf (x /
 * sqrt 2)) in double, over [-12, 12], through an identity layer. */
static void
test_linear_gelu (void)
{
  const gsize        n = 4801;
  g_autofree gfloat *x = g_new (gfloat, n);
  g_autofree gfloat *out = g_new (gfloat, n);
  const gfloat       one = 1.0f;
  const VaeLinear    identity = { 1, 1, &one, NULL };
  g_autoptr (GError) error = NULL;
  gdouble            worst = 0.0;
  VaeRun             run;
  gsize              i;

  for (i = 0; i < n; i++)
    x[i] = -12.0f + 24.0f * i / (n - 1) + 1e-3f * (i % 7);

  run_begin (&run, 2, FALSE);
  /* n tokens of one feature each; W = 1 */
  g_assert_true (vae_op_linear (&run, &identity, x, n, NULL, VAE_ACT_GELU, out,
                                &error));
  g_assert_no_error (error);
  vae_run_clear (&run);

  for (i = 0; i < n; i++)
    {
      gdouble exact = 0.5 * x[i] * (1.0 + erf (x[i] / G_SQRT2));
      gdouble err = fabs (out[i] - exact) / MAX (1.0, fabs (x[i]));

      if (! (err <= worst))
        worst = err;
    }
  g_test_message ("GELU: max |fast - exact| / max (1, |x|) = %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-6);
}

static void
test_linear_errors (void)
{
  gfloat             x[4] = { 0 };
  const VaeLinear    no_inputs = { 0, 2, x, NULL };
  const VaeLinear    square = { 2, 2, x, NULL };
  g_autoptr (GError) error = NULL;
  VaeRun             run;

  run_begin (&run, 1, FALSE);
  g_assert_false (vae_op_linear (&run, &no_inputs, x, 1, NULL, VAE_ACT_NONE,
                                 x + 2, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vae_op_linear (&run, &square, x, 1, NULL, VAE_ACT_NONE, x,
                                 &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  vae_run_clear (&run);
}

/* --- RoPE ------------------------------------------------------------------- */

typedef struct
{
  const gchar *name;
  gsize        height;
  gsize        width;
  gint         n_heads;
  gint         head_dim;
  gdouble      base;
} RopeCase;

static const RopeCase rope_cases[] = {
  { "1x1",          1,  1, 1,  4, 100.0 },
  { "seed-head",   16, 16, 4, 64, 100.0 },
  { "non-square",   5, 13, 2, 32, 100.0 },
  { "tall",        40,  3, 3,  8, 10000.0 },
  { "wide-grid",    2, 70, 1, 12, 100.0 },
};

static void
test_rope_case (gconstpointer data)
{
  const RopeCase    *c = data;
  g_autoptr (GRand)  rand = g_rand_new_with_seed (5);
  const gsize        n = c->height * c->width * c->n_heads * c->head_dim;
  g_autofree gfloat *x = random_array (rand, n, 0.0, 2.0);
  g_autofree gfloat *ref = g_memdup2 (x, n * sizeof (gfloat));
  g_autofree gfloat *out = g_new (gfloat, n);
  gint               threads;

  vae_rope_2d_reference (ref, c->height, c->width, c->n_heads, c->head_dim,
                         c->base);
  for (threads = 1; threads <= 3; threads++)
    {
      g_autofree gchar *what = g_strdup_printf ("rope %s, %d thread(s)",
                                                c->name, threads);
      g_autoptr (GError) error = NULL;
      VaeRun             run;

      memcpy (out, x, n * sizeof (gfloat));
      run_begin (&run, threads, FALSE);
      g_assert_true (vae_op_rope_2d (&run, out, c->height, c->width,
                                     c->n_heads, c->head_dim, c->base, &error));
      g_assert_no_error (error);
      test_assert_close (what, out, ref, n, 1e-6);
      vae_run_clear (&run);
    }
}

/* head_dim 8 (two pairs per half), base 100: pair 0 turns by y, pair 1 by
 * y / 10, pair 2 by x, pair 3 by x / 10.  Token (y, x) = (1, 2) of a 2 x 3
 * grid, every pair (1, 0) -> (cos a, sin a); the token at (0, 0) stays. */
static void
test_rope_hand (void)
{
  const gdouble      angles[] = { 1.0, 0.1, 2.0, 0.2 };
  gfloat             x[6 * 8];
  g_autoptr (GError) error = NULL;
  VaeRun             run;
  gint               reference;
  guint              i, p;

  for (reference = 0; reference <= 1; reference++)
    {
      for (i = 0; i < G_N_ELEMENTS (x); i++)
        x[i] = i % 2 == 0 ? 1.0f : 0.0f;
      run_begin (&run, 1, reference);
      g_assert_true (vae_op_rope_2d (&run, x, 2, 3, 1, 8, 100.0, &error));
      g_assert_no_error (error);
      vae_run_clear (&run);

      for (p = 0; p < 4; p++)
        {
          const gfloat *e = x + 5 * 8 + 2 * p;       /* token 5 = (1, 2) */

          g_assert_cmpfloat_with_epsilon (e[0], cos (angles[p]), 1e-6);
          g_assert_cmpfloat_with_epsilon (e[1], sin (angles[p]), 1e-6);
          g_assert_cmpfloat (x[2 * p], ==, 1.0f);      /* token 0 = (0, 0) */
          g_assert_cmpfloat (x[2 * p + 1], ==, 0.0f);
        }
    }
}

/* RoPE makes q.k depend only on the offset between the two tokens: the
 * same q and k vectors placed at (y1, x1), (y2, x2) and at the same pair
 * shifted by (dy, dx) give the same dot product, per head. */
static void
test_rope_relative (void)
{
  const gsize        h = 9, w = 11;
  const gint         heads = 2, d = 16;
  const gsize        ld = heads * d;
  g_autoptr (GRand)  rand = g_rand_new_with_seed (99);
  g_autofree gfloat *qv = random_array (rand, ld, 0.0, 1.0);
  g_autofree gfloat *kv = random_array (rand, ld, 0.0, 1.0);
  g_autofree gfloat *q = g_new (gfloat, h * w * ld);
  g_autofree gfloat *k = g_new (gfloat, h * w * ld);
  g_autoptr (GError) error = NULL;
  VaeRun             run;
  gsize              t;
  guint              i;
  const gsize        pairs[][6] = {   /* y1 x1 y2 x2 dy dx */
    { 0, 0, 2, 3, 4, 5 },
    { 1, 7, 5, 2, 3, 1 },
    { 8, 10, 0, 0, 0, 0 },
    { 3, 3, 3, 3, 5, 7 },
  };

  for (t = 0; t < h * w; t++)
    {
      memcpy (q + t * ld, qv, ld * sizeof (gfloat));
      memcpy (k + t * ld, kv, ld * sizeof (gfloat));
    }
  run_begin (&run, 2, FALSE);
  g_assert_true (vae_op_rope_2d (&run, q, h, w, heads, d, 100.0, &error));
  g_assert_true (vae_op_rope_2d (&run, k, h, w, heads, d, 100.0, &error));
  g_assert_no_error (error);
  vae_run_clear (&run);

  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      const gsize *p = pairs[i];
      gint         hd, j;

      for (hd = 0; hd < heads; hd++)
        {
          const gfloat *q1 = q + (p[0] * w + p[1]) * ld + hd * d;
          const gfloat *k1 = k + (p[2] * w + p[3]) * ld + hd * d;
          const gfloat *q2 = q + ((p[0] + p[4]) * w + p[1] + p[5]) * ld + hd * d;
          const gfloat *k2 = k + ((p[2] + p[4]) * w + p[3] + p[5]) * ld + hd * d;
          gdouble       a = 0.0, b = 0.0;

          if (p[0] + p[4] >= h || p[2] + p[4] >= h ||
              p[1] + p[5] >= w || p[3] + p[5] >= w)
            continue;
          for (j = 0; j < d; j++)
            {
              a += (gdouble) q1[j] * k1[j];
              b += (gdouble) q2[j] * k2[j];
            }
          g_assert_cmpfloat_with_epsilon (a, b, 1e-5);
        }
    }
}

static void
test_rope_errors (void)
{
  gfloat             x[8] = { 0 };
  g_autoptr (GError) error = NULL;
  VaeRun             run;

  run_begin (&run, 1, FALSE);
  g_assert_false (vae_op_rope_2d (&run, x, 1, 1, 1, 6, 100.0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vae_op_rope_2d (&run, x, 1, 1, 1, 8, -1.0, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  vae_run_clear (&run);
}

/* --- pixel shuffle ---------------------------------------------------------- */

typedef struct
{
  const gchar *name;
  gsize        channels;   /* of the full-resolution side */
  gsize        height;     /* full resolution */
  gsize        width;
  gint         r;
} ShuffleCase;

static const ShuffleCase shuffle_cases[] = {
  { "r1",        2,  3,  5,  1 },
  { "r2",        3,  8,  6,  2 },
  { "r4-image",  3, 48, 64,  4 },
  { "r16",       3, 32, 48, 16 },
  { "r2-wide",  64, 16, 40,  2 },
};

static VaeTensor *
random_tensor (GRand *rand,
               gsize  c,
               gsize  h,
               gsize  w)
{
  VaeTensor *t = vae_tensor_new_3d (c, h, w, NULL);
  gsize      i;

  for (i = 0; i < t->n_elements; i++)
    t->data[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);

  return t;
}

static void
test_shuffle_case (gconstpointer data)
{
  const ShuffleCase    *c = data;
  const gsize           r = c->r;
  g_autoptr (GRand)     rand = g_rand_new_with_seed (3);
  g_autoptr (VaeTensor) x = random_tensor (rand, c->channels, c->height, c->width);
  g_autoptr (VaeTensor) low = vae_tensor_new_3d (c->channels * r * r, c->height / r,
                                                 c->width / r, NULL);
  g_autoptr (VaeTensor) low_ref = vae_tensor_new_3d (c->channels * r * r,
                                                     c->height / r, c->width / r,
                                                     NULL);
  g_autoptr (VaeTensor) back = vae_tensor_new_3d (c->channels, c->height,
                                                  c->width, NULL);
  gsize                 ch, y, xx;
  gint                  threads;

  /* The reference against the definition, index by index. */
  vae_pixel_unshuffle_reference (x, c->r, 2.0f, -1.0f, low_ref);
  for (ch = 0; ch < c->channels; ch++)
    for (y = 0; y < c->height; y++)
      for (xx = 0; xx < c->width; xx++)
        {
          gsize  oc = ch * r * r + (y % r) * r + xx % r;
          gfloat v = low_ref->data[(oc * (c->height / r) + y / r) * (c->width / r) + xx / r];

          g_assert_cmpfloat (v, ==, x->data[(ch * c->height + y) * c->width + xx] * 2.0f - 1.0f);
        }

  for (threads = 1; threads <= 3; threads++)
    {
      g_autoptr (GError) error = NULL;
      VaeRun             run;

      run_begin (&run, threads, FALSE);
      memset (low->data, 0xff, low->n_elements * sizeof (gfloat));
      g_assert_true (vae_op_pixel_unshuffle (&run, x, c->r, 2.0f, -1.0f, low,
                                             &error));
      g_assert_no_error (error);
      test_assert_close ("unshuffle (2 x - 1)", low->data, low_ref->data,
                    low->n_elements, 1e-7);

      g_assert_true (vae_op_pixel_unshuffle (&run, x, c->r, 1.0f, 0.0f, low,
                                             &error));
      memset (back->data, 0xff, back->n_elements * sizeof (gfloat));
      g_assert_true (vae_op_pixel_shuffle (&run, low, c->r, back, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (back->data, back->n_elements * sizeof (gfloat),
                       x->data, x->n_elements * sizeof (gfloat));

      /* shuffle's reference agrees too */
      memset (back->data, 0, back->n_elements * sizeof (gfloat));
      vae_pixel_shuffle_reference (low, c->r, back);
      g_assert_cmpmem (back->data, back->n_elements * sizeof (gfloat),
                       x->data, x->n_elements * sizeof (gfloat));
      vae_run_clear (&run);
    }
}

/* [1, 2, 2] (a b / c d) unshuffles by 2 into the four channels a, b, c,
 * d; [8, 1, 1] (0..7) shuffles into two 2x2 channels. */
static void
test_shuffle_hand (void)
{
  g_autoptr (VaeTensor) x = vae_tensor_new_3d (1, 2, 2, NULL);
  g_autoptr (VaeTensor) y = vae_tensor_new_3d (4, 1, 1, NULL);
  g_autoptr (VaeTensor) s = vae_tensor_new_3d (8, 1, 1, NULL);
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (2, 2, 2, NULL);
  g_autoptr (GError)    error = NULL;
  const gfloat          a[] = { 10, 11, 12, 13 };
  VaeRun                run;
  guint                 i;

  memcpy (x->data, a, sizeof a);
  for (i = 0; i < 8; i++)
    s->data[i] = i;
  run_begin (&run, 1, FALSE);
  g_assert_true (vae_op_pixel_unshuffle (&run, x, 2, 1.0f, 0.0f, y, &error));
  g_assert_true (vae_op_pixel_shuffle (&run, s, 2, t, &error));
  g_assert_no_error (error);
  for (i = 0; i < 4; i++)
    g_assert_cmpfloat (y->data[i], ==, a[i]);
  /* channel 0 takes inputs 0..3 as (0 1 / 2 3), channel 1 inputs 4..7 */
  for (i = 0; i < 8; i++)
    g_assert_cmpfloat (t->data[i], ==, i);

  /* wrong output shape */
  g_assert_false (vae_op_pixel_shuffle (&run, s, 2, y, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  g_clear_error (&error);
  /* 2x2 does not unshuffle by 4 */
  g_assert_false (vae_op_pixel_unshuffle (&run, x, 4, 1.0f, 0.0f, y, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_SHAPE);
  vae_run_clear (&run);
}

/* --- transpose -------------------------------------------------------------- */

static void
test_transpose (void)
{
  const gsize shapes[][2] = {
    { 1, 1 }, { 1, 70 }, { 70, 1 }, { 32, 32 }, { 33, 31 }, { 64, 4096 },
    { 4096, 64 }, { 100, 257 },
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);
  guint             i;

  for (i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      const gsize        rows = shapes[i][0], cols = shapes[i][1];
      g_autofree gfloat *a = random_array (rand, rows * cols, 0.0, 1.0);
      g_autofree gfloat *t = g_new (gfloat, rows * cols);
      g_autofree gfloat *back = g_new (gfloat, rows * cols);
      gint               threads;
      gsize              r, c;

      for (threads = 1; threads <= 3; threads++)
        {
          g_autoptr (GError) error = NULL;
          VaeRun             run;

          memset (t, 0xff, rows * cols * sizeof (gfloat));
          run_begin (&run, threads, FALSE);
          g_assert_true (vae_op_transpose (&run, a, rows, cols, t, &error));
          g_assert_true (vae_op_transpose (&run, t, cols, rows, back, &error));
          g_assert_no_error (error);
          vae_run_clear (&run);
          for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c++)
              g_assert_cmpfloat (t[c * rows + r], ==, a[r * cols + c]);
          g_assert_cmpmem (back, rows * cols * sizeof (gfloat),
                           a, rows * cols * sizeof (gfloat));
        }
      vae_transpose_reference (a, rows, cols, back);
      g_assert_cmpmem (back, rows * cols * sizeof (gfloat),
                       t, rows * cols * sizeof (gfloat));
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  TEST_ADD_CASES ("/layer-norm", ln_cases, test_layer_norm_case);
  g_test_add_func ("/layer-norm/hand", test_layer_norm_hand);

  TEST_ADD_CASES ("/linear", linear_cases, test_linear_case);
  g_test_add_func ("/linear/hand", test_linear_hand);
  g_test_add_func ("/linear/gelu", test_linear_gelu);
  g_test_add_func ("/linear/errors", test_linear_errors);

  TEST_ADD_CASES ("/rope", rope_cases, test_rope_case);
  g_test_add_func ("/rope/hand", test_rope_hand);
  g_test_add_func ("/rope/relative", test_rope_relative);
  g_test_add_func ("/rope/errors", test_rope_errors);

  TEST_ADD_CASES ("/pixel-shuffle", shuffle_cases, test_shuffle_case);
  g_test_add_func ("/pixel-shuffle/hand", test_shuffle_hand);
  g_test_add_func ("/transpose", test_transpose);

  return g_test_run ();
}
