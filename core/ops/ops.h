/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <math.h>

#include "../vae-run.h"
#include "../vae-tensor-private.h"

G_BEGIN_DECLS

/* The closed set of ops the architectures are built from.  Feature maps are
 * 3-D tensors [channels, height, width].  The ops that compute (conv,
 * GroupNorm, LayerNorm, linear, attention, SiLU) have a plain reference
 * kernel (run->reference) beside the optimized one, and tests compare the
 * two; the elementwise ops and upsample are plain loops either way.  An op
 * with weights takes them in a descriptor (VaeConv2d, VaeGroupNorm,
 * VaeLayerNorm, VaeLinear; VaeAttention for the heads), which an
 * architecture fills once when it loads its weights.
 */

typedef enum
{
  VAE_ACT_NONE,
  VAE_ACT_RELU,
  VAE_ACT_SILU,
  VAE_ACT_GELU
} VaeActivation;

/* One value through an activation: the definition every kernel applies
 * (inline: the epilogues call it per element). */
static inline gfloat
vae_activate_scalar (gfloat        x,
                     VaeActivation act)
{
  switch (act)
    {
    case VAE_ACT_NONE:
      return x;
    case VAE_ACT_RELU:
      return x > 0.0f ? x : 0.0f;
    case VAE_ACT_SILU:
      return x / (1.0f + expf (-x));
    case VAE_ACT_GELU:
      return 0.5f * x * (1.0f + erff (x * (gfloat) G_SQRT2 * 0.5f));
    }

  return x;
}

/* conv2d: weight [c_out, c_in, kernel, kernel] (PyTorch OIHW), optional
 * bias [c_out].  Zero padding of pad_top/left/bottom/right (SD's downsample
 * pads only right and bottom).  upsample > 1 nearest-upsamples the input
 * first without materialising it.
 *
 * The epilogue is fused: out = act (conv (in) + bias + residual), residual
 * being an optional tensor of the output's shape (it may be out itself).
 */
typedef struct
{
  gint          c_in;
  gint          c_out;
  gint          kernel;
  gint          stride;
  gint          pad_top;
  gint          pad_left;
  gint          pad_bottom;
  gint          pad_right;
  gint          upsample;
  const gfloat *weight;
  const gfloat *bias;
} VaeConv2d;

void       vae_conv2d_init        (VaeConv2d         *conv,
                                   gint               c_in,
                                   gint               c_out,
                                   gint               kernel,
                                   gint               stride,
                                   gint               pad,
                                   const gfloat      *weight,
                                   const gfloat      *bias);
void       vae_conv2d_out_size    (const VaeConv2d   *conv,
                                   gsize              h_in,
                                   gsize              w_in,
                                   gsize             *h_out,
                                   gsize             *w_out);
gdouble    vae_conv2d_flops       (const VaeConv2d   *conv,
                                   gsize              h_in,
                                   gsize              w_in);
/* Allocates *out (when NULL) and runs the conv; advances the run's
 * progress by its FLOPs and checks cancellation. */
gboolean   vae_op_conv2d          (VaeRun            *run,
                                   const VaeConv2d   *conv,
                                   const VaeTensor   *in,
                                   const VaeTensor   *residual,
                                   VaeActivation      act,
                                   VaeTensor        **out,
                                   GError           **error);
/* The conv of *x into a map from @scratch, which takes *x back and
 * *x becomes the output; on failure *x is left as it was. */
gboolean   vae_op_conv2d_step     (VaeRun            *run,
                                   VaeScratch        *scratch,
                                   const VaeConv2d   *conv,
                                   VaeActivation      act,
                                   VaeTensor        **x,
                                   GError           **error);
void       vae_conv2d_reference   (const VaeConv2d   *conv,
                                   const VaeTensor   *in,
                                   const VaeTensor   *residual,
                                   VaeActivation      act,
                                   VaeTensor         *out);

/* Internal to the conv paths.  Hidden by name as well: gcc gives an
 * extern target_clones function default visibility whatever -fvisibility
 * says (its resolver: core/libvae.map). */
