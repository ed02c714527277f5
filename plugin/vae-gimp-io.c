/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Pixels cross between GIMP and libvae as "R'G'B'A float" in the image's
 * own colour space: babl converts any precision, gray and linear storage
 * to the non-linear R'G'B' values the models were trained on, and back.
 * 8-bit non-linear pixels are the exception: they cross as "R'G'B'A u8"
 * and libvae's pixel adapter (vae-pixels.h) scales and rounds them, as for
 * the vae command.  babl picks its conversion paths by timing them in each
 * process, and paths within its tolerance may round differently, so two
 * plug-in runs on the same layer could see or write different bytes.
 * Nothing is written into an existing drawable: results always go to new
 * layers, so the source layer stays untouched.
 */

#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>

#include "vae-gimp-io.h"

/* Is @drawable stored as 8-bit non-linear R'G'B' or Y' (not indexed,
 * whose palette may be anything)? */
static gboolean
is_u8_non_linear (GimpDrawable *drawable)
{
  const Babl  *format = gimp_drawable_get_format (drawable);
  const gchar *encoding = babl_format_get_encoding (format);

  return ! gimp_drawable_is_indexed (drawable) &&
         babl_format_get_type (format, 0) == babl_type ("u8") &&
         strchr (encoding, '\'') != NULL;
}

/* The format pixels cross in: RGBA of the drawable's space, u8 or float. */
static const Babl *
io_format (GimpDrawable *drawable,
           gboolean      u8)
{
  return babl_format_with_space (u8 ? "R'G'B'A u8" : "R'G'B'A float",
                                 gimp_drawable_get_format (drawable));
}

/**
 * vae_plugin_pixels_read:
 * @drawable: the drawable to read
 * @selection_only: read only the bounding box of the selection (the whole
 *   drawable when nothing is selected)
 * @pixels: (out caller-allocates): where to put the tensors
 * @error: return location for a #GError
 *
 * Reads a drawable as an R'G'B' tensor clamped to [0, 1] and an alpha
 * tensor.
 *
 * Returns: %TRUE on success.
 */
gboolean
vae_plugin_pixels_read (GimpDrawable     *drawable,
                        gboolean          selection_only,
                        VaePluginPixels  *pixels,
                        GError          **error)
{
  GeglBuffer     *buffer;
  gpointer        data;
  gboolean        u8 = is_u8_non_linear (drawable);
  VaePixelFormat  format = u8 ? VAE_PIXEL_FORMAT_RGBA_U8
                              : VAE_PIXEL_FORMAT_RGBA_FLOAT;
  gsize           bpp = vae_pixel_format_get_bytes_per_pixel (format);
  gint            x = 0;
  gint            y = 0;
  gint            width;
  gint            height;
  gint            offset_x;
  gint            offset_y;

  memset (pixels, 0, sizeof (VaePluginPixels));

  width  = gimp_drawable_get_width (drawable);
  height = gimp_drawable_get_height (drawable);
  if (selection_only &&
      ! gimp_drawable_mask_intersect (drawable, &x, &y, &width, &height))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The selection does not overlap the layer “%s”."),
                   gimp_item_get_name (GIMP_ITEM (drawable)));
      return FALSE;
    }

  data = g_try_malloc_n ((gsize) width * height, bpp);
  if (data == NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Not enough memory to read a %d × %d layer."),
                   width, height);
      return FALSE;
    }

  pixels->rgb = vae_tensor_new_3d (3, height, width, error);
  if (pixels->rgb != NULL && gimp_drawable_has_alpha (drawable))
    pixels->alpha = vae_tensor_new_3d (1, height, width, error);
  if (pixels->rgb == NULL ||
      (gimp_drawable_has_alpha (drawable) && pixels->alpha == NULL))
    {
      g_free (data);
      vae_plugin_pixels_clear (pixels);
      return FALSE;
    }

  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, GEGL_RECTANGLE (x, y, width, height), 1.0,
                   io_format (drawable, u8), data,
                   width * bpp, GEGL_ABYSS_NONE);
  g_object_unref (buffer);

  /* The tensors were made to the buffer's size: this cannot fail. */
  vae_tensor_from_pixels (pixels->rgb, pixels->alpha, 0, height, data,
                          format, width * bpp, NULL);
  g_free (data);

  gimp_drawable_get_offsets (drawable, &offset_x, &offset_y);
  pixels->x = offset_x + x;
  pixels->y = offset_y + y;

  return TRUE;
}

void
vae_plugin_pixels_clear (VaePluginPixels *pixels)
{
  g_clear_pointer (&pixels->rgb, vae_tensor_unref);
  g_clear_pointer (&pixels->alpha, vae_tensor_unref);
}

/**
 * vae_plugin_position_above:
 * @image: the image
 * @reference: (nullable): the item to stack above; %NULL for the top of
 *   the image
 * @parent: (out): the group to insert into (%NULL for the image itself)
 * @position: (out): the position within @parent
 */
