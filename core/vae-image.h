/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"
#include "vae-options.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

VAE_API VaeTensor * vae_image_pad    (const VaeTensor  *image,
                                      gsize             multiple,
                                      VaePadMode        mode,
                                      GError          **error);
VAE_API VaeTensor * vae_image_crop   (const VaeTensor  *image,
                                      gsize             x,
                                      gsize             y,
                                      gsize             width,
                                      gsize             height,
                                      GError          **error);
VAE_API VaeTensor * vae_image_resize (const VaeTensor  *image,
                                      gsize             width,
                                      gsize             height,
                                      GError          **error);

G_END_DECLS
