/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include "../vae-run.h"
#include "../vae-tensor-private.h"

G_BEGIN_DECLS

/* The closed set of ops the architectures are built from.  Feature maps are
 * 3-D tensors [channels, height, width].  Every op has a plain reference
 * kernel (run->reference) and an optimized one; tests compare the two.
 */

typedef enum
{
  VAE_ACT_NONE,
  VAE_ACT_RELU,
  VAE_ACT_SILU,
  VAE_ACT_GELU
} VaeActivation;

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
void       vae_conv2d_reference   (const VaeConv2d   *conv,
                                   const VaeTensor   *in,
                                   const VaeTensor   *residual,
                                   VaeActivation      act,
                                   VaeTensor         *out);

/* Internal to the conv paths. */
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

/* GroupNorm over (channels/groups) x H x W, affine, then act; in place is
 * allowed (out == in). */
gboolean   vae_op_group_norm      (VaeRun            *run,
                                   const VaeTensor   *in,
                                   gint               groups,
                                   const gfloat      *gamma,
                                   const gfloat      *beta,
                                   gfloat             eps,
                                   VaeActivation      act,
                                   VaeTensor         *out,
                                   GError           **error);
void       vae_group_norm_reference (const VaeTensor *in,
                                     gint             groups,
                                     const gfloat    *gamma,
                                     const gfloat    *beta,
                                     gfloat           eps,
                                     VaeActivation    act,
                                     VaeTensor       *out);

/* Elementwise, in place. */
void       vae_op_activate        (VaeRun            *run,
                                   VaeTensor         *t,
                                   VaeActivation      act);
/* x -> tanh (x / limit) * limit, TAESD's latent clamp. */
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

gfloat     vae_activate_scalar    (gfloat             x,
                                   VaeActivation      act);

/* Multi-head attention: q, k, v and out are token-major [n_tokens,
 * n_heads * head_dim] (row-major; head h is columns h * head_dim ..), and
 * out = softmax (q k^T * scale) v for each head.  Streams over blocks of
 * keys with an online softmax: memory is O(threads x block^2 + tokens x
 * head_dim), never [tokens x tokens].  out must not alias q, k or v. */
gboolean   vae_op_attention       (VaeRun            *run,
                                   const gfloat      *q,
                                   const gfloat      *k,
                                   const gfloat      *v,
                                   gsize              n_tokens,
                                   gint               n_heads,
                                   gint               head_dim,
                                   gfloat             scale,
                                   gfloat            *out,
                                   GError           **error);
/* Materialises each head's score matrix in double: small sizes only. */
gboolean   vae_attention_reference (const gfloat     *q,
                                    const gfloat     *k,
                                    const gfloat     *v,
                                    gsize             n_tokens,
                                    gint              n_heads,
                                    gint              head_dim,
                                    gfloat            scale,
                                    gfloat           *out,
                                    GError          **error);
gdouble    vae_attention_flops    (gsize              n_tokens,
                                   gint               n_heads,
                                   gint               head_dim);

G_END_DECLS
