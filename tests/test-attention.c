/* gimp-vae tests - the streaming attention op
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae_op_attention (blocked, online softmax, float) against
 * vae_attention_reference (a query at a time, double) over a table of
 * token counts, heads and head sizes, on 1, 2 and 3 threads; a case
 * computed by hand; and a 16384-token case (too slow for the reference)
 * whose sampled rows are checked against a per-row softmax in double
 * written here.  vae_op_attention_partial, fed the keys and values in
 * uneven blocks for a subset of the queries, against the same reference,
 * with the optimized and the reference kernels.
 *
 * Tolerance: max |fast - reference| <= 1e-5 * max (1, max |v|) for scores
 * of moderate size (measured: <= 3e-7).  Every output is a convex
 * combination of rows of v, so max |v| bounds it; the float sums of a few
 * thousand terms stay well inside.  With scores in the thousands
 * ("large-scores", where a plain exp would overflow float), the float
 * rounding of the scores themselves (1e-7 relative of ~2000) shifts the
 * softmax weights, hence 2e-4 there (measured: 1.7e-5).
 */

#include <math.h>
#include <string.h>

#include "vae-error.h"
#include "vae-run.h"
#include "ops.h"
#include "test-util.h"

typedef struct
{
  const gchar *name;
  gsize        n_tokens;
  gint         n_heads;
  gint         head_dim;
  gdouble      qk_range;     /* q and k uniform in +-qk_range */
  gdouble      scale;        /* 0: 1 / sqrt (head_dim) */
  gdouble      tolerance;
} AttnCase;

static const AttnCase cases[] = {
  { "1-token",             1, 1,   8, 1.0, 0, 1e-5 },
  { "1-token-3-heads",     1, 3,   4, 1.0, 0, 1e-5 },
  { "7-tokens",            7, 1,   8, 1.0, 0, 1e-5 },
  { "64-tokens",          64, 1,  16, 1.0, 0, 1e-5 },
  { "block-plus-1",      513, 1,  32, 2.0, 0, 1e-5 },
  { "300x3-heads",       300, 3,  16, 2.0, 0, 1e-5 },
  { "odd-head-dim",      130, 2,  13, 1.5, 0, 1e-5 },
  { "kl-mid-block",      300, 1, 512, 1.0, 0, 1e-5 },
  { "many-key-blocks",  1100, 2,  24, 1.0, 0, 1e-5 },
  { "large-scores",      333, 2,  16, 40.0, 1.0, 2e-4 },
};

static gfloat *
random_array (GRand   *rand,
              gsize    n,
              gdouble  range)
{
  gfloat *a = g_new (gfloat, MAX (n, 1));
  gsize   i;

  for (i = 0; i < n; i++)
    a[i] = (gfloat) g_rand_double_range (rand, -range, range);

  return a;
}

static gdouble
max_abs (const gfloat *a,
         gsize         n)
{
  gdouble m = 0.0;
  gsize   i;

  for (i = 0; i < n; i++)
    m = MAX (m, fabs (a[i]));

  return m;
}

static void
run_fast (const VaeAttention *attn,
          const gfloat       *q,
          const gfloat       *k,
          const gfloat       *v,
          gsize               n_tokens,
          gint                n_threads,
          gfloat             *out)
{
  g_autoptr (GError) error = NULL;
  VaeOptions         options;
  VaeRun             run;

  vae_options_init (&options);
  options.n_threads = n_threads;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  g_assert_true (vae_op_attention (&run, attn, q, k, v, n_tokens, out, &error));
  g_assert_no_error (error);
  vae_run_clear (&run);
}

static void
test_case (gconstpointer data)
{
  const AttnCase    *c = data;
  g_autoptr (GRand)  rand = g_rand_new_with_seed (4321);
  const gsize        n = c->n_tokens * c->n_heads * c->head_dim;
  const VaeAttention attn = { c->n_heads, c->head_dim,
                              c->scale > 0 ? c->scale : 1.0 / sqrt (c->head_dim) };
  g_autofree gfloat *q = random_array (rand, n, c->qk_range);
  g_autofree gfloat *k = random_array (rand, n, c->qk_range);
  g_autofree gfloat *v = random_array (rand, n, 1.0);
  g_autofree gfloat *ref = g_new (gfloat, n);
  g_autofree gfloat *fast = g_new (gfloat, n);
  gdouble            bound = c->tolerance * MAX (1.0, max_abs (v, n));
  gint               threads;

  vae_attention_reference (&attn, q, k, v, c->n_tokens, ref);

  for (threads = 1; threads <= 3; threads++)
    {
      gdouble max_diff = 0.0;
      gsize   i;

      memset (fast, 0xff, n * sizeof (gfloat));   /* NaN: unwritten shows */
      run_fast (&attn, q, k, v, c->n_tokens, threads, fast);
      for (i = 0; i < n; i++)
        {
          gdouble d = fabs ((gdouble) fast[i] - ref[i]);

          if (! (d <= max_diff))
            max_diff = d;
        }
      g_test_message ("%s, %d thread(s): max |diff| %.3g (tolerance %.3g)",
                      c->name, threads, max_diff, bound);
      if (! (max_diff <= bound))
        g_error ("%s, %d thread(s): max |diff| %g > %g", c->name, threads,
                 max_diff, bound);
    }
}