void
vae_plugin_position_above (GimpImage  *image,
                           GimpItem   *reference,
                           GimpLayer **parent,
                           gint       *position)
{
  *parent = NULL;
  *position = 0;

  if (reference != NULL)
    {
      GimpItem *group = gimp_item_get_parent (reference);

      if (group != NULL && GIMP_IS_LAYER (group))
        *parent = GIMP_LAYER (group);
      *position = gimp_image_get_item_position (image, reference);
    }
}

/**
 * vae_plugin_layer_add:
 * @image: the image
 * @name: the new layer's name
 * @rgb: [3, height, width] R'G'B' pixels in [0, 1]
 * @alpha: (nullable): [1, height, width] alpha; opaque when %NULL
 * @parent: (nullable): the group to insert into
 * @position: the position within @parent
 * @error: return location for a #GError
 *
 * Adds a layer of the image's base type (RGB or gray) with an alpha
 * channel and fills it.
 *
 * Returns: (transfer none) (nullable): the new layer.
 */
GimpLayer *
vae_plugin_layer_add (GimpImage        *image,
                      const gchar      *name,
                      const VaeTensor  *rgb,
                      const VaeTensor  *alpha,
                      GimpLayer        *parent,
                      gint              position,
                      GError          **error)
{
  GimpLayer      *layer;
  GeglBuffer     *buffer;
  GimpImageType   type;
  gint            height = vae_tensor_get_dim (rgb, 1);
  gint            width  = vae_tensor_get_dim (rgb, 2);
  gboolean        u8;
  VaePixelFormat  format;
  gsize           bpp;
  gpointer        data;

  g_return_val_if_fail (alpha == NULL ||
                        (vae_tensor_get_dim (alpha, 1) == (gsize) height &&
                         vae_tensor_get_dim (alpha, 2) == (gsize) width),
                        NULL);

  /* Room for the float path, the larger one, before a layer exists: a
   * failure leaves the image as it was. */
  data = g_try_malloc_n ((gsize) width * height,
                         vae_pixel_format_get_bytes_per_pixel (VAE_PIXEL_FORMAT_RGBA_FLOAT));
  if (data == NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Not enough memory to make a %d × %d layer."),
                   width, height);
      return NULL;
    }

  type = gimp_image_get_base_type (image) == GIMP_GRAY ? GIMP_GRAYA_IMAGE
                                                       : GIMP_RGBA_IMAGE;
  layer = gimp_layer_new (image, name, width, height, type, 100.0,
                          GIMP_LAYER_MODE_NORMAL);
  if (layer == NULL ||
      ! gimp_image_insert_layer (image, layer, parent, position))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Could not add the layer “%s”: %s"), name,
                   gimp_pdb_get_last_error (gimp_get_pdb ()));
      g_free (data);
      return NULL;
    }

  /* Gray layers stay on the float path: the conversion to Y' is babl's. */
  u8 = is_u8_non_linear (GIMP_DRAWABLE (layer)) && type == GIMP_RGBA_IMAGE;
  format = u8 ? VAE_PIXEL_FORMAT_RGBA_U8 : VAE_PIXEL_FORMAT_RGBA_FLOAT;
  bpp = vae_pixel_format_get_bytes_per_pixel (format);
  /* The sizes were checked above: this cannot fail. */
  vae_tensor_to_pixels (rgb, alpha, 0, height, data, format, width * bpp,
                        NULL);

  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, width, height), 0,
                   io_format (GIMP_DRAWABLE (layer), u8), data, width * bpp);
  g_object_unref (buffer);
  g_free (data);

  gimp_drawable_update (GIMP_DRAWABLE (layer), 0, 0, width, height);

  return layer;
}

/**
 * vae_plugin_latent_attach:
 * @item: the layer that carries the latents
 * @latent: the latents
 * @error: return location for a #GError
 *
 * Stores @latent on @item as a persistent, undoable parasite, so that it is
 * saved in XCF files and follows undo.
 *
 * Returns: %TRUE on success.
 */
gboolean
vae_plugin_latent_attach (GimpItem         *item,
                          const VaeLatent  *latent,
                          GError          **error)
{
  GimpParasite *parasite;
  GBytes       *bytes;
  gconstpointer data;
  gsize         size;
  gboolean      attached;

  bytes = vae_latent_serialize (latent, error);
  if (bytes == NULL)
    return FALSE;

  data = g_bytes_get_data (bytes, &size);
  if (size > G_MAXUINT32)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The latents are too large to keep in the image."));
      g_bytes_unref (bytes);
      return FALSE;
    }

  parasite = gimp_parasite_new (VAE_PLUGIN_LATENT_PARASITE,
                                GIMP_PARASITE_PERSISTENT |
                                GIMP_PARASITE_UNDOABLE,
                                size, data);
  attached = gimp_item_attach_parasite (item, parasite);
  gimp_parasite_free (parasite);
  g_bytes_unref (bytes);

  if (! attached)
    g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                 _("Could not attach the latents to the layer “%s”."),
                 gimp_item_get_name (item));

  return attached;
}

