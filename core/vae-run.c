/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <unistd.h>

#include "vae-blas.h"
#include "vae-error-private.h"
#include "vae-run.h"

/* A small fork-join pool that lives for one encode or decode.  The caller's
 * thread works too, so n_threads == 1 creates no thread at all.  Work is
 * handed out one index at a time through an atomic counter.
 */
struct _VaePool
{
  GMutex           mutex;
  GCond            start_cond;
  GCond            done_cond;
  GThread        **threads;
  gint             n_workers;
  guint            generation;
  gint             n_busy;
  gboolean         quit;

  VaeParallelFunc  func;
  gpointer         data;
  gsize            n;
  gsize            next;          /* atomic */
};

typedef struct
{
  VaePool *pool;
  gint     thread;
} Worker;

static void
pool_work (VaePool *pool,
           gint     thread)
{
  for (;;)
    {
      gsize i = (gsize) g_atomic_pointer_add ((gssize *) &pool->next, 1);

      if (i >= pool->n)
        break;
      pool->func (i, thread, pool->data);
    }
}

static gpointer
worker_main (gpointer data)
{
  Worker  *worker = data;
  VaePool *pool = worker->pool;
  guint    seen = 0;

  g_mutex_lock (&pool->mutex);
  for (;;)
    {
      while (pool->generation == seen && ! pool->quit)
        g_cond_wait (&pool->start_cond, &pool->mutex);
      if (pool->quit)
        break;
      seen = pool->generation;
      g_mutex_unlock (&pool->mutex);

      pool_work (pool, worker->thread);

      g_mutex_lock (&pool->mutex);
      if (--pool->n_busy == 0)
        g_cond_signal (&pool->done_cond);
    }
  g_mutex_unlock (&pool->mutex);
  g_free (worker);

  return NULL;
}

static VaePool *
pool_new (gint n_threads)
{
  VaePool *pool = g_new0 (VaePool, 1);
  gint     i;

  g_mutex_init (&pool->mutex);
  g_cond_init (&pool->start_cond);
  g_cond_init (&pool->done_cond);
  pool->threads = g_new0 (GThread *, MAX (n_threads - 1, 1));

  for (i = 0; i < n_threads - 1; i++)
    {
      Worker *worker = g_new (Worker, 1);

      worker->pool = pool;
      worker->thread = i + 1;
      pool->threads[i] = g_thread_try_new ("vae-worker", worker_main, worker,
                                           NULL);
      if (pool->threads[i] == NULL)
        {
          /* Fewer threads is slower, not wrong. */
          g_free (worker);
          break;
        }
      pool->n_workers++;
    }

  return pool;
}

static void
pool_free (VaePool *pool)
{
  gint i;

  g_mutex_lock (&pool->mutex);
  pool->quit = TRUE;
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->mutex);

  for (i = 0; i < pool->n_workers; i++)
    g_thread_join (pool->threads[i]);

  g_free (pool->threads);
  g_mutex_clear (&pool->mutex);
  g_cond_clear (&pool->start_cond);
  g_cond_clear (&pool->done_cond);
  g_free (pool);
}

/**
 * vae_parallel_for: (skip)
 */
void
vae_parallel_for (VaeRun          *run,
                  gsize            n,
                  VaeParallelFunc  func,
                  gpointer         data)
{
  VaePool *pool = run->pool;

  if (n == 0)
    return;

  if (pool == NULL || pool->n_workers == 0 || n == 1)
    {
      gsize i;

      for (i = 0; i < n; i++)
        func (i, 0, data);
      return;
    }

  g_mutex_lock (&pool->mutex);
  pool->func = func;
  pool->data = data;
  pool->n = n;
  g_atomic_pointer_set (&pool->next, 0);
  pool->n_busy = pool->n_workers;
  pool->generation++;
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->mutex);

  pool_work (pool, 0);

  g_mutex_lock (&pool->mutex);
  while (pool->n_busy > 0)
    g_cond_wait (&pool->done_cond, &pool->mutex);
  g_mutex_unlock (&pool->mutex);
}

gint
vae_cpu_count (void)
{
  return MAX (1, (gint) g_get_num_processors ());
}

void
vae_run_init (VaeRun           *run,
              const VaeOptions *options,
              GCancellable     *cancellable,
              VaeProgressFunc   progress,
              gpointer          progress_data)
{
  VaeOptions defaults;

  if (options == NULL)
    {
      vae_options_init (&defaults);
      options = &defaults;
    }

  vae_blas_init ();

  run->cancellable = cancellable;
  run->progress = progress;
  run->progress_data = progress_data;
  run->stage = NULL;
  run->work_done = 0.0;
  run->work_total = 0.0;
  run->n_threads = options->n_threads > 0 ? options->n_threads
                                          : vae_cpu_count ();
  run->n_threads = CLAMP (run->n_threads, 1, 256);
  run->reference = options->reference;
  run->norm_stats = NULL;
  run->memory_budget = options->memory_budget ? options->memory_budget
                                              : VAE_DEFAULT_MEMORY_BUDGET;
  run->pad_mode = options->pad_mode;
  run->pool = pool_new (run->n_threads);
  run->n_threads = run->pool->n_workers + 1;
}

void
vae_run_clear (VaeRun *run)
{
  if (run->pool)
    pool_free (run->pool);
  run->pool = NULL;
}

void
vae_run_begin (VaeRun      *run,
               const gchar *stage,
               gdouble      work_total)
{
  run->stage = stage;
  run->work_done = 0.0;
  run->work_total = work_total;
  if (run->progress)
    run->progress (0.0, stage, run->progress_data);
}

gboolean
vae_run_check (VaeRun  *run,
               GError **error)
{
  if (g_cancellable_is_cancelled (run->cancellable))
    return vae_fail (error, VAE_ERROR_CANCELLED, "cancelled");

  return TRUE;
}

gboolean
vae_run_advance (VaeRun  *run,
                 gdouble  work,
                 GError **error)
{
  run->work_done += work;
  if (run->progress && run->work_total > 0.0)
    run->progress (MIN (run->work_done / run->work_total, 1.0), run->stage,
                   run->progress_data);

  return vae_run_check (run, error);
}
