/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * SHA-256 (FIPS 180-4) for the model fingerprint, which hashes every
 * weight as F32: 23 MB for seed-f16, 0.1 s through GChecksum's portable
 * code, a tenth of a 1024x1024 decode.  The SHA extensions of current x86
 * CPUs do it five times faster; the digest is the same on every path, so
 * the choice is made at run time.
 */

#include <string.h>

#include "vae-sha256-private.h"

#if defined (__x86_64__) || defined (__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#endif

static const guint32 round_constants[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const guint32 initial_state[8] = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline guint32
rotr (guint32 x,
      guint   n)
{
  return (x >> n) | (x << (32 - n));
}

static void
blocks_plain (guint32      *state,
              const guint8 *data,
              gsize         n_blocks)
{
  for (; n_blocks > 0; n_blocks--, data += 64)
    {
      guint32 w[64];
      guint32 v[8];
      guint   i;

      for (i = 0; i < 16; i++)
        w[i] = (guint32) data[4 * i] << 24 | (guint32) data[4 * i + 1] << 16 |
               (guint32) data[4 * i + 2] << 8 | data[4 * i + 3];
      for (i = 16; i < 64; i++)
        {
          guint32 s0 = rotr (w[i - 15], 7) ^ rotr (w[i - 15], 18) ^ (w[i - 15] >> 3);
          guint32 s1 = rotr (w[i - 2], 17) ^ rotr (w[i - 2], 19) ^ (w[i - 2] >> 10);

          w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

      memcpy (v, state, sizeof v);
      for (i = 0; i < 64; i++)
        {
          guint32 a = v[0], e = v[4];
          guint32 t1 = v[7] + (rotr (e, 6) ^ rotr (e, 11) ^ rotr (e, 25)) +
                       ((e & v[5]) ^ (~e & v[6])) + round_constants[i] + w[i];
          guint32 t2 = (rotr (a, 2) ^ rotr (a, 13) ^ rotr (a, 22)) +
                       ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));

          v[7] = v[6];
          v[6] = v[5];
          v[5] = e;
          v[4] = v[3] + t1;
          v[3] = v[2];
          v[2] = v[1];
          v[1] = a;
          v[0] = t1 + t2;
        }
      for (i = 0; i < 8; i++)
        state[i] += v[i];
    }
}

#ifdef HAVE_X86
/* The instructions keep the state as the word pairs ABEF and CDGH, and
 * take the message four words at a time: sha256msg1/msg2 extend the
 * schedule, sha256rnds2 runs two rounds. */
__attribute__ ((target ("sha,ssse3,sse4.1")))
static void
blocks_sha_ni (guint32      *state,
               const guint8 *data,
               gsize         n_blocks)
{
  const __m128i big_endian = _mm_set_epi64x (0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i       dcba = _mm_loadu_si128 ((const __m128i *) state);
  __m128i       hgfe = _mm_loadu_si128 ((const __m128i *) (state + 4));
  __m128i       cdab = _mm_shuffle_epi32 (dcba, 0xb1);
  __m128i       efgh = _mm_shuffle_epi32 (hgfe, 0x1b);
  __m128i       abef = _mm_alignr_epi8 (cdab, efgh, 8);
  __m128i       cdgh = _mm_blend_epi16 (efgh, cdab, 0xf0);
  __m128i       feba, dchg;

  for (; n_blocks > 0; n_blocks--, data += 64)
    {
      const __m128i abef_in = abef, cdgh_in = cdgh;
      __m128i       w[4];
      guint         g;

      for (g = 0; g < 16; g++)
        {
          __m128i m, k;

          if (g < 4)
            {
              m = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (data + 16 * g)),
                                    big_endian);
            }
          else
            {
              /* w[g & 3] is the oldest of the last four groups, w[(g + 3) & 3]
               * the newest. */
              m = _mm_sha256msg1_epu32 (w[g & 3], w[(g + 1) & 3]);
              m = _mm_add_epi32 (m, _mm_alignr_epi8 (w[(g + 3) & 3], w[(g + 2) & 3], 4));
              m = _mm_sha256msg2_epu32 (m, w[(g + 3) & 3]);
            }
          w[g & 3] = m;

          k = _mm_add_epi32 (m, _mm_loadu_si128 ((const __m128i *) (round_constants + 4 * g)));
          cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, k);
          abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (k, 0x0e));
        }

      abef = _mm_add_epi32 (abef, abef_in);
      cdgh = _mm_add_epi32 (cdgh, cdgh_in);
    }

  feba = _mm_shuffle_epi32 (abef, 0x1b);
  dchg = _mm_shuffle_epi32 (cdgh, 0xb1);
  _mm_storeu_si128 ((__m128i *) state, _mm_blend_epi16 (feba, dchg, 0xf0));
  _mm_storeu_si128 ((__m128i *) (state + 4), _mm_alignr_epi8 (dchg, feba, 8));
}
#endif

