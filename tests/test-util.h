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

/* vae_weights_load (), which must succeed. */
VaeWeights *test_load_weights         (const gchar     *path);

/* data/models/@id/@id.safetensors: the weights the repository ships. */
gchar     * test_shipped_model        (const gchar     *id);

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

/* The tensors of a fixture that a tests/gen-*-reference.py script wrote
 * with PyTorch: an image, its latents, a decoder input and its decoding
 * (not clamped). */
typedef struct
{
  VaeTensor *image;
  VaeTensor *latent;
  VaeTensor *decoder_input;
  VaeTensor *decoded;
} TestReference;

void        test_reference_read       (VaeWeights      *weights,
                                       TestReference   *ref);
void        test_reference_clear      (TestReference   *ref);

/* Adds a tensor called @name of @n_dims dimensions @shape to @target,
 * for the test_ldm_* builders. */
typedef void (* TestAddTensor) (gpointer     target,
                                const gchar *name,
                                guint        n_dims,
                                const gsize *shape);

/* The tensors of a part of an AutoencoderKL under @base as
 * latent-diffusion names them, in the order its checkpoints list them: a
 * convolution (weight, bias), a GroupNorm, a ResNet block (norm1, conv1,
 * norm2, conv2, nin_shortcut when the widths differ). */
void        test_ldm_conv             (TestAddTensor    add,
                                       gpointer         target,
                                       const gchar     *base,
                                       gsize            c_out,
                                       gsize            c_in,
                                       gsize            k);
void        test_ldm_norm             (TestAddTensor    add,
                                       gpointer         target,
                                       const gchar     *base,
                                       gsize            c);
void        test_ldm_resnet           (TestAddTensor    add,
                                       gpointer         target,
                                       const gchar     *base,
                                       gsize            c_in,
                                       gsize            c_out);

/* Registers @func once for each of the @n_cases cases at @cases, each of
 * @size bytes and starting with its name, as the test "@prefix/name". */
void        test_add_cases            (const gchar     *prefix,
                                       gconstpointer    cases,
                                       gsize            n_cases,
                                       gsize            size,
                                       GTestDataFunc    func);
#define TEST_ADD_CASES(prefix, cases, func) \
  test_add_cases ((prefix), (cases), G_N_ELEMENTS (cases), \
                  sizeof (cases)[0], (func))

/* The VaeError code called @name ("FORMAT", "SHAPE" and so on, as the
 * lists of hostile files in tests/data name them). */
gint        test_error_code           (const gchar     *name);

/* The cases listed in the file at @path: its lines but for blank ones
 * and comments (#). */
GStrv       test_case_lines           (const gchar     *path);

/* How test_read_mutants () damages a file: cut short, or 1 to @max_changes
 * bytes changed, each given a random value or one bit flipped, anywhere or
 * (given a random value) within the @focus_length bytes from @focus_start,
 * where the reader decides most (0: no such part). */
typedef struct
{
  guint max_changes;
  gsize focus_start;
  gsize focus_length;
} TestDamage;

/* Reads the @size bytes at @data as a file called @name, and all it holds:
 * TRUE when it gave a result, FALSE with @error set. */
typedef gboolean (* TestReadFunc) (const guint8  *data,
                                   gsize          size,
                                   const gchar   *name,
                                   GError       **error);

/* Random damage to a valid file, @n_rounds mutants of @original: each must
 * be read or refused with a VaeError whose message starts with "@name: ",
 * never crash (valgrind or ASan turn a stray read into a failure).  Both
 * outcomes must occur, or the mutations test nothing. */
void        test_read_mutants         (const gchar      *name,
                                       const guint8     *original,
                                       gsize             size,
                                       guint             n_rounds,
                                       const TestDamage *damage,
                                       TestReadFunc      read);

/* Reads every value of every tensor of @weights: a view gone astray is a
 * valgrind or ASan report. */
void        test_touch_weights        (VaeWeights      *weights);

/* Removes @path, a file or a folder with all it holds; nothing when it
 * does not exist. */
void        test_remove_dir           (const gchar     *path);
