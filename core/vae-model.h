/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae-api.h"
#include "vae-latent.h"
#include "vae-options.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VaeModel:
 *
 * An image autoencoder with loaded weights: an encoder, a decoder or both.
 * A model is immutable once loaded and may be used from several threads.
 */
typedef struct _VaeModel VaeModel;

VAE_API VaeModel    * vae_model_load                 (const gchar      *path,
                                                      GError          **error);
VAE_API VaeModel    * vae_model_load_from_bytes      (GBytes           *bytes,
                                                      const gchar      *name,
                                                      GError          **error);
VAE_API VaeModel    * vae_model_ref                  (VaeModel         *model);
VAE_API void          vae_model_unref                (VaeModel         *model);

VAE_API const gchar * vae_model_get_path             (VaeModel         *model);
VAE_API const gchar * vae_model_get_id               (VaeModel         *model);
VAE_API const gchar * vae_model_get_name             (VaeModel         *model);
VAE_API const gchar * vae_model_get_architecture     (VaeModel         *model);
VAE_API const gchar * vae_model_get_license          (VaeModel         *model);
VAE_API guint         vae_model_get_latent_channels  (VaeModel         *model);
VAE_API guint         vae_model_get_factor           (VaeModel         *model);
VAE_API guint64       vae_model_get_n_params         (VaeModel         *model);
VAE_API gboolean      vae_model_can_encode           (VaeModel         *model);
VAE_API gboolean      vae_model_can_decode           (VaeModel         *model);
VAE_API const gchar * vae_model_get_hash             (VaeModel         *model);
VAE_API void          vae_model_get_latent_scaling   (VaeModel         *model,
                                                      gdouble          *scale,
                                                      gdouble          *shift);
VAE_API gdouble       vae_model_get_gflops           (VaeModel         *model,
                                                      gboolean          decoder,
                                                      gsize             width,
                                                      gsize             height);

VAE_API gboolean      vae_model_encode               (VaeModel         *model,
                                                      const VaeTensor  *image,
                                                      VaeLatent       **latent,
                                                      const VaeOptions *options,
                                                      GCancellable     *cancellable,
                                                      VaeProgressFunc   progress,
                                                      gpointer          progress_data,
                                                      GError          **error);
VAE_API gboolean      vae_model_check_latent         (VaeModel         *model,
                                                      const VaeLatent  *latent,
                                                      GError          **error);
VAE_API gboolean      vae_model_decode               (VaeModel         *model,
                                                      const VaeLatent  *latent,
                                                      VaeTensor       **image,
                                                      const VaeOptions *options,
                                                      GCancellable     *cancellable,
                                                      VaeProgressFunc   progress,
                                                      gpointer          progress_data,
                                                      GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeModel, vae_model_unref)

G_END_DECLS
