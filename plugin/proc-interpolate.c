/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filters ▸ VAE ▸ Interpolate Between Layers: walks from one layer's
 * latents to another's in N steps and decodes each step into a frame of a
 * layer group, named for GIMP's animation playback ("frame 3 (100ms)").
 * Either end may be a latent-carrying layer or a plain one (encoded on the
 * way).  The second end is resampled to the first one's size, in pixels
 * before encoding or, for latents, in latent space.
 */

#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

#define STRIP_FRAMES  8
#define STRIP_SIDE    96

enum
{
  METHOD_LERP,
  METHOD_SLERP
};

/* One end of the interpolation: its latents, or its pixels to encode.
 * For a preview (@max_side > 0) latents are decoded and their picture
 * shrunk and encoded again, like a plain layer's: shrinking the latents
 * themselves decodes washed out, so one end would look unlike the other
 * and unlike the result. */
typedef struct
{
  VaeLatent *latent;
  VaeTensor *image;
  gchar     *name;
  guint      max_side;
} Endpoint;

static GimpValueArray * interpolate_run    (const VaePluginRun   *run);
static gboolean         interpolate_dialog (const VaePluginRun   *run,
                                            GimpDrawable         *first,
                                            GimpDrawable         *second);

GimpProcedure *
vae_interpolate_procedure_new (GimpPlugIn  *plug_in,
                               const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_plugin_image_procedure_new (plug_in, name, interpolate_run,
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLE |
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLES,
                                              _("_Interpolate Between "
                                                "Layers..."),
                                              _("Morph between two layers "
                                                "through latent space"),
                                              _("Interpolates between the "
                                                "latents of two layers (the "
                                                "two selected, or the "
                                                "selected one and a chosen "
                                                "one) and decodes each step "
                                                "into a frame of a new layer "
                                                "group, ready for Filters ▸ "
                                                "Animation ▸ Playback."));
  gimp_procedure_add_layer_argument (procedure, "second-layer",
                                     _("S_econd layer"),
                                     _("The other end when only one layer "
                                       "is selected"),
                                     TRUE,
                                     G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "steps",
                                   _("_Frames"),
                                   _("Number of frames, both ends included"),
                                   2, 256, 8,
                                   G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument (procedure, "method",
                                      _("_Path"),
                                      _("Straight line, or along the sphere "
                                        "(keeps the latents' magnitude)"),
                                      gimp_choice_new_with_values (
                                        "lerp", METHOD_LERP,
                                        _("Linear (lerp)"), NULL,
                                        "slerp", METHOD_SLERP,
                                        _("Spherical (slerp)"), NULL,
                                        NULL),
                                      "slerp",
                                      G_PARAM_READWRITE);
  vae_plugin_add_aspect_argument (procedure,
                                  _("How the second layer takes the first "
                                    "one's shape when they differ"));
  gimp_procedure_add_int_argument (procedure, "frame-delay",
                                   _("Frame _delay (ms)"),
                                   _("Delay of each frame in the animation"),
                                   1, 60000, 100,
                                   G_PARAM_READWRITE);

  gimp_procedure_add_group_layer_return_value (procedure, "group",
                                               _("Group"),
                                               _("The layer group holding "
                                                 "the frames"),
                                               FALSE,
                                               G_PARAM_READWRITE);
  gimp_procedure_add_int_return_value (procedure, "n-frames",
                                       _("Frames"),
                                       _("Number of frames made"),
                                       0, G_MAXINT, 0,
                                       G_PARAM_READWRITE);

  return procedure;
}

static void
endpoint_clear (Endpoint *endpoint)
{
  g_clear_pointer (&endpoint->latent, vae_latent_unref);
  g_clear_pointer (&endpoint->image, vae_tensor_unref);
  g_clear_pointer (&endpoint->name, g_free);
}

/* Reads what the interpolation needs of a layer.  Main thread only.
 * @max_side limits the pixels or latents kept (0: all), for previews.
 */
static gboolean
endpoint_read (GimpDrawable  *drawable,
               guint          max_side,
               Endpoint      *endpoint,
               GError       **error)
{
  VaePluginPixels pixels;

  memset (endpoint, 0, sizeof (Endpoint));
  endpoint->name = vae_plugin_base_name (gimp_item_get_name (GIMP_ITEM (drawable)));
  endpoint->max_side = max_side;

  if (vae_plugin_latent_has (GIMP_ITEM (drawable)))
    {
      endpoint->latent = vae_plugin_latent_get (GIMP_ITEM (drawable), error);

      return endpoint->latent != NULL;
    }

  if (! vae_plugin_pixels_read (drawable, FALSE, &pixels, error))
    return FALSE;
  endpoint->image = max_side > 0 ?
                    vae_image_shrink (pixels.rgb, max_side, 1, error) :
                    vae_tensor_ref (pixels.rgb);
  vae_plugin_pixels_clear (&pixels);

  return endpoint->image != NULL;
}

/* The latents of an endpoint; its pixels are brought to @width × @height
 * first (by @aspect) when those are non-zero.
 */
static VaeLatent *
endpoint_latent (VaeModel           *model,
                 const Endpoint     *endpoint,
                 gsize               width,
                 gsize               height,
                 gint                aspect,
                 GCancellable       *cancellable,
                 VaePluginProgress  *progress,
                 GError            **error)
{
  g_autoptr (VaeTensor) image = NULL;
  g_autoptr (VaeTensor) decoded = NULL;
  VaeLatent            *latent = NULL;

  if (endpoint->latent != NULL)
    {
      if (! vae_plugin_check_latent_model (model, endpoint->latent, NULL))
        {
          /* Interpolating needs both ends in one model's latent space;
           * the fix is to encode this end's picture again. */
          g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                       _("“%s” carries latents of another model than %s, "
                         "and latents of two models cannot be "
                         "interpolated.  Encode the picture of “%s” again "
                         "with %s, or use its source layer."),
                       endpoint->name, vae_plugin_model_label (model),
                       endpoint->name, vae_plugin_model_label (model));
          return NULL;
        }
      if (endpoint->max_side == 0)
        return vae_latent_ref (endpoint->latent);

      if (! vae_model_decode (model, endpoint->latent, &decoded, NULL,
                              cancellable, NULL, NULL, error))
        return NULL;
      image = vae_image_shrink (decoded, endpoint->max_side, 1, error);
      if (image == NULL)
        return NULL;
    }

  if (! vae_model_can_encode (model))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   _("“%s” carries no latents and the model “%s” has no "
                     "encoder."),
                   endpoint->name, vae_plugin_model_label (model));
      return NULL;
    }

  if (image == NULL)
    image = vae_tensor_ref (endpoint->image);
  if (width > 0 && height > 0)
    {
      VaeTensor *fitted = vae_plugin_tensor_fit (image, width, height,
                                                 aspect, error);

      vae_tensor_unref (image);
      image = fitted;
      if (image == NULL)
        return NULL;
    }

  vae_model_encode (model, image, &latent, NULL, cancellable,
                    progress != NULL ? vae_plugin_progress_func : NULL,
                    progress, error);

  return latent;
}

