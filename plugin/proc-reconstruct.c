/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Filters ▸ VAE ▸ Reconstruct Layer (Round Trip): encode and decode in one
 * step to see what a model keeps.  The quality figures are computed the
 * way the `vae roundtrip` command computes them (both pictures rounded to
 * 8 bits first), so the two agree on the same photo.
 */

#include <math.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-gimp-io.h"
#include "vae-plugin-dialog.h"
#include "vae-ui.h"

enum
{
  DIFF_NONE,
  DIFF_AMPLIFIED,
  DIFF_HEATMAP
};

static GimpValueArray * reconstruct_run    (const VaePluginRun   *run);
static void             show_quality       (const gchar          *source,
                                            const gchar          *label,
                                            const VaeQuality     *quality,
                                            gint                  width,
                                            gint                  height);
static gboolean         reconstruct_dialog (const VaePluginRun   *run,
                                            GimpDrawable         *drawable);

GimpProcedure *
vae_reconstruct_procedure_new (GimpPlugIn  *plug_in,
                               const gchar *name)
{
  GimpProcedure *procedure;

  procedure = vae_plugin_image_procedure_new (plug_in, name, reconstruct_run,
                                              GIMP_PROCEDURE_SENSITIVE_DRAWABLE,
                                              _("_Reconstruct Layer (Round "
                                                "Trip)..."),
                                              _("Encode and decode a layer to "
                                                "see what the model keeps"),
                                              _("Encodes the selected layer "
                                                "(or the selection's bounding "
                                                "box) and decodes it again "
                                                "into a new layer, optionally "
                                                "with a difference layer, and "
                                                "reports PSNR, SSIM and "
                                                "MS-SSIM against the "
                                                "original."));
  gimp_procedure_add_choice_argument (procedure, "difference",
                                      _("_Difference layer"),
                                      _("Also add a layer showing where the "
                                        "reconstruction differs"),
                                      gimp_choice_new_with_values (
                                        "none", DIFF_NONE,
                                        _("None"), NULL,
                                        "amplified", DIFF_AMPLIFIED,
                                        _("Amplified absolute difference"),
                                        NULL,
                                        "heatmap", DIFF_HEATMAP,
                                        _("Heat map"), NULL,
                                        NULL),
                                      "none",
                                      G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "difference-gain",
                                      _("_Gain"),
                                      _("How much the difference is "
                                        "amplified"),
                                      1.0, 100.0, 8.0,
                                      G_PARAM_READWRITE);

  vae_plugin_add_layer_return_value (procedure,
                                     _("The reconstructed layer"));
  gimp_procedure_add_layer_return_value (procedure, "difference-layer",
                                         _("Difference layer"),
                                         _("The difference layer, if one was "
                                           "asked for"),
                                         TRUE,
                                         G_PARAM_READWRITE);
  gimp_procedure_add_double_return_value (procedure, "psnr",
                                          "PSNR",
                                          _("Peak signal-to-noise ratio in "
                                            "dB (8-bit RGB)"),
                                          0.0, G_MAXDOUBLE, 0.0,
                                          G_PARAM_READWRITE);
  gimp_procedure_add_double_return_value (procedure, "ssim",
                                          "SSIM",
                                          _("Structural similarity"),
                                          -1.0, 1.0, 0.0,
                                          G_PARAM_READWRITE);
  gimp_procedure_add_double_return_value (procedure, "ms-ssim",
                                          "MS-SSIM",
                                          _("Multi-scale structural "
                                            "similarity"),
                                          -1.0, 1.0, 0.0,
                                          G_PARAM_READWRITE);

  return procedure;
}

static VaeTensor *
quantized_copy (const VaeTensor  *image,
                GError          **error)
{
  VaeTensor *copy = vae_tensor_copy (image, error);

  if (copy != NULL)
    vae_image_quantize_8bit (copy);

  return copy;
}

