/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-image.h"
#include "vae-latent-private.h"
#include "vae-tensor-private.h"

/* Arithmetic on latents.  Every operation makes a new latent that carries
 * the model and image size of its first input; the inputs never change.
 * Sums are formed in double and rounded once to float.
 */

/* A new latent of @like's shape and metadata, values uninitialised. */
static VaeLatent *
latent_new_like (const VaeLatent  *like,
                 gfloat          **data,
                 GError          **error)
{
  const VaeTensor *t = vae_latent_get_tensor (like);
  VaeTensor       *tensor;
  VaeLatent       *latent;
  guint            width, height;

  tensor = vae_tensor_new_3d_uninit (VAE_T_C (t), VAE_T_H (t), VAE_T_W (t),
                                     error);
  if (! tensor)
    return NULL;

  /* The latent keeps the tensor alive and the data where it is. */
  *data = tensor->data;
  latent = vae_latent_new (tensor, error);
  vae_tensor_unref (tensor);
  if (! latent)
    return NULL;

  vae_latent_set_model (latent, vae_latent_get_model_id (like),
                        vae_latent_get_model_hash (like));
  vae_latent_get_image_size (like, &width, &height);
  vae_latent_set_image_size (latent, width, height);

  return latent;
}

/* Two latents can be combined when they have the same shape and, if both
 * know the model that made them, the model is the same. */