/* Both ends as latents of the same shape. */
static gboolean
both_latents (VaeModel           *model,
              const Endpoint     *a,
              const Endpoint     *b,
              gint                aspect,
              GCancellable       *cancellable,
              VaePluginProgress  *progress,
              VaeLatent         **latent_a,
              VaeLatent         **latent_b,
              GError            **error)
{
  g_autoptr (VaeLatent) la = NULL;
  g_autoptr (VaeLatent) lb = NULL;
  guint                 width = 0;
  guint                 height = 0;

  if (progress != NULL)
    vae_plugin_progress_span (progress, 0.0, 0.15);
  la = endpoint_latent (model, a, 0, 0, aspect, cancellable, progress, error);
  if (la == NULL)
    return FALSE;

  if (! vae_latent_get_image_size (la, &width, &height))
    {
      width = vae_latent_get_width (la) * vae_model_get_factor (model);
      height = vae_latent_get_height (la) * vae_model_get_factor (model);
    }
  if (progress != NULL)
    vae_plugin_progress_span (progress, 0.15, 0.3);
  lb = endpoint_latent (model, b, width, height, aspect, cancellable,
                        progress, error);
  if (lb == NULL)
    return FALSE;

  *latent_b = vae_plugin_latent_fit (lb, vae_latent_get_width (la),
                                     vae_latent_get_height (la), aspect,
                                     error);
  if (*latent_b == NULL)
    return FALSE;
  *latent_a = g_steal_pointer (&la);

  return TRUE;
}

