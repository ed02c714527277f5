/* gimp-vae tests - the vectorised SiLU and the exp behind it
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae_op_silu against x / (1 + e^-x) in double, over a dense sweep of
 * [-100, 100], values near 0 and the edges of float: relative error <= 1e-6
 * (the exp is ~2 ulp, the division adds one), or absolute 1e-35 where the
 * result is below 1e-30 (x < -70: it is flushed to 0 below -88).  NaN stays NaN, +inf stays +inf, -inf gives 0.
 * vae_fast_exp on its own: relative 1e-6 over [-87, 88].
 */

#include <float.h>
#include <math.h>
#include <string.h>

#include "vae-run.h"
#include "ops.h"
#include "fast-exp.h"

static void
check_silu (gint n_threads,
            gboolean reference)
{
  const gsize           n = 400001 + 16;
  g_autoptr (VaeTensor) t = vae_tensor_new_3d (1, 1, n, NULL);
  g_autofree gfloat    *x = g_new (gfloat, n);
  VaeOptions            options;
  VaeRun                run;
  gdouble               worst = 0.0;
  gsize                 i;

  for (i = 0; i < 400001; i++)
    x[i] = -100.0f + 200.0f * i / 400000.0f;
  x[i++] = 0.0f;
  x[i++] = -0.0f;
  x[i++] = 1e-30f;
  x[i++] = -1e-30f;
  x[i++] = 87.5f;
  x[i++] = -87.5f;
  x[i++] = 88.5f;
  x[i++] = -88.5f;
  x[i++] = 1e30f;
  x[i++] = -1e30f;
  x[i++] = FLT_MAX;
  x[i++] = -FLT_MAX;
  x[i++] = INFINITY;
  x[i++] = -INFINITY;
  x[i++] = NAN;
  x[i++] = 3.0f;
  g_assert_cmpuint (i, ==, n);
  memcpy (t->data, x, n * sizeof (gfloat));

  vae_options_init (&options);
  options.n_threads = n_threads;
  options.reference = reference;
  vae_run_init (&run, &options, NULL, NULL, NULL);
  vae_op_silu (&run, t);
  vae_run_clear (&run);

  for (i = 0; i < n; i++)
    {
      const gdouble v = x[i];
      const gdouble got = t->data[i];
      gdouble       want, err;

      if (isnan (v))
        {
          g_assert_true (isnan (got));
          continue;
        }
      /* The reference kernel's -inf / inf is NaN: infinities are the
       * fast kernel's promise only. */
      if (isinf (v) && reference)
        continue;
      if (isinf (v))
        {
          g_assert_cmpfloat (got, ==, v > 0 ? v : 0.0);
          continue;
        }
      want = v >= 0 ? v / (1.0 + exp (-v)) : v * exp (v) / (1.0 + exp (v));
      err = fabs (got - want);
      if (fabs (want) > 1e-30)
        err /= fabs (want);
      else if (err <= 1e-35)
        err = 0.0;
      if (err > worst)
        worst = err;
      if (! (err <= 1e-6))
        g_error ("silu (%.9g) = %.9g, expected %.9g", v, got, want);
    }
  g_test_message ("%s kernel, %d thread(s): worst relative error %.3g",
                  reference ? "reference" : "fast", n_threads, worst);
}

static void
test_silu (void)
{
  check_silu (1, FALSE);
  check_silu (2, FALSE);
  check_silu (1, TRUE);
}

static void
test_exp (void)
{
  gdouble worst = 0.0;
  gint    i;

  for (i = 0; i <= 1750000; i++)
    {
      const gfloat  x = -87.0f + 175.0f * i / 1750000.0f;
      const gdouble err = fabs (vae_fast_exp (x) / exp (x) - 1.0);

      worst = MAX (worst, err);
    }
  g_test_message ("vae_fast_exp on [-87, 88]: worst relative error %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-6);
  g_assert_cmpfloat (vae_fast_exp (0.0f), ==, 1.0f);
  g_assert_true (isnan (vae_fast_exp (NAN)));
  g_assert_cmpfloat (vae_fast_exp (-1000.0f), <=, 2e-38f);
  g_assert_cmpfloat (vae_fast_exp (1000.0f), >=, 1e38f);
  g_assert_true (isfinite (vae_fast_exp (1000.0f)));
  /* the whole float range: a latent of 3e38 reaches here as NaN or inf,
   * which must not overflow the exponent arithmetic (UBSan builds) */
  g_assert_true (isnan (vae_fast_exp (-NAN)));
  g_assert_cmpfloat (vae_fast_exp (INFINITY), >=, 1e38f);
  g_assert_cmpfloat (vae_fast_exp (-INFINITY), <=, 2e-38f);
  g_assert_cmpfloat (vae_fast_exp (3e38f), >=, 1e38f);
  g_assert_cmpfloat (vae_fast_exp (-FLT_MAX), <=, 2e-38f);
  g_assert_cmpfloat (vae_fast_exp (1e-45f), ==, 1.0f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ops/silu", test_silu);
  g_test_add_func ("/ops/fast-exp", test_exp);

  return g_test_run ();
}
