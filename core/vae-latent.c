/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "vae-error-private.h"
#include "vae-file.h"
#include "vae-latent-private.h"
#include "vae-tensor-private.h"
#include "vae-weights.h"

/* The .latent file.
 *
 * A safetensors file laid out the way ComfyUI's SaveLatent writes it, so
 * that its "Load Latent" node reads ours and we read its:
 *
 *   latent_tensor            F32 [1, C, h, w]
 *   latent_format_version_0  F32 [0], no data
 *
 * ComfyUI's loader multiplies latents by 1 / 0.18215 (an SD 1.x
 * convention of old files) unless a *tensor* named latent_format_version_0
 * is present, which is why ours carries that empty marker.  The
 * __metadata__ strings say what ComfyUI does not record:
 *
 *   latent_format_version_0  "1" (the marker again, for readers that look
 *                            at the metadata)
 *   vae.format_version       "1"; a larger number is refused
 *   vae.value_convention     "raw": the values the model's decoder takes,
 *                            with no scale or shift applied
 *   vae.model_id             the model's id, when known
 *   vae.model_hash           the model's content hash, when known
 *   vae.image_width/height   the size of the encoded image (the latents
 *                            may cover a padded image), when known
 *
 * Files written by others (ComfyUI) load with unknown model and size.
 */

#define VAE_LATENT_FORMAT_VERSION 1
#define VAE_LATENT_MARKER_NAME    "latent_format_version_0"

struct _VaeLatent
{
  gint       ref_count;
  VaeTensor *tensor;
  gchar     *model_id;
  gchar     *model_hash;
  guint      image_width;
  guint      image_height;
};

/**
 * vae_latent_new:
 * @tensor: a [channels, height, width] tensor
 * @error: return location for a #GError
 *
 * Wraps @tensor in a latent with no model and no image size; the encoder
 * sets those with vae_latent_set_model() and vae_latent_set_image_size()
 * before handing the latent out.
 *
 * The latent takes a reference on @tensor instead of copying it: do not
 * change the tensor's values afterwards.
 *
 * Returns: (transfer full) (nullable): a new latent, or %NULL with
 *   %VAE_ERROR_SHAPE if @tensor does not have three dimensions.
 */
VaeLatent *
vae_latent_new (VaeTensor  *tensor,
                GError    **error)
{
  VaeLatent *latent;

  g_return_val_if_fail (tensor != NULL, NULL);

  if (tensor->n_dims != 3)
    {
      gchar *shape = vae_tensor_shape_to_string (tensor);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "latents have shape [channels, height, width], not %s",
                   shape);
      g_free (shape);
      return NULL;
    }

  latent = g_new0 (VaeLatent, 1);
  latent->ref_count = 1;
  latent->tensor = vae_tensor_ref (tensor);

  return latent;
}

/**
 * vae_latent_ref:
 * @latent: a latent
 *
 * Returns: (transfer full): @latent
 */
VaeLatent *
vae_latent_ref (VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, NULL);

  g_atomic_int_inc (&latent->ref_count);

  return latent;
}

/**
 * vae_latent_unref:
 * @latent: (nullable): a latent
 *
 * Drops a reference; frees the latent with the last one.
 */
void
vae_latent_unref (VaeLatent *latent)
{
  if (latent && g_atomic_int_dec_and_test (&latent->ref_count))
    {
      vae_tensor_unref (latent->tensor);
      g_free (latent->model_id);
      g_free (latent->model_hash);
      g_free (latent);
    }
}

/**
 * vae_latent_get_tensor:
 * @latent: a latent
 *
 * Returns: (transfer none): the [channels, height, width] values; read
 *   only.
 */
const VaeTensor *
vae_latent_get_tensor (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, NULL);

  return latent->tensor;
}

/**
 * vae_latent_get_channels:
 * @latent: a latent
 *
 * Returns: the number of latent channels.
 */
guint
vae_latent_get_channels (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, 0);

  return (guint) VAE_T_C (latent->tensor);
}

