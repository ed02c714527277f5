/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A row of preview pictures (one for a latent or edit preview, several for
 * the interpolation strip) filled by a render function in a worker thread.
 *
 * Dialog values change in bursts (a dragged slider), and a decode takes a
 * noticeable fraction of a second, so requests are debounced, at most one
 * computation runs at a time, and a new request cancels the running one
 * through its GCancellable.  Pictures of a cancelled computation that are
 * still in flight are dropped by generation number.
 */

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "vae-ui-preview.h"

#define DEBOUNCE_MS 150

struct _VaeUiRender
{
  VaeUiPreview    *preview;
  GCancellable    *cancellable;
  VaeUiRenderFunc  func;
  gpointer         data;
  GDestroyNotify   destroy;
  guint            generation;
};

struct _VaeUiPreview
{
  GtkBox       parent_instance;

  GtkWidget   *slots_box;
  GPtrArray   *slots;
  GtkWidget   *spinner;
  GtkWidget   *message;
  gint         slot_size;

  VaeUiRender *running;
  VaeUiRender *pending;
  guint        debounce_id;
  guint        generation;
  guint        shown_generation;
  guint        message_generation;
  gboolean     disposed;
};

typedef struct
{
  VaeUiPreview *preview;
  guint         generation;
  gint          slot;       /* -1: a message */
  GdkPixbuf    *pixbuf;
  gchar        *message;
} Delivery;

G_DEFINE_TYPE (VaeUiPreview, vae_ui_preview, GTK_TYPE_BOX)

static void start_pending (VaeUiPreview *preview);

static void
render_free (VaeUiRender *render)
{
  if (render->destroy != NULL)
    render->destroy (render->data);
  g_object_unref (render->cancellable);
  g_object_unref (render->preview);
  g_free (render);
}

static void
set_busy (VaeUiPreview *preview,
          gboolean      busy)
{
  if (busy)
    gtk_spinner_start (GTK_SPINNER (preview->spinner));
  else
    gtk_spinner_stop (GTK_SPINNER (preview->spinner));
}

