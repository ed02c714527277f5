/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What every procedure does the same way: menu placement, the model
 * argument, the checks every run starts with, errors at the PDB boundary,
 * progress.
 */

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-models.h"

/**
 * vae_plugin_procedure_setup:
 * @procedure: a procedure of the plug-in
 * @menu_label: (nullable): its menu label; %NULL for one without
 * @blurb: what it does, in one line
 * @help: what it does, in full
 *
 * The documentation and attribution every procedure of the plug-in has.
 */
void
vae_plugin_procedure_setup (GimpProcedure *procedure,
                            const gchar   *menu_label,
                            const gchar   *blurb,
                            const gchar   *help)
{
  if (menu_label != NULL)
    gimp_procedure_set_menu_label (procedure, menu_label);
  gimp_procedure_set_documentation (procedure, blurb, help,
                                    gimp_procedure_get_name (procedure));
  gimp_procedure_set_attribution (procedure,
                                  "The gimp-vae authors",
                                  "The gimp-vae authors",
                                  "2026");
}

static gboolean check_image (GimpImage  *image,
                             GError    **error);

/* Every run of Filters ▸ VAE starts the same way: GEGL (for the pixel
 * formats), and a refusal of indexed images, which autoencoders do not
 * take. */
static GimpValueArray *
image_run (GimpProcedure        *procedure,
           GimpRunMode           run_mode,
           GimpImage            *image,
           GimpDrawable        **drawables,
           GimpProcedureConfig  *config,
           gpointer              run_data)
{
  const VaePluginRunFunc *run_func = run_data;
  VaePluginRun            run = { procedure, run_mode, image, drawables,
                                  config };
  GError                 *error = NULL;

  gegl_init (NULL, NULL);

  if (! check_image (image, &error))
    return vae_plugin_return_error (procedure, error);

  return (* run_func) (&run);
}

/**
 * vae_plugin_image_procedure_new:
 * @plug_in: the plug-in
 * @name: the procedure's name
 * @run: its run function, called after the checks every run makes
 * @sensitivity: when its menu entry is sensitive
 * @menu_label: its menu label under Filters ▸ VAE
 * @blurb: what it does, in one line
 * @help: what it does, in full
 *
 * Returns: (transfer full): a procedure of Filters ▸ VAE whose first
 *   argument is the model.
 */
GimpProcedure *
vae_plugin_image_procedure_new (GimpPlugIn                   *plug_in,
                                const gchar                  *name,
                                VaePluginRunFunc              run,
                                GimpProcedureSensitivityMask  sensitivity,
                                const gchar                  *menu_label,
                                const gchar                  *blurb,
                                const gchar                  *help)
{
  GimpProcedure    *procedure;
  VaePluginRunFunc *run_func = g_new (VaePluginRunFunc, 1);

  *run_func = run;
  procedure = gimp_image_procedure_new (plug_in, name,
                                        GIMP_PDB_PROC_TYPE_PLUGIN,
                                        image_run, run_func, g_free);
  gimp_procedure_set_sensitivity_mask (procedure, sensitivity);
  /* Every image type is accepted so that an indexed image gets a message
   * saying what to do instead of a greyed-out menu entry.
   */
  gimp_procedure_set_image_types (procedure, "*");
  vae_plugin_procedure_setup (procedure, menu_label, blurb, help);
  /* After the label, which GIMP wants before any menu path. */
  gimp_procedure_add_menu_path (procedure, VAE_PLUGIN_MENU_PATH);
  vae_plugin_add_model_argument (procedure);

  return procedure;
}

/* The "layer" return value of the procedures that make one layer. */
void
vae_plugin_add_layer_return_value (GimpProcedure *procedure,
                                   const gchar   *blurb)
{
  gimp_procedure_add_layer_return_value (procedure, "layer",
                                         _("Layer"), blurb,
                                         FALSE,
                                         G_PARAM_READWRITE);
}

void
vae_plugin_add_model_argument (GimpProcedure *procedure)
{
  gimp_procedure_add_string_argument (procedure, "model",
                                      _("_Model"),
                                      _("A model name from the model folders, "
                                        "a path to a model file or folder, or "
                                        "empty for the default model"),
                                      "",
                                      G_PARAM_READWRITE);
}

