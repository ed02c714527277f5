/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the subcommands share: option parsing, model resolution, output
 * checks, progress, log capture and Ctrl-C.  main.c dispatches to them.
 */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "cli-image.h"
#include "vae-cli.h"

#define BAR_WIDTH 30

G_DEFINE_QUARK (cli-error-quark, cli_error)

/* --- Ctrl-C ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted = 0;
static volatile sig_atomic_t exit_fd = -1;

static void
on_sigint (int signum)
{
  static const char message[] = "\nvae: cancelled\n";

  if (exit_fd >= 0)
    {
      /* only async-signal-safe calls here */
      if (write (exit_fd, message, sizeof (message) - 1) < 0)
        _exit (CLI_EXIT_CANCELLED);
      _exit (CLI_EXIT_CANCELLED);
    }
  interrupted = 1;
}

/**
 * cli_exit_on_interrupt:
 * @stderr_fd: where the user's stderr is now, or -1 to end this
 *
 * For work with no cancellation points (GEGL loading a large image takes
 * seconds) that has nothing to undo: until called again with -1, Ctrl-C
 * exits at once instead of being noticed when the work is done.
 */
void
cli_exit_on_interrupt (gint stderr_fd)
{
  exit_fd = stderr_fd;
  if (stderr_fd >= 0 && interrupted)
    on_sigint (SIGINT);
}

/* The handler only raises a flag; the progress callback, which libvae
 * calls often from the working thread, turns it into
 * g_cancellable_cancel().  SA_RESETHAND makes a second Ctrl-C kill the
 * process the usual way should the work not reach a check point.
 */
void
cli_install_signal_handler (void)
{
  struct sigaction action;

  memset (&action, 0, sizeof (action));
  action.sa_handler = on_sigint;
  action.sa_flags = SA_RESETHAND;
  sigemptyset (&action.sa_mask);
  sigaction (SIGINT, &action, NULL);
}

gboolean
cli_check_cancelled (CliContext  *ctx,
                     GError     **error)
{
  if (interrupted)
    g_cancellable_cancel (ctx->cancellable);

  return !g_cancellable_set_error_if_cancelled (ctx->cancellable, error);
}


/* --- progress ---------------------------------------------------------- */

void
cli_progress (gdouble      fraction,
              const gchar *stage,
              gpointer     user_data)
{
  CliContext       *ctx = user_data;
  g_autofree gchar *label = NULL;
  gchar             bar[BAR_WIDTH + 1];
  gint              percent;
  gint              filled;

  if (interrupted)
    g_cancellable_cancel (ctx->cancellable);

  if (!ctx->show_progress)
    return;

  percent = (gint) CLAMP (floor (fraction * 100.0), 0, 100);
  if (stage == NULL)
    stage = "";
  if (ctx->stage_prefix != NULL)
    label = g_strdup_printf ("%s %s", ctx->stage_prefix, stage);
  else
    label = g_strdup (stage);

  /* redraw only when something visible changed */
  if (ctx->bar_drawn && percent == ctx->last_percent &&
      g_strcmp0 (label, ctx->last_stage) == 0)
    return;

  filled = percent * BAR_WIDTH / 100;
  memset (bar, '#', filled);
  memset (bar + filled, '.', BAR_WIDTH - filled);
  bar[BAR_WIDTH] = '\0';

  fprintf (stderr, "\r\033[K%-16s %3d%% [%s]", label, percent, bar);
  fflush (stderr);

  ctx->bar_drawn = TRUE;
  ctx->last_percent = percent;
  g_free (ctx->last_stage);
  ctx->last_stage = g_steal_pointer (&label);
}

void
cli_progress_clear (CliContext *ctx)
{
  if (!ctx->bar_drawn)
    return;

  fputs ("\r\033[K", stderr);
  fflush (stderr);
  ctx->bar_drawn = FALSE;
  ctx->last_percent = -1;
  g_clear_pointer (&ctx->last_stage, g_free);
}

void
cli_note (CliContext  *ctx,
          const gchar *format,
          ...)
{
  va_list args;

  if (ctx->quiet)
    return;

  cli_progress_clear (ctx);
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  putchar ('\n');
  fflush (stdout);
}

gdouble
cli_seconds (void)
{
  return g_get_monotonic_time () / 1e6;
}


/* --- log capture ------------------------------------------------------- */

static gboolean  log_capturing = FALSE;
static gchar    *log_captured = NULL;