static gboolean
check_compatible (const VaeLatent  *a,
                  const VaeLatent  *b,
                  GError          **error)
{
  const VaeTensor *ta = vae_latent_get_tensor (a);
  const VaeTensor *tb = vae_latent_get_tensor (b);
  const gchar     *ha = vae_latent_get_model_hash (a);
  const gchar     *hb = vae_latent_get_model_hash (b);

  if (! vae_tensor_check_same_shape (ta, tb, "combine latents", error))
    return FALSE;
  if (ha && hb && strcmp (ha, hb) != 0)
    {
      const gchar *ia = vae_latent_get_model_id (a);
      const gchar *ib = vae_latent_get_model_id (b);

      g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                   "the latents were made by different models (%s and %s)",
                   ia ? ia : ha, ib ? ib : hb);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_finite (gdouble       value,
              const gchar  *what,
              GError      **error)
{
  if (! isfinite (value))
    return vae_fail (error, VAE_ERROR_INVALID_ARGUMENT,
                     "%s must be a finite number, not %g", what, value);

  return TRUE;
}

static void
lerp_values (const gfloat *a,
             const gfloat *b,
             gdouble       wa,
             gdouble       wb,
             gfloat       *out,
             gsize         n)
{
  gsize i;

  for (i = 0; i < n; i++)
    out[i] = (gfloat) (wa * a[i] + wb * b[i]);
}

/* Above this cosine the two directions are so close that sin (theta) in
 * the slerp weights is mostly rounding error, and lerp is as good. */
#define SLERP_PARALLEL_COSINE 0.9995

/* The slerp weights of @a and @b at @t; lerp's where the two are (nearly)
 * parallel or one is zero. */
static void
slerp_weights (const VaeTensor *a,
               const VaeTensor *b,
               gdouble          t,
               gdouble         *wa,
               gdouble         *wb)
{
  gdouble dot = 0.0, na = 0.0, nb = 0.0;
  gdouble cosine, theta;
  gsize   i;

  for (i = 0; i < a->n_elements; i++)
    {
      dot += (gdouble) a->data[i] * b->data[i];
      na += (gdouble) a->data[i] * a->data[i];
      nb += (gdouble) b->data[i] * b->data[i];
    }

  cosine = na > 0.0 && nb > 0.0 ? dot / sqrt (na * nb) : 1.0;
  if (fabs (cosine) > SLERP_PARALLEL_COSINE)
    {
      *wa = 1.0 - t;
      *wb = t;
      return;
    }
  theta = acos (cosine);
  *wa = sin ((1.0 - t) * theta) / sin (theta);
  *wb = sin (t * theta) / sin (theta);
}

/* vae_latent_lerp (), or with @spherical vae_latent_slerp (). */
static VaeLatent *
interpolate (const VaeLatent  *a,
             const VaeLatent  *b,
             gdouble           t,
             gboolean          spherical,
             GError          **error)
{
  const VaeTensor *ta, *tb;
  VaeLatent       *out;
  gfloat          *data;
  gdouble          wa = 1.0 - t, wb = t;

  if (! check_compatible (a, b, error) || ! check_finite (t, "t", error))
    return NULL;

  ta = vae_latent_get_tensor (a);
  tb = vae_latent_get_tensor (b);
  if (spherical)
    slerp_weights (ta, tb, t, &wa, &wb);

  out = latent_new_like (a, &data, error);
  if (! out)
    return NULL;
  lerp_values (ta->data, tb->data, wa, wb, data, ta->n_elements);

  return out;
}

/**
 * vae_latent_lerp:
 * @a: a latent
 * @b: a latent of the same shape and model
 * @t: the position between them: 0 gives @a, 1 gives @b; values outside
 *   [0, 1] extrapolate
 * @error: return location for a #GError
 *
 * Linear interpolation (1 - @t) @a + @t @b, element by element.
 *
 * Returns: (transfer full) (nullable): a new latent with @a's model and
 *   image size, or %NULL with %VAE_ERROR_SHAPE,
 *   %VAE_ERROR_MODEL_MISMATCH (both carry model hashes and they differ) or
 *   %VAE_ERROR_INVALID_ARGUMENT (@t not finite).
 */
VaeLatent *
vae_latent_lerp (const VaeLatent  *a,
                 const VaeLatent  *b,
                 gdouble           t,
                 GError          **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  return interpolate (a, b, t, FALSE, error);
}

/**
 * vae_latent_slerp:
 * @a: a latent
 * @b: a latent of the same shape and model
 * @t: the position between them: 0 gives @a, 1 gives @b
 * @error: return location for a #GError
 *
 * Spherical linear interpolation of the whole latents taken as two flat
 * vectors: with theta the angle between them,
 * sin ((1 - @t) theta) / sin theta * @a + sin (@t theta) / sin theta * @b.
 * Unlike lerp it keeps the norm of interpolated Gaussian-like latents from
 * sagging half way.  When the vectors are nearly parallel or opposite
 * (|cos theta| > 0.9995) or one of them is zero, where the angle is
 * ill-defined, it falls back to vae_latent_lerp().
 *
 * Returns: (transfer full) (nullable): a new latent with @a's model and
 *   image size, or %NULL with the errors of vae_latent_lerp().
 */
VaeLatent *
vae_latent_slerp (const VaeLatent  *a,
                  const VaeLatent  *b,
                  gdouble           t,
                  GError          **error)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  return interpolate (a, b, t, TRUE, error);
}

/**
 * vae_latent_adjust:
 * @latent: a latent with C channels
 * @gain: factor for every value
 * @offset: added to every value after @gain
 * @channel_gain: (nullable) (array): C per-channel factors, applied after
 *   @gain and @offset, or %NULL for none
 * @channel_offset: (nullable) (array): C per-channel offsets, added last,
 *   or %NULL for none
 * @error: return location for a #GError
 *
 * Affine change of the values: for channel c,
 * ((v * @gain + @offset) * @channel_gain[c]) + @channel_offset[c].
 *
 * Returns: (transfer full) (nullable): a new latent with @latent's model
 *   and image size, or %NULL with %VAE_ERROR_INVALID_ARGUMENT if a factor
 *   or offset is not finite.
 */