/* C-locale text, so that scripts can parse it in any language. */
static gchar *
quality_text (const VaeQuality *quality,
              const gchar      *model)
{
  gchar psnr[G_ASCII_DTOSTR_BUF_SIZE];
  gchar ssim[G_ASCII_DTOSTR_BUF_SIZE];
  gchar ms_ssim[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (psnr, sizeof (psnr), "%.4f", quality->psnr);
  g_ascii_formatd (ssim, sizeof (ssim), "%.6f", quality->ssim);
  g_ascii_formatd (ms_ssim, sizeof (ms_ssim), "%.6f", quality->ms_ssim);

  return g_strdup_printf ("psnr=%s ssim=%s ms-ssim=%s model=%s",
                          psnr, ssim, ms_ssim, model);
}

static GimpValueArray *
reconstruct_run (const VaePluginRun *run)
{
  g_autoptr (VaeModel)  model      = NULL;
  g_autoptr (VaeLatent) latent     = NULL;
  g_autoptr (VaeTensor) decoded    = NULL;
  g_autoptr (VaeTensor) original8  = NULL;
  g_autoptr (VaeTensor) decoded8   = NULL;
  g_autoptr (VaeTensor) difference = NULL;
  GimpValueArray       *return_values;
  GimpDrawable         *drawable;
  GimpLayer            *layer = NULL;
  GimpLayer            *diff_layer = NULL;
  GimpLayer            *parent;
  GError               *error  = NULL;
  VaePluginPixels       pixels = { NULL, };
  VaePluginProgress     progress;
  VaeQuality            quality;
  const gchar          *source;
  gchar                *base = NULL;
  const gchar          *label;
  gchar                *name;
  gchar                *text;
  gdouble               gain;
  gint                  diff_style;
  gint                  position;

  drawable = vae_plugin_source_layer (run->drawables, &error);
  if (drawable == NULL)
    return vae_plugin_return_error (run->procedure, error);

  if (vae_plugin_interactive (run->run_mode) &&
      ! reconstruct_dialog (run, drawable))
    return vae_plugin_return_cancel (run->procedure);

  model = vae_plugin_config_load_model (run->config, &error);
  if (model == NULL)
    return vae_plugin_return_error (run->procedure, error);
  label = vae_plugin_model_label (model);
  if (! vae_model_can_encode (model) || ! vae_model_can_decode (model))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("The model “%s” needs both an encoder and a decoder "
                     "for a round trip."), label);
      return vae_plugin_return_error (run->procedure, error);
    }

  if (! vae_plugin_pixels_read (drawable, TRUE, &pixels, &error))
    return vae_plugin_return_error (run->procedure, error);

  source = base = vae_plugin_base_name (gimp_item_get_name (GIMP_ITEM (drawable)));
  gimp_progress_init_printf (_("Reconstructing “%s” with %s"), source, label);
  vae_plugin_progress_span (&progress, 0.0, 0.45);
  if (! vae_model_encode (model, pixels.rgb, &latent, NULL, NULL,
                          vae_plugin_progress_func, &progress, &error))
    goto fail;
  vae_plugin_progress_span (&progress, 0.45, 0.9);
  if (! vae_model_decode (model, latent, &decoded, NULL, NULL,
                          vae_plugin_progress_func, &progress, &error))
    goto fail;

  original8 = quantized_copy (pixels.rgb, &error);
  if (original8 == NULL)
    goto fail;
  decoded8 = quantized_copy (decoded, &error);
  if (decoded8 == NULL ||
      ! vae_quality (original8, decoded8, &quality, &error))
    goto fail;
  gimp_progress_update (0.95);

  g_object_get (run->config, "difference-gain", &gain, NULL);
  diff_style = gimp_procedure_config_get_choice_id (run->config, "difference");
  if (diff_style != DIFF_NONE)
    {
      difference = vae_difference_map (pixels.rgb, decoded,
                                       diff_style == DIFF_HEATMAP ?
                                       VAE_DIFF_HEATMAP : VAE_DIFF_AMPLIFIED,
                                       gain, &error);
      if (difference == NULL)
        goto fail;
    }

  gimp_image_undo_group_start (run->image);
  vae_plugin_position_above (run->image, GIMP_ITEM (drawable),
                             &parent, &position);

  name = g_strdup_printf (_("%s (reconstructed, %s)"), source, label);
  layer = vae_plugin_layer_add (run->image, name, decoded, pixels.alpha,
                                parent, position, &error);
  g_free (name);
  if (layer != NULL)
    {
      gimp_layer_set_offsets (layer, pixels.x, pixels.y);
      text = quality_text (&quality, label);
      vae_plugin_attach_text (GIMP_ITEM (layer), VAE_PLUGIN_QUALITY_PARASITE,
                              text);
      g_free (text);
    }

  if (layer != NULL && difference != NULL)
    {
      name = g_strdup_printf (_("%s (difference, %s)"), source, label);
      diff_layer = vae_plugin_layer_add (run->image, name, difference, NULL,
                                         parent, position, &error);
      g_free (name);
      if (diff_layer != NULL)
        gimp_layer_set_offsets (diff_layer, pixels.x, pixels.y);
    }
  gimp_image_undo_group_end (run->image);

  if (layer == NULL || (difference != NULL && diff_layer == NULL))
    goto fail;

  gimp_progress_update (1.0);
  vae_plugin_pixels_clear (&pixels);

  if (run->run_mode == GIMP_RUN_INTERACTIVE)
    show_quality (source, label, &quality,
                  vae_tensor_get_dim (decoded, 2),
                  vae_tensor_get_dim (decoded, 1));
  g_free (base);

  return_values = gimp_procedure_new_return_values (run->procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_LAYER (return_values, 1, layer);
  GIMP_VALUES_SET_LAYER (return_values, 2, diff_layer);
  /* Identical pictures have an infinite PSNR, which a PDB double can't
   * carry.
   */
  GIMP_VALUES_SET_DOUBLE (return_values, 3, MIN (quality.psnr, G_MAXDOUBLE));
  GIMP_VALUES_SET_DOUBLE (return_values, 4, quality.ssim);
  GIMP_VALUES_SET_DOUBLE (return_values, 5, quality.ms_ssim);

  return return_values;

 fail:
  vae_plugin_pixels_clear (&pixels);
  g_free (base);

  return vae_plugin_return_error (run->procedure, error);
}