/**
 * vae_latent_get_width:
 * @latent: a latent
 *
 * Returns: the width of the latent grid (not of the image).
 */
guint
vae_latent_get_width (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, 0);

  return (guint) VAE_T_W (latent->tensor);
}

/**
 * vae_latent_get_height:
 * @latent: a latent
 *
 * Returns: the height of the latent grid (not of the image).
 */
guint
vae_latent_get_height (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, 0);

  return (guint) VAE_T_H (latent->tensor);
}

/**
 * vae_latent_set_model:
 * @latent: a latent that has not been shared yet
 * @model_id: (nullable): the id of the model that made it
 * @model_hash: (nullable): that model's content hash
 *
 * Records which model made @latent.  Only for the code that creates a
 * latent, before anyone else holds it: latents are otherwise immutable.
 * Empty strings count as unknown.
 */
void
vae_latent_set_model (VaeLatent   *latent,
                      const gchar *model_id,
                      const gchar *model_hash)
{
  g_return_if_fail (latent != NULL);

  g_free (latent->model_id);
  g_free (latent->model_hash);
  latent->model_id = model_id && *model_id ? g_strdup (model_id) : NULL;
  latent->model_hash = model_hash && *model_hash ? g_strdup (model_hash)
                                                 : NULL;
}

/**
 * vae_latent_get_model_id:
 * @latent: a latent
 *
 * Returns: (nullable): the id of the model that made @latent, or %NULL if
 *   unknown.
 */
const gchar *
vae_latent_get_model_id (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, NULL);

  return latent->model_id;
}

/**
 * vae_latent_get_model_hash:
 * @latent: a latent
 *
 * Returns: (nullable): the content hash of the model that made @latent, or
 *   %NULL if unknown.
 */
const gchar *
vae_latent_get_model_hash (const VaeLatent *latent)
{
  g_return_val_if_fail (latent != NULL, NULL);

  return latent->model_hash;
}

/**
 * vae_latent_set_image_size:
 * @latent: a latent that has not been shared yet
 * @width: width of the encoded image, or 0 for unknown
 * @height: height of the encoded image, or 0 for unknown
 *
 * Records the size of the image @latent was encoded from, so that decoding
 * can crop away the padding.  Only for the code that creates a latent.
 * If either side is 0 the size becomes unknown.
 */
void
vae_latent_set_image_size (VaeLatent *latent,
                           guint      width,
                           guint      height)
{
  g_return_if_fail (latent != NULL);

  if (width == 0 || height == 0)
    width = height = 0;
  latent->image_width = width;
  latent->image_height = height;
}

/**
 * vae_latent_get_image_size:
 * @latent: a latent
 * @width: (out) (optional): return location for the image width
 * @height: (out) (optional): return location for the image height
 *
 * Returns: %TRUE if the image size is known; otherwise %FALSE and both
 *   sizes are 0.
 */
gboolean
vae_latent_get_image_size (const VaeLatent *latent,
                           guint           *width,
                           guint           *height)
{
  g_return_val_if_fail (latent != NULL, FALSE);

  if (width)
    *width = latent->image_width;
  if (height)
    *height = latent->image_height;

  return latent->image_width != 0;
}

/* Writing */