G_GNUC_INTERNAL
void       vae_conv2d_epilogue    (const VaeConv2d   *conv,
                                   VaeActivation      act,
                                   const gfloat      *residual,
                                   gfloat            *out,
                                   gsize              plane,
                                   gsize              p0,
                                   const gfloat      *acc,
                                   gsize              acc_stride,
                                   gsize              n);
gboolean   vae_conv2d_winograd_applies (const VaeConv2d *conv);
gboolean   vae_conv2d_winograd    (VaeRun            *run,
                                   const VaeConv2d   *conv,
                                   const VaeTensor   *in,
                                   const VaeTensor   *residual,
                                   VaeActivation      act,
                                   VaeTensor         *out,
                                   GError           **error);

/* GroupNorm over (channels/groups) x H x W, affine with gamma and beta
 * [channels] (NULL: 1 and 0), then act; in place is allowed (out == in). */
typedef struct
{
  gint          groups;
  gfloat        eps;
  const gfloat *gamma;
  const gfloat *beta;
} VaeGroupNorm;

gboolean   vae_op_group_norm      (VaeRun             *run,
                                   const VaeGroupNorm *norm,
                                   const VaeTensor    *in,
                                   VaeActivation       act,
                                   VaeTensor          *out,
                                   GError            **error);
/* Whole-image GroupNorm statistics for tiled runs.  GroupNorm couples
 * every pixel of a map; tiles that normalised with their own statistics
 * would each get a different tone.  A tiled run therefore makes two passes
 * over its tiles with run->norm_stats set: in COLLECT mode every GroupNorm
 * normalises as usual and adds the sums of its input over the tile's own
 * region (its share of the image, without overlap or margin) to the
 * statistics of that GroupNorm, told apart by call order; APPLY mode
 * normalises every tile with those whole-image statistics, which makes the
 * normalisation, like the convs, the same for every tile.
 *
 * The region is given on the tile's base grid (base_w x base_h, e.g.
 * latent pixels); maps k times larger scale it by k. */
typedef enum
{
  VAE_NORM_STATS_COLLECT,
  VAE_NORM_STATS_APPLY
} VaeNormStatsMode;

VaeNormStats * vae_norm_stats_new    (void);
void           vae_norm_stats_free   (VaeNormStats     *stats);
void           vae_norm_stats_begin  (VaeNormStats     *stats,
                                      VaeNormStatsMode  mode,
                                      gsize             base_w,
                                      gsize             base_h,
                                      gsize             x0,
                                      gsize             y0,
                                      gsize             x1,
                                      gsize             y1);
VaeNormStatsMode vae_norm_stats_get_mode (VaeNormStats *stats);
/* For the GroupNorm op: the statistics of the next call in APPLY mode
 * (per group: mean and variance), or where to add this call's sums in
 * COLLECT mode. */
gboolean       vae_norm_stats_lookup (VaeNormStats     *stats,
                                      const VaeTensor  *in,
                                      gint              groups,
                                      const gdouble   **mean,
                                      const gdouble   **var,
                                      GError          **error);
gboolean       vae_norm_stats_add    (VaeNormStats     *stats,
                                      VaeRun           *run,
                                      const VaeTensor  *in,
                                      gint              groups,
                                      GError          **error);
/* Pools the means and sums of squared deviations (M2) of @per_group
 * channels of @n values each, from @c0 on, into their group's mean and
 * M2 (Chan et al.'s parallel variance). */
void           vae_norm_pool_channels (const gdouble  *mean,
                                       const gdouble  *m2,
                                       gsize           c0,
                                       gsize           per_group,
                                       gdouble         n,
                                       gdouble        *group_mean,
                                       gdouble        *group_m2);

/* Adds the sums of x[i] - k and of its square over @n floats to *s and
 * *s2: short float partial sums folded into double, accurate and
 * vectorisable.  The shift @k, a value of the same channel, keeps the
 * squares from cancelling. */
