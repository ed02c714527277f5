/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae interpolate MODEL A B --steps N [--slerp] -o 'frame-%02d.png'
 */

#include <string.h>

#include "cli-image.h"
#include "vae-cli.h"

#define MAX_STEPS 10000
#define MAX_FIELD 64

/* One of the two ends: an image (encoded here) or latents from a file. */
typedef struct
{
  const gchar *path;
  CliImage    *image;
  VaeLatent   *latent;
  gboolean     from_file;
  guint        width;     /* size of the image it stands for */
  guint        height;
} End;

static void
end_clear (End *end)
{
  g_clear_pointer (&end->image, cli_image_free);
  g_clear_pointer (&end->latent, vae_latent_unref);
}

/* The pattern goes to printf, so it must hold exactly one integer
 * conversion and nothing printf would read a second argument for.
 */
static gboolean
check_pattern (const gchar  *pattern,
               GError      **error)
{
  const gchar *p;
  guint        n_conversions = 0;

  for (p = pattern; *p != '\0'; p++)
    {
      const gchar *start;
      gint         field;

      if (*p != '%')
        continue;

      start = p++;
      if (*p == '%')
        continue;

      while (*p != '\0' && strchr ("-+ 0#", *p) != NULL)
        p++;
      for (field = 0; g_ascii_isdigit (*p); p++)
        field = MIN (field * 10 + (*p - '0'), 1000);
      if (*p == '.')
        {
          gint precision;

          for (p++, precision = 0; g_ascii_isdigit (*p); p++)
            precision = MIN (precision * 10 + (*p - '0'), 1000);
          field = MAX (field, precision);
        }

      if (*p != 'd' && *p != 'i' && *p != 'u')
        {
          g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                       "-o '%s': '%.*s' is not an integer conversion "
                       "(use e.g. %%02d; write %%%% for a percent sign)",
                       pattern, (gint) (p - start + (*p != '\0')), start);
          return FALSE;
        }
      if (field > MAX_FIELD)
        {
          g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                       "-o '%s': field width over %d", pattern, MAX_FIELD);
          return FALSE;
        }
      n_conversions++;
    }

  if (n_conversions != 1)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "-o '%s' must hold exactly one integer conversion such as "
                   "%%02d for the frame number (it has %u)",
                   pattern, n_conversions);
      return FALSE;
    }

  return TRUE;
}

static gchar *
frame_name (const gchar *pattern,
            guint        index)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  /* checked by check_pattern(): one d, i or u conversion */
  return g_strdup_printf (pattern, index);
#pragma GCC diagnostic pop
}

/* A .latent end is read before the model is opened: with no MODEL, the
 * model that made it decodes. */
static gboolean
end_read_latent (End     *end,
                 GError **error)
{
  if (!cli_is_latent_file (end->path))
    return TRUE;
  end->from_file = TRUE;
  end->latent = vae_latent_load (end->path, error);

  return end->latent != NULL;
}

static gboolean
end_load (CliContext  *ctx,
          VaeModel    *model,
          End         *end,
          GError     **error)
{
  if (end->latent != NULL)
    {
      /* decode would only see the first end's model, so check both */
      if (!cli_check_latent_model (ctx, model, end->latent, end->path, error))
        return FALSE;

      /* with --force, take them as this model's (lerp refuses to mix
       * latents of two models); the latent was just loaded and is ours
       */
      if (vae_latent_get_model_hash (end->latent) != NULL &&
          g_strcmp0 (vae_latent_get_model_hash (end->latent),
                     vae_model_get_hash (model)) != 0)
        vae_latent_set_model (end->latent, vae_model_get_id (model),
                              vae_model_get_hash (model));

      if (!vae_latent_get_image_size (end->latent, &end->width, &end->height))
        {
          end->width = vae_latent_get_width (end->latent) *
                       vae_model_get_factor (model);
          end->height = vae_latent_get_height (end->latent) *
                        vae_model_get_factor (model);
        }
      return TRUE;
    }

  end->image = cli_image_load (ctx, end->path, error);
  if (end->image == NULL)
    return FALSE;
  end->width = end->image->width;
  end->height = end->image->height;

  return TRUE;
}

static gboolean
end_encode (CliContext  *ctx,
            VaeModel    *model,
            End         *end,
            const gchar *name,
            guint        width,
            guint        height,
            GError     **error)
{
  g_autoptr (VaeTensor) resized = NULL;
  const VaeTensor      *pixels;

  if (end->latent != NULL)
    return TRUE;

  pixels = end->image->rgb;
  if (end->width != width || end->height != height)
    {
      /* both ends must give latents of one shape */
      cli_note (ctx, "note: %s (%ux%u) is resized to %ux%u to match",
                name, end->width, end->height, width, height);
      resized = vae_image_resize (pixels, width, height, error);
      if (resized == NULL)
        return FALSE;
      pixels = resized;
    }

  g_free (ctx->stage_prefix);
  ctx->stage_prefix = g_strdup (name);
  end->latent = cli_run_encode (ctx, model, pixels, NULL, error);
  g_clear_pointer (&ctx->stage_prefix, g_free);

  return end->latent != NULL;
}