static GLogWriterOutput
cli_log_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  if (log_capturing &&
      (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
    {
      gsize i;

      for (i = 0; i < n_fields && log_captured == NULL; i++)
        if (g_str_equal (fields[i].key, "MESSAGE"))
          {
            if (fields[i].length < 0)
              log_captured = g_strdup (fields[i].value);
            else
              log_captured = g_strndup (fields[i].value, fields[i].length);
          }
      if (log_captured == NULL)
        log_captured = g_strdup ("unknown error");

      return G_LOG_WRITER_HANDLED;
    }

  /* chatter from the loaders is not an error and not for the user */
  if (log_capturing && (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)))
    return G_LOG_WRITER_HANDLED;

  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
cli_log_init (void)
{
  g_log_set_writer_func (cli_log_writer, NULL, NULL);
}

void
cli_log_capture_begin (void)
{
  g_clear_pointer (&log_captured, g_free);
  log_capturing = TRUE;
}

gchar *
cli_log_capture_end (void)
{
  gchar *message = g_steal_pointer (&log_captured);

  log_capturing = FALSE;
  if (message != NULL)
    g_strstrip (g_strdelimit (message, "\r\n", ' '));

  return message;
}


/* --- options and arguments --------------------------------------------- */

gboolean
cli_parse_options (CliContext          *ctx,
                   const gchar         *parameters,
                   const gchar         *summary,
                   const gchar         *description,
                   const GOptionEntry  *entries,
                   gint                 argc,
                   gchar              **argv,
                   gchar             ***positional,
                   GError             **error)
{
  GOptionEntry common[] =
  {
    { "threads", 't', 0, G_OPTION_ARG_INT, &ctx->n_threads,
      "Worker threads (default 0: every CPU)", "N" },
    { "pad", 0, 0, G_OPTION_ARG_STRING, &ctx->pad,
      "Pad images to the model's factor by repeating the edge (edge, the "
      "default) or mirroring (reflect); the padding is cropped on decode",
      "edge|reflect" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &ctx->quiet,
      "No progress bar and no notes; results are still printed", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autofree gchar *prgname = g_strdup_printf ("vae %s", ctx->command);
  g_auto (GStrv)    args = NULL;
  gint              i;

  context = g_option_context_new (parameters);
  g_option_context_set_summary (context, summary);
  if (description != NULL)
    g_option_context_set_description (context, description);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, common, NULL);

  args = g_new0 (gchar *, argc + 1);
  args[0] = g_strdup (prgname);
  for (i = 1; i < argc; i++)
    args[i] = g_strdup (argv[i]);

  g_set_prgname (prgname);
  if (!g_option_context_parse_strv (context, &args, error))
    return FALSE;

  vae_options_init (&ctx->options);

  if (ctx->n_threads < 0 || ctx->n_threads > 1024)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--threads must be between 0 and 1024, not %d",
                   ctx->n_threads);
      return FALSE;
    }
  ctx->options.n_threads = ctx->n_threads;

  if (ctx->pad == NULL || g_str_equal (ctx->pad, "edge"))
    ctx->options.pad_mode = VAE_PAD_EDGE;
  else if (g_str_equal (ctx->pad, "reflect"))
    ctx->options.pad_mode = VAE_PAD_REFLECT;
  else
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--pad must be edge or reflect, not '%s'", ctx->pad);
      return FALSE;
    }

  ctx->show_progress = !ctx->quiet && isatty (STDERR_FILENO);

  *positional = g_strdupv (args + 1);
  return TRUE;
}

gboolean
cli_split_model_arg (CliContext    *ctx,
                     gchar        **positional,
                     guint          n_rest,
                     const gchar   *rest_names,
                     const gchar  **model_spec,
                     gchar       ***rest,
                     GError       **error)
{
  guint n = g_strv_length (positional);

  if (n == n_rest + 1)
    {
      *model_spec = positional[0];
      *rest = positional + 1;
      return TRUE;
    }
  if (n == n_rest)
    {
      /* left for cli_model_open() to resolve to a default */
      *model_spec = NULL;
      *rest = positional;
      return TRUE;
    }

  g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
               "%s: expected [MODEL]%s%s, got %u argument%s (see 'vae %s --help')",
               ctx->command, rest_names ? " " : "", rest_names ? rest_names : "",
               n, n == 1 ? "" : "s", ctx->command);
  return FALSE;
}

/* A MODEL argument that names an image or a latent file is most likely
 * an argument count gone wrong (a forgotten -o): say so. */