static VaeLatent *
frame_latent (const VaeLatent  *a,
              const VaeLatent  *b,
              gdouble           t,
              gint              method,
              GError          **error)
{
  if (method == METHOD_SLERP)
    return vae_latent_slerp (a, b, t, error);

  return vae_latent_lerp (a, b, t, error);
}

static GimpDrawable *
second_layer (GimpDrawable        **drawables,
              GimpProcedureConfig  *config)
{
  GimpLayer *second = NULL;

  if (drawables[1] != NULL)
    return drawables[1];

  g_object_get (config, "second-layer", &second, NULL);
  if (second != NULL)
    g_object_unref (second);   /* the image keeps it alive */

  return GIMP_DRAWABLE (second);
}

static GimpValueArray *
interpolate_run (const VaePluginRun *run)
{
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeLatent) la    = NULL;
  g_autoptr (VaeLatent) lb    = NULL;
  GimpValueArray       *return_values;
  GimpDrawable         *first;
  GimpDrawable         *second;
  GimpGroupLayer       *group;
  GimpLayer            *parent;
  GError               *error = NULL;
  VaePluginProgress     progress;
  Endpoint              a = { NULL, };
  Endpoint              b = { NULL, };
  VaeTensor           **frames = NULL;
  gchar                *name;
  gint                  position;
  gint                  steps;
  gint                  delay;
  gint                  method;
  gint                  aspect;
  gint                  offset_x;
  gint                  offset_y;
  gint                  i;

  if (run->drawables == NULL || run->drawables[0] == NULL ||
      (run->drawables[1] != NULL && run->drawables[2] != NULL))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("Select one or two layers."));
      return vae_plugin_return_error (run->procedure, error);
    }
  first = run->drawables[0];

  if (vae_plugin_interactive (run->run_mode) &&
      ! interpolate_dialog (run, first,
                            run->drawables[1]))
    return vae_plugin_return_cancel (run->procedure);

  second = second_layer (run->drawables, run->config);
  if (second == NULL)
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("Select two layers, or choose the second layer."));
      return vae_plugin_return_error (run->procedure, error);
    }
  if (! GIMP_IS_LAYER (first) || GIMP_IS_GROUP_LAYER (first) ||
      ! GIMP_IS_LAYER (second) || GIMP_IS_GROUP_LAYER (second))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("Both ends must be pixel layers."));
      return vae_plugin_return_error (run->procedure, error);
    }

  if (! endpoint_read (first, 0, &a, &error) ||
      ! endpoint_read (second, 0, &b, &error))
    goto fail;

  model = a.latent != NULL ?
          vae_plugin_config_load_model_for (run->config, a.latent, &error) :
          vae_plugin_config_load_model (run->config, &error);
  if (model == NULL)
    goto fail;

  g_object_get (run->config,
                "steps",       &steps,
                "frame-delay", &delay,
                NULL);
  method = gimp_procedure_config_get_choice_id (run->config, "method");
  aspect = gimp_procedure_config_get_choice_id (run->config, "aspect");

  gimp_progress_init_printf (_("Interpolating with %s"),
                             vae_plugin_model_label (model));
  if (! both_latents (model, &a, &b, aspect, NULL, &progress, &la, &lb,
                      &error))
    goto fail;

  frames = g_new0 (VaeTensor *, steps);
  for (i = 0; i < steps; i++)
    {
      g_autoptr (VaeLatent) step = NULL;

      step = frame_latent (la, lb, (gdouble) i / (steps - 1), method, &error);
      vae_plugin_progress_span (&progress,
                                0.3 + 0.7 * i / steps,
                                0.3 + 0.7 * (i + 1) / steps);
      if (step == NULL ||
          ! vae_model_decode (model, step, &frames[i], NULL, NULL,
                              vae_plugin_progress_func, &progress, &error))
        goto fail;
    }

  gimp_image_undo_group_start (run->image);
  name = g_strdup_printf (_("%s → %s (%s)"), a.name, b.name,
                          vae_plugin_model_label (model));
  group = gimp_group_layer_new (run->image, name);
  g_free (name);
  vae_plugin_position_above (run->image, GIMP_ITEM (first), &parent,
                             &position);
  gimp_image_insert_layer (run->image, GIMP_LAYER (group), parent, position);
  gimp_drawable_get_offsets (first, &offset_x, &offset_y);

  /* Playback shows the bottom layer first. */
  for (i = 0; i < steps && error == NULL; i++)
    {
      GimpLayer *layer;

      /* TRANSLATORS: a frame of an animation; keep "(%dms)" as it is,
       * GIMP's animation playback reads the frame delay from it.
       */
      gchar *unique;

      name = g_strdup_printf (_("frame %d (%dms)"), i + 1, delay);
      /* A second animation's frames get "[2]" before the delay, where
       * GIMP would append " #1" after it. */
      unique = vae_plugin_unique_name (run->image, name,
                                       g_strrstr (name, " ("));
      layer = vae_plugin_layer_add (run->image, unique, frames[i], NULL,
                                    GIMP_LAYER (group), 0, &error);
      g_free (unique);
      g_free (name);
      if (layer != NULL)
        gimp_layer_set_offsets (layer, offset_x, offset_y);
    }
  gimp_image_undo_group_end (run->image);
  if (error != NULL)
    goto fail;

  gimp_progress_update (1.0);
  for (i = 0; i < steps; i++)
    vae_tensor_unref (frames[i]);
  g_free (frames);
  endpoint_clear (&a);
  endpoint_clear (&b);

  return_values = gimp_procedure_new_return_values (run->procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_GROUP_LAYER (return_values, 1, group);
  GIMP_VALUES_SET_INT (return_values, 2, steps);

  return return_values;

 fail:
  if (frames != NULL)
    {
      for (i = 0; i < steps; i++)
        vae_tensor_unref (frames[i]);
      g_free (frames);
    }
  endpoint_clear (&a);
  endpoint_clear (&b);

  return vae_plugin_return_error (run->procedure, error);
}


