/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Bringing one picture (or its latents) to another's size without
 * squashing it: the "aspect" argument of Interpolate and Edit's mix, with
 * the choices Decode offers.  "fit" shows all of it and fills the rest by
 * repeating its edges (latents have no transparent value, and a
 * repeated edge encodes and decodes like picture, where black bars would
 * become content), "fill" covers the size and crops the middle,
 * "stretch" distorts.
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"

void
vae_plugin_add_aspect_argument (GimpProcedure *procedure,
                                const gchar   *blurb)
{
  gimp_procedure_add_choice_argument (procedure, "aspect",
                                      _("Aspect ra_tio"), blurb,
                                      gimp_choice_new_with_values (
                                        "fill", VAE_PLUGIN_ASPECT_FILL,
                                        _("Fill (crop)"), NULL,
                                        "fit", VAE_PLUGIN_ASPECT_FIT,
                                        _("Fit (repeat the edges)"), NULL,
                                        "stretch", VAE_PLUGIN_ASPECT_STRETCH,
                                        _("Stretch"), NULL,
                                        NULL),
                                      "fill",
                                      G_PARAM_READWRITE);
}

/* @tensor at the scaled size, then cropped or edge-padded, centred, to
 * @width × @height. */
static VaeTensor *
place_centred (const VaeTensor  *tensor,
               gsize             width,
               gsize             height,
               GError          **error)
{
  gsize         channels = vae_tensor_get_dim (tensor, 0);
  gsize         h = vae_tensor_get_dim (tensor, 1);
  gsize         w = vae_tensor_get_dim (tensor, 2);
  gssize        x0 = ((gssize) w - (gssize) width) / 2;
  gssize        y0 = ((gssize) h - (gssize) height) / 2;
  const gfloat *src = vae_tensor_peek_data (tensor);
  VaeTensor    *out;
  gfloat       *dest;
  gsize         c, y, x;

  out = vae_tensor_new_3d (channels, height, width, error);
  if (out == NULL)
    return NULL;
  dest = vae_tensor_get_data (out);
  for (c = 0; c < channels; c++)
    for (y = 0; y < height; y++)
      {
        gssize sy = CLAMP ((gssize) y + y0, 0, (gssize) h - 1);

        for (x = 0; x < width; x++)
          {
            gssize sx = CLAMP ((gssize) x + x0, 0, (gssize) w - 1);

            dest[(c * height + y) * width + x] = src[(c * h + sy) * w + sx];
          }
      }

  return out;
}

/**
 * vae_plugin_tensor_fit:
 * @tensor: a [C, h, w] picture or latent tensor
 * @width: the wanted width
 * @height: the wanted height
 * @aspect: a #VaePluginAspect
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @tensor at @width × @height.
 */
VaeTensor *
vae_plugin_tensor_fit (const VaeTensor  *tensor,
                       gsize             width,
                       gsize             height,
                       gint              aspect,
                       GError          **error)
{
  g_autoptr (VaeTensor) scaled = NULL;
  gsize                 h = vae_tensor_get_dim (tensor, 1);
  gsize                 w = vae_tensor_get_dim (tensor, 2);
  gdouble               sx = (gdouble) width / w;
  gdouble               sy = (gdouble) height / h;
  gdouble               scale;
  gsize                 scaled_w, scaled_h;

  if (w == width && h == height)
    return vae_tensor_ref ((VaeTensor *) tensor);
  if (aspect == VAE_PLUGIN_ASPECT_STRETCH)
    return vae_image_resize (tensor, width, height, error);

  scale = aspect == VAE_PLUGIN_ASPECT_FIT ? MIN (sx, sy) : MAX (sx, sy);
  scaled_w = MAX (1, (gsize) lround (w * scale));
  scaled_h = MAX (1, (gsize) lround (h * scale));
  if (aspect == VAE_PLUGIN_ASPECT_FIT)
    {
      scaled_w = MIN (scaled_w, width);
      scaled_h = MIN (scaled_h, height);
    }
  else
    {
      scaled_w = MAX (scaled_w, width);
      scaled_h = MAX (scaled_h, height);
    }

  scaled = vae_image_resize (tensor, scaled_w, scaled_h, error);
  if (scaled == NULL)
    return NULL;

  return place_centred (scaled, width, height, error);
}

/**
 * vae_plugin_latent_fit:
 * @latent: latents
 * @width: the wanted latent width
 * @height: the wanted latent height
 * @aspect: a #VaePluginAspect
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @latent at @width × @height, still
 *   naming its model.
 */
VaeLatent *
vae_plugin_latent_fit (const VaeLatent  *latent,
                       guint             width,
                       guint             height,
                       gint              aspect,
                       GError          **error)
{
  g_autoptr (VaeTensor) tensor = NULL;
  VaeLatent            *fitted;

  if (aspect == VAE_PLUGIN_ASPECT_STRETCH ||
      (vae_latent_get_width (latent) == width &&
       vae_latent_get_height (latent) == height))
    return vae_latent_resize (latent, width, height, error);

  tensor = vae_plugin_tensor_fit (vae_latent_get_tensor (latent), width,
                                  height, aspect, error);
  if (tensor == NULL)
    return NULL;
  fitted = vae_latent_new (tensor, error);
  if (fitted != NULL)
    vae_latent_set_model (fitted, vae_latent_get_model_id (latent),
                          vae_latent_get_model_hash (latent));

  return fitted;
}
