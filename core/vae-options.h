/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"

G_BEGIN_DECLS

/**
 * VaeProgressFunc:
 * @fraction: how much of the work is done, from 0.0 to 1.0
 * @stage: (nullable): a short, untranslated name of the current stage
 *   ("encode", "decode", ...)
 * @user_data: the data given with the callback
 *
 * Called by long operations, from the calling thread, after each layer or
 * tile.  It must not call back into the operation that reports.
 */
typedef void (* VaeProgressFunc) (gdouble      fraction,
                                  const gchar *stage,
                                  gpointer     user_data);

/**
 * VaePadMode:
 * @VAE_PAD_EDGE: repeat the outermost row and column.
 * @VAE_PAD_REFLECT: mirror the image at its border, without repeating the
 *   border pixel.
 *
 * How an image whose size is not a multiple of the model's downscale factor
 * is extended before encoding.  The padding is cropped off again on decode.
 */
typedef enum
{
  VAE_PAD_EDGE,
  VAE_PAD_REFLECT
} VaePadMode;

/**
 * VaeOptions:
 * @n_threads: worker threads; 0 uses every online CPU.
 * @pad_mode: how to pad images to a multiple of the model's factor.
 * @memory_budget: bytes of working memory the operation may use (its
 *   feature maps, its output and any copy of its input; not the caller's
 *   input nor the weights); above what a whole run needs the work is split
 *   into tiles, and a run that cannot fit even in tiles fails with
 *   %VAE_ERROR_NO_MEMORY before anything is allocated.  0 means the
 *   default, 1.5 GiB.
 * @tile_size: the largest tile side in image pixels; tiles are made
 *   smaller when the budget needs it.  0 derives the side from
 *   @memory_budget, keeping tiles wide enough that the work stays about
 *   proportional to the pixel count.  The architectures that tile (the
 *   TAESD family and AutoencoderKL; seed-f16 runs whole) tile exactly:
 *   each tile carries a margin as wide as its receptive field, attention
 *   and the TAESD family's GroupNorm layers run on the whole
 *   latent-resolution map, and AutoencoderKL's GroupNorm statistics are
 *   taken over the whole image (one pass over the tiles per GroupNorm),
 *   so tiled or not gives the same result to float rounding
 *   (docs/tiling.md).
 * @force: decode latents even when they were made by another model.
 * @reference: run the plain reference kernels instead of the optimized ones
 *   (slow; for tests).
 *
 * Options shared by encoding and decoding.  Always initialise with
 * vae_options_init() so that fields added later get their defaults.
 */
typedef struct
{
  gint        n_threads;
  VaePadMode  pad_mode;
  gsize       memory_budget;
  gint        tile_size;
  gboolean    force;
  gboolean    reference;

  /*< private >*/
  gpointer    reserved[8];
} VaeOptions;

VAE_API void   vae_options_init (VaeOptions *options);

G_END_DECLS
