/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "vae.h"

G_BEGIN_DECLS

/* Errors of the command line itself.  CLI_ERROR_USAGE ends with exit code 2,
 * everything else (except cancellation) with 1.
 */
#define CLI_ERROR (cli_error_quark ())

typedef enum
{
  CLI_ERROR_USAGE,
  CLI_ERROR_FAILED
} CliError;

GQuark     cli_error_quark         (void);

/* The exit status of a run cancelled with Ctrl-C, as shells report
 * SIGINT. */
#define CLI_EXIT_CANCELLED 130

/* What every subcommand shares: the common options, the libvae options
 * made from them, cancellation and the progress bar's state.
 */
typedef struct
{
  const gchar  *command;

  /* common options */
  gint          n_threads;
  gboolean      quiet;
  gchar        *pad;

  VaeOptions    options;
  GCancellable *cancellable;

  /* progress bar; stage_prefix (nullable) is shown before libvae's stage,
   * e.g. "frame 3/9"
   */
  gboolean      show_progress;
  gchar        *stage_prefix;
  gint          last_percent;
  gchar        *last_stage;
  gboolean      bar_drawn;
} CliContext;

typedef gboolean (* CliCommandFunc) (CliContext  *ctx,
                                     gint         argc,
                                     gchar      **argv,
                                     GError     **error);

gboolean   cli_info                (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_encode              (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_decode              (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_roundtrip           (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_compress            (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_decompress          (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
VaeModel * cli_open_codec_model    (CliContext  *ctx,
                                    GError     **error);
GBytes   * cli_run_compress        (CliContext       *ctx,
                                    VaeModel         *model,
                                    const VaeTensor  *image,
                                    gdouble           bpp,
                                    gdouble           quality,
                                    GError          **error);
GBytes   * cli_load_compressed     (CliContext  *ctx,
                                    const gchar *path,
                                    VaeModel   **model,
                                    GError     **error);
gboolean   cli_interpolate         (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_bench               (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);
gboolean   cli_models              (CliContext  *ctx,
                                    gint         argc,
                                    gchar      **argv,
                                    GError     **error);

/* Parses the subcommand's options plus the common ones.  On success
 * *positional holds the arguments left over (without the program name,
 * NULL-terminated, owned by the caller) and ctx->options is filled in.
 */
gboolean   cli_parse_options       (CliContext          *ctx,
                                    const gchar         *parameters,
                                    const gchar         *summary,
                                    const gchar         *description,
                                    const GOptionEntry  *entries,
                                    gint                 argc,
                                    gchar              **argv,
                                    gchar             ***positional,
                                    GError             **error);

/* Splits the positional arguments into the model and n_rest others.  The
 * model may be left out, in which case *model_spec is NULL and
 * cli_model_open() decides what that means.
 */
gboolean   cli_split_model_arg     (CliContext    *ctx,
                                    gchar        **positional,
                                    guint          n_rest,
                                    const gchar   *rest_names,
                                    const gchar  **model_spec,
                                    gchar       ***rest,
                                    GError       **error);
VaeModel * cli_model_open          (CliContext       *ctx,
                                    const gchar      *model_spec,
                                    const VaeLatent  *latent,
                                    GError          **error);

gboolean   cli_check_latent_model  (CliContext       *ctx,
                                    VaeModel         *model,
                                    const VaeLatent  *latent,
                                    const gchar      *path,
                                    GError          **error);
gboolean   cli_check_outputs       (const gchar * const *outputs,
                                    guint             n_outputs,
                                    const gchar * const *inputs,
                                    guint             n_inputs,
                                    GError          **error);
gboolean   cli_require_output      (const gchar      *output,
                                    const gchar      *command,
                                    const gchar      *what,
                                    GError          **error);
gboolean   cli_check_output        (const gchar      *output,
                                    const gchar      *input,
                                    const gchar      *other_input,
                                    GError          **error);
gboolean   cli_same_file           (const gchar      *a,
                                    const gchar      *b);

gboolean   cli_parse_size          (const gchar   *text,
                                    guint         *width,
                                    guint         *height,
                                    GError       **error);

/* Encoding and decoding with the context's options, progress bar and
 * cancellation; *seconds (nullable) receives the wall time.
 */
VaeLatent * cli_run_encode         (CliContext       *ctx,
                                    VaeModel         *model,
                                    const VaeTensor  *image,
                                    gdouble          *seconds,
                                    GError          **error);
VaeTensor * cli_run_decode         (CliContext       *ctx,
                                    VaeModel         *model,
                                    const VaeLatent  *latent,
                                    gdouble          *seconds,
                                    GError          **error);

/* Progress and cancellation. */
void       cli_install_signal_handler (void);
void       cli_exit_on_interrupt   (gint           stderr_fd);
gboolean   cli_check_cancelled     (CliContext    *ctx,
                                    GError       **error);
void       cli_progress            (gdouble        fraction,
                                    const gchar   *stage,
                                    gpointer       user_data);
void       cli_progress_clear      (CliContext    *ctx);

/* Informational lines on stdout; silent with --quiet. */
void       cli_note                (CliContext    *ctx,
                                    const gchar   *format,
                                    ...) G_GNUC_PRINTF (2, 3);

gdouble    cli_seconds             (void);

/* libraries below us (GEGL, libpng) report problems with g_warning(); while
 * a capture is open those are collected instead of printed, so that the
 * user sees one error line from us.
 */
void       cli_log_init            (void);
void       cli_log_capture_begin   (void);
gchar    * cli_log_capture_end     (void);

G_END_DECLS
