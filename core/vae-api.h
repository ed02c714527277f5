/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

/**
 * VAE_API:
 *
 * Marks a function of libvae's public API, before its declaration in a
 * public header ("VAE_API gboolean vae_...").  libvae is built with hidden
 * symbol visibility: what a public header declares without it is not
 * exported by the shared library (tests/check-exports.py checks that the
 * two lists agree).
 */
#if defined (_WIN32) || defined (__CYGWIN__)
# ifdef VAE_COMPILATION
#  define VAE_API __declspec (dllexport)
# else
#  define VAE_API
# endif
#elif defined (__GNUC__) || defined (__clang__)
# define VAE_API __attribute__ ((visibility ("default")))
#else
# define VAE_API
#endif