static inline void
vae_shifted_sums (const gfloat *x,
                  gsize         n,
                  gfloat        k,
                  gdouble      *s,
                  gdouble      *s2)
{
  gsize i;

  for (i = 0; i < n; )
    {
      gsize  end = MIN (i + 256, n);
      gfloat fs = 0.0f, fs2 = 0.0f;

      for (; i < end; i++)
        {
          gfloat d = x[i] - k;

          fs += d;
          fs2 += d * d;
        }
      *s += fs;
      *s2 += fs2;
    }
}

void       vae_group_norm_reference (const VaeGroupNorm *norm,
                                     const VaeTensor    *in,
                                     VaeActivation       act,
                                     VaeTensor          *out);

/* activation.c: an activation in place; SiLU vectorised
 * (vae_op_activate's SiLU calls expf per element), the reference kernel
 * with run->reference. */
void       vae_op_activate        (VaeRun            *run,
                                   VaeTensor         *t,
                                   VaeActivation      act);
void       vae_op_silu            (VaeRun            *run,
                                   VaeTensor         *t);

/* Elementwise, in place. *//* x -> tanh (x / limit) * limit, TAESD's latent clamp. */
void       vae_op_tanh_clamp      (VaeRun            *run,
                                   VaeTensor         *t,
                                   gfloat             limit);
/* a += b */
gboolean   vae_op_add             (VaeRun            *run,
                                   VaeTensor         *a,
                                   const VaeTensor   *b,
                                   GError           **error);
VaeTensor *vae_op_upsample_nearest (VaeRun           *run,
                                   const VaeTensor   *in,
                                   gint               factor,
                                   GError           **error);


/* Multi-head attention: q, k, v and out are token-major [n_tokens,
 * n_heads * head_dim] (row-major; head h is columns h * head_dim ..), and
 * out = softmax (q k^T * scale) v for each head.  Streams over blocks of
 * keys with an online softmax: memory is O(threads x block^2 + tokens x
 * head_dim), never [tokens x tokens].  out must not alias q, k or v. */
typedef struct
{
  gint          n_heads;
  gint          head_dim;
  gfloat        scale;
} VaeAttention;

gboolean   vae_op_attention       (VaeRun             *run,
                                   const VaeAttention *attn,
                                   const gfloat       *q,
                                   const gfloat       *k,
                                   const gfloat       *v,
                                   gsize               n_tokens,
                                   gfloat             *out,
                                   GError            **error);
/* The same over keys and values that come a block at a time (made on the
 * fly, so that they need not all exist at once): n_q queries against n_kv
 * keys, folded into a running state the caller keeps from call to call.
 * vae_attention_state_init sets it up; after the last block
 * vae_attention_state_finish turns acc into the attention's output. */
typedef struct
{
  gsize         n_q;
  gfloat       *max;        /* per head and query: [n_heads, n_q] */
  gfloat       *sum;        /* [n_heads, n_q] */
  gfloat       *acc;        /* unnormalised output, [n_q, n_heads * head_dim] */
} VaeAttentionState;

void       vae_attention_state_init   (const VaeAttention *attn,
                                       VaeAttentionState  *state);
gboolean   vae_op_attention_partial   (VaeRun             *run,
                                       const VaeAttention *attn,
                                       const gfloat       *q,
                                       const gfloat       *k,
                                       const gfloat       *v,
                                       gsize               n_kv,
                                       VaeAttentionState  *state,
                                       GError            **error);
void       vae_attention_state_finish (const VaeAttention *attn,
                                       VaeAttentionState  *state);
/* In double, a query at a time: small sizes only (O(tokens^2) work). */
void       vae_attention_reference (const VaeAttention *attn,
                                    const gfloat       *q,
                                    const gfloat       *k,
                                    const gfloat       *v,
                                    gsize               n_tokens,
                                    gfloat             *out);
gdouble    vae_attention_flops    (const VaeAttention *attn,
                                   gsize               n_tokens);

/* --- transformer ops -------------------------------------------------
 * Token-major matrices [n_tokens, dim] are row-major: a token's dim
 * features are consecutive floats. */