gboolean
vae_plugin_latent_has (GimpItem *item)
{
  GimpParasite *parasite;

  parasite = gimp_item_get_parasite (item, VAE_PLUGIN_LATENT_PARASITE);
  gimp_parasite_free (parasite);

  return parasite != NULL;
}

/**
 * vae_plugin_latent_get:
 * @item: a layer
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the latents @item carries, or %NULL
 *   with a message that tells the user what to do.
 */
VaeLatent *
vae_plugin_latent_get (GimpItem  *item,
                       GError   **error)
{
  GimpParasite *parasite;
  VaeLatent    *latent;
  GError       *local_error = NULL;
  GBytes       *bytes;
  gconstpointer data;
  guint32       size = 0;

  parasite = gimp_item_get_parasite (item, VAE_PLUGIN_LATENT_PARASITE);
  if (parasite == NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The layer “%s” carries no latents.  Encode it first "
                     "with Filters ▸ VAE ▸ Encode Layer to Latents, or "
                     "choose a .latent file."),
                   gimp_item_get_name (item));
      return NULL;
    }

  data = gimp_parasite_get_data (parasite, &size);
  bytes = g_bytes_new (data, size);
  gimp_parasite_free (parasite);

  latent = vae_latent_deserialize (bytes, &local_error);
  g_bytes_unref (bytes);
  if (latent == NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The latents on the layer “%s” are damaged: %s"),
                   gimp_item_get_name (item), local_error->message);
      g_error_free (local_error);
    }

  return latent;
}

/**
 * vae_file_local_path:
 * @file: a file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @file's path; remote files are
 *   refused (libvae reads and writes paths).
 */
gchar *
vae_file_local_path (GFile   *file,
                     GError **error)
{
  gchar *path = g_file_get_path (file);

  if (path == NULL)
    g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                 _("“%s” is not a local file; copy it to this computer "
                   "first."), gimp_file_get_utf8_name (file));

  return path;
}

/**
 * vae_plugin_latent_load_file:
 * @file: a .latent file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the latents in @file.
 */
VaeLatent *
vae_plugin_latent_load_file (GFile   *file,
                             GError **error)
{
  g_autofree gchar *path = vae_file_local_path (file, error);
  GError           *local_error = NULL;
  VaeLatent        *latent;

  if (path == NULL)
    return NULL;

  latent = vae_latent_load (path, &local_error);
  if (latent == NULL)
    g_propagate_prefixed_error (error, local_error,
                                _("Could not read the latent file “%s”: "),
                                gimp_file_get_utf8_name (file));

  return latent;
}

gboolean
vae_plugin_latent_save_file (const VaeLatent  *latent,
                             GFile            *file,
                             GError          **error)
{
  g_autofree gchar *path = vae_file_local_path (file, error);
  GError           *local_error = NULL;

  if (path == NULL)
    return FALSE;

  if (vae_latent_save (latent, path, &local_error))
    return TRUE;

  g_propagate_prefixed_error (error, local_error,
                              _("Could not write the latent file “%s”: "),
                              gimp_file_get_utf8_name (file));
  return FALSE;
}

/**
 * vae_plugin_attach_text:
 * @item: an item
 * @name: the parasite name
 * @text: the text to keep with @item
 *
 * Keeps a short text (such as quality figures) with @item, persistent and
 * undoable.
 *
 * Returns: %TRUE on success.
 */
gboolean
vae_plugin_attach_text (GimpItem    *item,
                        const gchar *name,
                        const gchar *text)
{
  GimpParasite *parasite;
  gboolean      attached;

  parasite = gimp_parasite_new (name,
                                GIMP_PARASITE_PERSISTENT |
                                GIMP_PARASITE_UNDOABLE,
                                strlen (text), text);
  attached = gimp_item_attach_parasite (item, parasite);
  gimp_parasite_free (parasite);

  return attached;
}

/**
 * vae_plugin_alpha_fit:
 * @alpha: [1, h, w] alpha
 * @width: the wanted width
 * @height: the wanted height
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): @alpha at the wanted size: a new
 *   reference when the size already matches, else resampled.
 */
VaeTensor *
vae_plugin_alpha_fit (const VaeTensor  *alpha,
                      gsize             width,
                      gsize             height,
                      GError          **error)
{
  if (vae_tensor_get_dim (alpha, 1) == height &&
      vae_tensor_get_dim (alpha, 2) == width)
    return vae_tensor_ref ((VaeTensor *) alpha);

  return vae_image_resize (alpha, width, height, error);
}