/* Two tokens, two heads of width 1.  Head 0: q0 = ln 3, k = (1, 0), so
 * token 0's weights are (3/4, 1/4) and token 1's (1/2, 1/2); v = (1, 3)
 * gives 1.5 and 2.  Head 1: q = (0, 2 ln 2), k = (1, -1): token 0 weighs
 * both equally, token 1 sees scores (2 ln 2, -2 ln 2), weights (16/17,
 * 1/17); v = (-2, 15) gives 6.5 and -17/17 = -1. */
static void
test_hand (void)
{
  const gfloat       ln3 = logf (3.0f), ln2 = logf (2.0f);
  const gfloat       q[] = { ln3, 0.0f,
                             0.0f, 2 * ln2 };
  const gfloat       k[] = { 1.0f, 1.0f,
                             0.0f, -1.0f };
  const gfloat       v[] = { 1.0f, -2.0f,
                             3.0f, 15.0f };
  const gdouble      expect[] = { 1.5, 6.5,
                                  2.0, -1.0 };
  const VaeAttention attn = { 2, 1, 1.0f };
  gfloat             out[4], ref[4];
  guint              i;

  g_test_summary ("Two tokens, two heads, weights computed by hand");

  run_fast (&attn, q, k, v, 2, 1, out);
  vae_attention_reference (&attn, q, k, v, 2, ref);
  for (i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      g_assert_cmpfloat_with_epsilon (out[i], expect[i], 1e-5);
      g_assert_cmpfloat_with_epsilon (ref[i], expect[i], 1e-5);
    }
}

/* One token attends only to itself: out == v whatever the scores. */
static void
test_single_token (void)
{
  const gfloat       q[] = { 1e30f, -3.0f }, k[] = { 1e8f, 7.0f };
  const gfloat       v[] = { 0.25f, -8.0f };
  const VaeAttention attn = { 2, 1, 1.0f };
  gfloat             out[2];

  run_fast (&attn, q, k, v, 1, 2, out);
  g_assert_cmpfloat (out[0], ==, 0.25f);
  g_assert_cmpfloat (out[1], ==, -8.0f);
}

/* NaN in a key must not be swallowed by the running max. */
static void
test_nan (void)
{
  const VaeAttention attn = { 1, 4, 0.5f };
  gfloat             q[3 * 4], k[3 * 4], v[3 * 4], out[3 * 4];
  guint              i;

  for (i = 0; i < G_N_ELEMENTS (q); i++)
    q[i] = k[i] = v[i] = 0.1f * i;
  k[4] = NAN;
  run_fast (&attn, q, k, v, 3, 1, out);
  for (i = 0; i < G_N_ELEMENTS (out); i++)
    g_assert_true (isnan (out[i]));
}

/* 16384 tokens (a 1024^2 image in the KL mid-block, narrower heads): the
 * reference kernel, all 16384^2 scores in double, would be slow, so
 * sampled rows are checked against a softmax computed here in double, one
 * row at a time. */
static void
test_large (void)
{
  const gsize        n_tokens = 16384;
  const gint         heads = 2, dim = 8;
  const gsize        ld = heads * dim, n = n_tokens * ld;
  const gfloat       scale = 1.0 / sqrt (dim);
  const VaeAttention attn = { heads, dim, scale };
  g_autoptr (GRand)  rand = g_rand_new_with_seed (77);
  g_autofree gfloat *q = random_array (rand, n, 1.5);
  g_autofree gfloat *k = random_array (rand, n, 1.5);
  g_autofree gfloat *v = random_array (rand, n, 1.0);
  g_autofree gfloat *out = g_new (gfloat, n);
  g_autofree gdouble *w = g_new (gdouble, n_tokens);
  gdouble            max_diff = 0.0;
  guint              s;

  run_fast (&attn, q, k, v, n_tokens, 2, out);

  for (s = 0; s < 24; s++)
    {
      const gsize i = s == 0 ? 0 : s == 1 ? n_tokens - 1
                                          : (gsize) g_rand_int_range (rand, 0, n_tokens);
      gint h;

      for (h = 0; h < heads; h++)
        {
          gdouble max = -INFINITY, sum = 0.0;
          gsize   j;
          gint    c;

          for (j = 0; j < n_tokens; j++)
            {
              gdouble dot = 0.0;

              for (c = 0; c < dim; c++)
                dot += (gdouble) q[i * ld + h * dim + c] * k[j * ld + h * dim + c];
              w[j] = dot * scale;
              max = MAX (max, w[j]);
            }
          for (j = 0; j < n_tokens; j++)
            {
              w[j] = exp (w[j] - max);
              sum += w[j];
            }
          for (c = 0; c < dim; c++)
            {
              gdouble acc = 0.0;

              for (j = 0; j < n_tokens; j++)
                acc += w[j] * v[j * ld + h * dim + c];
              max_diff = MAX (max_diff, fabs (acc / sum - out[i * ld + h * dim + c]));
            }
        }
    }

  g_test_message ("16384 tokens, 24 sampled rows: max |diff| %.3g", max_diff);
  g_assert_cmpfloat (max_diff, <=, 2e-5);
}

