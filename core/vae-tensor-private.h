/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include "vae-tensor.h"

G_BEGIN_DECLS

/* Inside libvae tensors are plain structs: ops index data[] directly.  The
 * data is 64-byte aligned so that vector loads of whole rows never split a
 * cache line at the start.
 */
struct _VaeTensor
{
  gint     ref_count;
  guint    n_dims;
  gsize    shape[VAE_TENSOR_MAX_DIMS];
  gsize    n_elements;
  gsize    capacity;      /* elements allocated; >= n_elements */
  gfloat  *data;
};

/* Largest tensor libvae agrees to allocate, in bytes.  Anything bigger is
 * reported as VAE_ERROR_NO_MEMORY before malloc gets a chance to overcommit.
 */
#define VAE_TENSOR_MAX_BYTES ((gsize) 1 << 36)

VaeTensor * vae_tensor_new_3d_uninit (gsize     channels,
                                      gsize     height,
                                      gsize     width,
                                      GError  **error);

/* FALSE with VAE_ERROR_SHAPE "cannot @what of shapes [..] and [..]"
 * unless @a and @b have the same shape. */
gboolean    vae_tensor_check_same_shape (const VaeTensor  *a,
                                         const VaeTensor  *b,
                                         const gchar      *what,
                                         GError          **error);

/* FALSE with VAE_ERROR_SHAPE "@what must have shape [channels, height,
 * width], not [..]" unless @tensor has three dimensions. */
gboolean    vae_tensor_check_chw  (const VaeTensor  *tensor,
                                   const gchar      *what,
                                   GError          **error);

/* Gives @tensor a new shape that fits its allocation (scratch reuse). */
gboolean    vae_tensor_reshape_3d (VaeTensor   *tensor,
                                   gsize        channels,
                                   gsize        height,
                                   gsize        width);

/* A free list of feature maps for one forward pass.  Reusing buffers
 * matters: a fresh 256 MiB map costs tens of milliseconds of page faults
 * each time it is allocated. */
typedef struct
{
  GPtrArray *free;
} VaeScratch;

void        vae_scratch_init      (VaeScratch  *scratch);
void        vae_scratch_clear     (VaeScratch  *scratch);
VaeTensor * vae_scratch_get       (VaeScratch  *scratch,
                                   gsize        channels,
                                   gsize        height,
                                   gsize        width,
                                   GError     **error);
/* Takes the reference; NULL is ignored. */
void        vae_scratch_put       (VaeScratch  *scratch,
                                   VaeTensor   *tensor);

#define VAE_T_C(t) ((t)->shape[0])
#define VAE_T_H(t) ((t)->shape[1])
#define VAE_T_W(t) ((t)->shape[2])

G_END_DECLS
