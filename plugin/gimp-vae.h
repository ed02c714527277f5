/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the procedure files share: names, the common arguments, progress,
 * errors and model choice.
 */

#pragma once

#include <libgimp/gimp.h>

#include "vae.h"

G_BEGIN_DECLS

#define VAE_PLUGIN_BINARY      "gimp-vae"
#define VAE_PLUGIN_MENU_PATH   "<Image>/Filters/VAE"

#define VAE_PROC_ENCODE        "plug-in-vae-encode"
#define VAE_PROC_DECODE        "plug-in-vae-decode"
#define VAE_PROC_RECONSTRUCT   "plug-in-vae-reconstruct"
#define VAE_PROC_INTERPOLATE   "plug-in-vae-interpolate"
#define VAE_PROC_EDIT          "plug-in-vae-edit"

#define VAE_PROC_LATENT_LOAD   "file-vae-latent-load"
#define VAE_PROC_LATENT_THUMB  "file-vae-latent-load-thumb"
#define VAE_PROC_LATENT_EXPORT "file-vae-latent-export"
#define VAE_PROC_VAEZ_LOAD     "file-vaez-load"
#define VAE_PROC_VAEZ_THUMB    "file-vaez-load-thumb"
#define VAE_PROC_VAEZ_EXPORT   "file-vaez-export"

/* One constructor per procedure file (the file procedures are made from
 * the descriptions in vae-file-common.h). */
GimpProcedure * vae_encode_procedure_new      (GimpPlugIn   *plug_in,
                                               const gchar  *name);
GimpProcedure * vae_decode_procedure_new      (GimpPlugIn   *plug_in,
                                               const gchar  *name);
GimpProcedure * vae_reconstruct_procedure_new (GimpPlugIn   *plug_in,
                                               const gchar  *name);
GimpProcedure * vae_interpolate_procedure_new (GimpPlugIn   *plug_in,
                                               const gchar  *name);
GimpProcedure * vae_edit_procedure_new        (GimpPlugIn   *plug_in,
                                               const gchar  *name);

/* What GIMP passes to a run of a procedure of Filters ▸ VAE. */
typedef struct
{
  GimpProcedure        *procedure;
  GimpRunMode           run_mode;
  GimpImage            *image;
  GimpDrawable        **drawables;
  GimpProcedureConfig  *config;
} VaePluginRun;

typedef GimpValueArray * (* VaePluginRunFunc) (const VaePluginRun *run);

/* Procedure set-up shared by all of them. */
void             vae_plugin_procedure_setup     (GimpProcedure   *procedure,
                                                 const gchar     *menu_label,
                                                 const gchar     *blurb,
                                                 const gchar     *help);
GimpProcedure  * vae_plugin_image_procedure_new (GimpPlugIn      *plug_in,
                                                 const gchar     *name,
                                                 VaePluginRunFunc run,
                                                 GimpProcedureSensitivityMask sensitivity,
                                                 const gchar     *menu_label,
                                                 const gchar     *blurb,
                                                 const gchar     *help);
void             vae_plugin_add_model_argument  (GimpProcedure   *procedure);
void             vae_plugin_add_layer_return_value
                                                (GimpProcedure   *procedure,
                                                 const gchar     *blurb);

/* Run-time helpers. */
gboolean         vae_plugin_interactive         (GimpRunMode      run_mode);
GimpValueArray * vae_plugin_return_error        (GimpProcedure   *procedure,
                                                 GError          *error);
GimpValueArray * vae_plugin_return_cancel       (GimpProcedure   *procedure);
GimpValueArray * vae_plugin_return_layer        (GimpProcedure   *procedure,
                                                 GimpLayer       *layer);
GimpDrawable   * vae_plugin_single_drawable     (GimpDrawable   **drawables,
                                                 GError         **error);
GimpDrawable   * vae_plugin_source_layer        (GimpDrawable   **drawables,
                                                 GError         **error);
gboolean         vae_plugin_check_encoder       (VaeModel        *model,
                                                 GError         **error);
VaeModel       * vae_plugin_config_load_model   (GimpProcedureConfig *config,
                                                 GError         **error);
VaeModel       * vae_plugin_config_load_model_for
                                                (GimpProcedureConfig *config,
                                                 const VaeLatent *latent,
                                                 GError         **error);
gboolean         vae_plugin_check_latent_model  (VaeModel        *model,
                                                 const VaeLatent *latent,
                                                 GError         **error);
const gchar    * vae_plugin_model_label         (VaeModel        *model);

/* Fitting one picture or its latents to another's size
 * (vae-plugin-aspect.c). */
typedef enum
{
  VAE_PLUGIN_ASPECT_FIT,
  VAE_PLUGIN_ASPECT_FILL,
  VAE_PLUGIN_ASPECT_STRETCH
} VaePluginAspect;

void             vae_plugin_add_aspect_argument (GimpProcedure   *procedure,
                                                 const gchar     *blurb);
VaeTensor      * vae_plugin_tensor_fit          (const VaeTensor *tensor,
                                                 gsize            width,
                                                 gsize            height,
                                                 gint             aspect,
                                                 GError         **error);
VaeLatent      * vae_plugin_latent_fit          (const VaeLatent *latent,
                                                 guint            width,
                                                 guint            height,
                                                 gint             aspect,
                                                 GError         **error);

/* Layer names and kinds (vae-plugin-layers.c). */
gchar          * vae_plugin_base_name           (const gchar     *name);
gchar          * vae_plugin_unique_name         (GimpImage       *image,
                                                 const gchar     *name,
                                                 const gchar     *before);
void             vae_plugin_latent_preview_mark (GimpLayer       *layer);
gboolean         vae_plugin_is_latent_preview   (GimpDrawable    *drawable);
gboolean         vae_plugin_refuse_latent_preview
                                                (GimpDrawable    *drawable,
                                                 GError         **error);

/**
 * VaePluginProgress:
 *
 * Maps the core's progress (0..1 per call) to a span of GIMP's progress
 * bar, so that a run made of several encode/decode calls moves once from
 * left to right.
 */
typedef struct
{
  gdouble start;
  gdouble span;
  gdouble last;
} VaePluginProgress;

void             vae_plugin_progress_span       (VaePluginProgress *progress,
                                                 gdouble            start,
                                                 gdouble            end);
void             vae_plugin_progress_func       (gdouble            fraction,
                                                 const gchar       *stage,
                                                 gpointer           data);

G_END_DECLS
