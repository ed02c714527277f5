/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The entry point: the command table, help, and the exit status an error
 * ends with.  What the subcommands share is in vae-cli.c.
 */

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-image.h"
#include "vae-cli.h"

/* exit code of a usage error */
#define EXIT_USAGE 2

typedef struct
{
  const gchar    *name;
  CliCommandFunc  func;
  const gchar    *summary;
} CliCommand;

static const CliCommand commands[] =
{
  { "info",        cli_info,        "show what a model is and what it costs" },
  { "encode",      cli_encode,      "encode an image into a .latent file" },
  { "decode",      cli_decode,      "decode a .latent file into an image" },
  { "roundtrip",   cli_roundtrip,   "encode and decode an image, measure the loss" },
  { "compress",    cli_compress,    "compress an image (or latents) into a .vaez file" },
  { "decompress",  cli_decompress,  "decompress a .vaez file into an image" },
  { "interpolate", cli_interpolate, "decode frames between two images or latents" },
  { "bench",       cli_bench,       "time encoding and decoding of a random image" },
  { "models",      cli_models,      "list the known models, verify installed files" },
};


static void
print_help (FILE *out)
{
  gsize i;

  fprintf (out,
           "Usage: vae COMMAND [OPTION…] ARGUMENTS…\n"
           "\n"
           "Image autoencoders (VAEs) on the CPU.\n"
           "\n"
           "Commands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "  %-12s %s\n"
           "\n"
           "MODEL is a model's ID from 'vae models' (e.g. taef2), a folder of\n"
           "weight files, or one such file.  Left out, the default model is used\n"
           "(built in).  Run 'vae COMMAND --help' for a command's options.\n",
           "help", "show this help, or 'vae help COMMAND'");
}

static const CliCommand *
find_command (const gchar *name)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];

  return NULL;
}

static gint
report_error (CliContext *ctx,
              GError     *error)
{
  g_autofree gchar *message = NULL;

  cli_progress_clear (ctx);

  if (! cli_check_cancelled (ctx, NULL) ||
      g_error_matches (error, VAE_ERROR, VAE_ERROR_CANCELLED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fprintf (stderr, "vae: cancelled\n");
      return CLI_EXIT_CANCELLED;
    }

  /* one line, whatever the library put in the message */
  message = g_strdelimit (g_strdup (error->message), "\r\n", ' ');
  fprintf (stderr, "vae: %s\n", message);

  if (error->domain == G_OPTION_ERROR ||
      g_error_matches (error, CLI_ERROR, CLI_ERROR_USAGE))
    return EXIT_USAGE;

  return EXIT_FAILURE;
}

int
main (int    argc,
      char **argv)
{
  const CliCommand  *command;
  CliContext         ctx = { 0 };
  gchar             *help_argv[3];
  g_autoptr (GError) error = NULL;
  gint               status = EXIT_SUCCESS;

  setlocale (LC_ALL, "");
  /* numbers on stdout are read by scripts (tools/bench) */
  setlocale (LC_NUMERIC, "C");

  cli_log_init ();

  if (argc < 2)
    {
      fprintf (stderr, "vae: no command given (see 'vae help')\n");
      return EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "help") || g_str_equal (argv[1], "--help") ||
      g_str_equal (argv[1], "-h"))
    {
      if (argc < 3 || !g_str_equal (argv[1], "help"))
        {
          print_help (stdout);
          return EXIT_SUCCESS;
        }

      command = find_command (argv[2]);
      if (command == NULL)
        {
          fprintf (stderr, "vae: unknown command '%s' (see 'vae help')\n",
                   argv[2]);
          return EXIT_USAGE;
        }

      /* GOption prints the command's help and exits */
      help_argv[0] = argv[0];
      help_argv[1] = (gchar *) "--help";
      help_argv[2] = NULL;
      argc = 2;
      argv = help_argv;
    }
  else if (g_str_equal (argv[1], "--version"))
    {
      printf ("vae %s\n", VAE_VERSION);
      return EXIT_SUCCESS;
    }
  else
    {
      command = find_command (argv[1]);
      if (command == NULL)
        {
          fprintf (stderr, "vae: unknown command '%s' (see 'vae help')\n",
                   argv[1]);
          return EXIT_USAGE;
        }
      argc--;
      argv++;
    }

  ctx.command = command->name;
  ctx.last_percent = -1;
  ctx.cancellable = g_cancellable_new ();
  cli_install_signal_handler ();

  if (!command->func (&ctx, argc, argv, &error))
    status = report_error (&ctx, error);

  cli_progress_clear (&ctx);
  cli_image_shutdown ();

  g_clear_object (&ctx.cancellable);
  g_free (ctx.pad);
  g_free (ctx.stage_prefix);
  g_free (ctx.last_stage);

  return status;
}
