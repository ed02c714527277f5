/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dialog plumbing shared by the procedures: the model chooser fed from the
 * model folders, with its information line, and packing of the ui/ parts
 * into a GimpProcedureDialog.
 */

#pragma once

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "vae.h"
#include "vae-ui.h"

G_BEGIN_DECLS

/**
 * VaePluginModelChanged:
 * @model: (nullable): the newly chosen model, or %NULL when it failed to
 *   load (the chooser shows why)
 * @data: user data
 */
typedef void (* VaePluginModelChanged) (VaeModel *model,
                                        gpointer  data);

void        vae_plugin_dialog_pack             (GtkWidget             *dialog,
                                                GtkWidget             *widget,
                                                gint                   position);
gboolean    vae_plugin_dialog_run              (GtkWidget             *dialog);
gboolean    vae_plugin_dialog_run_watching     (GtkWidget             *dialog,
                                                GimpProcedureConfig   *config,
                                                GCallback              notify,
                                                gpointer               data);

GtkWidget * vae_plugin_model_choice_new        (GimpProcedureConfig   *config,
                                                gint                   width,
                                                gint                   height,
                                                const VaeLatent       *latent,
                                                VaePluginModelChanged  changed,
                                                gpointer               data);
void        vae_plugin_model_choice_set_latent (GtkWidget             *choice,
                                                const VaeLatent       *latent);
VaeModel  * vae_plugin_model_choice_get_model  (GtkWidget             *choice);

void        vae_plugin_render_picture          (VaeUiRender           *render,
                                                guint                  slot,
                                                const VaeTensor       *rgb);

G_END_DECLS
