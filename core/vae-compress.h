/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae-api.h"
#include "vae-latent.h"
#include "vae-model.h"
#include "vae-options.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VaeCompressKind:
 * @VAE_COMPRESS_LEARNED: an image coded with its model's own trained
 *   entropy model (seed-f16-codec); decompressed with that model.
 * @VAE_COMPRESS_LATENT: the latents of any model, coded by libvae's
 *   generic adaptive coder; decompressed to latents, then decoded by the
 *   model that made them.
 *
 * The two kinds of `.vaez` file.
 */
typedef enum
{
  VAE_COMPRESS_LEARNED = 1,
  VAE_COMPRESS_LATENT = 2
} VaeCompressKind;

/**
 * VaeCompressSettings:
 * @quality: from 0 (smallest file) to 100 (best image); used when
 *   @target_bpp is 0.
 * @target_bpp: when above 0, the quality is chosen so that the file comes
 *   as close to this many bits per image pixel as it can without going
 *   over (quality 0 when even that is over).
 *
 * Always initialise with vae_compress_settings_init().
 */
typedef struct
{
  gdouble quality;
  gdouble target_bpp;

  /*< private >*/
  gpointer reserved[4];
} VaeCompressSettings;

/**
 * VaeCompressedInfo:
 * @kind: how the file was coded
 * @model_id: the id of the model that made it
 * @model_hash: the first 16 hex digits of that model's hash
 *   (vae_model_get_hash())
 * @width: the image width in pixels
 * @height: the image height in pixels
 * @channels: latent channels
 * @latent_width: latent width
 * @latent_height: latent height
 * @quality: the quality setting, 0 to 100
 * @size: the file's size in bytes
 * @bpp: bits per image pixel of the whole file
 *
 * What the header of a `.vaez` file says.  Free with
 * vae_compressed_info_clear().
 */
typedef struct
{
  VaeCompressKind kind;
  gchar          *model_id;
  gchar           model_hash[17];
  guint           width;
  guint           height;
  guint           channels;
  guint           latent_width;
  guint           latent_height;
  gdouble         quality;
  gsize           size;
  gdouble         bpp;
} VaeCompressedInfo;

VAE_API void        vae_compress_settings_init (VaeCompressSettings       *settings);

VAE_API gboolean    vae_compressed_sniff       (const guint8              *data,
                                                gsize                      size);
VAE_API gboolean    vae_model_can_compress     (VaeModel                  *model);

VAE_API GBytes    * vae_compress_image         (VaeModel                  *model,
                                                const VaeTensor           *image,
                                                const VaeCompressSettings *settings,
                                                const VaeOptions          *options,
                                                GCancellable              *cancellable,
                                                VaeProgressFunc            progress,
                                                gpointer                   progress_data,
                                                GError                   **error);
VAE_API GBytes    * vae_compress_latent        (const VaeLatent           *latent,
                                                const VaeCompressSettings *settings,
                                                GError                   **error);

VAE_API gboolean    vae_compressed_read_info   (GBytes                    *data,
                                                VaeCompressedInfo         *info,
                                                GError                   **error);
VAE_API void        vae_compressed_info_clear  (VaeCompressedInfo         *info);

VAE_API VaeLatent * vae_decompress_latent      (VaeModel                  *model,
                                                GBytes                    *data,
                                                GError                   **error);
VAE_API VaeTensor * vae_decompress_image       (VaeModel                  *model,
                                                GBytes                    *data,
                                                const VaeOptions          *options,
                                                GCancellable              *cancellable,
                                                VaeProgressFunc            progress,
                                                gpointer                   progress_data,
                                                GError                   **error);

VAE_API GBytes    * vae_compressed_load        (const gchar               *path,
                                                GError                   **error);
VAE_API gboolean    vae_compressed_save        (GBytes                    *data,
                                                const gchar               *path,
                                                GError                   **error);

G_END_DECLS