static void
add_tensor_entry (JsonBuilder *builder,
                  const gchar *name,
                  const gsize *shape,
                  guint        n_dims,
                  guint64      begin,
                  guint64      end)
{
  guint i;

  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "dtype");
  json_builder_add_string_value (builder, "F32");
  json_builder_set_member_name (builder, "shape");
  json_builder_begin_array (builder);
  for (i = 0; i < n_dims; i++)
    json_builder_add_int_value (builder, (gint64) shape[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "data_offsets");
  json_builder_begin_array (builder);
  json_builder_add_int_value (builder, (gint64) begin);
  json_builder_add_int_value (builder, (gint64) end);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

static void
add_metadata (JsonBuilder *builder,
              const gchar *key,
              const gchar *value)
{
  json_builder_set_member_name (builder, key);
  json_builder_add_string_value (builder, value);
}

static gchar *
build_header (const VaeLatent *latent,
              gsize           *length)
{
  g_autoptr (JsonBuilder)   builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode)      root = NULL;
  const VaeTensor          *t = latent->tensor;
  gsize                     shape[4] = { 1, VAE_T_C (t), VAE_T_H (t),
                                         VAE_T_W (t) };
  gsize                     empty_shape[1] = { 0 };
  guint64                   n_bytes = t->n_elements * sizeof (gfloat);

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "__metadata__");
  json_builder_begin_object (builder);
  add_metadata (builder, VAE_LATENT_MARKER_NAME, "1");
  add_metadata (builder, "vae.format_version",
                G_STRINGIFY (VAE_LATENT_FORMAT_VERSION));
  add_metadata (builder, "vae.value_convention", "raw");
  if (latent->model_id)
    add_metadata (builder, "vae.model_id", latent->model_id);
  if (latent->model_hash)
    add_metadata (builder, "vae.model_hash", latent->model_hash);
  if (latent->image_width)
    {
      gchar buf[16];

      g_snprintf (buf, sizeof buf, "%u", latent->image_width);
      add_metadata (builder, "vae.image_width", buf);
      g_snprintf (buf, sizeof buf, "%u", latent->image_height);
      add_metadata (builder, "vae.image_height", buf);
    }
  json_builder_end_object (builder);

  add_tensor_entry (builder, VAE_LATENT_TENSOR_NAME, shape, 4, 0, n_bytes);
  add_tensor_entry (builder, VAE_LATENT_MARKER_NAME, empty_shape, 1,
                    n_bytes, n_bytes);

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, length);
}

/**
 * vae_latent_serialize:
 * @latent: a latent
 * @error: return location for a #GError
 *
 * Writes @latent as the bytes of a `.latent` file: safetensors holding an
 * F32 tensor "latent_tensor" of shape [1, C, h, w] and the empty
 * "latent_format_version_0" marker, readable by ComfyUI's "Load Latent"
 * node, with the model id and hash, the image size and a format version in
 * the metadata.  The same bytes fit a GIMP parasite.
 *
 * Returns: (transfer full) (nullable): the file contents, or %NULL with
 *   %VAE_ERROR_INVALID_ARGUMENT if @latent holds NaN or infinite values
 *   (which no reader accepts).
 */
GBytes *
vae_latent_serialize (const VaeLatent  *latent,
                      GError          **error)
{
  g_autofree gchar *header = NULL;
  const gfloat     *src;
  gsize             header_length, padded, n, i;
  guint64           le_length;
  guint8           *out;
  guint8           *data;

  g_return_val_if_fail (latent != NULL, NULL);

  src = latent->tensor->data;
  n = latent->tensor->n_elements;
  for (i = 0; i < n; i++)
    if (! isfinite (src[i]))
      return vae_fail_null (error, VAE_ERROR_INVALID_ARGUMENT,
                            "the latent holds a non-finite value (%g at index %"
                            G_GSIZE_FORMAT "); it cannot be saved", src[i], i);

  header = build_header (latent, &header_length);
  /* Spaces up to a multiple of 8, as the safetensors writer does, so the
   * data starts aligned. */
  padded = (header_length + 7) / 8 * 8;

  out = g_malloc (8 + padded + n * sizeof (gfloat));
  le_length = GUINT64_TO_LE ((guint64) padded);
  memcpy (out, &le_length, 8);
  memcpy (out + 8, header, header_length);
  memset (out + 8 + header_length, ' ', padded - header_length);

  data = out + 8 + padded;
  for (i = 0; i < n; i++)
    {
      guint32 bits;

      memcpy (&bits, &src[i], 4);
      bits = GUINT32_TO_LE (bits);
      memcpy (data + 4 * i, &bits, 4);
    }

  return g_bytes_new_take (out, 8 + padded + n * sizeof (gfloat));
}

