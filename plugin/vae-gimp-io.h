/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GIMP <-> libvae glue: drawable pixels to image tensors and back, and
 * latents kept as layer parasites.
 */

#pragma once

#include <libgimp/gimp.h>

#include "vae.h"

G_BEGIN_DECLS

/* The parasite a latent-carrying layer has: vae_latent_serialize() bytes. */
#define VAE_PLUGIN_LATENT_PARASITE   "gimp-vae-latent"
/* Reconstruction quality, as text "psnr=.. ssim=.. ms-ssim=.. model=..". */
#define VAE_PLUGIN_QUALITY_PARASITE  "gimp-vae-quality"

/**
 * VaePluginPixels:
 * @rgb: [3, height, width] R'G'B' in the image's colour space, in [0, 1].
 * @alpha: (nullable): [1, height, width] alpha, or %NULL when the drawable
 *   has none.
 * @x: left edge in image coordinates.
 * @y: top edge in image coordinates.
 *
 * A region of a drawable, read as tensors.
 */
typedef struct
{
  VaeTensor *rgb;
  VaeTensor *alpha;
  gint       x;
  gint       y;
} VaePluginPixels;

gboolean    vae_plugin_pixels_read        (GimpDrawable          *drawable,
                                           gboolean               selection_only,
                                           VaePluginPixels       *pixels,
                                           GError               **error);
void        vae_plugin_pixels_clear       (VaePluginPixels       *pixels);

void        vae_plugin_position_above     (GimpImage             *image,
                                           GimpItem              *reference,
                                           GimpLayer            **parent,
                                           gint                  *position);
GimpLayer * vae_plugin_layer_add          (GimpImage             *image,
                                           const gchar           *name,
                                           const VaeTensor       *rgb,
                                           const VaeTensor       *alpha,
                                           GimpLayer             *parent,
                                           gint                   position,
                                           GError               **error);

gboolean    vae_plugin_latent_attach      (GimpItem              *item,
                                           const VaeLatent       *latent,
                                           GError               **error);
VaeLatent * vae_plugin_latent_get         (GimpItem              *item,
                                           GError               **error);
gboolean    vae_plugin_latent_has         (GimpItem              *item);
gchar     * vae_file_local_path           (GFile                 *file,
                                           GError               **error);
VaeLatent * vae_plugin_latent_load_file   (GFile                 *file,
                                           GError               **error);
gboolean    vae_plugin_latent_save_file   (const VaeLatent       *latent,
                                           GFile                 *file,
                                           GError               **error);

gboolean    vae_plugin_attach_text        (GimpItem              *item,
                                           const gchar           *name,
                                           const gchar           *text);

VaeTensor * vae_plugin_alpha_fit          (const VaeTensor       *alpha,
                                           gsize                  width,
                                           gsize                  height,
                                           GError               **error);

G_END_DECLS
