/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filters ▸ VAE ▸ Edit Latents: changes a latent-carrying layer's latents
 * and decodes the result into a new layer (which carries the edited
 * latents, so edits can be chained).  In order: mix with another layer's
 * latents, global and per-channel gain and offset, seeded noise.
 *
 * The dialog's live preview applies the same edits to latents scaled down
 * to about 256 pixels of output and decodes those in a worker thread; a
 * new change cancels the running preview.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

#define PREVIEW_SIDE 256

typedef struct
{
  gdouble   gain;
  gdouble   offset;
  gdouble  *channel_gains;
  gsize     n_channel_gains;
  gdouble  *channel_offsets;
  gsize     n_channel_offsets;
  gint      seed;
  gdouble   strength;
  gdouble   mix_amount;
  gint      aspect;
} EditParams;

static GimpValueArray * edit_run    (const VaePluginRun   *run);
static gboolean         edit_dialog (const VaePluginRun   *run,
                                     GimpDrawable         *drawable,
                                     VaeLatent            *latent);

GimpProcedure *
vae_edit_procedure_new (GimpPlugIn  *plug_in,
                        const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_plugin_image_procedure_new (plug_in, name, edit_run,
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLE,
                                              _("Edit _Latents..."),
                                              _("Edit a layer's latents and "
                                                "decode them"),
                                              _("Mixes the latents of the "
                                                "selected layer with another "
                                                "layer's, applies a gain and "
                                                "offset (global and per "
                                                "channel) and seeded noise, "
                                                "and decodes the result into "
                                                "a new layer that carries the "
                                                "edited latents."));
  gimp_procedure_add_double_argument (procedure, "gain",
                                      _("_Gain"),
                                      _("Multiplies every latent value"),
                                      -4.0, 4.0, 1.0,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "offset",
                                      _("O_ffset"),
                                      _("Added to every latent value"),
                                      -4.0, 4.0, 0.0,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_double_array_argument (procedure, "channel-gains",
                                            _("Channel gains"),
                                            _("One gain per latent channel, "
                                              "or empty"),
                                            G_PARAM_READWRITE);
  gimp_procedure_add_double_array_argument (procedure, "channel-offsets",
                                            _("Channel offsets"),
                                            _("One offset per latent "
                                              "channel, or empty"),
                                            G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "noise-seed",
                                   _("Noise s_eed"),
                                   _("Seed of the Gaussian noise"),
                                   0, G_MAXINT, 0,
                                   G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "noise-strength",
                                      _("_Noise"),
                                      _("Standard deviation of the noise "
                                        "added to the latents"),
                                      0.0, 4.0, 0.0,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_layer_argument (procedure, "mix-layer",
                                     _("M_ix with"),
                                     _("A latent-carrying layer to mix in "
                                       "(optional)"),
                                     TRUE,
                                     G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "mix-amount",
                                      _("Mix _amount"),
                                      _("How much of the other layer's "
                                        "latents: 0 none, 1 all"),
                                      0.0, 1.0, 0.5,
                                      G_PARAM_READWRITE);
  vae_plugin_add_aspect_argument (procedure,
                                  _("How the mixed layer's latents take this "
                                    "layer's shape when they differ"));

  vae_plugin_add_layer_return_value (procedure, _("The decoded layer"));

  return procedure;
}

static void
params_read (GimpProcedureConfig *config,
             EditParams          *params)
{
  g_object_get (config,
                "gain",           &params->gain,
                "offset",         &params->offset,
                "noise-seed",     &params->seed,
                "noise-strength", &params->strength,
                "mix-amount",     &params->mix_amount,
                NULL);
  params->aspect = gimp_procedure_config_get_choice_id (config, "aspect");
  params->channel_gains =
    vae_ui_config_dup_doubles (G_OBJECT (config), "channel-gains",
                               &params->n_channel_gains);
  params->channel_offsets =
    vae_ui_config_dup_doubles (G_OBJECT (config), "channel-offsets",
                               &params->n_channel_offsets);
}

static void
params_clear (EditParams *params)
{
  g_clear_pointer (&params->channel_gains, g_free);
  g_clear_pointer (&params->channel_offsets, g_free);
}

static gboolean
check_channels (gsize         given,
                guint         channels,
                const gchar  *what,
                GError      **error)
{
  if (given != 0 && given != channels)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("%s: %u values given, but the latents have %u "
                     "channels."),
                   what, (guint) given, channels);
      return FALSE;
    }

  return TRUE;
}

