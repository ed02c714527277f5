/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* The TAESD family's parts, shared by its files (each calls only those
 * below it): the class table and the weights (taesd.c), the tiled runs,
 * their plan and the whole part in bands (taesd-tiles.c), the layers run
 * whole (taesd-blocks.c). */

#pragma once

#include "../ops/ops.h"
#include "arch.h"

G_BEGIN_DECLS

#define POOL_GROUPS 4        /* nn.GroupNorm (4, n_out * 4) */
#define POOL_EPS    1e-5f
#define CLAMP_LIMIT 3.0f

typedef enum
{
  LAYER_CONV,
  LAYER_BLOCK,
  LAYER_RELU,
  LAYER_UPSAMPLE,
  LAYER_CLAMP
} LayerType;

typedef struct
{
  LayerType      type;
  gint           index;

  /* LAYER_CONV, with a following ReLU / preceding upsample fused in */
  VaeConv2d      conv;
  VaeActivation  act;

  /* LAYER_BLOCK */
  VaeConv2d      c0, c2, c4;
  gboolean       has_skip;
  VaeConv2d      skip;
  gboolean       has_pool;
  VaeConv2d      pool_in, pool_out;
  VaeGroupNorm   pool_norm;
} Layer;

typedef struct
{
  GArray  *layers;           /* Layer, after fusion */
  gint     in_channels;
  gint     out_channels;
  guint    factor;
  gboolean has_pool;
} Half;

typedef struct
{
  Half     encoder;
  Half     decoder;
  gboolean has_encoder;
  gboolean has_decoder;
} Taesd;

/* taesd-blocks.c */
gboolean   vae_taesd_block_forward (VaeRun           *run,
                                    VaeScratch       *scratch,
                                    const Layer      *layer,
                                    VaeTensor       **x,
                                    GError          **error);
VaeTensor *vae_taesd_half_forward  (const Half       *half,
                                    const VaeTensor  *input,
                                    guint             first,
                                    guint             last,
                                    VaeRun           *run,
                                    GError          **error);
/* The map size after @layer: a conv's stride changes it, an upsample
 * doubles it, the others keep it. */
void       vae_taesd_layer_size    (const Layer      *layer,
                                    gsize            *h,
                                    gsize            *w);
gdouble    vae_taesd_half_flops    (const Half       *half,
                                    guint             first,
                                    guint             last,
                                    gsize             height,
                                    gsize             width);

/* taesd-tiles.c */
VaeArchMemory   vae_taesd_memory;
VaeArchFlops    vae_taesd_flops;
VaeArchPlan     vae_taesd_plan;
VaeArchRunTiled vae_taesd_decode_tiled;
VaeArchRunTiled vae_taesd_encode_tiled;

G_END_DECLS