/**
 * vae_plugin_return_error:
 * @procedure: the procedure that failed
 * @error: (transfer full): why
 *
 * Returns: the return values for @error: cancel for a cancelled run, an
 *   execution error with @error's message otherwise.
 */
GimpValueArray *
vae_plugin_return_error (GimpProcedure *procedure,
                         GError        *error)
{
  if (g_error_matches (error, VAE_ERROR, VAE_ERROR_CANCELLED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      return vae_plugin_return_cancel (procedure);
    }

  return gimp_procedure_new_return_values (procedure,
                                           GIMP_PDB_EXECUTION_ERROR,
                                           error);
}

/* What a run returns when the user cancelled its dialog. */
GimpValueArray *
vae_plugin_return_cancel (GimpProcedure *procedure)
{
  return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
}

/* A finished run that made @layer: the progress bar full, @layer its
 * first return value. */
GimpValueArray *
vae_plugin_return_layer (GimpProcedure *procedure,
                         GimpLayer     *layer)
{
  GimpValueArray *return_values;

  gimp_progress_update (1.0);
  return_values = gimp_procedure_new_return_values (procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_LAYER (return_values, 1, layer);

  return return_values;
}

/**
 * vae_plugin_interactive:
 * @run_mode: the run's mode
 *
 * Sets GIMP's user interface up for the dialog of an interactive run.
 *
 * Returns: whether the run is interactive, so the dialog is to be shown.
 */
gboolean
vae_plugin_interactive (GimpRunMode run_mode)
{
  if (run_mode != GIMP_RUN_INTERACTIVE)
    return FALSE;

  gimp_ui_init (VAE_PLUGIN_BINARY);

  return TRUE;
}

static gboolean
check_image (GimpImage  *image,
             GError    **error)
{
  if (gimp_image_get_base_type (image) == GIMP_INDEXED)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Autoencoders work on RGB and grayscale images.  "
                     "Convert this indexed image with Image ▸ Mode ▸ RGB "
                     "first."));
      return FALSE;
    }

  return TRUE;
}

/**
 * vae_plugin_single_drawable:
 * @drawables: the NULL-terminated selected drawables
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): the one selected layer.
 */
GimpDrawable *
vae_plugin_single_drawable (GimpDrawable **drawables,
                            GError       **error)
{
  if (drawables == NULL || drawables[0] == NULL || drawables[1] != NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Select exactly one layer."));
      return NULL;
    }
  if (! GIMP_IS_LAYER (drawables[0]) || GIMP_IS_GROUP_LAYER (drawables[0]))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("“%s” is not a pixel layer; select a layer."),
                   gimp_item_get_name (GIMP_ITEM (drawables[0])));
      return NULL;
    }

  return drawables[0];
}

/**
 * vae_plugin_source_layer:
 * @drawables: the NULL-terminated selected drawables
 * @error: return location for a #GError
 *
 * The layer whose pixels a procedure encodes: the one selected, and not
 * a picture of latents.
 *
 * Returns: (transfer none) (nullable): the layer.
 */
GimpDrawable *
vae_plugin_source_layer (GimpDrawable **drawables,
                         GError       **error)
{
  GimpDrawable *drawable;

  drawable = vae_plugin_single_drawable (drawables, error);
  if (drawable == NULL || ! vae_plugin_refuse_latent_preview (drawable, error))
    return NULL;

  return drawable;
}

gboolean
vae_plugin_check_encoder (VaeModel  *model,
                          GError   **error)
{
  if (! vae_model_can_encode (model))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("The model “%s” has no encoder."),
                   vae_plugin_model_label (model));
      return FALSE;
    }

  return TRUE;
}

VaeModel *
vae_plugin_config_load_model (GimpProcedureConfig  *config,
                              GError              **error)
{
  VaeModel *model;
  gchar    *name = NULL;

  g_object_get (config, "model", &name, NULL);
  model = vae_plugin_models_load (name, error);
  g_free (name);

  return model;
}

/**
 * vae_plugin_config_load_model_for:
 * @config: the procedure's config
 * @latent: the latents to decode
 * @error: return location for a #GError
 *
 * Loads the model named in @config, or when none is named the model that
 * made @latent, and checks that it can decode @latent.
 *
 * Returns: (transfer full) (nullable): the model.
 */
