/* gimp-vae tests
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the GLib tests share (png-io.h reads PNG files).  Every helper
 * aborts the test on an error.
 */

#pragma once

#include "vae.h"
#include "vae-weights.h"

/* Every kernel set and thread count must give the same numbers: the
 * runs the model tests repeat. */
typedef struct
{
  gboolean reference;   /* run->reference: the plain kernels */
  gint     n_threads;
} TestRun;

#define TEST_N_RUNS 4
extern const TestRun test_runs[TEST_N_RUNS];

/* "@what (naive kernels, 1 thread)" for test_runs[@i]. */
gchar     * test_run_name             (const gchar     *what,
                                       guint            i);

/* vae_model_load (), which must succeed. */
VaeModel  * test_load_model           (const gchar     *path);

/* A copy of one tensor of @weights, which must hold it. */
VaeTensor * test_tensor_from_weight   (VaeWeights      *weights,
                                       const gchar     *name);

/* vae_model_encode () with run->reference and n_threads as given; the
 * latents' tensor. */
VaeTensor * test_run_encode           (VaeModel        *model,
                                       const VaeTensor *image,
                                       gboolean         reference,
                                       gint             n_threads);

/* @t clamped to [0, 1], as vae_model_decode () gives it. */
VaeTensor * test_clamped              (const VaeTensor *t);

/* Fails the test unless every |got - ref| <= @tolerance * max (1, max
 * |ref|), NaN failing; the message names @what and the worst element. */
void        test_assert_close         (const gchar     *what,
                                       const gfloat    *got,
                                       const gfloat    *ref,
                                       gsize            n,
                                       gdouble          tolerance);
/* The same for two tensors, which must have one shape. */
void        test_assert_close_tensors (const gchar     *what,
                                       const VaeTensor *got,
                                       const VaeTensor *ref,
                                       gdouble          tolerance);

/* Removes @path, a file or a folder with all it holds; nothing when it
 * does not exist. */
void        test_remove_dir           (const gchar     *path);