static VaeLatent *
apply_edits (const VaeLatent   *latent,
             VaeLatent         *mix,
             const EditParams  *params,
             GError           **error)
{
  g_autoptr (VaeLatent) current = vae_latent_ref ((VaeLatent *) latent);
  guint                 channels = vae_latent_get_channels (latent);
  VaeLatent            *next;

  if (! check_channels (params->n_channel_gains, channels,
                        _("Channel gains"), error) ||
      ! check_channels (params->n_channel_offsets, channels,
                        _("Channel offsets"), error))
    return NULL;

  if (mix != NULL && params->mix_amount > 0.0)
    {
      /* The other layer's latents at this layer's size. */
      g_autoptr (VaeLatent) partner = vae_plugin_latent_fit (mix,
                                                             vae_latent_get_width (current),
                                                             vae_latent_get_height (current),
                                                             params->aspect,
                                                             error);
      gdouble              *weights;
      guint                 i;

      if (partner == NULL)
        return NULL;
      weights = g_new (gdouble, channels);
      for (i = 0; i < channels; i++)
        weights[i] = params->mix_amount;
      next = vae_latent_mix (current, partner, weights, error);
      g_free (weights);
      if (next == NULL)
        return NULL;
      vae_latent_unref (current);
      current = next;
    }

  if (params->gain != 1.0 || params->offset != 0.0 ||
      params->n_channel_gains > 0 || params->n_channel_offsets > 0)
    {
      next = vae_latent_adjust (current, params->gain, params->offset,
                                params->n_channel_gains > 0 ?
                                params->channel_gains : NULL,
                                params->n_channel_offsets > 0 ?
                                params->channel_offsets : NULL,
                                error);
      if (next == NULL)
        return NULL;
      vae_latent_unref (current);
      current = next;
    }

  if (params->strength > 0.0)
    {
      next = vae_latent_add_noise (current, params->seed, params->strength,
                                   error);
      if (next == NULL)
        return NULL;
      vae_latent_unref (current);
      current = next;
    }

  return g_steal_pointer (&current);
}

static VaeLatent *
mix_latent_from_config (GimpProcedureConfig  *config,
                        VaeModel             *model,
                        GError              **error)
{
  GimpLayer *layer = NULL;
  VaeLatent *mix;

  g_object_get (config, "mix-layer", &layer, NULL);
  if (layer == NULL)
    return NULL;

  if (! vae_plugin_latent_has (GIMP_ITEM (layer)))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The layer to mix in, “%s”, carries no latents.  Encode "
                     "it first with Filters ▸ VAE ▸ Encode Layer to Latents."),
                   gimp_item_get_name (GIMP_ITEM (layer)));
      g_object_unref (layer);
      return NULL;
    }
  mix = vae_plugin_latent_get (GIMP_ITEM (layer), error);
  if (mix != NULL && ! vae_plugin_check_latent_model (model, mix, NULL))
    {
      /* Latents of two models cannot be mixed: the fix is to encode the
       * other layer's picture with this model. */
      g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                   _("The layer to mix in, “%s”, carries latents of another "
                     "model than %s.  Encode its picture again with %s, "
                     "then mix."),
                   gimp_item_get_name (GIMP_ITEM (layer)),
                   vae_plugin_model_label (model),
                   vae_plugin_model_label (model));
      g_clear_pointer (&mix, vae_latent_unref);
    }
  g_object_unref (layer);

  return mix;
}