/* Queries [q0, q0 + nq) of a case through vae_op_attention_partial, the
 * keys and values in blocks of 1, then 7, 100, 257, ... tokens. */
static void
test_partial (void)
{
  static const struct { gsize n; gint heads, dim; gsize q0, nq; } parts[] = {
    { 300, 1, 512, 40, 130 },
    { 1100, 2, 24, 0, 1100 },
    { 130, 3, 13, 129, 1 },
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (99);
  guint             p;
  gint              reference;

  for (p = 0; p < G_N_ELEMENTS (parts); p++)
    for (reference = 0; reference <= 1; reference++)
      {
        const gsize         n = parts[p].n, ld = (gsize) parts[p].heads * parts[p].dim;
        const gsize         q0 = parts[p].q0, nq = parts[p].nq;
        const VaeAttention  attn = { parts[p].heads, parts[p].dim,
                                     1.0 / sqrt (parts[p].dim) };
        g_autofree gfloat  *q = random_array (rand, n * ld, 1.5);
        g_autofree gfloat  *k = random_array (rand, n * ld, 1.5);
        g_autofree gfloat  *v = random_array (rand, n * ld, 1.0);
        g_autofree gfloat  *ref = g_new (gfloat, n * ld);
        g_autofree gfloat  *acc = g_new (gfloat, nq * ld);
        g_autofree gfloat  *max = g_new (gfloat, nq * parts[p].heads);
        g_autofree gfloat  *sum = g_new (gfloat, nq * parts[p].heads);
        VaeAttentionState   state = { nq, max, sum, acc };
        g_autoptr (GError)  error = NULL;
        VaeOptions          options;
        VaeRun              run;
        gsize               k0, block = 1, i;
        gdouble             diff = 0.0;

        vae_attention_reference (&attn, q, k, v, n, ref);
        vae_options_init (&options);
        options.reference = reference;
        options.n_threads = 2;
        vae_run_init (&run, &options, NULL, NULL, NULL);
        vae_run_begin (&run, "attention", 4.0 * nq * n * ld);
        vae_attention_state_init (&attn, &state);
        for (k0 = 0; k0 < n; k0 += block, block = block * 7 + 2)
          {
            const gsize nk = MIN (block, n - k0);

            g_assert_true (vae_op_attention_partial (&run, &attn, q + q0 * ld, k + k0 * ld,
                                                     v + k0 * ld, nk, &state, &error));
            g_assert_no_error (error);
          }
        vae_attention_state_finish (&attn, &state);
        g_assert_cmpfloat (fabs (run.work_done / run.work_total - 1.0), <, 1e-9);
        vae_run_clear (&run);

        for (i = 0; i < nq * ld; i++)
          diff = MAX (diff, fabs (acc[i] - ref[q0 * ld + i]));
        g_test_message ("%" G_GSIZE_FORMAT " tokens, %d x %d, queries %" G_GSIZE_FORMAT
                        "..%" G_GSIZE_FORMAT ", %s kernels: max |diff| %.2g", n,
                        parts[p].heads, parts[p].dim, q0, q0 + nq,
                        reference ? "reference" : "optimized", diff);
        g_assert_cmpfloat (diff, <=, 1e-5);
      }
}

static void
test_bad_arguments (void)
{
  static const VaeAttention no_heads = { 0, 4, 1.0f };
  static const VaeAttention bad_dim = { 1, -1, 1.0f };
  gfloat                    x[4] = { 0 };
  g_autoptr (GError)        error = NULL;
  VaeRun                    run;

  vae_run_init (&run, NULL, NULL, NULL, NULL);
  g_assert_false (vae_op_attention (&run, &no_heads, x, x, x, 1, x, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vae_op_attention (&run, &bad_dim, x, x, x, 1, x, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_INVALID_ARGUMENT);
  vae_run_clear (&run);
}

static void
test_cancel (void)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError)       error = NULL;
  const VaeAttention       attn = { 1, 4, 1.0f };
  gfloat                   x[8] = { 0 }, out[8];
  VaeRun                   run;

  g_cancellable_cancel (cancellable);
  vae_run_init (&run, NULL, cancellable, NULL, NULL);
  g_assert_false (vae_op_attention (&run, &attn, x, x, x, 2, out, &error));
  g_assert_error (error, VAE_ERROR, VAE_ERROR_CANCELLED);
  vae_run_clear (&run);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  TEST_ADD_CASES ("/ops/attention", cases, test_case);
  g_test_add_func ("/ops/attention/hand", test_hand);
  g_test_add_func ("/ops/attention/single-token", test_single_token);
  g_test_add_func ("/ops/attention/nan", test_nan);
  g_test_add_func ("/ops/attention/16384-tokens", test_large);
  g_test_add_func ("/ops/attention/partial", test_partial);
  g_test_add_func ("/ops/attention/bad-arguments", test_bad_arguments);
  g_test_add_func ("/ops/attention/cancel", test_cancel);

  return g_test_run ();
}
