/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once


#include "vae-compress.h"
#include "vae-error.h"
#include "vae-file-types.h"
#include "vae-image.h"
#include "vae-latent.h"
#include "vae-metrics.h"
#include "vae-model.h"
#include "vae-options.h"
#include "vae-pixels.h"
#include "vae-preview.h"
#include "vae-registry.h"
#include "vae-tensor.h"

