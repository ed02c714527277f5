/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include "../vae-run.h"
#include "../vae-tensor-private.h"
#include "../vae-tiling.h"
#include "../vae-weights.h"

G_BEGIN_DECLS

/* What a model is.  An architecture reports its structure once built:
 * architecture, latent_channels, factor, traits and the norm_* fields.
 * The facts (id, name, scale, shift) come from the registry
 * (vae-registry-identify.c), told by the files or by that structure. */
typedef struct
{
  gchar       *id;              /* short variant id, e.g. "taef2" */
  gchar       *name;            /* human name */
  gchar       *architecture;    /* family, e.g. "taesd" */
  guint        latent_channels;
  guint        factor;          /* image pixels per latent pixel, per side */
  /* what tells variants of one layout apart, e.g. "pooled" (TAESD blocks
   * with a GroupNorm branch), "small-decoder" (a KL decoder narrower than
   * 512 channels); NULL-terminated, static strings */
  const gchar *traits[4];
  gdouble      scale;           /* diffusion latent = (raw - shift) * scale */
  gdouble      shift;

  /* A per-channel normalisation instead of scale/shift (FLUX.2): the
   * diffusion latent is the raw one patchified norm_patch x norm_patch
   * (channel c * p * p + i * p + j for the pixel (i, j) of a patch), then
   * (x - norm_mean[k]) / sqrt (norm_var[k] + norm_eps) for each of its
   * norm_channels channels.  norm_patch 0: none.  The arrays point into the
   * model's weights. */
  guint          norm_patch;
  guint          norm_channels;
  const gfloat  *norm_mean;
  const gfloat  *norm_var;
  gdouble        norm_eps;
} VaeModelInfo;

/* What an architecture's methods look like (also for declaring the ones
 * an architecture's files share: "VaeArchPlan vae_kl_plan;").
 *
 * VaeArchRun: encode ([3, H, W] in [0, 1], H and W multiples of the
 * factor, into latents) or decode (latents into [3, h * factor, w *
 * factor], not yet clamped).  VaeArchRunTiled: the same in tiles of about
 * @tile image pixels a side (plan()'s); the encoder's input need not be
 * padded: its tiles are read as padded with run->pad_mode
 * (vae_tiles_crop ()), and the latents cover it rounded up to the factor.
 * VaeArchCost: FLOPs, or the peak bytes of feature maps of an untiled run,
 * on width x height image pixels.  VaeArchPlan: how a run on a width x
 * height image (multiples of the factor) goes within @budget bytes of
 * working memory: whole, or in tiles of at most @max_tile image pixels a
 * side (0: as large as the budget allows, and no smaller than keeps the
 * work growing with the pixel count); @copy: the run holds a copy of the
 * image beside it (the encoder's padded input when it runs whole, the
 * decoder's cropped output); FALSE with VAE_ERROR_NO_MEMORY, before
 * anything is allocated, when no plan fits. */
typedef gboolean VaeArchRun      (gpointer self, const VaeTensor *input,
                                  VaeTensor **output, VaeRun *run,
                                  GError **error);
typedef gboolean VaeArchRunTiled (gpointer self, const VaeTensor *input,
                                  VaeTensor **output, gsize tile,
                                  VaeRun *run, GError **error);
typedef gdouble  VaeArchFlops    (gpointer self, gboolean decoder,
                                  gsize width, gsize height);
typedef gsize    VaeArchMemory   (gpointer self, gboolean decoder,
                                  gsize width, gsize height);
typedef gboolean VaeArchPlan     (gpointer self, gboolean decoder,
                                  gsize width, gsize height, gboolean copy,
                                  gsize budget, gsize max_tile,
                                  VaePlan *plan, GError **error);

/* One model architecture.  Architectures are recognised from tensor names
 * and shapes, never from file names.  @encoder and @decoder are the weight
 * files of a model stored as two files (the TAESD layout); a model stored
 * in one file passes the same VaeWeights as both.  Either may be NULL when
 * only one half exists.
 */
typedef struct
{
  const gchar *name;

  /* Cheap: does this look like us?  No error; create() does the checks. */
  gboolean  (* probe)   (VaeWeights      *encoder,
                         VaeWeights      *decoder);
  gpointer  (* create)  (VaeWeights      *encoder,
                         VaeWeights      *decoder,
                         VaeModelInfo    *info,
                         GError         **error);
  void      (* destroy) (gpointer         self);
  gboolean  (* can_encode) (gpointer      self);
  gboolean  (* can_decode) (gpointer      self);
  VaeArchRun      *encode;
  VaeArchRun      *decode;
  VaeArchFlops    *flops;
  VaeArchMemory   *memory;
  /* NULL: the architecture runs whole and checks nothing. */
  VaeArchPlan     *plan;
  /* NULL when the architecture cannot tile. */
  VaeArchRunTiled *encode_tiled;
  VaeArchRunTiled *decode_tiled;
} VaeArchClass;

/* Dimension @dim of the tensor @name, for a loader to size what it
 * fetches by before any check: 1 unless the tensor has @n_dims dimensions
 * and a plausible size there, and the checked fetch with that size then
 * reports what is wrong. */
gint      vae_arch_peek_dim (VaeWeights      *weights,
                             const gchar     *name,
                             guint            n_dims,
                             guint            dim);

extern const VaeArchClass vae_arch_taesd;
extern const VaeArchClass vae_arch_seed_f16;
extern const VaeArchClass vae_arch_autoencoder_kl;

/* AutoencoderKL's tiled runs with a chosen source of whole-image GroupNorm
 * statistics and, with split >= 0, a chosen split between the levels run
 * whole and the tiled ones (decoder: levels before it whole; encoder:
 * levels from it), for tests and measurements (docs/tiling.md); the
 * class's encode_tiled and decode_tiled use VAE_KL_STATS_EXACT and plan
 * the split (-1). */
typedef enum
{
  VAE_KL_STATS_EXACT,     /* one pass per GroupNorm: the untiled result */
  VAE_KL_STATS_TILES,     /* one pass over the tiles, each normalised alone */
  VAE_KL_STATS_LOW_RES    /* one untiled pass over the input at half size */
} VaeKlStats;

gboolean  vae_kl_decode_tiled_with (gpointer          self,
                                    const VaeTensor  *latent,
                                    VaeTensor       **image,
                                    gsize             tile,
                                    VaeKlStats        stats,
                                    gint              split,
                                    VaeRun           *run,
                                    GError          **error);
gboolean  vae_kl_encode_tiled_with (gpointer          self,
                                    const VaeTensor  *image,
                                    VaeTensor       **latent,
                                    gsize             tile,
                                    VaeKlStats        stats,
                                    gint              split,
                                    VaeRun           *run,
                                    GError          **error);

G_END_DECLS