static gboolean
looks_like_data (const gchar *spec)
{
  static const gchar *const suffixes[] = {
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".latent",
  };
  g_autofree gchar *lower = g_ascii_strdown (spec, -1);
  gsize             i;

  for (i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (lower, suffixes[i]))
      return TRUE;

  return FALSE;
}

/**
 * cli_model_open:
 * @ctx: the command's context
 * @model_spec: (nullable): what the user named as the model, or %NULL
 *   when the argument was left out
 * @latent: (nullable): the latents the model is for, when the command
 *   decodes some
 * @error: return location for a #GError
 *
 * The one place where the command line turns into a model.  @model_spec
 * goes to vae_registry_resolve(): a registry id ("taef2"), the name of
 * another model in the search path, a path to a weight file or a model
 * folder.  Left out, it is the model that made @latent, so that latents
 * of an earlier default model keep decoding with it
 * (vae_registry_resolve_for_latent()), or without @latent the default
 * model (built into libvae).
 *
 * Returns: (transfer full) (nullable): the loaded model.
 */
VaeModel *
cli_model_open (CliContext       *ctx,
                const gchar      *model_spec,
                const VaeLatent  *latent,
                GError          **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  VaeModel               *model;

  registry = vae_registry_new (error);
  if (registry == NULL)
    return NULL;

  model = latent ? vae_registry_resolve_for_latent (registry, model_spec, latent, error)
                 : vae_registry_resolve (registry, model_spec, error);
  if (model != NULL)
    return model;

  if (model_spec == NULL && latent != NULL)
    g_prefix_error (error, "%s: no MODEL given, and the model that made "
                    "the latents cannot be used: ", ctx->command);
  else if (model_spec == NULL)
    g_prefix_error (error, "%s: no MODEL given, and the default model "
                    "cannot be used: ", ctx->command);
  else if (looks_like_data (model_spec))
    g_prefix_error (error, "'%s' was taken as the MODEL, but looks like an "
                    "image or latent file (an option missing? see 'vae %s "
                    "--help'): ", model_spec, ctx->command);
  else if (error && *error && strstr ((*error)->message, model_spec) == NULL)
    g_prefix_error (error, "cannot load model '%s': ", model_spec);

  return NULL;
}

/**
 * cli_check_latent_model:
 * @ctx: the command's context (its options.force allows a mismatch)
 * @model: the model about to decode
 * @latent: latents read from @path
 * @path: where they came from, for the message
 * @error: return location for a #GError
 *
 * vae_model_check_latent() before any work, with a message for latents of
 * another model that names the file, both models and the option to
 * override, which libvae cannot know.
 *
 * Returns: %TRUE when @latent may be decoded.
 */
gboolean
cli_check_latent_model (CliContext       *ctx,
                        VaeModel         *model,
                        const VaeLatent  *latent,
                        const gchar      *path,
                        GError          **error)
{
  g_autoptr (GError)  local = NULL;
  const gchar        *hash = vae_latent_get_model_hash (latent);
  const gchar        *id = vae_latent_get_model_id (latent);

  /* --force lets vae_model_decode() take any model's latents */
  if (ctx->options.force || vae_model_check_latent (model, latent, &local))
    return TRUE;

  if (!g_error_matches (local, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }

  g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
               "'%s' was made by another model (%s%s%s) than '%s' (%s, %s); "
               "--force decodes it anyway",
               path, id != NULL && id[0] != '\0' ? id : "unknown",
               hash != NULL && hash[0] != '\0' ? ", " : "",
               hash != NULL ? hash : "",
               vae_model_get_path (model), vae_model_get_id (model),
               vae_model_get_hash (model));
  return FALSE;
}

/* Whether @path can be created in its folder: the one sure test, since
 * permission bits say nothing to root and nothing about read-only or
 * special file systems.
 */
static gboolean
probe_create (const gchar  *path,
              GError      **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *probe = NULL;
  gint              fd;
  gint              saved;

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "cannot write '%s': the folder '%s' does not exist",
                   path, dir);
      return FALSE;
    }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "cannot write '%s': '%s' is not a folder", path, dir);
      return FALSE;
    }

  probe = g_build_filename (dir, ".vae-probe-XXXXXX", NULL);
  fd = g_mkstemp (probe);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                   "cannot write '%s': cannot create files in '%s' (%s)",
                   path, dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  g_unlink (probe);

  return TRUE;
}

/* Refuses a command run without its -o: "@command: -o @what is
 * required". */
gboolean
cli_require_output (const gchar  *output,
                    const gchar  *command,
                    const gchar  *what,
                    GError      **error)
{
  if (output != NULL)
    return TRUE;

  g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE, "%s: -o %s is required",
               command, what);
  return FALSE;
}