static void
render_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  VaeUiRender *render = task_data;
  GError      *error  = NULL;

  if (render->func (render, render->data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
render_done (GObject      *source_object,
             GAsyncResult *result,
             gpointer      user_data)
{
  VaeUiPreview *preview = VAE_UI_PREVIEW (source_object);
  VaeUiRender  *render  = preview->running;
  GError       *error   = NULL;

  if (! g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (! preview->disposed &&
          ! g_cancellable_is_cancelled (render->cancellable))
        vae_ui_preview_set_message (preview, error->message);
      g_error_free (error);
    }
  else if (! preview->disposed &&
           preview->message_generation != render->generation &&
           preview->pending == NULL)
    {
      /* The "Updating…" line is stale once the pictures are in. */
      vae_ui_preview_set_message (preview, NULL);
    }

  preview->running = NULL;

  if (preview->disposed)
    return;

  if (preview->pending != NULL && preview->debounce_id == 0)
    start_pending (preview);
  else if (preview->pending == NULL)
    set_busy (preview, FALSE);
}

static void
start_pending (VaeUiPreview *preview)
{
  GTask *task;

  preview->running = preview->pending;
  preview->pending = NULL;
  preview->shown_generation = preview->running->generation;
  set_busy (preview, TRUE);

  task = g_task_new (preview, preview->running->cancellable,
                     render_done, NULL);
  g_task_set_task_data (task, preview->running,
                        (GDestroyNotify) render_free);
  g_task_run_in_thread (task, render_thread);
  g_object_unref (task);
}

static gboolean
debounce_timeout (gpointer data)
{
  VaeUiPreview *preview = data;

  preview->debounce_id = 0;
  if (preview->running == NULL && preview->pending != NULL)
    start_pending (preview);

  return G_SOURCE_REMOVE;
}

static void
vae_ui_preview_dispose (GObject *object)
{
  VaeUiPreview *preview = VAE_UI_PREVIEW (object);

  preview->disposed = TRUE;
  vae_ui_preview_cancel (preview);
  g_clear_pointer (&preview->slots, g_ptr_array_unref);

  G_OBJECT_CLASS (vae_ui_preview_parent_class)->dispose (object);
}

static void
vae_ui_preview_class_init (VaeUiPreviewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vae_ui_preview_dispose;
}

static void
vae_ui_preview_init (VaeUiPreview *preview)
{
  preview->slots = g_ptr_array_new ();
}

/**
 * vae_ui_preview_new:
 * @n_slots: how many pictures side by side
 * @slot_size: the largest side of each picture, in pixels
 *
 * Returns: (transfer floating): the preview.
 */
GtkWidget *
vae_ui_preview_new (guint n_slots,
                    gint  slot_size)
{
  VaeUiPreview *preview;
  GtkWidget    *hbox;

  preview = g_object_new (VAE_UI_TYPE_PREVIEW,
                          "orientation", GTK_ORIENTATION_VERTICAL,
                          "spacing",     4,
                          NULL);
  preview->slot_size = slot_size;

  preview->slots_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_widget_set_halign (preview->slots_box, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (preview), preview->slots_box, FALSE, FALSE, 0);
  gtk_widget_show (preview->slots_box);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (preview), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  preview->spinner = gtk_spinner_new ();
  gtk_box_pack_start (GTK_BOX (hbox), preview->spinner, FALSE, FALSE, 0);
  gtk_widget_show (preview->spinner);

  preview->message = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (preview->message), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (preview->message), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (preview->message), 48);
  gtk_box_pack_start (GTK_BOX (hbox), preview->message, TRUE, TRUE, 0);
  gtk_widget_show (preview->message);

  vae_ui_preview_set_n_slots (preview, n_slots);

  return GTK_WIDGET (preview);
}

void
vae_ui_preview_set_n_slots (VaeUiPreview *preview,
                            guint         n_slots)
{
  g_return_if_fail (VAE_UI_IS_PREVIEW (preview));

  while (preview->slots->len > n_slots)
    {
      GtkWidget *slot = g_ptr_array_index (preview->slots,
                                           preview->slots->len - 1);

      g_ptr_array_remove_index (preview->slots, preview->slots->len - 1);
      gtk_widget_destroy (slot);
    }

  while (preview->slots->len < n_slots)
    {
      GtkWidget *slot = gtk_image_new ();

      gtk_widget_set_size_request (slot, preview->slot_size,
                                   preview->slot_size);
      gtk_box_pack_start (GTK_BOX (preview->slots_box), slot, FALSE, FALSE, 0);
      gtk_widget_show (slot);
      g_ptr_array_add (preview->slots, slot);
    }
}

/**
 * vae_ui_preview_render:
 * @preview: the preview
 * @func: computes the pictures in a worker thread
 * @data: (transfer full): data for @func; it must not be shared with the
 *   main thread while @func runs
 * @destroy: (nullable): frees @data when the computation is over
 *
 * Asks for new pictures: the running computation is cancelled and @func
 * runs once the requests stop coming for a moment.
 */
void
vae_ui_preview_render (VaeUiPreview    *preview,
                       VaeUiRenderFunc  func,
                       gpointer         data,
                       GDestroyNotify   destroy)
{
  VaeUiRender *render;

  g_return_if_fail (VAE_UI_IS_PREVIEW (preview));

  if (preview->disposed)
    {
      if (destroy != NULL)
        destroy (data);
      return;
    }

  render = g_new0 (VaeUiRender, 1);
  render->preview     = g_object_ref (preview);
  render->cancellable = g_cancellable_new ();
  render->func        = func;
  render->data        = data;
  render->destroy     = destroy;
  render->generation  = ++preview->generation;

  g_clear_pointer (&preview->pending, render_free);
  preview->pending = render;

  if (preview->running != NULL)
    g_cancellable_cancel (preview->running->cancellable);

  if (preview->debounce_id != 0)
    g_source_remove (preview->debounce_id);
  preview->debounce_id = g_timeout_add (DEBOUNCE_MS, debounce_timeout, preview);

  vae_ui_preview_set_message (preview, _("Updating the preview…"));
  set_busy (preview, TRUE);
}

/**
 * vae_ui_preview_cancel:
 * @preview: the preview
 *
 * Drops the waiting request and cancels the running one.  Call it before
 * the plug-in starts its real work, so the two do not compete for the CPU.
 */
void
vae_ui_preview_cancel (VaeUiPreview *preview)
{
  g_return_if_fail (VAE_UI_IS_PREVIEW (preview));

  if (preview->debounce_id != 0)
    {
      g_source_remove (preview->debounce_id);
      preview->debounce_id = 0;
    }
  g_clear_pointer (&preview->pending, render_free);
  if (preview->running != NULL)
    g_cancellable_cancel (preview->running->cancellable);
}

void
vae_ui_preview_set_message (VaeUiPreview *preview,
                            const gchar  *message)
{
  g_return_if_fail (VAE_UI_IS_PREVIEW (preview));

  gtk_label_set_text (GTK_LABEL (preview->message),
                      message != NULL ? message : "");
}

static void
show_pixbuf (VaeUiPreview *preview,
             guint         slot,
             GdkPixbuf    *pixbuf)
{
  gint       w = gdk_pixbuf_get_width (pixbuf);
  gint       h = gdk_pixbuf_get_height (pixbuf);
  gdouble    scale;
  GdkPixbuf *scaled;

  if (slot >= preview->slots->len)
    return;

  scale = (gdouble) preview->slot_size / MAX (w, h);
  scaled = gdk_pixbuf_scale_simple (pixbuf,
                                    MAX (1, (gint) (w * scale + 0.5)),
                                    MAX (1, (gint) (h * scale + 0.5)),
                                    scale > 1.0 ? GDK_INTERP_NEAREST
                                                : GDK_INTERP_BILINEAR);
  gtk_image_set_from_pixbuf (GTK_IMAGE (g_ptr_array_index (preview->slots,
                                                           slot)),
                             scaled);
  g_object_unref (scaled);
}

static gboolean
deliver_in_main (gpointer data)
{
  Delivery     *delivery = data;
  VaeUiPreview *preview  = delivery->preview;

  if (preview->disposed || delivery->generation != preview->shown_generation)
    return G_SOURCE_REMOVE;

  if (delivery->slot >= 0)
    {
      show_pixbuf (preview, delivery->slot, delivery->pixbuf);
    }
  else
    {
      vae_ui_preview_set_message (preview, delivery->message);
      preview->message_generation = delivery->generation;
    }

  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  g_object_unref (delivery->preview);
  g_clear_object (&delivery->pixbuf);
  g_free (delivery->message);
  g_free (delivery);
}

static void
deliver (VaeUiRender *render,
         gint         slot,
         GdkPixbuf   *pixbuf,
         const gchar *message)
{
  Delivery *delivery = g_new0 (Delivery, 1);

  delivery->preview    = g_object_ref (render->preview);
  delivery->generation = render->generation;
  delivery->slot       = slot;
  delivery->pixbuf     = pixbuf != NULL ? g_object_ref (pixbuf) : NULL;
  delivery->message    = g_strdup (message);

  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT,
                              deliver_in_main, delivery, delivery_free);
}

GCancellable *
vae_ui_render_get_cancellable (VaeUiRender *render)
{
  return render->cancellable;
}

/**
 * vae_ui_render_deliver:
 * @render: the computation
 * @slot: which picture
 * @pixbuf: the picture; the preview takes a reference
 *
 * Shows @pixbuf in @slot.  Call it from the render function.
 */
void
vae_ui_render_deliver (VaeUiRender *render,
                       guint        slot,
                       GdkPixbuf   *pixbuf)
{
  g_return_if_fail (GDK_IS_PIXBUF (pixbuf));

  deliver (render, slot, pixbuf, NULL);
}

/**
 * vae_ui_render_set_message:
 * @render: the computation
 * @message: a line under the pictures
 *
 * Call it from the render function.
 */
void
vae_ui_render_set_message (VaeUiRender *render,
                           const gchar *message)
{
  deliver (render, -1, NULL, message);
}
