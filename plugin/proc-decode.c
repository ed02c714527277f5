/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filters ▸ VAE ▸ Decode Latents to New Layer: decodes the latents a layer
 * carries, or a .latent file, into a new layer: 1024 × 1024 by default, or
 * the size the latents were encoded from, or any size.
 *
 * When the wanted shape differs from the encoded one, "fit" shows the
 * whole picture inside the layer (transparent borders), "fill" covers the
 * layer and crops what sticks out, "stretch" distorts.  The resampling is
 * done either on the decoded pixels or on the latents before decoding
 * (the latter decodes straight at the wanted size); docs/plugin.md has the
 * Kodak measurement behind the default.
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

#define PREVIEW_SIDE 192

enum
{
  SIZE_1024,
  SIZE_ORIGINAL,
  SIZE_CUSTOM
};

enum
{
  ASPECT_FIT,
  ASPECT_FILL,
  ASPECT_STRETCH
};

enum
{
  RESAMPLE_PIXELS,
  RESAMPLE_LATENTS
};

enum
{
  ALPHA_RESTORE,
  ALPHA_OPAQUE
};

/* Where the resampled picture lands in the new layer; x and y are negative
 * when "fill" crops.
 */
typedef struct
{
  gint width;
  gint height;
  gint content_width;
  gint content_height;
  gint x;
  gint y;
} Geometry;

static GimpValueArray * decode_run    (const VaePluginRun   *run);
static gboolean         decode_dialog (const VaePluginRun   *run);

