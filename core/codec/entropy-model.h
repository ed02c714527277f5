/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: the learned entropy model of a codec model (seed-f16-codec):
 * per-channel gains for each quality level and discretised Laplace
 * distributions chosen by integer contexts.  The specification is
 * docs/compression.md; tools/train/codec.py is the training side.
 */

#pragma once

#include <glib.h>

#include "../vae-weights.h"

G_BEGIN_DECLS

/* Quality settings run from 0 to VAE_CODEC_QUALITY_MAX (levels
 * interpolated in between). */
#define VAE_CODEC_QUALITY_MAX 1000

/* Largest magnitude of a quantised latent value the coder accepts. */
#define VAE_CODEC_MAX_MAGNITUDE (1 << 22)

typedef struct _VaeEntropyModel VaeEntropyModel;

/* NULL without an error when @weights hold no codec tables. */
VaeEntropyModel * vae_entropy_model_new      (VaeWeights            *weights,
                                              guint                  channels,
                                              GError               **error);
void              vae_entropy_model_free     (VaeEntropyModel       *model);

guint             vae_entropy_model_get_levels (const VaeEntropyModel *model);

/* z [C, h, w] -> q, and back; @quality in 0..VAE_CODEC_QUALITY_MAX. */
void              vae_entropy_model_quantize   (const VaeEntropyModel *model,
                                                guint                  quality,
                                                const gfloat          *z,
                                                gsize                  plane,
                                                gint32                *q);
void              vae_entropy_model_dequantize (const VaeEntropyModel *model,
                                                guint                  quality,
                                                const gint32          *q,
                                                gsize                  plane,
                                                gfloat                *z);

/* Appends the coded symbols to @out, which must hold nothing else. */
void              vae_entropy_model_encode   (const VaeEntropyModel *model,
                                              guint                  quality,
                                              const gint32          *q,
                                              guint                  height,
                                              guint                  width,
                                              GByteArray            *out);
/* Fails (VAE_ERROR_FORMAT) only on an escape longer than any the encoder
 * writes; other damage decodes to some symbols (the container's checksum
 * catches it). */
gboolean          vae_entropy_model_decode   (const VaeEntropyModel *model,
                                              guint                  quality,
                                              const guint8          *data,
                                              gsize                  size,
                                              guint                  height,
                                              guint                  width,
                                              gint32                *q,
                                              GError               **error);

G_END_DECLS
