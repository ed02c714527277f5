/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <cblas.h>

#include "vae-blas.h"

void
vae_blas_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      /* libvae threads itself; nested OpenBLAS threads would only fight
       * over the same cores. */
      openblas_set_num_threads (1);
      g_once_init_leave (&done, 1);
    }
}

void
vae_sgemm (gboolean      trans_a,
           gboolean      trans_b,
           gint          m,
           gint          n,
           gint          k,
           gfloat        alpha,
           const gfloat *a,
           gint          lda,
           const gfloat *b,
           gint          ldb,
           gfloat        beta,
           gfloat       *c,
           gint          ldc)
{
  cblas_sgemm (CblasRowMajor,
               trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans,
               m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