/**
 * vae_latent_save:
 * @latent: a latent
 * @path: the file to write, usually ending in `.latent`
 * @error: return location for a #GError
 *
 * Writes vae_latent_serialize()'s bytes to @path, replacing it atomically
 * (a device or FIFO is written into, not replaced).
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_IO, or the errors of
 *   vae_latent_serialize().
 */
gboolean
vae_latent_save (const VaeLatent  *latent,
                 const gchar      *path,
                 GError          **error)
{
  g_autoptr (GBytes) bytes = NULL;
  gsize              size;
  gconstpointer      data;

  g_return_val_if_fail (latent != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  bytes = vae_latent_serialize (latent, error);
  if (! bytes)
    return FALSE;

  data = g_bytes_get_data (bytes, &size);
  return vae_file_write (path, data, size, "the latent", error);
}

/* Reading */

static gboolean
parse_size_metadata (VaeWeights   *weights,
                     const gchar  *display,
                     const gchar  *key,
                     guint        *value,
                     GError      **error)
{
  const gchar *text = vae_weights_get_metadata (weights, key);
  guint64      v;

  *value = 0;
  if (! text)
    return TRUE;

  if (! g_ascii_string_to_unsigned (text, 10, 1, VAE_LATENT_MAX_IMAGE_SIDE,
                                    &v, NULL))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: metadata %s is \"%s\", not an image size from 1 to %d",
                     display, key, text, VAE_LATENT_MAX_IMAGE_SIDE);
  *value = (guint) v;

  return TRUE;
}

static VaeLatent *
latent_from_weights (VaeWeights  *weights,
                     GError     **error)
{
  const gchar     *display = vae_weights_get_display_name (weights);
  const VaeWeight *w;
  const gchar     *text;
  VaeTensor       *tensor;
  VaeLatent       *latent;
  gsize            c, h, wd, i;
  guint            image_width, image_height;

  w = vae_weights_lookup (weights, VAE_LATENT_TENSOR_NAME);
  if (! w)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: no tensor named \"%s\"; not a latent file",
                          display, VAE_LATENT_TENSOR_NAME);

  if (w->n_dims == 4 && w->shape[0] == 1)
    {
      c = w->shape[1];
      h = w->shape[2];
      wd = w->shape[3];
    }
  else if (w->n_dims == 3)
    {
      c = w->shape[0];
      h = w->shape[1];
      wd = w->shape[2];
    }
  else
    {
      GString *shape = g_string_new ("[");

      for (i = 0; i < w->n_dims; i++)
        g_string_append_printf (shape, "%s%" G_GSIZE_FORMAT, i ? ", " : "",
                                w->shape[i]);
      g_string_append_c (shape, ']');
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s: latent_tensor has shape %s; a single latent of "
                   "shape [1, C, h, w] or [C, h, w] is needed",
                   display, shape->str);
      g_string_free (shape, TRUE);
      return NULL;
    }

  if (c == 0 || h == 0 || wd == 0 ||
      c > VAE_LATENT_MAX_CHANNELS ||
      h > VAE_LATENT_MAX_SIDE || wd > VAE_LATENT_MAX_SIDE)
    return vae_fail_null (error, VAE_ERROR_SHAPE,
                          "%s: a latent of %" G_GSIZE_FORMAT " channels of %"
                          G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT " is empty or "
                          "implausibly large (at most %d channels of %dx%d)",
                          display, c, wd, h, VAE_LATENT_MAX_CHANNELS,
                          VAE_LATENT_MAX_SIDE, VAE_LATENT_MAX_SIDE);

  for (i = 0; i < w->n_elements; i++)
    if (! isfinite (w->data[i]))
      return vae_fail_null (error, VAE_ERROR_FORMAT,
                            "%s: the latent holds a non-finite value (%g at "
                            "index %" G_GSIZE_FORMAT ")", display, w->data[i],
                            i);

  text = vae_weights_get_metadata (weights, "vae.format_version");
  if (text)
    {
      guint64 version;

      if (! g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT32, &version,
                                        NULL))
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: vae.format_version \"%s\" is not a version "
                              "number", display, text);
      if (version > VAE_LATENT_FORMAT_VERSION)
        return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                              "%s: latent format version %" G_GUINT64_FORMAT
                              " is newer than this version of libvae reads "
                              "(%d)", display, version,
                              VAE_LATENT_FORMAT_VERSION);
    }

  text = vae_weights_get_metadata (weights, "vae.value_convention");
  if (text && strcmp (text, "raw") != 0)
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "%s: latent values are in the \"%s\" convention; "
                          "only \"raw\" is supported", display, text);

  if (! parse_size_metadata (weights, display, "vae.image_width",
                             &image_width, error) ||
      ! parse_size_metadata (weights, display, "vae.image_height",
                             &image_height, error))
    return NULL;
  if ((image_width == 0) != (image_height == 0))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: the metadata gives only one of vae.image_width "
                          "and vae.image_height", display);

  tensor = vae_tensor_new_3d_uninit (c, h, wd, error);
  if (! tensor)
    return NULL;
  memcpy (tensor->data, w->data, c * h * wd * sizeof (gfloat));

  latent = vae_latent_new (tensor, error);
  vae_tensor_unref (tensor);
  if (! latent)
    return NULL;

  vae_latent_set_model (latent,
                        vae_weights_get_metadata (weights, "vae.model_id"),
                        vae_weights_get_metadata (weights, "vae.model_hash"));
  vae_latent_set_image_size (latent, image_width, image_height);

  return latent;
}

