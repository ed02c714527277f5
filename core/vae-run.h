/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae-options.h"

G_BEGIN_DECLS

typedef struct _VaePool      VaePool;
typedef struct _VaeNormStats VaeNormStats;

/* The state of one encode or decode call: options, cancellation, progress
 * and the worker threads.  Ops take it as their first argument; it lives on
 * the caller's stack, so libvae has no global mutable state.
 *
 * Progress is measured in work units (FLOPs for the heavy ops) so that the
 * bar moves evenly even though the layers near full resolution cost 64x
 * more than those at latent resolution.
 */
typedef struct
{
  GCancellable    *cancellable;
  VaeProgressFunc  progress;
  gpointer         progress_data;
  const gchar     *stage;
  gdouble          work_done;
  gdouble          work_total;
  gint             n_threads;
  gboolean         reference;
  VaePool         *pool;
  VaeNormStats    *norm_stats;   /* tiles of a normalised model, else NULL */
  gsize            memory_budget; /* bytes; the default when the options set none */
  VaePadMode       pad_mode;
} VaeRun;

/* Working memory beyond which encode and decode go tiled when the caller
 * sets no budget: a 1024x1024 TAEF2 decode (about 1 GiB) stays whole, a
 * 4096x4096 one (about 13 GiB whole) is tiled. */
#define VAE_DEFAULT_MEMORY_BUDGET ((gsize) 1536 << 20)

void      vae_run_init      (VaeRun            *run,
                             const VaeOptions  *options,
                             GCancellable      *cancellable,
                             VaeProgressFunc    progress,
                             gpointer           progress_data);
void      vae_run_clear     (VaeRun            *run);
void      vae_run_begin     (VaeRun            *run,
                             const gchar       *stage,
                             gdouble            work_total);
gboolean  vae_run_advance   (VaeRun            *run,
                             gdouble            work,
                             GError           **error);
gboolean  vae_run_check     (VaeRun            *run,
                             GError           **error);

/* Runs func (index, thread, data) for index in [0, n) on the run's threads;
 * thread is in [0, run->n_threads) and lets workers own scratch buffers.
 * Indices are handed out dynamically, so uneven tasks balance.  Returns
 * when all are done.
 */
typedef void (* VaeParallelFunc) (gsize    index,
                                  gint     thread,
                                  gpointer data);

void      vae_parallel_for  (VaeRun            *run,
                             gsize              n,
                             VaeParallelFunc    func,
                             gpointer           data);

gint      vae_cpu_count     (void);

G_END_DECLS