/*  Below is only UI stuff  */

typedef struct
{
  GimpProcedureConfig *config;
  GimpDrawable        *fixed_second;   /* the second selected layer */
  GtkWidget           *strip;
  GtkWidget           *choice;
  Endpoint             a;
  Endpoint             b;
  gboolean             a_ok;
  gboolean             b_ok;
  GimpDrawable        *b_drawable;
} InterpolateDialog;

typedef struct
{
  VaeModel *model;
  Endpoint  a;
  Endpoint  b;
  gint      steps;
  gint      method;
  gint      aspect;
  guint     n_slots;
} StripJob;

static void
endpoint_copy (const Endpoint *src,
               Endpoint       *dest)
{
  dest->latent = src->latent != NULL ? vae_latent_ref (src->latent) : NULL;
  dest->image  = src->image != NULL ? vae_tensor_ref (src->image) : NULL;
  dest->name   = g_strdup (src->name);
  dest->max_side = src->max_side;
}

static void
strip_job_free (gpointer data)
{
  StripJob *job = data;

  vae_model_unref (job->model);
  endpoint_clear (&job->a);
  endpoint_clear (&job->b);
  g_free (job);
}

static gboolean
strip_render (VaeUiRender  *render,
              gpointer      data,
              GError      **error)
{
  StripJob             *job         = data;
  GCancellable         *cancellable = vae_ui_render_get_cancellable (render);
  g_autoptr (VaeLatent) la          = NULL;
  g_autoptr (VaeLatent) lb          = NULL;
  guint                 k;

  if (! both_latents (job->model, &job->a, &job->b, job->aspect, cancellable,
                      NULL, &la, &lb, error))
    return FALSE;

  for (k = 0; k < job->n_slots; k++)
    {
      g_autoptr (VaeLatent) step    = NULL;
      g_autoptr (VaeTensor) picture = NULL;
      gint                  frame;

      /* Frames spread evenly over the real sequence, ends included. */
      frame = job->n_slots > 1 ?
              (gint) ((k * (job->steps - 1) + (job->n_slots - 1) / 2) /
                      (job->n_slots - 1)) : 0;
      step = frame_latent (la, lb, (gdouble) frame / (job->steps - 1),
                           job->method, error);
      if (step == NULL ||
          ! vae_model_decode (job->model, step, &picture, NULL,
                              cancellable, NULL, NULL, error))
        return FALSE;

      vae_plugin_render_picture (render, k, picture);
    }

  return TRUE;
}

