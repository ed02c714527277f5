/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"

G_BEGIN_DECLS

/**
 * VAE_TENSOR_MAX_DIMS:
 *
 * The largest number of dimensions a #VaeTensor can have.
 */
#define VAE_TENSOR_MAX_DIMS 4

/**
 * VaeTensor:
 *
 * A reference-counted, dense, row-major array of 32-bit floats with up to
 * %VAE_TENSOR_MAX_DIMS dimensions.
 *
 * Images are tensors of shape [3, height, width] (planar R', G', B' with
 * values in [0, 1], non-linear sRGB as stored in 8-bit files); latents are
 * [channels, height, width].
 */
typedef struct _VaeTensor VaeTensor;

VAE_API VaeTensor   * vae_tensor_new            (guint            n_dims,
                                                 const gsize     *shape,
                                                 GError         **error);
VAE_API VaeTensor   * vae_tensor_new_3d         (gsize            channels,
                                                 gsize            height,
                                                 gsize            width,
                                                 GError         **error);
VAE_API VaeTensor   * vae_tensor_copy           (const VaeTensor *tensor,
                                                 GError         **error);
VAE_API VaeTensor   * vae_tensor_ref            (VaeTensor       *tensor);
VAE_API void          vae_tensor_unref          (VaeTensor       *tensor);

VAE_API guint         vae_tensor_get_n_dims     (const VaeTensor *tensor);
VAE_API gsize         vae_tensor_get_dim        (const VaeTensor *tensor,
                                                 guint            dim);
VAE_API gsize         vae_tensor_get_n_elements (const VaeTensor *tensor);
VAE_API gfloat      * vae_tensor_get_data       (VaeTensor       *tensor);
VAE_API const gfloat* vae_tensor_peek_data      (const VaeTensor *tensor);
VAE_API gboolean      vae_tensor_same_shape     (const VaeTensor *a,
                                                 const VaeTensor *b);
VAE_API gchar       * vae_tensor_shape_to_string (const VaeTensor *tensor);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeTensor, vae_tensor_unref)

G_END_DECLS