/* cli_check_outputs () for a command that writes one file from one or two
 * inputs (@other_input and @input may be NULL: a model left out). */
gboolean
cli_check_output (const gchar  *output,
                  const gchar  *input,
                  const gchar  *other_input,
                  GError      **error)
{
  const gchar *outputs[] = { output };
  const gchar *inputs[] = { input, other_input };

  return cli_check_outputs (outputs, 1, inputs, G_N_ELEMENTS (inputs), error);
}

/**
 * cli_check_outputs:
 * @outputs: (array length=n_outputs): the files the command will write;
 *   %NULL entries are skipped
 * @n_outputs: length of @outputs
 * @inputs: (array length=n_inputs): the files it reads (images, latents,
 *   a model file); %NULL entries are skipped
 * @n_inputs: length of @inputs
 * @error: return location for a #GError
 *
 * Fails before any work when an output could not be written, or when
 * writing it would destroy something: an output that is one of the inputs
 * (under any name, through links too), one named twice, or a folder.
 * Outputs that are devices or FIFOs are fine; the writers write into them
 * instead of replacing them.
 *
 * Returns: %TRUE when every output can be written.
 */
gboolean
cli_check_outputs (const gchar * const *outputs,
                   guint                n_outputs,
                   const gchar * const *inputs,
                   guint                n_inputs,
                   GError             **error)
{
  guint i;
  guint j;

  for (i = 0; i < n_outputs; i++)
    {
      const gchar *out = outputs[i];
      GStatBuf     st;

      if (out == NULL)
        continue;

      /* /dev/null may well be named for every output */
      for (j = 0; j < i; j++)
        if (outputs[j] != NULL && cli_same_file (out, outputs[j]) &&
            (g_stat (out, &st) != 0 || S_ISREG (st.st_mode)))
          {
            g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                         "'%s' is named for two outputs", out);
            return FALSE;
          }
      for (j = 0; j < n_inputs; j++)
        if (inputs[j] != NULL && cli_same_file (out, inputs[j]))
          {
            g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                         "'%s' is an input too: writing there would replace "
                         "it; choose another output file", out);
            return FALSE;
          }

      if (g_stat (out, &st) != 0)
        {
          if (!probe_create (out, error))
            return FALSE;
          continue;
        }
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                       "cannot write '%s': it is a folder", out);
          return FALSE;
        }
      if (S_ISSOCK (st.st_mode))
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                       "cannot write '%s': it is a socket", out);
          return FALSE;
        }
      if (S_ISREG (st.st_mode) && !probe_create (out, error))
        return FALSE;
      if (!S_ISREG (st.st_mode) && g_access (out, W_OK) != 0)
        {
          gint saved = errno;

          g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                       "cannot write '%s': %s", out, g_strerror (saved));
          return FALSE;
        }
    }

  return TRUE;
}

/**
 * cli_same_file:
 * @a: a path
 * @b: another path
 *
 * Returns: %TRUE when both name one existing file (same device and inode,
 *   whatever links lead there), or the same path that does not exist yet.
 */
gboolean
cli_same_file (const gchar *a,
               const gchar *b)
{
  GStatBuf          sa;
  GStatBuf          sb;
  g_autofree gchar *ca = NULL;
  g_autofree gchar *cb = NULL;

  if (g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;

  ca = g_canonicalize_filename (a, NULL);
  cb = g_canonicalize_filename (b, NULL);

  return g_str_equal (ca, cb);
}

gboolean
cli_parse_size (const gchar  *text,
                guint        *width,
                guint        *height,
                GError      **error)
{
  guint64  w;
  guint64  h;
  gchar   *end;

  w = g_ascii_strtoull (text, &end, 10);
  if (end != text && *end == '\0')
    {
      h = w;
    }
  else if (end != text && (*end == 'x' || *end == 'X'))
    {
      const gchar *rest = end + 1;

      h = g_ascii_strtoull (rest, &end, 10);
      if (end == rest || *end != '\0')
        goto invalid;
    }
  else
    {
      goto invalid;
    }

  if (w < 1 || h < 1 || w > 65536 || h > 65536)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "size '%s' is out of range (1 to 65536 pixels a side)",
                   text);
      return FALSE;
    }

  *width = (guint) w;
  *height = (guint) h;
  return TRUE;

invalid:
  g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
               "invalid size '%s': expected N or WIDTHxHEIGHT", text);
  return FALSE;
}