GimpProcedure *
vae_decode_procedure_new (GimpPlugIn  *plug_in,
                          const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_plugin_image_procedure_new (plug_in, name, decode_run,
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLE |
                                              GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES,
                                              _("_Decode Latents to New "
                                                "Layer..."),
                                              _("Decode latents into a new "
                                                "layer"),
                                              _("Decodes the latents carried "
                                                "by the selected layer, or "
                                                "those in a .latent file, "
                                                "into a new layer: 1024 × "
                                                "1024 by default, the encoded "
                                                "size, or a custom size."));
  gimp_procedure_add_file_argument (procedure, "latent-file",
                                    _("Latent _file"),
                                    _("Decode this .latent file instead of "
                                      "the layer's latents (optional)"),
                                    GIMP_FILE_CHOOSER_ACTION_OPEN,
                                    TRUE, NULL,
                                    G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (procedure, "size",
                                      _("Si_ze"),
                                      _("The size of the new layer"),
                                      gimp_choice_new_with_values (
                                        "square-1024", SIZE_1024,
                                        _("1024 × 1024"), NULL,
                                        "original", SIZE_ORIGINAL,
                                        _("Encoded size"), NULL,
                                        "custom", SIZE_CUSTOM,
                                        _("Custom size"), NULL,
                                        NULL),
                                      "square-1024",
                                      G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "width",
                                   _("_Width"),
                                   _("Width of the new layer with a custom "
                                     "size"),
                                   8, 16384, 1024,
                                   G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "height",
                                   _("He_ight"),
                                   _("Height of the new layer with a custom "
                                     "size"),
                                   8, 16384, 1024,
                                   G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (procedure, "aspect",
                                      _("_Aspect ratio"),
                                      _("What to do when the new layer's "
                                        "shape differs from the encoded "
                                        "image's"),
                                      gimp_choice_new_with_values (
                                        "fit", ASPECT_FIT,
                                        _("Fit (transparent borders)"), NULL,
                                        "fill", ASPECT_FILL,
                                        _("Fill (crop)"), NULL,
                                        "stretch", ASPECT_STRETCH,
                                        _("Stretch"), NULL,
                                        NULL),
                                      "fit",
                                      G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (procedure, "resample",
                                      _("R_esample"),
                                      _("Scale the decoded pixels, or scale "
                                        "the latents and decode at the new "
                                        "size"),
                                      gimp_choice_new_with_values (
                                        "pixels", RESAMPLE_PIXELS,
                                        _("Pixels after decoding"), NULL,
                                        "latents", RESAMPLE_LATENTS,
                                        _("Latents before decoding"), NULL,
                                        NULL),
                                      "pixels",
                                      G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (procedure, "alpha",
                                      _("Al_pha"),
                                      _("Transparency of the new layer when "
                                        "the latent layer has some"),
                                      gimp_choice_new_with_values (
                                        "restore", ALPHA_RESTORE,
                                        _("Restore the encoded layer's "
                                          "alpha (scaled like the picture)"),
                                        NULL,
                                        "opaque", ALPHA_OPAQUE,
                                        _("Opaque"), NULL,
                                        NULL),
                                      "restore",
                                      G_PARAM_READWRITE);

  vae_plugin_add_layer_return_value (procedure, _("The decoded layer"));

  return procedure;
}

static void
encoded_size (VaeModel        *model,
              const VaeLatent *latent,
              gint            *width,
              gint            *height)
{
  guint w;
  guint h;

  if (! vae_latent_get_image_size (latent, &w, &h))
    {
      w = vae_latent_get_width (latent) * vae_model_get_factor (model);
      h = vae_latent_get_height (latent) * vae_model_get_factor (model);
    }
  *width = w;
  *height = h;
}

static Geometry
compute_geometry (gint source_width,
                  gint source_height,
                  gint width,
                  gint height,
                  gint aspect)
{
  Geometry g = { width, height, width, height, 0, 0 };
  gdouble  sx = (gdouble) width / source_width;
  gdouble  sy = (gdouble) height / source_height;
  gdouble  scale;

  if (aspect == ASPECT_STRETCH)
    return g;

  scale = aspect == ASPECT_FIT ? MIN (sx, sy) : MAX (sx, sy);
  g.content_width  = MAX (1, (gint) lround (source_width * scale));
  g.content_height = MAX (1, (gint) lround (source_height * scale));
  if (aspect == ASPECT_FIT)
    {
      g.content_width  = MIN (g.content_width, width);
      g.content_height = MIN (g.content_height, height);
    }
  else
    {
      g.content_width  = MAX (g.content_width, width);
      g.content_height = MAX (g.content_height, height);
    }
  g.x = (width - g.content_width) / 2;
  g.y = (height - g.content_height) / 2;

  return g;
}

/* Puts @content ([C, content_height, content_width]) at the geometry's
 * place in a zero (transparent) tensor of the layer's size.
 */
static VaeTensor *
place (const VaeTensor  *content,
       const Geometry   *g,
       GError          **error)
{
  gsize         channels = vae_tensor_get_dim (content, 0);
  VaeTensor    *canvas;
  const gfloat *src = vae_tensor_peek_data (content);
  gfloat       *dest;
  gsize         c;
  gint          y;

  if (g->x == 0 && g->y == 0 &&
      g->content_width == g->width && g->content_height == g->height)
    return vae_tensor_ref ((VaeTensor *) content);

  canvas = vae_tensor_new_3d (channels, g->height, g->width, error);
  if (canvas == NULL)
    return NULL;
  dest = vae_tensor_get_data (canvas);

  for (c = 0; c < channels; c++)
    for (y = MAX (0, g->y); y < MIN (g->height, g->y + g->content_height); y++)
      {
        gint x0 = MAX (0, g->x);
        gint x1 = MIN (g->width, g->x + g->content_width);

        memcpy (dest + (c * g->height + y) * g->width + x0,
                src + (c * g->content_height + (y - g->y)) * g->content_width +
                (x0 - g->x),
                (x1 - x0) * sizeof (gfloat));
      }

  return canvas;
}

static VaeTensor *
resize_to (VaeTensor  *tensor,
           gint        width,
           gint        height,
           GError    **error)
{
  VaeTensor *resized;

  if (tensor == NULL ||
      (vae_tensor_get_dim (tensor, 2) == (gsize) width &&
       vae_tensor_get_dim (tensor, 1) == (gsize) height))
    return tensor;

  resized = vae_image_resize (tensor, width, height, error);
  vae_tensor_unref (tensor);

  return resized;
}

/* Decodes @latent to a picture of the geometry's content size. */
static VaeTensor *
decode_content (VaeModel          *model,
                const VaeLatent   *latent,
                const Geometry    *g,
                gint               resample,
                GCancellable      *cancellable,
                VaeProgressFunc    progress,
                gpointer           progress_data,
                GError           **error)
{
  g_autoptr (VaeLatent) scaled = NULL;
  VaeTensor            *picture = NULL;

  if (resample == RESAMPLE_LATENTS)
    {
      guint factor = vae_model_get_factor (model);

      scaled = vae_latent_resize (latent,
                                  (g->content_width + factor - 1) / factor,
                                  (g->content_height + factor - 1) / factor,
                                  error);
      if (scaled == NULL)
        return NULL;
      latent = scaled;
    }

  if (! vae_model_decode (model, latent, &picture, NULL, cancellable,
                          progress, progress_data, error))
    return NULL;

  return resize_to (picture, g->content_width, g->content_height, error);
}

static VaeTensor *
opaque_alpha (const Geometry  *g,
              GError         **error)
{
  VaeTensor *alpha = vae_tensor_new_3d (1, g->content_height,
                                        g->content_width, error);
  gfloat    *data;
  gsize      i;

  if (alpha == NULL)
    return NULL;

  data = vae_tensor_get_data (alpha);
  for (i = 0; i < vae_tensor_get_n_elements (alpha); i++)
    data[i] = 1.0f;

  return alpha;
}

/* The model named, or the one that made @latent; latents that do not say
 * (ComfyUI's files) get the installed model that takes their channels,
 * asked for when several do, as File ▸ Open does: the default model
 * would decode another model's latents into garbage. */
static VaeModel *
decode_model (GimpProcedureConfig  *config,
              const VaeLatent      *latent,
              GimpRunMode           run_mode,
              GError              **error)
{
  g_autofree gchar *name = NULL;
  const gchar      *id = vae_latent_get_model_id (latent);
  const gchar      *hash = vae_latent_get_model_hash (latent);

  g_object_get (config, "model", &name, NULL);
  if ((name != NULL && name[0] != '\0') ||
      (id != NULL && id[0] != '\0') || (hash != NULL && hash[0] != '\0'))
    return vae_plugin_config_load_model_for (config, latent, error);

  return vae_file_model_for_latent (latent, NULL,
                                    run_mode == GIMP_RUN_INTERACTIVE, error);
}

/* Centres @layer on @source (on the canvas without one) and grows the
 * canvas to show all of it: a 1024 × 1024 decode of a 768 × 512 photo
 * would otherwise hang over the canvas edge at the source's corner.
 * Called inside the run's undo group, so the canvas change undoes with
 * the layer.
 */
static void
place_on_canvas (GimpImage    *image,
                 GimpLayer    *layer,
                 GimpDrawable *source)
{
  gint width  = gimp_drawable_get_width (GIMP_DRAWABLE (layer));
  gint height = gimp_drawable_get_height (GIMP_DRAWABLE (layer));
  gint cx = gimp_image_get_width (image) / 2;
  gint cy = gimp_image_get_height (image) / 2;
  gint x, y, x0, y0, x1, y1;

  if (source != NULL)
    {
      gimp_drawable_get_offsets (source, &x, &y);
      cx = x + gimp_drawable_get_width (source) / 2;
      cy = y + gimp_drawable_get_height (source) / 2;
    }
  x = cx - width / 2;
  y = cy - height / 2;
  gimp_layer_set_offsets (layer, x, y);

  x0 = MIN (0, x);
  y0 = MIN (0, y);
  x1 = MAX (gimp_image_get_width (image), x + width);
  y1 = MAX (gimp_image_get_height (image), y + height);
  if (x0 < 0 || y0 < 0 ||
      x1 > gimp_image_get_width (image) || y1 > gimp_image_get_height (image))
    gimp_image_resize (image, x1 - x0, y1 - y0, -x0, -y0);
}

/* The latents to decode: the file in @config if one is set, else the
 * selected layer's.  @drawable is the layer the result goes above (none
 * for a file with several or no layers selected).
 */
static VaeLatent *
decode_source (GimpProcedureConfig  *config,
               GimpDrawable        **drawables,
               GimpDrawable        **drawable,
               gchar               **source_name,
               gboolean             *from_file,
               GError              **error)
{
  VaeLatent *latent = NULL;
  GFile     *file   = NULL;

  *drawable = NULL;
  *source_name = NULL;

  g_object_get (config, "latent-file", &file, NULL);
  *from_file = file != NULL;
  if (file != NULL)
    {
      latent = vae_plugin_latent_load_file (file, error);
      *source_name = g_file_get_basename (file);
      if (strrchr (*source_name, '.') != NULL)
        *strrchr (*source_name, '.') = '\0';
      g_object_unref (file);
      if (drawables != NULL && drawables[0] != NULL && drawables[1] == NULL)
        *drawable = drawables[0];
    }
  else
    {
      *drawable = vae_plugin_single_drawable (drawables, error);
      if (*drawable != NULL)
        {
          latent = vae_plugin_latent_get (GIMP_ITEM (*drawable), error);
          *source_name = g_strdup (gimp_item_get_name (GIMP_ITEM (*drawable)));
        }
    }

  return latent;
}

static GimpValueArray *
decode_run (const VaePluginRun *run)
{
  g_autoptr (VaeModel)  model   = NULL;
  g_autoptr (VaeLatent) latent  = NULL;
  g_autoptr (VaeTensor) content = NULL;
  g_autoptr (VaeTensor) alpha   = NULL;
  g_autoptr (VaeTensor) rgb     = NULL;
  g_autoptr (VaeTensor) placed_alpha = NULL;
  GimpDrawable         *drawable = NULL;
  GimpLayer            *layer;
  GimpLayer            *parent;
  GError               *error = NULL;
  VaePluginProgress     progress;
  Geometry              g;
  gchar                *source_name;
  gboolean              from_file;
  gchar                *name;
  gchar                *base;
  gint                  position;
  gint                  source_width;
  gint                  source_height;
  gint                  width;
  gint                  height;
  gint                  size_mode;
  gint                  aspect;
  gint                  resample;
  gint                  alpha_mode;

  /* The dialog opens even without latents: a file can be chosen there. */
  if (vae_plugin_interactive (run->run_mode) &&
      ! decode_dialog (run))
    return vae_plugin_return_cancel (run->procedure);

  latent = decode_source (run->config, run->drawables, &drawable, &source_name,
                          &from_file, &error);
  if (latent == NULL)
    {
      g_free (source_name);
      return vae_plugin_return_error (run->procedure, error);
    }

  model = decode_model (run->config, latent, run->run_mode, &error);
  if (model == NULL)
    {
      g_free (source_name);
      return vae_plugin_return_error (run->procedure, error);
    }

  g_object_get (run->config, "width", &width, "height", &height, NULL);
  size_mode  = gimp_procedure_config_get_choice_id (run->config, "size");
  aspect     = gimp_procedure_config_get_choice_id (run->config, "aspect");
  resample   = gimp_procedure_config_get_choice_id (run->config, "resample");
  alpha_mode = gimp_procedure_config_get_choice_id (run->config, "alpha");

  encoded_size (model, latent, &source_width, &source_height);
  if (size_mode == SIZE_1024)
    width = height = 1024;
  else if (size_mode == SIZE_ORIGINAL)
    width = source_width, height = source_height;
  g = compute_geometry (source_width, source_height, width, height, aspect);

  gimp_progress_init_printf (_("Decoding with %s"),
                             vae_plugin_model_label (model));
  vae_plugin_progress_span (&progress, 0.0, 0.95);
  content = decode_content (model, latent, &g, resample, NULL,
                            vae_plugin_progress_func, &progress, &error);
  if (content == NULL)
    goto fail;

  /* The latent layer's alpha is the encoded layer's alpha at the encoded
   * size; it goes through the same geometry as the picture.
   */
  if (alpha_mode == ALPHA_RESTORE && ! from_file &&
      gimp_drawable_has_alpha (drawable))
    {
      VaePluginPixels pixels;

      if (! vae_plugin_pixels_read (drawable, FALSE, &pixels, &error))
        goto fail;
      alpha = vae_plugin_alpha_fit (pixels.alpha, g.content_width,
                                    g.content_height, &error);
      vae_plugin_pixels_clear (&pixels);
    }
  else
    {
      alpha = opaque_alpha (&g, &error);
    }
  if (alpha == NULL)
    goto fail;

  rgb = place (content, &g, &error);
  if (rgb == NULL)
    goto fail;
  placed_alpha = place (alpha, &g, &error);
  if (placed_alpha == NULL)
    goto fail;

  base = vae_plugin_base_name (source_name != NULL ? source_name
                                                   : _("Latents"));
  name = g_strdup_printf (_("%s (decoded, %s)"), base,
                          vae_plugin_model_label (model));
  g_free (base);

  gimp_image_undo_group_start (run->image);
  vae_plugin_position_above (run->image,
                             drawable != NULL ? GIMP_ITEM (drawable) : NULL,
                             &parent, &position);
  layer = vae_plugin_layer_add (run->image, name, rgb, placed_alpha, parent,
                                position, &error);
  if (layer != NULL)
    place_on_canvas (run->image, layer, drawable);
  gimp_image_undo_group_end (run->image);
  g_free (name);

  if (layer == NULL)
    goto fail;

  g_free (source_name);

  return vae_plugin_return_layer (run->procedure, layer);

 fail:
  g_free (source_name);

  return vae_plugin_return_error (run->procedure, error);
}


/*  Below is only UI stuff  */

typedef struct
{
  GimpProcedureConfig  *config;
  GimpDrawable        **drawables;
  GtkWidget            *preview;
  GtkWidget            *choice;
  VaeLatent            *latent;
} DecodeDialog;

typedef struct
{
  VaeModel  *model;
  VaeLatent *latent;
  Geometry   geometry;
  gint       resample;
} DecodePreviewJob;

static void
decode_preview_job_free (gpointer data)
{
  DecodePreviewJob *job = data;

  vae_model_unref (job->model);
  vae_latent_unref (job->latent);
  g_free (job);
}

/* @rgb over GIMP's checkerboard where @alpha is clear: how the layer's
 * transparent borders look on the canvas. */
static void
over_checkerboard (VaeTensor       *rgb,
                   const VaeTensor *alpha)
{
  gfloat       *data = vae_tensor_get_data (rgb);
  const gfloat *a = vae_tensor_peek_data (alpha);
  gsize         height = vae_tensor_get_dim (rgb, 1);
  gsize         width = vae_tensor_get_dim (rgb, 2);
  gsize         n = width * height;
  gsize         x, y, c;

  for (y = 0; y < height; y++)
    for (x = 0; x < width; x++)
      {
        gsize  i = y * width + x;
        gfloat check = ((x / 8 + y / 8) % 2) ? 0.6f : 0.4f;

        for (c = 0; c < 3; c++)
          data[c * n + i] = data[c * n + i] * a[i] + check * (1.0f - a[i]);
      }
}

/* The real decode, as OK makes it, scaled down to the preview: shrunk
 * latents would decode washed out and blurry. */
static gboolean
decode_preview_render (VaeUiRender  *render,
                       gpointer      data,
                       GError      **error)
{
  DecodePreviewJob     *job     = data;
  g_autoptr (VaeTensor) content = NULL;
  g_autoptr (VaeTensor) alpha   = NULL;
  g_autoptr (VaeTensor) placed  = NULL;
  g_autoptr (VaeTensor) placed_alpha = NULL;
  g_autoptr (VaeTensor) small   = NULL;
  g_autoptr (VaeTensor) small_alpha = NULL;
  gdouble               scale;
  gint                  width, height;

  content = decode_content (job->model, job->latent, &job->geometry,
                            job->resample,
                            vae_ui_render_get_cancellable (render),
                            NULL, NULL, error);
  if (content == NULL)
    return FALSE;

  alpha = opaque_alpha (&job->geometry, error);
  placed = alpha != NULL ? place (content, &job->geometry, error) : NULL;
  placed_alpha = placed != NULL ? place (alpha, &job->geometry, error) : NULL;
  if (placed_alpha == NULL)
    return FALSE;

  scale = MIN (1.0, (gdouble) PREVIEW_SIDE / MAX (job->geometry.width,
                                                  job->geometry.height));
  width = MAX (1, (gint) lround (job->geometry.width * scale));
  height = MAX (1, (gint) lround (job->geometry.height * scale));
  small = vae_image_resize (placed, width, height, error);
  small_alpha = small != NULL ? vae_image_resize (placed_alpha, width, height,
                                                  error)
                              : NULL;
  if (small_alpha == NULL)
    return FALSE;

  over_checkerboard (small, small_alpha);
  vae_plugin_render_picture (render, 0, small);

  return TRUE;
}

static void
decode_update_preview (DecodeDialog *dialog)
{
  VaeModel         *model = vae_plugin_model_choice_get_model (dialog->choice);
  DecodePreviewJob *job;
  gint              source_width;
  gint              source_height;
  gint              width;
  gint              height;
  gint              size_mode;

  if (model == NULL || dialog->latent == NULL)
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->preview));
      return;
    }

  g_object_get (dialog->config, "width", &width, "height", &height, NULL);
  size_mode = gimp_procedure_config_get_choice_id (dialog->config, "size");
  encoded_size (model, dialog->latent, &source_width, &source_height);
  if (size_mode == SIZE_1024)
    width = height = 1024;
  else if (size_mode == SIZE_ORIGINAL)
    width = source_width, height = source_height;

  job = g_new0 (DecodePreviewJob, 1);
  job->model    = vae_model_ref (model);
  job->latent   = vae_latent_ref (dialog->latent);
  job->resample = gimp_procedure_config_get_choice_id (dialog->config,
                                                       "resample");
  job->geometry = compute_geometry (source_width, source_height, width,
                                    height,
                                    gimp_procedure_config_get_choice_id (dialog->config,
                                                                         "aspect"));

  vae_ui_preview_render (VAE_UI_PREVIEW (dialog->preview),
                         decode_preview_render, job, decode_preview_job_free);
}

static void
decode_model_changed (VaeModel *model,
                      gpointer  data)
{
  decode_update_preview (data);
}

/* Reads the latents the config points at now (main thread only). */
static void
decode_load_latents (DecodeDialog *dialog)
{
  GimpDrawable *drawable;
  GError       *error = NULL;
  gchar        *name  = NULL;
  gboolean      from_file;

  g_clear_pointer (&dialog->latent, vae_latent_unref);

  dialog->latent = decode_source (dialog->config, dialog->drawables,
                                  &drawable, &name, &from_file, &error);
  g_free (name);
  if (error != NULL)
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->preview));
      vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->preview),
                                  error->message);
      g_error_free (error);
    }
}

