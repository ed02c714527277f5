/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What result layers are called and what they are: names that say what a
 * layer is without piling up ("kodim23 (decoded, taef2)", not "kodim23
 * (latents, taef2) (decoded, taef2)"), and the mark of a latent preview,
 * whose pixels are a picture of the latents and not a photo.
 */

#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-gimp-io.h"

/* Marks Encode's layers: their pixels only show the latents they carry. */
#define LATENT_PREVIEW_PARASITE "gimp-vae-latent-preview"

/* Does @name end in " (what, model)" as our layer names do, in any
 * language?  Returns where that suffix starts, or NULL. */
static const gchar *
result_suffix (const gchar *name)
{
  gsize        length = strlen (name);
  const gchar *open;

  if (length < 4 || name[length - 1] != ')')
    return NULL;
  open = g_strrstr (name, " (");
  if (open == NULL || open == name)
    return NULL;
  /* "(latents, taef2)", not "(100ms)" or "(copy)". */
  if (strstr (open, ", ") == NULL || strchr (open + 2, '(') != NULL)
    return NULL;

  return open;
}

/**
 * vae_plugin_base_name:
 * @name: a layer name, maybe one of ours
 *
 * Returns: (transfer full): @name without the " (latents, taef2)" kind of
 *   suffixes our procedures add, and without GIMP's " #1" that keeps
 *   names unique, so that a result of a result is named after the photo.
 */
gchar *
vae_plugin_base_name (const gchar *name)
{
  gchar *base = g_strdup (name);

  for (;;)
    {
      const gchar *suffix;
      gchar       *hash = strrchr (base, '#');

      if (hash != NULL && hash > base && hash[-1] == ' ' && hash[1] != '\0' &&
          strspn (hash + 1, "0123456789") == strlen (hash + 1))
        {
          hash[-1] = '\0';
          continue;
        }
      suffix = result_suffix (base);
      if (suffix == NULL)
        break;
      base[suffix - base] = '\0';
    }

  return base;
}

/**
 * vae_plugin_latent_preview_mark:
 * @layer: a layer Encode made
 *
 * Marks @layer as a picture of latents and locks its pixels: painting on
 * it would change nothing the latents hold.
 */
void
vae_plugin_latent_preview_mark (GimpLayer *layer)
{
  vae_plugin_attach_text (GIMP_ITEM (layer), LATENT_PREVIEW_PARASITE,
                          "latent preview");
  gimp_item_set_lock_content (GIMP_ITEM (layer), TRUE);
}

gboolean
vae_plugin_is_latent_preview (GimpDrawable *drawable)
{
  GimpParasite *parasite;

  parasite = gimp_item_get_parasite (GIMP_ITEM (drawable),
                                     LATENT_PREVIEW_PARASITE);
  gimp_parasite_free (parasite);

  return parasite != NULL;
}

/**
 * vae_plugin_refuse_latent_preview:
 * @drawable: the layer a procedure would read pixels from
 * @error: return location for a #GError
 *
 * Returns: %FALSE with a message when @drawable is a latent preview:
 *   encoding or measuring it would measure the colours of the latents.
 */
gboolean
vae_plugin_refuse_latent_preview (GimpDrawable  *drawable,
                                  GError       **error)
{
  if (! vae_plugin_is_latent_preview (drawable))
    return TRUE;

  g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
               _("“%s” shows latents as colours, not a picture.  Select "
                 "the layer it was encoded from, or decode it first."),
               gimp_item_get_name (GIMP_ITEM (drawable)));

  return FALSE;
}

/**
 * vae_plugin_unique_name:
 * @image: the image
 * @name: a wanted name
 * @before: where a number goes to make it unique: the start of a trailing
 *   part of @name that must stay last (the "(100ms)" animation playback
 *   reads), or %NULL for the end
 *
 * Returns: (transfer full): @name, or "frame 4 [2] (100ms)" when @image has
 *   a layer of that name: GIMP's own " #1" would land after the part that
 *   must stay last.
 */
gchar *
vae_plugin_unique_name (GimpImage   *image,
                        const gchar *name,
                        const gchar *before)
{
  gsize        split = before != NULL ? (gsize) (before - name) : strlen (name);
  gchar       *head = g_strndup (name, split);
  gchar       *unique = g_strdup (name);
  const gchar *tail = name + split;
  gint         n;

  g_strchomp (head);
  while (*tail == ' ')
    tail++;
  for (n = 2; gimp_image_get_layer_by_name (image, unique) != NULL; n++)
    {
      g_free (unique);
      unique = g_strdup_printf ("%s [%d]%s%s", head, n,
                                *tail != '\0' ? " " : "", tail);
    }
  g_free (head);

  return unique;
}
