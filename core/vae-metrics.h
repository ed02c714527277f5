/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"
#include "vae-tensor.h"

G_BEGIN_DECLS

/**
 * VaeQuality:
 * @psnr: peak signal-to-noise ratio in dB (peak 1.0, i.e. 255 on 8 bits);
 *   +infinity for identical images.
 * @ssim: mean structural similarity over the three channels (Gaussian
 *   11x11 window, sigma 1.5, K1 0.01, K2 0.03); NaN for images smaller
 *   than the window.
 * @ms_ssim: multi-scale SSIM (five scales with the standard weights, fewer
 *   for small images); NaN where @ssim is.
 *
 * Reconstruction quality of an image against its original.
 */
typedef struct
{
  gdouble psnr;
  gdouble ssim;
  gdouble ms_ssim;
} VaeQuality;

/**
 * VaeDiffStyle:
 * @VAE_DIFF_AMPLIFIED: per-channel absolute difference times a gain.
 * @VAE_DIFF_HEATMAP: the mean absolute difference times a gain, through a
 *   black-blue-red-yellow-white colour ramp.
 *
 * How vae_difference_map() draws differences.
 */
typedef enum
{
  VAE_DIFF_AMPLIFIED,
  VAE_DIFF_HEATMAP
} VaeDiffStyle;

VAE_API void        vae_image_quantize_8bit (VaeTensor        *image);
VAE_API gboolean    vae_psnr                (const VaeTensor  *a,
                                             const VaeTensor  *b,
                                             gdouble          *psnr,
                                             GError          **error);
VAE_API gboolean    vae_ssim                (const VaeTensor  *a,
                                             const VaeTensor  *b,
                                             gdouble          *ssim,
                                             GError          **error);
VAE_API gboolean    vae_ms_ssim             (const VaeTensor  *a,
                                             const VaeTensor  *b,
                                             gdouble          *ms_ssim,
                                             GError          **error);
VAE_API gboolean    vae_quality             (const VaeTensor  *original,
                                             const VaeTensor  *reconstruction,
                                             VaeQuality       *quality,
                                             GError          **error);
VAE_API VaeTensor * vae_difference_map      (const VaeTensor  *a,
                                             const VaeTensor  *b,
                                             VaeDiffStyle      style,
                                             gdouble           gain,
                                             GError          **error);

G_END_DECLS
