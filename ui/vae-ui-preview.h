/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VAE_UI_TYPE_PREVIEW (vae_ui_preview_get_type ())
G_DECLARE_FINAL_TYPE (VaeUiPreview, vae_ui_preview, VAE_UI, PREVIEW, GtkBox)

/**
 * VaeUiRender:
 *
 * One preview computation, handed to a #VaeUiRenderFunc in a worker
 * thread.
 */
typedef struct _VaeUiRender VaeUiRender;

/**
 * VaeUiRenderFunc:
 * @render: the computation: its cancellable and where to deliver pictures
 * @data: the data given to vae_ui_preview_render()
 * @error: return location for a #GError
 *
 * Computes the preview in a worker thread.  It must not touch GTK or
 * libgimp and must stop soon after @render's cancellable is cancelled.
 *
 * Returns: %TRUE on success.
 */
typedef gboolean (* VaeUiRenderFunc) (VaeUiRender  *render,
                                      gpointer      data,
                                      GError      **error);

GtkWidget    * vae_ui_preview_new             (guint            n_slots,
                                               gint             slot_size);
void           vae_ui_preview_set_n_slots     (VaeUiPreview    *preview,
                                               guint            n_slots);
void           vae_ui_preview_render          (VaeUiPreview    *preview,
                                               VaeUiRenderFunc  func,
                                               gpointer         data,
                                               GDestroyNotify   destroy);
void           vae_ui_preview_cancel          (VaeUiPreview    *preview);
void           vae_ui_preview_set_message     (VaeUiPreview    *preview,
                                               const gchar     *message);

GCancellable * vae_ui_render_get_cancellable  (VaeUiRender     *render);
void           vae_ui_render_deliver          (VaeUiRender     *render,
                                               guint            slot,
                                               GdkPixbuf       *pixbuf);
void           vae_ui_render_set_message      (VaeUiRender     *render,
                                               const gchar     *message);

G_END_DECLS