static GimpValueArray *
edit_run (const VaePluginRun *run)
{
  g_autoptr (VaeModel)  model   = NULL;
  g_autoptr (VaeLatent) latent  = NULL;
  g_autoptr (VaeLatent) mix     = NULL;
  g_autoptr (VaeLatent) edited  = NULL;
  g_autoptr (VaeTensor) picture = NULL;
  g_autoptr (VaeTensor) alpha   = NULL;
  GimpDrawable         *drawable;
  GimpLayer            *layer = NULL;
  GimpLayer            *parent;
  GError               *error  = NULL;
  EditParams            params = { 0, };
  VaePluginProgress     progress;
  gchar                *name;
  gchar                *base;
  gint                  position;
  gint                  x, y;

  drawable = vae_plugin_single_drawable (run->drawables, &error);
  if (drawable == NULL)
    return vae_plugin_return_error (run->procedure, error);
  /* Edit has no file to offer, unlike Decode. */
  if (! vae_plugin_latent_has (GIMP_ITEM (drawable)))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("The layer “%s” carries no latents.  Encode it first "
                     "with Filters ▸ VAE ▸ Encode Layer to Latents, or open "
                     "a .latent file with File ▸ Open."),
                   gimp_item_get_name (GIMP_ITEM (drawable)));
      return vae_plugin_return_error (run->procedure, error);
    }
  if ((latent = vae_plugin_latent_get (GIMP_ITEM (drawable), &error)) == NULL)
    return vae_plugin_return_error (run->procedure, error);

  if (vae_plugin_interactive (run->run_mode) &&
      ! edit_dialog (run, drawable, latent))
    return vae_plugin_return_cancel (run->procedure);

  model = vae_plugin_config_load_model_for (run->config, latent, &error);
  if (model == NULL)
    return vae_plugin_return_error (run->procedure, error);

  mix = mix_latent_from_config (run->config, model, &error);
  if (error != NULL)
    return vae_plugin_return_error (run->procedure, error);

  params_read (run->config, &params);
  edited = apply_edits (latent, mix, &params, &error);
  params_clear (&params);
  if (edited == NULL)
    return vae_plugin_return_error (run->procedure, error);

  gimp_progress_init_printf (_("Decoding edited latents with %s"),
                             vae_plugin_model_label (model));
  vae_plugin_progress_span (&progress, 0.0, 0.95);
  if (! vae_model_decode (model, edited, &picture, NULL, NULL,
                          vae_plugin_progress_func, &progress, &error))
    return vae_plugin_return_error (run->procedure, error);

  /* The latent layer's alpha is the encoded layer's. */
  if (gimp_drawable_has_alpha (drawable))
    {
      VaePluginPixels pixels;

      if (! vae_plugin_pixels_read (drawable, FALSE, &pixels, &error))
        return vae_plugin_return_error (run->procedure, error);
      alpha = vae_plugin_alpha_fit (pixels.alpha,
                                    vae_tensor_get_dim (picture, 2),
                                    vae_tensor_get_dim (picture, 1), &error);
      vae_plugin_pixels_clear (&pixels);
      if (alpha == NULL)
        return vae_plugin_return_error (run->procedure, error);
    }

  base = vae_plugin_base_name (gimp_item_get_name (GIMP_ITEM (drawable)));
  name = g_strdup_printf (_("%s (edited, %s)"), base,
                          vae_plugin_model_label (model));
  g_free (base);
  gimp_image_undo_group_start (run->image);
  vae_plugin_position_above (run->image, GIMP_ITEM (drawable),
                             &parent, &position);
  layer = vae_plugin_layer_add (run->image, name, picture, alpha, parent,
                                position, &error);
  if (layer != NULL)
    {
      gimp_drawable_get_offsets (drawable, &x, &y);
      gimp_layer_set_offsets (layer, x, y);
      if (! vae_plugin_latent_attach (GIMP_ITEM (layer), edited, &error))
        {
          gimp_image_remove_layer (run->image, layer);
          layer = NULL;
        }
    }
  gimp_image_undo_group_end (run->image);
  g_free (name);

  if (layer == NULL)
    return vae_plugin_return_error (run->procedure, error);

  return vae_plugin_return_layer (run->procedure, layer);
}


/*  Below is only UI stuff  */

typedef struct
{
  GimpProcedureConfig *config;
  GtkWidget           *preview;
  GtkWidget           *choice;
  VaeLatent           *latent;
} EditDialog;

typedef struct
{
  VaeModel   *model;
  VaeLatent  *latent;
  VaeLatent  *mix;
  EditParams  params;
} EditPreviewJob;

static void
edit_preview_job_free (gpointer data)
{
  EditPreviewJob *job = data;

  vae_model_unref (job->model);
  vae_latent_unref (job->latent);
  vae_latent_unref (job->mix);
  params_clear (&job->params);
  g_free (job);
}

/* The middle of @latent, as many latents as make PREVIEW_SIDE pixels. */
static VaeLatent *
middle (const VaeLatent  *latent,
        guint             factor,
        GError          **error)
{
  g_autoptr (VaeTensor) tensor = NULL;
  guint                 width = vae_latent_get_width (latent);
  guint                 height = vae_latent_get_height (latent);
  guint                 side = MAX (1, PREVIEW_SIDE / MAX (factor, 1));
  guint                 w = MIN (width, side);
  guint                 h = MIN (height, side);
  VaeLatent            *crop;

  tensor = vae_image_crop (vae_latent_get_tensor (latent), (width - w) / 2,
                           (height - h) / 2, w, h, error);
  if (tensor == NULL)
    return NULL;
  crop = vae_latent_new (tensor, error);
  if (crop != NULL)
    vae_latent_set_model (crop, vae_latent_get_model_id (latent),
                          vae_latent_get_model_hash (latent));

  return crop;
}