/*  Below is only UI stuff  */

/* The figures after an interactive run, in a dialog of ours: gimp_message
 * would show them with a warning icon.  SSIM needs an 11 × 11 window, so
 * on smaller layers it (and MS-SSIM) is undefined, and the dialog says
 * why instead of showing "nan". */
static void
show_quality (const gchar      *source,
              const gchar      *label,
              const VaeQuality *quality,
              gint              width,
              gint              height)
{
  GtkWidget *dialog;
  gchar     *text;

  if (isnan (quality->ssim))
    text = g_strdup_printf (_("Reconstruction of “%s” with %s:\n"
                              "PSNR %.2f dB.  SSIM and MS-SSIM are not "
                              "defined for this %d × %d layer: they compare "
                              "11 × 11 windows, so the layer must be at "
                              "least 11 pixels wide and high."),
                            source, label, quality->psnr, width, height);
  else
    text = g_strdup_printf (_("Reconstruction of “%s” with %s:\n"
                              "PSNR %.2f dB, SSIM %.4f, MS-SSIM %.4f"),
                            source, label,
                            quality->psnr, quality->ssim, quality->ms_ssim);

  dialog = gtk_message_dialog_new (NULL, 0, GTK_MESSAGE_INFO,
                                   GTK_BUTTONS_CLOSE, "%s", text);
  gtk_window_set_title (GTK_WINDOW (dialog), _("Reconstruction Quality"));
  gtk_dialog_run (GTK_DIALOG (dialog));
  gtk_widget_destroy (dialog);
  g_free (text);
}

static gboolean
reconstruct_dialog (const VaePluginRun *run,
                    GimpDrawable       *drawable)
{
  GtkWidget *dialog;
  GtkWidget *choice;
  GValue     none = G_VALUE_INIT;
  gint       x, y, width, height;

  if (! gimp_drawable_mask_intersect (drawable, &x, &y, &width, &height))
    width = height = 0;

  dialog = gimp_procedure_dialog_new (run->procedure, run->config,
                                      _("Reconstruct Layer (Round Trip)"));
  gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (dialog),
                                         "difference-gain", 1.0);
  g_value_init (&none, G_TYPE_STRING);
  g_value_set_static_string (&none, "none");
  gimp_procedure_dialog_set_sensitive_if_in (GIMP_PROCEDURE_DIALOG (dialog),
                                             "difference-gain", NULL,
                                             "difference",
                                             gimp_value_array_new_from_values (&none, 1),
                                             FALSE);
  g_value_unset (&none);
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog),
                              "difference", "difference-gain", NULL);

  choice = vae_plugin_model_choice_new (run->config, width, height, NULL,
                                        NULL, NULL);
  vae_plugin_dialog_pack (dialog, choice, 0);

  return vae_plugin_dialog_run (dialog);
}