/* latent_from_weights () on what was just loaded (NULL: loading failed,
 * @error says why), its messages tidied; takes @weights. */
static VaeLatent *
latent_from_loaded (VaeWeights  *weights,
                    GError     **error)
{
  g_autoptr (VaeWeights) owned = weights;
  VaeLatent             *latent;

  if (owned == NULL)
    return NULL;

  latent = latent_from_weights (owned, error);
  if (! latent && error)
    vae_error_tidy (*error);

  return latent;
}

/**
 * vae_latent_deserialize:
 * @bytes: the contents of a `.latent` file
 * @error: return location for a #GError
 *
 * Reads a latent from safetensors bytes, ours or ComfyUI's: the tensor
 * "latent_tensor" of shape [1, C, h, w] or [C, h, w], in F32, F16, BF16
 * or F64.  Model and image size come from our metadata when present and
 * are unknown otherwise.  Values are taken as stored; unlike ComfyUI, a
 * file without the latent_format_version_0 marker is not rescaled.
 *
 * Returns: (transfer full) (nullable): the latent, or %NULL with @error
 *   set: %VAE_ERROR_FORMAT for a malformed file, a missing tensor,
 *   non-finite values or bad metadata; %VAE_ERROR_SHAPE for a batch of
 *   several latents, another number of dimensions or an empty or
 *   implausibly large size; %VAE_ERROR_UNSUPPORTED for a newer format
 *   version or another value convention.
 */
VaeLatent *
vae_latent_deserialize (GBytes  *bytes,
                        GError **error)
{
  gconstpointer data;
  gsize         size;

  g_return_val_if_fail (bytes != NULL, NULL);

  data = g_bytes_get_data (bytes, &size);

  return latent_from_loaded (vae_safetensors_load_from_data (data, size,
                                                             "latent data",
                                                             error),
                             error);
}

/**
 * vae_latent_load:
 * @path: a `.latent` file
 * @error: return location for a #GError
 *
 * Reads a latent file; see vae_latent_deserialize().
 *
 * Returns: (transfer full) (nullable): the latent, or %NULL with @error
 *   set (%VAE_ERROR_IO if the file cannot be read).
 */
VaeLatent *
vae_latent_load (const gchar  *path,
                 GError      **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  return latent_from_loaded (vae_safetensors_load (path, error), error);
}
