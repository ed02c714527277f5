/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae bench MODEL --size N [--repeat R] [--threads T]
 *
 * The "encode <seconds>" and "decode <seconds>" lines are read by
 * tools/bench: keep their form.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "vae-cli.h"

#define MAX_REPEAT 1000

static gint
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  gdouble x = *(const gdouble *) a;
  gdouble y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

static gdouble
median (gdouble *values,
        gint     n)
{
  qsort (values, n, sizeof (gdouble), (GCompareFunc) compare_doubles);

  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static VaeTensor *
random_image (guint     width,
              guint     height,
              guint32   seed,
              GError  **error)
{
  VaeTensor *image = vae_tensor_new_3d (3, height, width, error);
  GRand     *rand;
  gfloat    *data;
  gsize      i;

  if (image == NULL)
    return NULL;

  rand = g_rand_new_with_seed (seed);
  data = vae_tensor_get_data (image);
  for (i = 0; i < vae_tensor_get_n_elements (image); i++)
    data[i] = (gfloat) g_rand_double (rand);
  g_rand_free (rand);

  return image;
}

/* For decoder-only models: standard normal latents (Box-Muller). */
static VaeLatent *
random_latent (VaeModel  *model,
               guint      width,
               guint      height,
               guint32    seed,
               GError   **error)
{
  guint      factor = vae_model_get_factor (model);
  VaeTensor *tensor;
  VaeLatent *latent;
  GRand     *rand;
  gfloat    *data;
  gsize      i;

  tensor = vae_tensor_new_3d (vae_model_get_latent_channels (model),
                              (height + factor - 1) / factor,
                              (width + factor - 1) / factor, error);
  if (tensor == NULL)
    return NULL;

  rand = g_rand_new_with_seed (seed);
  data = vae_tensor_get_data (tensor);
  for (i = 0; i < vae_tensor_get_n_elements (tensor); i++)
    {
      gdouble u = 1.0 - g_rand_double (rand);
      gdouble v = g_rand_double (rand);

      data[i] = (gfloat) (sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
    }
  g_rand_free (rand);

  latent = vae_latent_new (tensor, error);
  vae_tensor_unref (tensor);
  if (latent == NULL)
    return NULL;

  vae_latent_set_model (latent, vae_model_get_id (model),
                        vae_model_get_hash (model));
  vae_latent_set_image_size (latent, width, height);

  return latent;
}

gboolean
cli_bench (CliContext  *ctx,
           gint         argc,
           gchar      **argv,
           GError     **error)
{
  g_autofree gchar      *size = NULL;
  gint                   repeat = 3;
  gint                   seed = 1;
  GOptionEntry           entries[] =
  {
    { "size", 's', 0, G_OPTION_ARG_STRING, &size,
      "Image size (default 512)", "N|WxH" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Timed runs after one warm-up run (default 3)", "R" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed,
      "Seed of the random image (default 1)", "S" },
    { NULL }
  };
  g_auto (GStrv)         positional = NULL;
  g_autoptr (VaeModel)   model = NULL;
  g_autoptr (VaeTensor)  image = NULL;
  g_autoptr (VaeLatent)  latent = NULL;
  g_autofree gdouble    *times = NULL;
  const gchar           *model_spec;
  gchar                **rest;
  guint                  width = 512;
  guint                  height = 512;
  gdouble                encode_s = NAN;
  gdouble                decode_s = NAN;
  gint                   run;

  if (!cli_parse_options (ctx, "[MODEL]",
                          "Times encoding and decoding of a random image: "
                          "one warm-up run, then R timed runs, and prints "
                          "the median seconds and the GFLOPS reached.",
                          "Output lines: 'encode SECONDS', 'decode SECONDS', "
                          "then 'GFLOPS encode X decode Y'.",
                          entries, argc, argv, &positional, error))
    return FALSE;

  if (!cli_split_model_arg (ctx, positional, 0, NULL, &model_spec, &rest,
                            error))
    return FALSE;

  if (size != NULL && !cli_parse_size (size, &width, &height, error))
    return FALSE;
  if (repeat < 1 || repeat > MAX_REPEAT)
    {
      g_set_error (error, CLI_ERROR, CLI_ERROR_USAGE,
                   "--repeat must be between 1 and %d", MAX_REPEAT);
      return FALSE;
    }

  model = cli_model_open (ctx, model_spec, NULL, error);
  if (model == NULL)
    return FALSE;

  times = g_new (gdouble, repeat);

  if (vae_model_can_encode (model))
    {
      image = random_image (width, height, (guint32) seed, error);
      if (image == NULL)
        return FALSE;

      for (run = -1; run < repeat; run++)
        {
          gdouble seconds;

          g_clear_pointer (&latent, vae_latent_unref);
          g_free (ctx->stage_prefix);
          ctx->stage_prefix = run < 0 ? g_strdup ("warm-up")
                                      : g_strdup_printf ("run %d/%d", run + 1,
                                                         repeat);
          latent = cli_run_encode (ctx, model, image, &seconds, error);
          if (latent == NULL)
            return FALSE;
          if (run >= 0)
            times[run] = seconds;
        }
      encode_s = median (times, repeat);
    }
  else
    {
      latent = random_latent (model, width, height, (guint32) seed, error);
      if (latent == NULL)
        return FALSE;
    }

  if (vae_model_can_decode (model))
    {
      for (run = -1; run < repeat; run++)
        {
          g_autoptr (VaeTensor) decoded = NULL;
          gdouble               seconds;

          g_free (ctx->stage_prefix);
          ctx->stage_prefix = run < 0 ? g_strdup ("warm-up")
                                      : g_strdup_printf ("run %d/%d", run + 1,
                                                         repeat);
          decoded = cli_run_decode (ctx, model, latent, &seconds, error);
          if (decoded == NULL)
            return FALSE;
          if (run >= 0)
            times[run] = seconds;
        }
      decode_s = median (times, repeat);
    }
  g_clear_pointer (&ctx->stage_prefix, g_free);

  if (!isnan (encode_s))
    printf ("encode %.4f\n", encode_s);
  if (!isnan (decode_s))
    printf ("decode %.4f\n", decode_s);

  printf ("GFLOPS");
  if (!isnan (encode_s))
    printf (" encode %.1f",
            vae_model_get_gflops (model, FALSE, width, height) / encode_s);
  if (!isnan (decode_s))
    printf (" decode %.1f",
            vae_model_get_gflops (model, TRUE, width, height) / decode_s);
  printf ("\n");

  return TRUE;
}
