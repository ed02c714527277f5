/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The headless GIMP tests' independent side: what libvae says about an
 * image or latents without GIMP in between.
 *
 *   vae-gimp-helper roundtrip MODEL IMAGE   print "psnr ssim ms-ssim" of the
 *                                           8-bit round trip (as the CLI)
 *   vae-gimp-helper id MODEL                print the model's id
 *   vae-gimp-helper relabel IN OUT ID       write IN's latents claiming to
 *                                           come from model ID
 *   vae-gimp-helper info LATENT             print "channels width height
 *                                           image-width image-height id"
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gegl.h>

#include "vae.h"

static VaeTensor *
load_image (const gchar  *path,
            GError      **error)
{
  GeglNode      *graph;
  GeglNode      *load;
  GeglNode      *sink;
  GeglBuffer    *buffer = NULL;
  GeglRectangle  extent;
  VaeTensor     *image;
  gfloat        *rgb;
  gfloat        *data;
  gsize          n;
  gsize          i;

  graph = gegl_node_new ();
  load = gegl_node_new_child (graph, "operation", "gegl:load",
                              "path", path, NULL);
  sink = gegl_node_new_child (graph, "operation", "gegl:buffer-sink",
                              "buffer", &buffer, NULL);
  gegl_node_link (load, sink);
  gegl_node_process (sink);
  g_object_unref (graph);

  if (buffer == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "cannot load %s", path);
      return NULL;
    }

  extent = *gegl_buffer_get_extent (buffer);
  n = (gsize) extent.width * extent.height;
  image = vae_tensor_new_3d (3, extent.height, extent.width, error);
  if (image == NULL)
    {
      g_object_unref (buffer);
      return NULL;
    }

  rgb = g_new (gfloat, 3 * n);
  gegl_buffer_get (buffer, &extent, 1.0, babl_format ("R'G'B' float"), rgb,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);

  data = vae_tensor_get_data (image);
  for (i = 0; i < n; i++)
    {
      data[i]         = rgb[3 * i];
      data[n + i]     = rgb[3 * i + 1];
      data[2 * n + i] = rgb[3 * i + 2];
    }
  g_free (rgb);

  return image;
}

static gboolean
roundtrip (const gchar  *model_path,
           const gchar  *image_path,
           GError      **error)
{
  g_autoptr (VaeModel)  model   = NULL;
  g_autoptr (VaeTensor) image   = NULL;
  g_autoptr (VaeTensor) decoded = NULL;
  g_autoptr (VaeLatent) latent  = NULL;
  VaeQuality            quality;
  gchar                 psnr[G_ASCII_DTOSTR_BUF_SIZE];
  gchar                 ssim[G_ASCII_DTOSTR_BUF_SIZE];
  gchar                 ms_ssim[G_ASCII_DTOSTR_BUF_SIZE];

  model = vae_model_load (model_path, error);
  if (model == NULL)
    return FALSE;
  image = load_image (image_path, error);
  if (image == NULL)
    return FALSE;

  if (! vae_model_encode (model, image, &latent, NULL, NULL, NULL, NULL,
                          error) ||
      ! vae_model_decode (model, latent, &decoded, NULL, NULL, NULL, NULL,
                          error))
    return FALSE;

  /* The published figures round the decoded image to 8 bits. */
  vae_image_quantize_8bit (image);
  vae_image_quantize_8bit (decoded);
  if (! vae_quality (image, decoded, &quality, error))
    return FALSE;

  printf ("%s %s %s\n",
          g_ascii_formatd (psnr, sizeof (psnr), "%.4f", quality.psnr),
          g_ascii_formatd (ssim, sizeof (ssim), "%.6f", quality.ssim),
          g_ascii_formatd (ms_ssim, sizeof (ms_ssim), "%.6f", quality.ms_ssim));

  return TRUE;
}

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

  if (argc == 4 && strcmp (argv[1], "roundtrip") == 0)
    {
      gegl_init (NULL, NULL);
      ok = roundtrip (argv[2], argv[3], &error);
    }
  else if (argc == 3 && strcmp (argv[1], "id") == 0)
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
               "usage: %s roundtrip MODEL IMAGE | id MODEL | "
               "relabel IN OUT ID | info LATENT\n", argv[0]);
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
