/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VAE_LATENT_TENSOR_NAME:
 *
 * Name of the tensor in a `.latent` file, the one ComfyUI's "Load Latent"
 * node reads.
 */
#define VAE_LATENT_TENSOR_NAME "latent_tensor"

/**
 * VaeLatent:
 *
 * A latent tensor of shape [channels, height, width] together with what is
 * needed to decode it faithfully: the model that made it (id and content
 * hash) and the size of the image it came from (the latents may cover a
 * padded image).  Latents are immutable; every operation returns a new one.
 */
typedef struct _VaeLatent VaeLatent;

VAE_API VaeLatent       * vae_latent_new              (VaeTensor        *tensor,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_ref              (VaeLatent        *latent);
VAE_API void              vae_latent_unref            (VaeLatent        *latent);

VAE_API const VaeTensor * vae_latent_get_tensor       (const VaeLatent  *latent);
VAE_API guint             vae_latent_get_channels     (const VaeLatent  *latent);
VAE_API guint             vae_latent_get_width        (const VaeLatent  *latent);
VAE_API guint             vae_latent_get_height       (const VaeLatent  *latent);

VAE_API void              vae_latent_set_model        (VaeLatent        *latent,
                                                       const gchar      *model_id,
                                                       const gchar      *model_hash);
VAE_API const gchar     * vae_latent_get_model_id     (const VaeLatent  *latent);
VAE_API const gchar     * vae_latent_get_model_hash   (const VaeLatent  *latent);
VAE_API void              vae_latent_set_image_size   (VaeLatent        *latent,
                                                       guint             width,
                                                       guint             height);
VAE_API gboolean          vae_latent_get_image_size   (const VaeLatent  *latent,
                                                       guint            *width,
                                                       guint            *height);

VAE_API GBytes          * vae_latent_serialize        (const VaeLatent  *latent,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_deserialize      (GBytes           *bytes,
                                                       GError          **error);
VAE_API gboolean          vae_latent_save             (const VaeLatent  *latent,
                                                       const gchar      *path,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_load             (const gchar      *path,
                                                       GError          **error);

VAE_API VaeLatent       * vae_latent_lerp             (const VaeLatent  *a,
                                                       const VaeLatent  *b,
                                                       gdouble           t,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_slerp            (const VaeLatent  *a,
                                                       const VaeLatent  *b,
                                                       gdouble           t,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_adjust           (const VaeLatent  *latent,
                                                       gdouble           gain,
                                                       gdouble           offset,
                                                       const gdouble    *channel_gain,
                                                       const gdouble    *channel_offset,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_add_noise        (const VaeLatent  *latent,
                                                       guint64           seed,
                                                       gdouble           strength,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_mix              (const VaeLatent  *a,
                                                       const VaeLatent  *b,
                                                       const gdouble    *channel_weight,
                                                       GError          **error);
VAE_API VaeLatent       * vae_latent_resize           (const VaeLatent  *latent,
                                                       guint             width,
                                                       guint             height,
                                                       GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeLatent, vae_latent_unref)

G_END_DECLS
