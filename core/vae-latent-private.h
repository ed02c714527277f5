/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include "vae-latent.h"

G_BEGIN_DECLS

/* Sizes beyond these are refused when reading latents: no known model has
 * more than a few hundred latent channels, and 65536 latent pixels at a
 * factor of 8 already exceed GIMP's largest image (524288 pixels). */
#define VAE_LATENT_MAX_CHANNELS 4096
#define VAE_LATENT_MAX_SIDE     65536
#define VAE_LATENT_MAX_IMAGE_SIDE 524288

/* The seeded generator behind vae_latent_add_noise(), exposed for tests.
 *
 * xoshiro256** (Blackman and Vigna 2018) whose 256-bit state is four
 * successive outputs of SplitMix64 (Steele, Lea and Flood 2014) started
 * at the seed.  Gaussian values come in pairs from the Box-Muller
 * transform of two outputs u, v: with
 *   u1 = ((u >> 11) + 1) * 2^-53   in (0, 1]
 *   u2 = (v >> 11) * 2^-53         in [0, 1)
 *   r  = sqrt (-2 ln u1)
 * the pair is (r cos (2 pi u2), r sin (2 pi u2)), in double precision.
 */
typedef struct
{
  guint64 s[4];
} VaeRandom;

guint64 vae_splitmix64        (guint64   *state);
void    vae_random_init       (VaeRandom *random,
                               guint64    seed);
void    vae_random_init_state (VaeRandom *random,
                               guint64    s0,
                               guint64    s1,
                               guint64    s2,
                               guint64    s3);
guint64 vae_random_next       (VaeRandom *random);
void    vae_random_gaussian_pair (VaeRandom *random,
                                  gdouble   *z0,
                                  gdouble   *z1);

G_END_DECLS
