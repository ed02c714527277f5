/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VAE_UI_TYPE_CHANNEL_EDITOR (vae_ui_channel_editor_get_type ())
G_DECLARE_FINAL_TYPE (VaeUiChannelEditor, vae_ui_channel_editor,
                      VAE_UI, CHANNEL_EDITOR, GtkBox)

GtkWidget * vae_ui_channel_editor_new (GObject     *config,
                                       const gchar *gain_property,
                                       const gchar *offset_property,
                                       guint        n_channels);

gdouble   * vae_ui_config_dup_doubles (GObject     *config,
                                       const gchar *property,
                                       gsize       *length);

G_END_DECLS