/* The edits are made on all the latents, as OK makes them (the noise is
 * the same draw); only the middle is decoded, at 100 %: shrunk latents
 * decode washed out and blurry, unlike the result. */
static gboolean
edit_preview_render (VaeUiRender  *render,
                     gpointer      data,
                     GError      **error)
{
  EditPreviewJob       *job     = data;
  g_autoptr (VaeLatent) edited  = NULL;
  g_autoptr (VaeLatent) part    = NULL;
  g_autoptr (VaeTensor) picture = NULL;

  edited = apply_edits (job->latent, job->mix, &job->params, error);
  if (edited == NULL)
    return FALSE;
  part = middle (edited, vae_model_get_factor (job->model), error);
  if (part == NULL)
    return FALSE;

  if (! vae_model_decode (job->model, part, &picture, NULL,
                          vae_ui_render_get_cancellable (render),
                          NULL, NULL, error))
    return FALSE;

  vae_plugin_render_picture (render, 0, picture);
  vae_ui_render_set_message (render, _("The middle of the result, at "
                                       "100 %."));

  return TRUE;
}

static void
edit_update_preview (EditDialog *dialog)
{
  VaeModel       *model = vae_plugin_model_choice_get_model (dialog->choice);
  EditPreviewJob *job;
  GError         *error = NULL;
  VaeLatent      *mix;

  if (model == NULL || dialog->latent == NULL)
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->preview));
      return;
    }

  /* Read in the main thread: the worker must not call libgimp. */
  mix = mix_latent_from_config (dialog->config, model, &error);
  if (error != NULL)
    {
      vae_ui_preview_cancel (VAE_UI_PREVIEW (dialog->preview));
      vae_ui_preview_set_message (VAE_UI_PREVIEW (dialog->preview),
                                  error->message);
      g_error_free (error);
      return;
    }

  job = g_new0 (EditPreviewJob, 1);
  job->model = vae_model_ref (model);
  job->latent = vae_latent_ref (dialog->latent);
  job->mix    = mix;
  params_read (dialog->config, &job->params);

  vae_ui_preview_render (VAE_UI_PREVIEW (dialog->preview),
                         edit_preview_render, job, edit_preview_job_free);
}

static void
edit_model_changed (VaeModel *model,
                    gpointer  data)
{
  edit_update_preview (data);
}

static void
edit_config_notify (GObject    *config,
                    GParamSpec *pspec,
                    EditDialog *dialog)
{
  if (g_strcmp0 (pspec->name, "model") != 0)
    edit_update_preview (dialog);
}

static gboolean
edit_dialog (const VaePluginRun *run,
             GimpDrawable       *drawable,
             VaeLatent          *latent)
{
  EditDialog  state = { run->config, NULL, NULL, NULL };
  GtkWidget  *dialog;
  GtkWidget  *expander;
  GtkWidget  *channels;
  gboolean    accepted;

  dialog = gimp_procedure_dialog_new (run->procedure, run->config,
                                      _("Edit Latents"));
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "gain", 1.0);
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "offset", 1.0);
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "noise-strength", 1.0);
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "mix-amount", 1.0);
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "gain", "offset", "noise-strength",
                              "noise-seed", "mix-layer", "mix-amount",
                              "aspect", NULL);

  state.preview = vae_ui_preview_new (1, PREVIEW_SIDE);
  state.choice = vae_plugin_model_choice_new (run->config, 0, 0, latent,
                                              edit_model_changed, &state);
  state.latent = vae_latent_ref (latent);

  expander = gtk_expander_new_with_mnemonic (_("_Per-channel gain and "
                                               "offset"));
  channels = vae_ui_channel_editor_new (G_OBJECT (run->config),
                                        "channel-gains", "channel-offsets",
                                        vae_latent_get_channels (latent));
  gtk_container_add (GTK_CONTAINER (expander), channels);
  gtk_widget_show (channels);

  vae_plugin_dialog_pack (dialog, state.choice, 0);
  vae_plugin_dialog_pack (dialog, state.preview, 1);
  vae_plugin_dialog_pack (dialog, expander, -1);
  edit_update_preview (&state);

  accepted = vae_plugin_dialog_run_watching (dialog, run->config,
                                             G_CALLBACK (edit_config_notify),
                                             &state);
  vae_latent_unref (state.latent);

  return accepted;
}
