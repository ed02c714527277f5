/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * vae:reconstruct, a GEGL operation: the round trip of the input through
 * an autoencoder (encode, decode), or where it differs from the input as a
 * heat map.  Not "gimp-vae:": GIMP 3.0 keeps every operation whose name
 * starts with "gimp" out of its menus and its GEGL Operation tool
 * (gimp_gegl_op_blacklisted () in app/gegl/gimp-gegl-utils.c).  Installed into GEGL's plug-in folder, it is a
 * filter like GEGL's own: GIMP 3 runs it from Filters ▸ VAE and from the
 * GEGL Operation tool with its on-canvas preview and split view, and keeps
 * it as a non-destructive filter; `gegl` runs it too.
 *
 * A model sees the whole picture at once (seed-f16's attention is global,
 * and every model's tiles overlap), so the operation asks for its whole
 * input and caches its whole output: GEGL computes it once, and panning or
 * zooming the canvas reads the cache.  A second cache, shared by all
 * nodes, keeps the last reconstructions by model and input content, so a
 * rebuilt graph (split view on and off, output switched between
 * reconstruction and difference, a filter re-opened) does not run the
 * model again.
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "vae.h"

#ifdef GEGL_PROPERTIES

property_string (model, _("Model"), "")
  description (_("A model name from gimp-vae's model folders (taef2, "
                 "seed-f16, ...), a path to a model, or empty for the "
                 "default model"))

/* "mode", not "output": a property may not share its name with a pad. */
enum_start (vae_reconstruct_mode)
  enum_value (VAE_RECONSTRUCT_RECONSTRUCTION, "reconstruction",
              N_("Reconstruction"))
  enum_value (VAE_RECONSTRUCT_DIFFERENCE, "difference",
              N_("Difference (heat map)"))
enum_end (VaeReconstructMode)

property_enum (mode, _("Show"), VaeReconstructMode, vae_reconstruct_mode,
               VAE_RECONSTRUCT_RECONSTRUCTION)
  description (_("The round trip itself, or where it differs from the "
                 "input"))

property_double (gain, _("Difference gain"), 8.0)
  description (_("How much the heat map amplifies the differences"))
  value_range (1.0, 100.0)
  ui_range (1.0, 32.0)

#else

#define GEGL_OP_FILTER
#define GEGL_OP_NAME     vae_reconstruct
#define GEGL_OP_C_SOURCE vae-reconstruct.c
/* Our own module functions (below), to bind the translations before the
 * properties are made. */
#define GEGL_OP_BUNDLE

#include "gegl-op.h"

/* Reconstructions kept across nodes: a filter's preview, its split view
 * and the committed filter each build their own node. */
#define CACHE_ENTRIES 4

typedef struct
{
  gchar     *model;      /* as the property says */
  guint8     digest[32]; /* SHA-256 of the input pixels */
  gint       width;
  gint       height;
  VaeTensor *decoded;    /* [3, height, width] */
} CacheEntry;

static GMutex      cache_lock;
static CacheEntry  cache[CACHE_ENTRIES];
static guint       cache_next;
static guint       model_runs;

static void
prepare (GeglOperation *operation)
{
  const Babl *space = gegl_operation_get_source_space (operation, "input");
  const Babl *format = babl_format_with_space ("R'G'B'A float", space);

  gegl_operation_set_format (operation, "input", format);
  gegl_operation_set_format (operation, "output", format);
}

static GeglRectangle
get_required_for_output (GeglOperation       *operation,
                         const gchar         *input_pad,
                         const GeglRectangle *roi)
{
  const GeglRectangle *box;

  box = gegl_operation_source_get_bounding_box (operation, "input");
  if (box == NULL || gegl_rectangle_is_infinite_plane (box))
    return *roi;

  return *box;
}

static GeglRectangle
get_cached_region (GeglOperation       *operation,
                   const GeglRectangle *roi)
{
  return get_required_for_output (operation, "input", roi);
}

static GeglRectangle
get_invalidated_by_change (GeglOperation       *operation,
                           const gchar         *input_pad,
                           const GeglRectangle *input_region)
{
  return get_required_for_output (operation, input_pad, input_region);
}

static void
digest_pixels (const VaeTensor *rgb,
               guint8           digest[32])
{
  GChecksum *checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize      length = 32;

  g_checksum_update (checksum, (const guchar *) vae_tensor_peek_data (rgb),
                     vae_tensor_get_n_elements (rgb) * sizeof (gfloat));
  g_checksum_get_digest (checksum, digest, &length);
  g_checksum_free (checksum);
}

/* Call with cache_lock held. */
static VaeTensor *
cache_lookup (const gchar  *model,
              const guint8  digest[32],
              gint          width,
              gint          height)
{
  guint i;

  for (i = 0; i < CACHE_ENTRIES; i++)
    if (cache[i].decoded != NULL &&
        cache[i].width == width && cache[i].height == height &&
        g_strcmp0 (cache[i].model, model) == 0 &&
        memcmp (cache[i].digest, digest, 32) == 0)
      return vae_tensor_ref (cache[i].decoded);

  return NULL;
}

/* Call with cache_lock held. */
static void
cache_store (const gchar  *model,
             const guint8  digest[32],
             gint          width,
             gint          height,
             VaeTensor    *decoded)
{
  CacheEntry *entry = &cache[cache_next];

  cache_next = (cache_next + 1) % CACHE_ENTRIES;
  g_free (entry->model);
  g_clear_pointer (&entry->decoded, vae_tensor_unref);
  entry->model = g_strdup (model);
  memcpy (entry->digest, digest, 32);
  entry->width = width;
  entry->height = height;
  entry->decoded = vae_tensor_ref (decoded);
}

typedef struct
{
  GeglOperation *operation;
  gdouble        start;
  gdouble        span;
} Progress;

static void
progress_func (gdouble      fraction,
               const gchar *stage,
               gpointer     data)
{
  Progress *progress = data;

  gegl_operation_progress (progress->operation,
                           progress->start + progress->span * fraction,
                           (gchar *) _("Autoencoder round trip"));
}

/* The round trip of @rgb with the model @spec names. */
static VaeTensor *
reconstruct (GeglOperation    *operation,
             const gchar      *spec,
             const VaeTensor  *rgb,
             GError          **error)
{
  g_autoptr (VaeRegistry) registry = NULL;
  g_autoptr (VaeModel)    model = NULL;
  g_autoptr (VaeLatent)   latent = NULL;
  VaeTensor              *decoded = NULL;
  Progress                progress = { operation, 0.0, 0.5 };

  registry = vae_registry_new (error);
  if (registry == NULL)
    return NULL;
  model = vae_registry_resolve (registry, spec, error);
  if (model == NULL)
    return NULL;
  if (! vae_model_can_encode (model) || ! vae_model_can_decode (model))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "the model %s needs an encoder and a decoder for a round "
                   "trip", vae_model_get_id (model));
      return NULL;
    }

  g_debug ("vae:reconstruct: running %s on %u x %u (run %u)",
           vae_model_get_id (model), (guint) vae_tensor_get_dim (rgb, 2),
           (guint) vae_tensor_get_dim (rgb, 1), ++model_runs);
  if (! vae_model_encode (model, rgb, &latent, NULL, NULL, progress_func,
                          &progress, error))
    return NULL;
  progress.start = 0.5;
  if (! vae_model_decode (model, latent, &decoded, NULL, NULL, progress_func,
                          &progress, error))
    return NULL;
  gegl_operation_progress (operation, 1.0, (gchar *) "");

  return decoded;
}

