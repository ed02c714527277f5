/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The only door to BLAS.  Row-major throughout:
 *   C[m x n] = alpha * op (A)[m x k] * op (B)[k x n] + beta * C
 * with leading dimensions lda, ldb, ldc in elements.  OpenBLAS runs single
 * threaded: libvae splits work across its own threads (vae_parallel_for),
 * which keeps the thread count an option of each call and lets the column
 * buffers of a conv stay in each core's cache.
 */
void vae_blas_init  (void);
void vae_sgemm      (gboolean       trans_a,
                     gboolean       trans_b,
                     gint           m,
                     gint           n,
                     gint           k,
                     gfloat         alpha,
                     const gfloat  *a,
                     gint           lda,
                     const gfloat  *b,
                     gint           ldb,
                     gfloat         beta,
                     gfloat        *c,
                     gint           ldc);

G_END_DECLS
