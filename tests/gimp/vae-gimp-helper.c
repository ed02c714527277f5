/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the headless GIMP tests need from libvae without GIMP in between
 * (the `vae` command covers the rest):
 *
 *   vae-gimp-helper id MODEL                print the model's id
 *   vae-gimp-helper relabel IN OUT ID       write IN's latents claiming to
 *                                           come from model ID
 *   vae-gimp-helper info LATENT             print "channels width height
 *                                           image-width image-height id"
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vae.h"

static gboolean
relabel (const gchar  *in,
         const gchar  *out,
         const gchar  *model_id,
         GError      **error)
{
  g_autoptr (VaeLatent) latent = NULL;
  gchar                *digest;
  gchar                *hash;

  latent = vae_latent_load (in, error);
  if (latent == NULL)
    return FALSE;

  /* Same form as vae_model_get_hash(): "sha256:" and 32 hex digits. */
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, model_id, -1);
  hash = g_strdup_printf ("sha256:%.32s", digest);
  vae_latent_set_model (latent, model_id, hash);
  g_free (hash);
  g_free (digest);

  return vae_latent_save (latent, out, error);
}

static gboolean
info (const gchar  *path,
      GError      **error)
{
  g_autoptr (VaeLatent) latent = NULL;
  guint                 w = 0;
  guint                 h = 0;

  latent = vae_latent_load (path, error);
  if (latent == NULL)
    return FALSE;

  vae_latent_get_image_size (latent, &w, &h);
  printf ("%u %u %u %u %u %s\n",
          vae_latent_get_channels (latent),
          vae_latent_get_width (latent),
          vae_latent_get_height (latent),
          w, h,
          vae_latent_get_model_id (latent));

  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  GError   *error = NULL;
  gboolean  ok;

  if (argc == 3 && strcmp (argv[1], "id") == 0)
    {
      g_autoptr (VaeModel) model = vae_model_load (argv[2], &error);

      ok = model != NULL;
      if (ok)
        printf ("%s\n", vae_model_get_id (model));
    }
  else if (argc == 5 && strcmp (argv[1], "relabel") == 0)
    {
      ok = relabel (argv[2], argv[3], argv[4], &error);
    }
  else if (argc == 3 && strcmp (argv[1], "info") == 0)
    {
      ok = info (argv[2], &error);
    }
  else
    {
      fprintf (stderr,
               "usage: %s id MODEL | relabel IN OUT ID | info LATENT\n", argv[0]);
      return 2;
    }

  if (! ok)
    {
      fprintf (stderr, "%s: %s\n", argv[0], error->message);
      g_error_free (error);
      return 1;
    }

  return 0;
}