static void
interpolate_update_strip (InterpolateDialog *dialog)
{
  VaeModel     *model = vae_plugin_model_choice_get_model (dialog->choice);
  GimpDrawable *second;
  StripJob     *job;
  GError       *error = NULL;
  gint          steps;

  second = dialog->fixed_second;
  if (second == NULL)
    {
      GimpLayer *layer = NULL;

      g_object_get (dialog->config, "second-layer", &layer, NULL);
      second = GIMP_DRAWABLE (layer);
      if (layer != NULL)
        g_object_unref (layer);
    }

  if (second != dialog->b_drawable)
    {
      endpoint_clear (&dialog->b);
      dialog->b_ok = FALSE;
      dialog->b_drawable = second;
      if (second != NULL && GIMP_IS_LAYER (second) &&
          ! GIMP_IS_GROUP_LAYER (second))
        {
          dialog->b_ok = endpoint_read (second, STRIP_SIDE, &dialog->b,
                                        &error);
          if (! dialog->b_ok)
            {
              vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->strip),
                                          error->message);
              g_clear_error (&error);
            }
        }
    }

  g_object_get (dialog->config, "steps", &steps, NULL);
  vae_ui_preview_set_n_slots (VAE_UI_PREVIEW (dialog->strip),
                              MIN (steps, STRIP_FRAMES));

  if (model == NULL || ! dialog->a_ok || ! dialog->b_ok)
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->strip));
      if (dialog->a_ok && dialog->b_drawable == NULL)
        vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->strip),
                                    _("Choose the second layer."));
      return;
    }

  job = g_new0 (StripJob, 1);
  job->model   = vae_model_ref (model);
  job->steps   = steps;
  job->method  = gimp_procedure_config_get_choice_id (dialog->config,
                                                      "method");
  job->aspect  = gimp_procedure_config_get_choice_id (dialog->config,
                                                      "aspect");
  job->n_slots = MIN (steps, STRIP_FRAMES);
  endpoint_copy (&dialog->a, &job->a);
  endpoint_copy (&dialog->b, &job->b);

  vae_ui_preview_render (VAE_UI_PREVIEW (dialog->strip),
                         strip_render, job, strip_job_free);
}

static void
interpolate_model_changed (VaeModel *model,
                           gpointer  data)
{
  interpolate_update_strip (data);
}

static void
interpolate_config_notify (GObject           *config,
                           GParamSpec        *pspec,
                           InterpolateDialog *dialog)
{
  if (g_strcmp0 (pspec->name, "model") != 0 &&
      g_strcmp0 (pspec->name, "frame-delay") != 0)
    interpolate_update_strip (dialog);
}

/* @second: the second selected layer, or %NULL to choose one */
static gboolean
interpolate_dialog (const VaePluginRun *run,
                    GimpDrawable       *first,
                    GimpDrawable       *second)
{
  InterpolateDialog  state;
  GtkWidget         *dialog;
  VaeLatent         *latent = NULL;
  GError            *error = NULL;
  gboolean           accepted;

  memset (&state, 0, sizeof (state));
  state.config       = run->config;
  state.fixed_second = second;
  state.a_ok = endpoint_read (first, STRIP_SIDE, &state.a, &error);
  if (vae_plugin_latent_has (GIMP_ITEM (first)))
    latent = vae_plugin_latent_get (GIMP_ITEM (first), NULL);

  dialog = gimp_procedure_dialog_new (run->procedure, run->config,
                                      _("Interpolate Between Layers"));
  if (second != NULL)
    gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                                "steps", "method", "aspect", "frame-delay",
                                NULL);
  else
    gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                                "second-layer", "steps", "method", "aspect",
                                "frame-delay", NULL);

  state.strip = vae_ui_preview_new (STRIP_FRAMES, STRIP_SIDE);
  if (! state.a_ok)
    {
      vae_ui_preview_set_message (VAE_UI_PREVIEW (state.strip),
                                  error->message);
      g_clear_error (&error);
    }
  state.choice = vae_plugin_model_choice_new (run->config,
                                              gimp_drawable_get_width (first),
                                              gimp_drawable_get_height (first),
                                              latent,
                                              interpolate_model_changed,
                                              &state);
  vae_latent_unref (latent);
  vae_plugin_dialog_pack (dialog, state.choice, 0);
  vae_plugin_dialog_pack (dialog, state.strip, -1);
  interpolate_update_strip (&state);

  accepted = vae_plugin_dialog_run_watching (dialog, run->config,
                                             G_CALLBACK (interpolate_config_notify),
                                             &state);
  endpoint_clear (&state.a);
  endpoint_clear (&state.b);

  return accepted;
}