/* LayerNorm of each token over its dim features, biased variance, affine
 * (gamma, beta [dim]); out may be in. */
typedef struct
{
  gsize         dim;
  gfloat        eps;
  const gfloat *gamma;
  const gfloat *beta;
} VaeLayerNorm;

gboolean   vae_op_layer_norm      (VaeRun             *run,
                                   const VaeLayerNorm *norm,
                                   const gfloat       *in,
                                   gsize               n_tokens,
                                   gfloat             *out,
                                   GError            **error);
void       vae_layer_norm_reference (const VaeLayerNorm *norm,
                                     const gfloat       *in,
                                     gsize               n_tokens,
                                     gfloat             *out);

/* out [n, d_out] = act (in [n, d_in] weight^T + bias + residual), weight
 * [d_out, d_in] as nn.Linear stores it; bias and residual [n, d_out] are
 * optional and residual may be out itself (not in).  Advances the run's
 * progress by its FLOPs. */
typedef struct
{
  gint          d_in;
  gint          d_out;
  const gfloat *weight;
  const gfloat *bias;
} VaeLinear;

gboolean   vae_op_linear          (VaeRun             *run,
                                   const VaeLinear    *linear,
                                   const gfloat       *in,
                                   gsize               n_tokens,
                                   const gfloat       *residual,
                                   VaeActivation       act,
                                   gfloat             *out,
                                   GError            **error);
void       vae_linear_reference   (const VaeLinear    *linear,
                                   const gfloat       *in,
                                   gsize               n_tokens,
                                   const gfloat       *residual,
                                   VaeActivation       act,
                                   gfloat             *out);
gdouble    vae_linear_flops       (const VaeLinear    *linear,
                                   gsize               n_tokens);

/* Axial 2-D RoPE in place on x [height * width, n_heads * head_dim]
 * (tokens row-major over the grid): pair p of a head turns by
 * y base^(-p/q) for p < q and x base^(-(p-q)/q) above, q = head_dim / 4
 * (seed-f16's definition). */
gboolean   vae_op_rope_2d         (VaeRun            *run,
                                   gfloat            *x,
                                   gsize              height,
                                   gsize              width,
                                   gint               n_heads,
                                   gint               head_dim,
                                   gdouble            base,
                                   GError           **error);
void       vae_rope_2d_reference  (gfloat            *x,
                                   gsize              height,
                                   gsize              width,
                                   gint               n_heads,
                                   gint               head_dim,
                                   gdouble            base);

/* PyTorch's pixel_shuffle ([c r^2, h, w] -> [c, h r, w r]) and
 * pixel_unshuffle (the inverse, with out = in * scale + offset on the
 * way) into a preallocated out of the right shape. */
gboolean   vae_op_pixel_shuffle   (VaeRun            *run,
                                   const VaeTensor   *in,
                                   gint               r,
                                   VaeTensor         *out,
                                   GError           **error);
gboolean   vae_op_pixel_unshuffle (VaeRun            *run,
                                   const VaeTensor   *in,
                                   gint               r,
                                   gfloat             scale,
                                   gfloat             offset,
                                   VaeTensor         *out,
                                   GError           **error);
void       vae_pixel_shuffle_reference   (const VaeTensor *in,
                                          gint             r,
                                          VaeTensor       *out);
void       vae_pixel_unshuffle_reference (const VaeTensor *in,
                                          gint             r,
                                          gfloat           scale,
                                          gfloat           offset,
                                          VaeTensor       *out);

/* out [cols, rows] = in [rows, cols]^T: channel-major [D, h w] <->
 * token-major [h w, D].  Not in place. */
gboolean   vae_op_transpose       (VaeRun            *run,
                                   const gfloat      *in,
                                   gsize              rows,
                                   gsize              cols,
                                   gfloat            *out,
                                   GError           **error);
void       vae_transpose_reference (const gfloat     *in,
                                    gsize             rows,
                                    gsize             cols,
                                    gfloat           *out);

G_END_DECLS
