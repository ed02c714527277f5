/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-api.h"

G_BEGIN_DECLS

/**
 * VAE_ERROR:
 *
 * Error domain of libvae.  Errors in this domain are from the #VaeError
 * enumeration.
 */
#define VAE_ERROR (vae_error_quark ())

/**
 * VaeError:
 * @VAE_ERROR_IO: a file could not be opened, read or written.
 * @VAE_ERROR_FORMAT: a file is malformed: truncated, bad header, offsets out
 *   of range, unknown tensor dtype.
 * @VAE_ERROR_SHAPE: a tensor has the wrong shape, or two tensors that must
 *   agree do not.
 * @VAE_ERROR_UNSUPPORTED: the input is well formed but not something libvae
 *   handles (an unknown architecture, a missing encoder).
 * @VAE_ERROR_NO_MEMORY: an allocation failed or would exceed the limits.
 * @VAE_ERROR_CANCELLED: the operation was cancelled through its
 *   #GCancellable.
 * @VAE_ERROR_MODEL_MISMATCH: latents were made by another model than the one
 *   asked to decode them.
 * @VAE_ERROR_INVALID_ARGUMENT: a value given by the caller is out of range.
 *
 * Every code except @VAE_ERROR_INVALID_ARGUMENT describes a problem with
 * data or the environment, not a programming error: libvae reports them and
 * never aborts on them.
 */
typedef enum
{
  VAE_ERROR_IO,
  VAE_ERROR_FORMAT,
  VAE_ERROR_SHAPE,
  VAE_ERROR_UNSUPPORTED,
  VAE_ERROR_NO_MEMORY,
  VAE_ERROR_CANCELLED,
  VAE_ERROR_MODEL_MISMATCH,
  VAE_ERROR_INVALID_ARGUMENT
} VaeError;

VAE_API GQuark vae_error_quark (void);

G_END_DECLS