VaeModel *
vae_plugin_config_load_model_for (GimpProcedureConfig  *config,
                                  const VaeLatent      *latent,
                                  GError              **error)
{
  VaeModel *model;
  gchar    *name = NULL;

  g_object_get (config, "model", &name, NULL);
  model = vae_plugin_models_load_for (name, latent, error);
  g_free (name);

  if (model != NULL && ! vae_plugin_check_latent_model (model, latent, error))
    g_clear_pointer (&model, vae_model_unref);

  return model;
}

/**
 * vae_plugin_check_latent_model:
 * @model: the model asked to decode
 * @latent: the latents
 * @error: return location for a #GError
 *
 * vae_model_check_latent (), with its refusals in the user's language:
 * latents mean nothing to another model's decoder, so the message names
 * both models.
 *
 * Returns: %TRUE when @model may decode @latent.
 */
gboolean
vae_plugin_check_latent_model (VaeModel         *model,
                               const VaeLatent  *latent,
                               GError          **error)
{
  GError      *local_error = NULL;
  const gchar *id = vae_latent_get_model_id (latent);

  if (vae_model_check_latent (model, latent, &local_error))
    return TRUE;

  if (local_error->domain != VAE_ERROR)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  switch (local_error->code)
    {
    case VAE_ERROR_UNSUPPORTED:
      g_set_error (error, VAE_ERROR, local_error->code,
                   _("The model “%s” has no decoder."),
                   vae_plugin_model_label (model));
      break;

    case VAE_ERROR_MODEL_MISMATCH:
      g_set_error (error, VAE_ERROR, local_error->code,
                   _("These latents were made by the model “%s”, not by "
                     "“%s”.  Decode them with the model that made them."),
                   id != NULL && id[0] != '\0' ? id : _("unknown"),
                   vae_plugin_model_label (model));
      break;

    case VAE_ERROR_SHAPE:
      g_set_error (error, VAE_ERROR, local_error->code,
                   _("The latents have %u channels but the model “%s” "
                     "expects %u."),
                   vae_latent_get_channels (latent),
                   vae_plugin_model_label (model),
                   vae_model_get_latent_channels (model));
      break;

    default:
      g_propagate_error (error, g_steal_pointer (&local_error));
      break;
    }
  g_clear_error (&local_error);

  return FALSE;
}

/* The short name used in layer names: "kodim23 (reconstructed, taef2)". */
const gchar *
vae_plugin_model_label (VaeModel *model)
{
  const gchar *id = vae_model_get_id (model);

  return id != NULL && id[0] != '\0' ? id : vae_model_get_name (model);
}

/* When the run began and when the time left was last said: a run starts
 * its first span at 0. */
static gint64 run_started;
static gint64 time_left_said;

void
vae_plugin_progress_span (VaePluginProgress *progress,
                          gdouble            start,
                          gdouble            end)
{
  progress->start = start;
  progress->span = end - start;
  progress->last = -1.0;
  if (start <= 0.0)
    run_started = time_left_said = g_get_monotonic_time ();
  gimp_progress_update (start);
}

/* A long run says how long it still takes (a 4000 × 3000 round trip with
 * seed-f16 takes minutes): from the time so far and the fraction done,
 * once both mean something, every few seconds. */
static void
say_time_left (gdouble value)
{
  gint64  now = g_get_monotonic_time ();
  gdouble elapsed = (now - run_started) / (gdouble) G_USEC_PER_SEC;
  gint    left;

  if (elapsed < 10.0 || value < 0.02 || value >= 1.0 ||
      now - time_left_said < 3 * G_USEC_PER_SEC)
    return;

  time_left_said = now;
  left = (gint) (elapsed * (1.0 - value) / value + 0.5);
  if (left >= 90)
    gimp_progress_set_text_printf (_("About %d minutes left"),
                                   (left + 30) / 60);
  else
    gimp_progress_set_text_printf (_("About %d seconds left"),
                                   MAX (5, (left + 4) / 5 * 5));
}

void
vae_plugin_progress_func (gdouble      fraction,
                          const gchar *stage,
                          gpointer     data)
{
  VaePluginProgress *progress = data;
  gdouble            value = progress->start + progress->span * fraction;

  /* Each update is a round trip to GIMP; a percent is as fine as a bar
   * shows.
   */
  if (value - progress->last >= 0.01 || fraction >= 1.0)
    {
      progress->last = value;
      gimp_progress_update (value);
      say_time_left (value);
    }
}
