/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

/* e^x in float, branch free so that loops calling it vectorise (libm's
 * expf does not): Cody-Waite reduction to x = n ln 2 + r with |r| <= ln 2 /
 * 2, a degree-6 polynomial for e^r (Cephes' coefficients, ~2 ulp), and 2^n
 * put straight into the exponent bits.  x is clamped to [-87, 88]: below,
 * e^-87 ~ 1.6e-38 stands in for results under FLT_MIN, above, e^88 ~
 * 1.65e38 for overflow, so every finite or infinite x gives a finite
 * n; NaN passes through (it compares false) and leaves n undefined, hence
 * the exponent arithmetic in unsigned integers, where any bits are
 * defined. */
/* x clamped to [lo, hi], NaN kept.  Written with masks rather than ?:,
 * because two conditionals in a row stop GCC from vectorising the loop
 * ("unsupported control flow"). */
static inline gfloat
vae_clamp_keep_nan (gfloat x,
                    gfloat lo,
                    gfloat hi)
{
  union { gfloat f; gint32 i; } v = { x }, l = { lo }, h = { hi };
  const gint32 below = -(gint32) (x < lo);
  const gint32 above = -(gint32) (x > hi);

  v.i = (v.i & ~(below | above)) | (l.i & below) | (h.i & above);

  return v.f;
}

static inline gfloat
vae_fast_exp (gfloat x)
{
  const gfloat magic = 12582912.0f;     /* 1.5 * 2^23: rounds to integer */
  union { gfloat f; guint32 u; } t, scale;
  gfloat n, r, p;

  x = vae_clamp_keep_nan (x, -87.0f, 88.0f);
  t.f = x * 1.44269504088896341f + magic;
  n = t.f - magic;
  r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;

  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;

  /* t's low mantissa bits hold n + 0x400000; n is in [-126, 127]. */
  scale.u = (t.u - 0x4B400000u + 127u) << 23;

  return p * scale.f;
}
