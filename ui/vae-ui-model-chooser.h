/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VAE_UI_TYPE_MODEL_CHOOSER (vae_ui_model_chooser_get_type ())
G_DECLARE_FINAL_TYPE (VaeUiModelChooser, vae_ui_model_chooser,
                      VAE_UI, MODEL_CHOOSER, GtkBox)

GtkWidget   * vae_ui_model_chooser_new               (const gchar         *label);
void          vae_ui_model_chooser_append            (VaeUiModelChooser   *chooser,
                                                      const gchar         *value,
                                                      const gchar         *text);
const gchar * vae_ui_model_chooser_get_value         (VaeUiModelChooser   *chooser);
void          vae_ui_model_chooser_set_value         (VaeUiModelChooser   *chooser,
                                                      const gchar         *value);
void          vae_ui_model_chooser_set_info          (VaeUiModelChooser   *chooser,
                                                      const gchar         *markup);
void          vae_ui_model_chooser_set_file_suffixes (VaeUiModelChooser   *chooser,
                                                      const gchar * const *suffixes);

G_END_DECLS