static void
decode_config_notify (GObject      *config,
                      GParamSpec   *pspec,
                      DecodeDialog *dialog)
{
  if (g_strcmp0 (pspec->name, "latent-file") == 0)
    {
      decode_load_latents (dialog);
      /* Checks the model against the new latents, then previews. */
      vae_plugin_model_choice_set_latent (dialog->choice, dialog->latent);
    }
  else if (g_strcmp0 (pspec->name, "model") != 0)
    {
      decode_update_preview (dialog);
    }
}

static gboolean
decode_dialog (const VaePluginRun *run)
{
  DecodeDialog  state = { run->config, run->drawables, NULL, NULL, NULL };
  GtkWidget    *dialog;
  GtkWidget    *box;
  GValue        custom = G_VALUE_INIT;
  const gchar  *size_properties[] = { "width", "height" };
  gsize         i;
  gboolean      accepted;

  dialog = gimp_procedure_dialog_new (run->procedure, run->config,
                                      _("Decode Latents to New Layer"));
  box = gimp_procedure_dialog_fill_box (GIMP_PROCEDURE_DIALOG (dialog),
                                        "custom-size-box",
                                        "width", "height", NULL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (box),
                                  GTK_ORIENTATION_HORIZONTAL);
  /* Width and height only matter for a custom size. */
  g_value_init (&custom, G_TYPE_STRING);
  g_value_set_static_string (&custom, "custom");
  for (i = 0; i < G_N_ELEMENTS (size_properties); i++)
    gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog),
                                               size_properties[i], NULL,
                                               "size",
                                               gimp_value_array_new_from_values (&custom, 1),
                                               TRUE);
  g_value_unset (&custom);
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "latent-file", "size", "custom-size-box",
                              "aspect", "resample", "alpha", NULL);

  state.preview = vae_ui_preview_new (1, PREVIEW_SIDE);
  decode_load_latents (&state);
  state.choice = vae_plugin_model_choice_new (run->config, 0, 0, state.latent,
                                              decode_model_changed, &state);
  vae_plugin_dialog_pack (dialog, state.choice, 0);
  vae_plugin_dialog_pack (dialog, state.preview, -1);
  decode_update_preview (&state);

  accepted = vae_plugin_dialog_run_watching (dialog, run->config,
                                             G_CALLBACK (decode_config_notify),
                                             &state);
  vae_latent_unref (state.latent);

  return accepted;
}