VaeLatent *
vae_latent_adjust (const VaeLatent  *latent,
                   gdouble           gain,
                   gdouble           offset,
                   const gdouble    *channel_gain,
                   const gdouble    *channel_offset,
                   GError          **error)
{
  const VaeTensor *t;
  VaeLatent       *out;
  gfloat          *data;
  gsize            c, plane, ch, i;

  g_return_val_if_fail (latent != NULL, NULL);

  t = vae_latent_get_tensor (latent);
  c = VAE_T_C (t);
  plane = VAE_T_H (t) * VAE_T_W (t);

  if (! check_finite (gain, "the gain", error) ||
      ! check_finite (offset, "the offset", error))
    return NULL;
  for (ch = 0; ch < c; ch++)
    if ((channel_gain &&
         ! check_finite (channel_gain[ch], "a channel gain", error)) ||
        (channel_offset &&
         ! check_finite (channel_offset[ch], "a channel offset", error)))
      return NULL;

  out = latent_new_like (latent, &data, error);
  if (! out)
    return NULL;

  for (ch = 0; ch < c; ch++)
    {
      gdouble       g = channel_gain ? channel_gain[ch] : 1.0;
      gdouble       o = channel_offset ? channel_offset[ch] : 0.0;
      const gfloat *src = t->data + ch * plane;
      gfloat       *dst = data + ch * plane;

      for (i = 0; i < plane; i++)
        dst[i] = (gfloat) ((src[i] * gain + offset) * g + o);
    }

  return out;
}

/* The generator: see vae-latent-private.h. */

guint64
vae_splitmix64 (guint64 *state)
{
  guint64 z;

  *state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  z = *state;
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);

  return z ^ (z >> 31);
}

void
vae_random_init (VaeRandom *random,
                 guint64    seed)
{
  guint64 state = seed;
  gint    i;

  /* SplitMix64 never yields four zero words in a row, the one state
   * xoshiro must not start from. */
  for (i = 0; i < 4; i++)
    random->s[i] = vae_splitmix64 (&state);
}

void
vae_random_init_state (VaeRandom *random,
                       guint64    s0,
                       guint64    s1,
                       guint64    s2,
                       guint64    s3)
{
  random->s[0] = s0;
  random->s[1] = s1;
  random->s[2] = s2;
  random->s[3] = s3;
}

static inline guint64
rotl (guint64 x,
      gint    k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
vae_random_next (VaeRandom *random)
{
  guint64 *s = random->s;
  guint64  result = rotl (s[1] * 5, 7) * 9;
  guint64  t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);

  return result;
}

void
vae_random_gaussian_pair (VaeRandom *random,
                          gdouble   *z0,
                          gdouble   *z1)
{
  const gdouble scale = 1.0 / 9007199254740992.0;   /* 2^-53 */
  gdouble       u1, u2, r;

  u1 = (gdouble) ((vae_random_next (random) >> 11) + 1) * scale;
  u2 = (gdouble) (vae_random_next (random) >> 11) * scale;
  r = sqrt (-2.0 * log (u1));
  *z0 = r * cos (2.0 * G_PI * u2);
  *z1 = r * sin (2.0 * G_PI * u2);
}

/**
 * vae_latent_add_noise:
 * @latent: a latent
 * @seed: the seed; the same seed gives the same noise on every machine
 * @strength: standard deviation of the added noise, >= 0
 * @error: return location for a #GError
 *
 * Adds Gaussian noise of mean 0 and standard deviation @strength to every
 * value.  The noise is xoshiro256** seeded through SplitMix64 and turned
 * Gaussian with the Box-Muller transform, in double precision, one pair of
 * values per two generator outputs, in the order of the values ([C, h, w],
 * row-major); the exact recipe is in vae-latent-private.h.  Only the last
 * bits of the libm functions could make two machines differ.
 *
 * Returns: (transfer full) (nullable): a new latent with @latent's model
 *   and image size, or %NULL with %VAE_ERROR_INVALID_ARGUMENT for a
 *   negative or non-finite @strength.
 */