static gboolean
process (GeglOperation       *operation,
         GeglBuffer          *input,
         GeglBuffer          *output,
         const GeglRectangle *result,
         gint                 level)
{
  GeglProperties        *o = GEGL_PROPERTIES (operation);
  const Babl            *format = gegl_operation_get_format (operation, "output");
  const GeglRectangle   *box;
  GeglRectangle          whole;
  g_autoptr (VaeTensor)  rgb = NULL;
  g_autoptr (VaeTensor)  alpha = NULL;
  g_autoptr (VaeTensor)  decoded = NULL;
  g_autoptr (VaeTensor)  shown = NULL;
  GError                *error = NULL;
  const gchar           *spec = o->model != NULL ? o->model : "";
  guint8                 digest[32];
  gfloat                *pixels;
  gsize                  stride;
  gsize                  n;
  gint                   y;

  box = gegl_operation_source_get_bounding_box (operation, "input");
  if (box == NULL || box->width <= 0 || box->height <= 0)
    return TRUE;
  whole = *box;
  n = (gsize) whole.width * whole.height;
  stride = (gsize) whole.width * 4 * sizeof (gfloat);

  pixels = g_try_malloc (n * 4 * sizeof (gfloat));
  rgb = pixels != NULL ? vae_tensor_new_3d (3, whole.height, whole.width,
                                            &error)
                       : NULL;
  alpha = rgb != NULL ? vae_tensor_new_3d (1, whole.height, whole.width,
                                           &error)
                      : NULL;
  if (alpha == NULL)
    {
      g_warning ("vae:reconstruct: not enough memory for %d x %d",
                 whole.width, whole.height);
      g_clear_error (&error);
      g_free (pixels);
      gegl_buffer_copy (input, result, GEGL_ABYSS_NONE, output, result);
      return TRUE;
    }

  gegl_buffer_get (input, &whole, 1.0, format, pixels, stride,
                   GEGL_ABYSS_NONE);
  /* libvae's pixel adapter, as the plug-in and the vae command read; the
   * tensors have the buffer's size, so this cannot fail */
  vae_tensor_from_pixels (rgb, alpha, 0, whole.height, pixels,
                          VAE_PIXEL_FORMAT_RGBA_FLOAT, stride, NULL);

  digest_pixels (rgb, digest);
  g_mutex_lock (&cache_lock);
  decoded = cache_lookup (spec, digest, whole.width, whole.height);
  g_mutex_unlock (&cache_lock);

  if (decoded == NULL)
    {
      decoded = reconstruct (operation, spec, rgb, &error);
      if (decoded == NULL)
        {
          /* A filter cannot fail: show the input, and say why where GIMP
           * collects messages. */
          g_warning ("vae:reconstruct: %s", error->message);
          g_clear_error (&error);
          g_free (pixels);
          gegl_buffer_copy (input, result, GEGL_ABYSS_NONE, output, result);
          return TRUE;
        }
      g_mutex_lock (&cache_lock);
      cache_store (spec, digest, whole.width, whole.height, decoded);
      g_mutex_unlock (&cache_lock);
    }

  if (o->mode == VAE_RECONSTRUCT_DIFFERENCE)
    shown = vae_difference_map (rgb, decoded, VAE_DIFF_HEATMAP, o->gain,
                                &error);
  else
    shown = vae_tensor_ref (decoded);
  if (shown == NULL)
    {
      g_warning ("vae:reconstruct: %s", error->message);
      g_clear_error (&error);
      shown = vae_tensor_ref (decoded);
    }

  /* The picture replaces the colour; the input's alpha stays. */
  vae_tensor_to_pixels (shown, alpha, 0, whole.height, pixels,
                        VAE_PIXEL_FORMAT_RGBA_FLOAT, stride, NULL);
  for (y = result->y; y < result->y + result->height; y++)
    {
      GeglRectangle row = { result->x, y, result->width, 1 };

      if (y < whole.y || y >= whole.y + whole.height)
        continue;
      gegl_buffer_set (output, &row, 0, format,
                       pixels + 4 * ((gsize) (y - whole.y) * whole.width +
                                     (result->x - whole.x)),
                       GEGL_AUTO_ROWSTRIDE);
    }
  g_free (pixels);

  return TRUE;
}