gboolean
vae_sha256_has_extensions (void)
{
#ifdef HAVE_X86
  static gsize has = 0;

  if (g_once_init_enter (&has))
    {
      guint a, b, c, d;
      gboolean sha = FALSE, sse41 = FALSE;

      if (__get_cpuid (1, &a, &b, &c, &d))
        sse41 = (c & bit_SSSE3) && (c & bit_SSE4_1);
      if (__get_cpuid_count (7, 0, &a, &b, &c, &d))
        sha = (b & bit_SHA) != 0;
      g_once_init_leave (&has, sha && sse41 ? 2 : 1);
    }
  return has == 2;
#else
  return FALSE;
#endif
}

void
vae_sha256_init (VaeSha256 *sha,
                 gboolean   plain)
{
  memcpy (sha->state, initial_state, sizeof sha->state);
  sha->buffered = 0;
  sha->length = 0;
  sha->blocks = blocks_plain;
#ifdef HAVE_X86
  if (! plain && vae_sha256_has_extensions ())
    sha->blocks = blocks_sha_ni;
#endif
}

void
vae_sha256_update (VaeSha256     *sha,
                   gconstpointer  data,
                   gsize          size)
{
  const guint8 *p = data;

  sha->length += size;
  if (sha->buffered > 0)
    {
      gsize take = MIN (size, 64 - sha->buffered);

      memcpy (sha->buffer + sha->buffered, p, take);
      sha->buffered += take;
      p += take;
      size -= take;
      if (sha->buffered < 64)
        return;
      sha->blocks (sha->state, sha->buffer, 1);
      sha->buffered = 0;
    }
  if (size >= 64)
    {
      sha->blocks (sha->state, p, size / 64);
      p += size & ~(gsize) 63;
      size &= 63;
    }
  memcpy (sha->buffer, p, size);
  sha->buffered = size;
}

void
vae_sha256_finish (VaeSha256 *sha,
                   gchar      hex[VAE_SHA256_HEX_LENGTH + 1])
{
  guint64 bits = sha->length * 8;
  guint8  tail[72] = { 0x80 };
  gsize   pad = (sha->buffered < 56 ? 56 : 120) - sha->buffered;
  guint   i;

  for (i = 0; i < 8; i++)
    tail[pad + i] = (guint8) (bits >> (56 - 8 * i));
  vae_sha256_update (sha, tail, pad + 8);

  for (i = 0; i < 32; i++)
    {
      guint8 byte = (guint8) (sha->state[i / 4] >> (24 - 8 * (i % 4)));

      hex[2 * i] = "0123456789abcdef"[byte >> 4];
      hex[2 * i + 1] = "0123456789abcdef"[byte & 15];
    }
  hex[VAE_SHA256_HEX_LENGTH] = '\0';
}

gchar *
vae_sha256_data (gconstpointer data,
                 gsize         size)
{
  VaeSha256 sha;
  gchar     hex[VAE_SHA256_HEX_LENGTH + 1];

  vae_sha256_init (&sha, FALSE);
  vae_sha256_update (&sha, data, size);
  vae_sha256_finish (&sha, hex);

  return g_strdup (hex);
}
