/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A set of named weight tensors read from one file, widened to f32.
 * Architectures look tensors up by their checkpoint names and state the
 * shape they expect; any disagreement becomes a GError that names the
 * tensor, never a crash.
 */
typedef struct _VaeWeights VaeWeights;

typedef enum
{
  VAE_DTYPE_F32,
  VAE_DTYPE_F16,
  VAE_DTYPE_BF16
} VaeDtype;

typedef struct
{
  gchar    *name;
  VaeDtype  dtype;        /* as stored in the file */
  guint     n_dims;
  gsize     shape[4];
  gsize     n_elements;
  gfloat   *data;         /* widened to f32, owned by the VaeWeights */
} VaeWeight;

/* Reads safetensors (and, where supported, PyTorch zip checkpoints); the
 * format is told by the content, not the file name. */
VaeWeights      * vae_weights_load          (const gchar  *path,
                                             GError      **error);
VaeWeights      * vae_safetensors_load      (const gchar  *path,
                                             GError      **error);
VaeWeights      * vae_safetensors_load_from_data (const guint8 *data,
                                                  gsize         size,
                                                  const gchar  *display_name,
                                                  GError      **error);
void              vae_weights_free          (VaeWeights   *weights);

const gchar     * vae_weights_get_path      (VaeWeights   *weights);
guint             vae_weights_get_n_tensors (VaeWeights   *weights);
guint64           vae_weights_get_n_params  (VaeWeights   *weights);
/* Names in file order.  (transfer container) */
GPtrArray       * vae_weights_list          (VaeWeights   *weights);
const VaeWeight * vae_weights_lookup        (VaeWeights   *weights,
                                             const gchar  *name);
gboolean          vae_weights_has           (VaeWeights   *weights,
                                             const gchar  *name);
const gchar     * vae_weights_get_metadata  (VaeWeights   *weights,
                                             const gchar  *key);

/* Returns the data of @name if it has exactly @n_dims dimensions of the
 * given sizes; otherwise NULL and VAE_ERROR_FORMAT (missing) or
 * VAE_ERROR_SHAPE (present, wrong shape), naming the tensor. */
const gfloat    * vae_weights_get           (VaeWeights   *weights,
                                             const gchar  *name,
                                             guint         n_dims,
                                             const gsize  *shape,
                                             GError      **error);
const gfloat    * vae_weights_get_1d        (VaeWeights   *weights,
                                             const gchar  *name,
                                             gsize         d0,
                                             GError      **error);
const gfloat    * vae_weights_get_4d        (VaeWeights   *weights,
                                             const gchar  *name,
                                             gsize         d0,
                                             gsize         d1,
                                             gsize         d2,
                                             gsize         d3,
                                             GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeWeights, vae_weights_free)

G_END_DECLS