VaeLatent *
vae_latent_add_noise (const VaeLatent  *latent,
                      guint64           seed,
                      gdouble           strength,
                      GError          **error)
{
  const VaeTensor *t;
  VaeLatent       *out;
  VaeRandom        random;
  gfloat          *data;
  gsize            i, n;

  g_return_val_if_fail (latent != NULL, NULL);

  if (! isfinite (strength) || strength < 0.0)
    return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                          "the noise strength must be a number >= 0, not %g",
                          strength);

  out = latent_new_like (latent, &data, error);
  if (! out)
    return NULL;

  t = vae_latent_get_tensor (latent);
  n = t->n_elements;
  vae_random_init (&random, seed);
  for (i = 0; i < n; i += 2)
    {
      gdouble z0, z1;

      vae_random_gaussian_pair (&random, &z0, &z1);
      data[i] = (gfloat) (t->data[i] + strength * z0);
      if (i + 1 < n)
        data[i + 1] = (gfloat) (t->data[i + 1] + strength * z1);
    }

  return out;
}

/**
 * vae_latent_mix:
 * @a: a latent with C channels
 * @b: a latent of the same shape and model
 * @channel_weight: (array): C weights, one per channel
 * @error: return location for a #GError
 *
 * Mixes channel by channel: channel c of the result is
 * (1 - w_c) @a_c + w_c @b_c with w_c = @channel_weight[c], so a weight of
 * 0 keeps @a's channel and 1 takes @b's.
 *
 * Returns: (transfer full) (nullable): a new latent with @a's model and
 *   image size, or %NULL with %VAE_ERROR_SHAPE,
 *   %VAE_ERROR_MODEL_MISMATCH or %VAE_ERROR_INVALID_ARGUMENT (a weight is
 *   not finite).
 */
VaeLatent *
vae_latent_mix (const VaeLatent  *a,
                const VaeLatent  *b,
                const gdouble    *channel_weight,
                GError          **error)
{
  const VaeTensor *ta, *tb;
  VaeLatent       *out;
  gfloat          *data;
  gsize            c, plane, ch;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);
  g_return_val_if_fail (channel_weight != NULL, NULL);

  if (! check_compatible (a, b, error))
    return NULL;

  ta = vae_latent_get_tensor (a);
  tb = vae_latent_get_tensor (b);
  c = VAE_T_C (ta);
  plane = VAE_T_H (ta) * VAE_T_W (ta);

  for (ch = 0; ch < c; ch++)
    if (! check_finite (channel_weight[ch], "a channel weight", error))
      return NULL;

  out = latent_new_like (a, &data, error);
  if (! out)
    return NULL;

  for (ch = 0; ch < c; ch++)
    lerp_values (ta->data + ch * plane, tb->data + ch * plane,
                 1.0 - channel_weight[ch], channel_weight[ch],
                 data + ch * plane, plane);

  return out;
}

/**
 * vae_latent_resize:
 * @latent: latents
 * @width: the new latent width
 * @height: the new latent height
 * @error: return location for a #GError
 *
 * Resamples latents (bicubic, like pictures), keeping their model and
 * scaling the image size they decode to by the same factor.
 *
 * Returns: (transfer full) (nullable): the resampled latents, or a new
 *   reference to @latent when the size is already right.
 */
VaeLatent *
vae_latent_resize (const VaeLatent  *latent,
                   guint             width,
                   guint             height,
                   GError          **error)
{
  guint      w = vae_latent_get_width (latent);
  guint      h = vae_latent_get_height (latent);
  VaeTensor *tensor;
  VaeLatent *resized;
  guint      image_w;
  guint      image_h;

  g_return_val_if_fail (latent != NULL, NULL);

  if (w == width && h == height)
    return vae_latent_ref ((VaeLatent *) latent);

  tensor = vae_image_resize (vae_latent_get_tensor (latent), width, height,
                             error);
  if (tensor == NULL)
    return NULL;

  resized = vae_latent_new (tensor, error);
  vae_tensor_unref (tensor);
  if (resized == NULL)
    return NULL;

  vae_latent_set_model (resized,
                        vae_latent_get_model_id (latent),
                        vae_latent_get_model_hash (latent));
  if (vae_latent_get_image_size (latent, &image_w, &image_h))
    vae_latent_set_image_size (resized,
                               MAX (1, (guint) round (image_w * (gdouble) width / w)),
                               MAX (1, (guint) round (image_h * (gdouble) height / h)));

  return resized;
}