static void
gegl_op_class_init (GeglOpClass *klass)
{
  GeglOperationClass       *operation_class = GEGL_OPERATION_CLASS (klass);
  GeglOperationFilterClass *filter_class = GEGL_OPERATION_FILTER_CLASS (klass);

  operation_class->prepare                   = prepare;
  operation_class->get_required_for_output   = get_required_for_output;
  operation_class->get_cached_region         = get_cached_region;
  operation_class->get_invalidated_by_change = get_invalidated_by_change;
  /* One run over the whole picture: the model is threaded inside. */
  operation_class->threaded                  = FALSE;
  filter_class->process                      = process;

  gegl_operation_class_set_keys (operation_class,
    "name",            "vae:reconstruct",
    "title",           _("Autoencoder Reconstruction"),
    "categories",      "enhance",
    "description",     _("Shows what an image autoencoder makes of the "
                         "picture: it is encoded into latents and decoded "
                         "again.  Use the split view to compare it with "
                         "the original, or show the difference as a heat "
                         "map."),
    "gimp:menu-path",  "<Image>/Filters/VAE",
    "gimp:menu-label", _("Reconstruction on _Canvas..."),
    NULL);
}

G_MODULE_EXPORT const GeglModuleInfo *
gegl_module_query (GTypeModule *module)
{
  return &modinfo;
}

G_MODULE_EXPORT gboolean
gegl_module_register (GTypeModule *module)
{
  bindtextdomain (GETTEXT_PACKAGE, GIMP_VAE_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  gegl_op_vae_reconstruct_register_type (module);

  return TRUE;
}

#endif
