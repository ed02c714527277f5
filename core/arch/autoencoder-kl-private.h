/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* AutoencoderKL's parts, shared by its files (each calls only those below
 * it): the class table and whole runs (autoencoder-kl.c), the tiled runs
 * (autoencoder-kl-tiles.c), the whole part banded or not
 * (autoencoder-kl-bands.c), the blocks (autoencoder-kl-blocks.c) and the
 * weights (autoencoder-kl-load.c). */

#pragma once

#include "../ops/ops.h"
#include "arch.h"

G_BEGIN_DECLS

#define GROUPS       32
#define EPS          1e-6f
#define MAX_LEVELS   8
#define MAX_BLOCKS   8

typedef struct
{
  VaeGroupNorm  norm1, norm2;
  VaeConv2d     conv1, conv2;
  gboolean      has_shortcut;
  VaeConv2d     shortcut;
} Resnet;

typedef struct
{
  gint          channels;
  VaeGroupNorm  norm;
  /* [C, C] (out, in), whatever the file stored: 1x1 conv or Linear */
  VaeLinear     q, k, v, out;
  VaeAttention  attn;       /* one head over all channels */
} Attention;

typedef struct
{
  Resnet    resnets[MAX_BLOCKS];
  gint      n_resnets;
  gboolean  has_resample;   /* encoder: downsample after; decoder: upsample */
  VaeConv2d resample;
} Level;

typedef struct
{
  gboolean      present;
  gboolean      has_quant;  /* quant_conv (encoder), post_quant_conv (decoder) */
  VaeConv2d     quant;
  VaeConv2d     conv_in;
  Level         levels[MAX_LEVELS];   /* in the order they run */
  gint          n_levels;
  Resnet        mid1, mid2;
  gboolean      has_attention;
  Attention     attention;
  VaeGroupNorm  norm_out;
  VaeConv2d     conv_out;   /* encoder: only the z mean channels when no quant */
  gint          z;
  guint         factor;
} Half;

typedef struct
{
  Half encoder;
  Half decoder;
} Kl;

/* Linear maps between the channel-major feature map [C, n] and token-major
 * rows [n, C], a block of tokens per task, each one single-threaded sgemm. */
typedef struct
{
  const VaeLinear  *linear;    /* [C, C] */
  const gfloat     *in;
  gfloat           *out;
  gsize             n;         /* tokens */
  gsize             stride;    /* floats between the channel-major map's channels */
  gfloat          **acc;       /* per thread [C, TOKEN_BLOCK], for unproject */
} ProjJob;

/* autoencoder-kl-load.c */
gboolean   vae_kl_probe                  (VaeWeights      *encoder,
                                          VaeWeights      *decoder);
gpointer   vae_kl_create                 (VaeWeights      *encoder,
                                          VaeWeights      *decoder,
                                          VaeModelInfo    *info,
                                          GError         **error);

/* autoencoder-kl-blocks.c */
gboolean   vae_kl_norm_silu              (VaeRun             *run,
                                          const VaeGroupNorm *norm,
                                          const VaeTensor    *in,
                                          VaeTensor          *out,
                                          GError            **error);
gboolean   vae_kl_resnet_forward         (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Resnet    *r,
                                          VaeTensor      **x,
                                          GError         **error);
gboolean   vae_kl_project                (VaeRun          *run,
                                          ProjJob         *job,
                                          gboolean         unproject,
                                          GError         **error);
gboolean   vae_kl_attention_forward      (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Attention *a,
                                          VaeTensor       *x,
                                          GError         **error);
VaeTensor *vae_kl_head_forward           (VaeRun          *run,
                                          const Half      *half,
                                          const VaeConv2d *conv,
                                          VaeTensor       *x,
                                          GError         **error);
gdouble    vae_kl_resnet_flops           (const Resnet    *r,
                                          gsize            h,
                                          gsize            w);
VaeTensor *vae_kl_encoder_input          (VaeScratch      *scratch,
                                          const VaeTensor *image,
                                          GError         **error);
gboolean   vae_kl_check_latent           (const Half      *d,
                                          const VaeTensor *latent,
                                          GError         **error);
void       vae_kl_decoder_output         (VaeTensor       *y);
gsize      vae_kl_resnet_memory          (const Resnet    *r,
                                          gsize            n);

/* autoencoder-kl-bands.c: blocks in bands */
gboolean   vae_kl_resnet_banded          (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Resnet    *r,
                                          VaeTensor      **x,
                                          GError         **error);
gboolean   vae_kl_attention_banded       (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Attention *a,
                                          VaeTensor      **x,
                                          GError         **error);
gdouble    vae_kl_banded_conv_flops      (const VaeConv2d *conv,
                                          gsize            h,
                                          gsize            w);
gdouble    vae_kl_attention_banded_flops (gint             c,
                                          gsize            h,
                                          gsize            w);
gsize      vae_kl_resnet_banded_memory   (const Resnet    *r,
                                          gsize            h,
                                          gsize            w);
gsize      vae_kl_mid_banded_memory      (const Half      *half,
                                          gsize            h,
                                          gsize            w);

/* autoencoder-kl-bands.c: the whole part, banded or not */
gboolean   vae_kl_levels_forward         (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Half      *half,
                                          gint             first,
                                          gint             last,
                                          gboolean         last_resample,
                                          gboolean         banded,
                                          VaeTensor      **x,
                                          GError         **error);
VaeTensor *vae_kl_encoder_tail           (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Half      *e,
                                          gboolean         banded,
                                          VaeTensor      **x,
                                          GError         **error);
VaeTensor *vae_kl_decoder_head           (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Half      *d,
                                          gboolean         banded,
                                          const VaeTensor *latent,
                                          GError         **error);
VaeTensor *vae_kl_decoder_tail           (VaeRun          *run,
                                          VaeScratch      *scratch,
                                          const Half      *d,
                                          VaeTensor      **x,
                                          GError         **error);
gdouble    vae_kl_levels_flops           (const Half      *half,
                                          gint             first,
                                          gint             last,
                                          gboolean         last_resample,
                                          gboolean         banded,
                                          gsize           *h,
                                          gsize           *w);
gdouble    vae_kl_decoder_head_flops     (const Half      *d,
                                          gboolean         banded,
                                          gsize            h,
                                          gsize            w);
gdouble    vae_kl_encoder_tail_flops     (const Half      *e,
                                          gboolean         banded,
                                          gsize            h,
                                          gsize            w);
gdouble    vae_kl_half_flops             (const Half      *half,
                                          gboolean         decoder,
                                          gsize            h,
                                          gsize            w);
VaeArchMemory vae_kl_memory;

/* autoencoder-kl-tiles.c */
VaeArchPlan vae_kl_plan;

G_END_DECLS