gboolean
cli_interpolate (CliContext  *ctx,
                 gint         argc,
                 gchar      **argv,
                 GError     **error)
{
  g_autofree gchar      *pattern = NULL;
  gint                   steps = 0;
  gboolean               slerp = FALSE;
  gboolean               force = FALSE;
  gint                   depth = 8;
  GOptionEntry           entries[] =
  {
    { "steps", 'n', 0, G_OPTION_ARG_INT, &steps,
      "Number of frames, A and B included (at least 2; required)", "N" },
    { "slerp", 0, 0, G_OPTION_ARG_NONE, &slerp,
      "Spherical instead of linear interpolation", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &pattern,
      "File name pattern with one integer conversion for the frame number, "
      "counting from 0 (required)", "'frame-%02d.png'" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Use .latent files even when another model made them", NULL },
    { "depth", 0, 0, G_OPTION_ARG_INT, &depth,
      "Bits per channel of the frames: 8 (default) or 16", "8|16" },
    { NULL }
  };
  g_auto (GStrv)         positional = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autofree gchar      *first_name = NULL;
  const gchar           *model_spec;
  gchar                **rest;
  End                    a = { 0 };
  End                    b = { 0 };
  guint                  width;
  guint                  height;
  gint                   i;
  gboolean               ok = FALSE;

  if (!cli_parse_options (ctx, "[MODEL] A B",
                          "Decodes N frames along the way from A to B in "
                          "latent space: frame i is at t = i / (N - 1), so "
                          "the first frame is A decoded and the last B "
                          "decoded.",
                          "A and B are images or .latent files (told apart "
                          "by content or the .latent extension).  Both must "
                          "give latents of one shape: an image whose size "
                          "differs from the other end's is resized first "
                          "(to the size recorded in a .latent end, else to "
                          "A's size), with a note.  Frames have that size "
                          "and no alpha channel.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 2, "A B", &model_spec, &rest,
                            error))
    return FALSE;

  if (steps < 2 || steps > MAX_STEPS)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--steps must be between 2 and %d%s", MAX_STEPS,
                   steps == 0 ? " (and is required)" : "");
      return FALSE;
    }
  if (pattern == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "interpolate: -o PATTERN is required, e.g. "
                   "-o 'frame-%%02d.png'");
      return FALSE;
    }
  if (!cli_check_depth (depth, error))
    return FALSE;
  if (!check_pattern (pattern, error))
    return FALSE;
  first_name = frame_name (pattern, 0);
  if (!cli_image_check_output (first_name, depth, error))
    return FALSE;
  {
    const gchar  *inputs[] = { model_spec, rest[0], rest[1] };
    g_auto (GStrv) names = g_new0 (gchar *, steps + 1);
    gint           i;

    for (i = 0; i < steps; i++)
      names[i] = frame_name (pattern, i);
    if (!cli_check_outputs ((const gchar * const *) names, steps,
                            inputs, G_N_ELEMENTS (inputs), error))
      return FALSE;
  }
  ctx->options.force = force;

  a.path = rest[0];
  b.path = rest[1];
  if (!end_read_latent (&a, error) || !end_read_latent (&b, error))
    goto out;
  model = cli_model_open (ctx, model_spec, a.latent ? a.latent : b.latent,
                          error);
  if (model == NULL ||
      !end_load (ctx, model, &a, error) || !end_load (ctx, model, &b, error))
    goto out;

  /* the first end that is a latent fixes the size, else A */
  if (!a.from_file && b.from_file)
    {
      width = b.width;
      height = b.height;
    }
  else
    {
      width = a.width;
      height = a.height;
    }

  if (!end_encode (ctx, model, &a, "A", width, height, error) ||
      !end_encode (ctx, model, &b, "B", width, height, error))
    goto out;

  if (vae_latent_get_channels (a.latent) != vae_latent_get_channels (b.latent) ||
      vae_latent_get_width (a.latent) != vae_latent_get_width (b.latent) ||
      vae_latent_get_height (a.latent) != vae_latent_get_height (b.latent))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "A and B have latents of different shapes "
                   "(%u x %u x %u and %u x %u x %u)",
                   vae_latent_get_channels (a.latent),
                   vae_latent_get_height (a.latent),
                   vae_latent_get_width (a.latent),
                   vae_latent_get_channels (b.latent),
                   vae_latent_get_height (b.latent),
                   vae_latent_get_width (b.latent));
      goto out;
    }

  for (i = 0; i < steps; i++)
    {
      g_autoptr (VaeLatent) frame = NULL;
      g_autoptr (VaeTensor) decoded = NULL;
      g_autofree gchar     *name = NULL;
      gdouble               t = (gdouble) i / (steps - 1);

      if (slerp)
        frame = vae_latent_slerp (a.latent, b.latent, t, error);
      else
        frame = vae_latent_lerp (a.latent, b.latent, t, error);
      if (frame == NULL)
        goto out;
      vae_latent_set_image_size (frame, width, height);

      g_free (ctx->stage_prefix);
      ctx->stage_prefix = g_strdup_printf ("frame %d/%d", i + 1, steps);
      decoded = cli_run_decode (ctx, model, frame, NULL, error);
      g_clear_pointer (&ctx->stage_prefix, g_free);
      if (decoded == NULL)
        goto out;

      name = frame_name (pattern, i);
      if (!cli_image_save (name, decoded, NULL, depth, error))
        goto out;
    }

  {
    g_autofree gchar *last_name = frame_name (pattern, steps - 1);

    cli_note (ctx, "wrote %d frames of %ux%u: %s ... %s", steps, width,
              height, first_name, last_name);
  }
  ok = TRUE;

out:
  end_clear (&a);
  end_clear (&b);
  return ok;
}
