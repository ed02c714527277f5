/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the File ▸ Open and File ▸ Export procedures share: the load and
 * thumbnail procedures of every format (vae_latent_format in
 * file-latent-load.c and vae_vaez_format in file-vaez-load.c say how they
 * differ), its export procedure (vae_latent_export and vae_vaez_export in
 * the file-*-export.c files), and the model a file needs.
 *
 * A file names the model that made it (our .latent and .vaez files do), or
 * it does not (ComfyUI's .latent files).  A named model is looked up in
 * libvae's registry and the search path, and when it is missing the
 * message says where to download it and where to put it.  Without a name
 * only the latent channel count is known (and the factor, when the file
 * records the image size): the installed models that fit are candidates,
 * and the user picks one when there are several, because guessing gives
 * garbage pictures that look like a bug.
 */

#include <string.h>

#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gimp-vae.h"
#include "vae-file-common.h"
#include "vae-gimp-io.h"
#include "vae-models.h"

/* Where a user puts models: the first folder of the default search path
 * that is theirs. */
static gchar *
user_model_folder (void)
{
  return g_build_filename (g_get_user_data_dir (), "gimp-vae", "models",
                           NULL);
}

/* The download address of a registered model: its first file with a URL,
 * else its home page. */
static const gchar *
entry_download (const VaeRegistryEntry *entry)
{
  guint i;

  for (i = 0; i < vae_registry_entry_get_n_files (entry); i++)
    {
      const VaeRegistryFile *file = vae_registry_entry_get_file (entry, i);

      if (file->url != NULL && file->url[0] != '\0')
        return file->url;
    }
  if (vae_registry_entry_get_homepage (entry) != NULL &&
      vae_registry_entry_get_homepage (entry)[0] != '\0')
    return vae_registry_entry_get_homepage (entry);

  return NULL;
}

/**
 * vae_file_model_missing:
 * @model_id: the id a file names
 *
 * Returns: (transfer full): one line saying that the model is not
 *   installed, where to get it and where to put it.
 */
gchar *
vae_file_model_missing (const gchar *model_id)
{
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  g_autofree gchar       *folder = user_model_folder ();
  const VaeRegistryEntry *entry;
  const gchar            *url;

  entry = registry != NULL ? vae_registry_lookup (registry, model_id) : NULL;
  if (entry == NULL)
    return g_strdup_printf (_("The model “%s” that made this file is not "
                              "installed, and gimp-vae's model registry does "
                              "not know it: put that model's files in a "
                              "folder “%s” in %s."),
                            model_id, model_id, folder);

  url = entry_download (entry);
  if (url == NULL)
    return g_strdup_printf (_("The model “%s” (%s) that made this file is "
                              "not installed, and it has no public download: "
                              "put its files in a folder “%s” in %s."),
                            model_id, vae_registry_entry_get_name (entry),
                            model_id, folder);

  return g_strdup_printf (_("The model “%s” (%s) that made this file is "
                            "not installed: download it from %s and put its "
                            "files in a folder “%s” in %s."),
                          model_id, vae_registry_entry_get_name (entry), url,
                          model_id, folder);
}

/* The error for a file whose model is not at hand: either another model
 * has taken its name (other weights), or it is missing. */
static VaeModel *
model_missing (const gchar  *model_id,
               GError      **error)
{
  g_autoptr (VaeModel) same_name = vae_plugin_models_load (model_id, NULL);
  g_autofree gchar    *message = NULL;

  if (same_name != NULL)
    g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                 _("This file was made by a model named “%s” with other "
                   "weights than the installed one (%s).  Install the "
                   "weights that made it, or name them with the model "
                   "argument."),
                 model_id, vae_model_get_path (same_name));
  else
    g_set_error_literal (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                         message = vae_file_model_missing (model_id));

  return NULL;
}

/* The installed model that made a file (vae_registry_resolve_made_by ()). */
static VaeModel *
model_by_name (const gchar *id,
               const gchar *hash)
{
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);

  if (registry == NULL)
    return NULL;

  return vae_registry_resolve_made_by (registry, id, hash, NULL);
}

/* Does a model of @channels and @factor fit @latent?  The factor can only
 * be checked when the file records the image size. */
static gboolean
fits (const VaeLatent *latent,
      guint            channels,
      guint            factor)
{
  guint w, h;

  if (channels != vae_latent_get_channels (latent))
    return FALSE;
  if (factor == 0 || ! vae_latent_get_image_size (latent, &w, &h))
    return TRUE;

  return (w + factor - 1) / factor == vae_latent_get_width (latent) &&
         (h + factor - 1) / factor == vae_latent_get_height (latent);
}

typedef struct
{
  gchar *name;
  guint  factor;
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->name);
  g_free (candidate);
}

/* The installed models that fit @latent, and a list of the registered
 * models that would fit but are not installed (for the message). */
static GPtrArray *
find_candidates (const VaeLatent  *latent,
                 GString          *installed_channels,
                 GString          *not_installed)
{
  GPtrArray              *candidates;
  g_autoptr (VaeRegistry) registry = vae_registry_new (NULL);
  g_autoptr (GPtrArray)   entries = NULL;
  g_autoptr (GPtrArray)   local = NULL;
  guint                   i;

  candidates = g_ptr_array_new_with_free_func (candidate_free);
  if (registry == NULL)
    return candidates;

  entries = vae_registry_list (registry);
  for (i = 0; i < entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (entries, i);
      guint channels = vae_registry_entry_get_latent_channels (entry);
      guint factor = vae_registry_entry_get_factor (entry);

      if (! vae_registry_is_available (registry, entry))
        {
          if (fits (latent, channels, factor))
            {
              const gchar *url = entry_download (entry);

              g_string_append_printf (not_installed, "%s%s%s%s%s",
                                      not_installed->len > 0 ? ", " : "",
                                      vae_registry_entry_get_id (entry),
                                      url != NULL ? " (" : "",
                                      url != NULL ? url : "",
                                      url != NULL ? ")" : "");
            }
          continue;
        }

      g_string_append_printf (installed_channels, "%s%s: %u",
                              installed_channels->len > 0 ? ", " : "",
                              vae_registry_entry_get_id (entry), channels);
      if (fits (latent, channels, factor))
        {
          Candidate *candidate = g_new0 (Candidate, 1);

          candidate->name = g_strdup (vae_registry_entry_get_id (entry));
          candidate->factor = factor;
          g_ptr_array_add (candidates, candidate);
        }
    }

  /* Models the registry does not know tell their shape only when loaded. */
  local = vae_registry_find_local (registry);
  for (i = 0; i < local->len; i++)
    {
      const VaeRegistryLocal *found = g_ptr_array_index (local, i);
      g_autoptr (VaeModel)    model = vae_model_load (found->path, NULL);
      guint                   channels;

      if (model == NULL || ! vae_model_can_decode (model))
        continue;
      channels = vae_model_get_latent_channels (model);
      g_string_append_printf (installed_channels, "%s%s: %u",
                              installed_channels->len > 0 ? ", " : "",
                              found->name, channels);
      if (fits (latent, channels, vae_model_get_factor (model)))
        {
          Candidate *candidate = g_new0 (Candidate, 1);

          candidate->name = g_strdup (found->path);
          candidate->factor = vae_model_get_factor (model);
          g_ptr_array_add (candidates, candidate);
        }
    }

  return candidates;
}

static const gchar *
candidate_label (const Candidate *candidate)
{
  const gchar *slash = strrchr (candidate->name, G_DIR_SEPARATOR);

  return slash != NULL ? slash + 1 : candidate->name;
}

/* Lets the user pick among several models that fit.  Returns the index,
 * or -1 when the user cancelled. */
static gint
ask_model (const VaeLatent *latent,
           GPtrArray       *candidates)
{
  GtkWidget *dialog;
  GtkWidget *box;
  GtkWidget *label;
  GSList    *group = NULL;
  GtkWidget *first = NULL;
  GList     *buttons = NULL;
  GList     *iter;
  gint       chosen = -1;
  guint      i;

  gimp_ui_init (VAE_PLUGIN_BINARY);

  dialog = gimp_dialog_new (_("Which Model Made These Latents?"),
                            "gimp-vae-ask-model", NULL, 0,
                            gimp_standard_help_func, VAE_PROC_LATENT_LOAD,
                            _("_Cancel"), GTK_RESPONSE_CANCEL,
                            _("_Open"),   GTK_RESPONSE_OK,
                            NULL);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))),
                      box, TRUE, TRUE, 0);

  label = gtk_label_new (NULL);
  {
    gchar *text = g_strdup_printf (_("This .latent file does not say which "
                                     "model made it.  These installed models "
                                     "take %u-channel latents; decoding with "
                                     "another model than the one that made "
                                     "them gives a garbled picture."),
                                   vae_latent_get_channels (latent));

    gtk_label_set_text (GTK_LABEL (label), text);
    g_free (text);
  }
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 50);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_box_pack_start (GTK_BOX (box), label, FALSE, FALSE, 0);

  for (i = 0; i < candidates->len; i++)
    {
      const Candidate *candidate = g_ptr_array_index (candidates, i);
      GtkWidget       *button;
      gchar           *text;

      text = g_strdup_printf (_("%s (%u × %u pixels)"),
                              candidate_label (candidate),
                              vae_latent_get_width (latent) * candidate->factor,
                              vae_latent_get_height (latent) * candidate->factor);
      button = gtk_radio_button_new_with_label (group, text);
      g_free (text);
      group = gtk_radio_button_get_group (GTK_RADIO_BUTTON (button));
      gtk_box_pack_start (GTK_BOX (box), button, FALSE, FALSE, 0);
      buttons = g_list_append (buttons, button);
      if (first == NULL)
        first = button;
    }

  /* Return opens, as in every other dialog: a focused radio button would
   * take the key for itself. */
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_OK);
  gtk_widget_show_all (dialog);
  gtk_widget_grab_focus (gtk_dialog_get_widget_for_response (GTK_DIALOG (dialog),
                                                             GTK_RESPONSE_OK));
  if (gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK)
    for (iter = buttons, i = 0; iter != NULL; iter = iter->next, i++)
      if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (iter->data)))
        chosen = i;

  g_list_free (buttons);
  gtk_widget_destroy (dialog);

  return chosen;
}

/**
 * vae_file_model_for_latent:
 * @latent: latents read from a file
 * @requested: (nullable): the model the caller named, or %NULL or ""
 * @interactive: whether the user can be asked
 * @error: return location for a #GError; %VAE_ERROR_CANCELLED when the
 *   user cancelled the question
 *
 * Finds the model to decode @latent with: the one named, else the one
 * the file names, else the one installed model that fits (asking when
 * several fit and the user can be asked).
 *
 * Returns: (transfer full) (nullable): the model.
 */
VaeModel *
vae_file_model_for_latent (const VaeLatent  *latent,
                           const gchar      *requested,
                           gboolean          interactive,
                           GError          **error)
{
  const gchar           *id = vae_latent_get_model_id (latent);
  const gchar           *hash = vae_latent_get_model_hash (latent);
  g_autoptr (GPtrArray)  candidates = NULL;
  g_autoptr (GString)    installed = g_string_new (NULL);
  g_autoptr (GString)    missing = g_string_new (NULL);
  VaeModel              *model;
  gint                   index = 0;

  if (requested != NULL && requested[0] != '\0')
    {
      model = vae_plugin_models_load (requested, error);
      if (model != NULL && ! vae_plugin_check_latent_model (model, latent, error))
        g_clear_pointer (&model, vae_model_unref);

      return model;
    }

  if ((id != NULL && id[0] != '\0') || (hash != NULL && hash[0] != '\0'))
    {
      model = model_by_name (id, hash);
      if (model == NULL)
        return model_missing (id != NULL && id[0] != '\0' ? id : hash,
                              error);
      if (! vae_plugin_check_latent_model (model, latent, error))
        g_clear_pointer (&model, vae_model_unref);

      return model;
    }

  candidates = find_candidates (latent, installed, missing);
  if (candidates->len == 0)
    {
      if (missing->len > 0)
        g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                     _("This .latent file does not say which model made it, "
                       "and no installed model takes its %u-channel latents "
                       "(installed: %s).  Models that do: %s."),
                     vae_latent_get_channels (latent),
                     installed->len > 0 ? installed->str : _("none"),
                     missing->str);
      else
        g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                     _("This .latent file does not say which model made it, "
                       "and no installed or known model takes its %u-channel "
                       "latents (installed: %s)."),
                     vae_latent_get_channels (latent),
                     installed->len > 0 ? installed->str : _("none"));
      return NULL;
    }

  if (candidates->len > 1)
    {
      if (! interactive)
        {
          GString *names = g_string_new (NULL);
          guint    i;

          for (i = 0; i < candidates->len; i++)
            g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                                    candidate_label (g_ptr_array_index (candidates, i)));
          g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                       _("This .latent file does not say which model made it, "
                         "and several installed models take its %u-channel "
                         "latents (%s).  Name one in the “model” argument, or "
                         "open the file interactively to choose."),
                       vae_latent_get_channels (latent), names->str);
          g_string_free (names, TRUE);
          return NULL;
        }

      index = ask_model (latent, candidates);
      if (index < 0)
        {
          g_set_error_literal (error, VAE_ERROR, VAE_ERROR_CANCELLED,
                               _("Cancelled."));
          return NULL;
        }
    }

  return vae_plugin_models_load (((Candidate *) g_ptr_array_index (candidates,
                                                                   index))->name,
                                 error);
}

/**
 * vae_file_model_for_vaez:
 * @info: the header of a .vaez file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the model the file names, checked
 *   against the hash it records.
 */
VaeModel *
vae_file_model_for_vaez (const VaeCompressedInfo  *info,
                         GError                  **error)
{
  g_autoptr (VaeModel) same_name = NULL;
  VaeModel            *model;
  const gchar         *hash;

  model = model_by_name (info->model_id, info->model_hash);
  if (model != NULL)
    return model;

  same_name = vae_plugin_models_load (info->model_id, NULL);
  if (same_name == NULL)
    {
      g_autofree gchar *message = vae_file_model_missing (info->model_id);

      g_set_error_literal (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                           message);
      return NULL;
    }

  hash = vae_model_get_hash (same_name);
  if (g_str_has_prefix (hash, "sha256:"))
    hash += strlen ("sha256:");
  g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
               _("This file was made by a model named “%s” with other "
                 "weights (hash %s) than the installed one (%s, hash "
                 "%.16s).  Install the weights that made it."),
               info->model_id, info->model_hash,
               vae_model_get_path (same_name) != NULL ?
               vae_model_get_path (same_name) : info->model_id, hash);

  return NULL;
}

/* Writes @rgb into @layer as 8-bit values through the pixel adapter, which
 * rounds as vae_image_quantize_8bit() and the vae command do, so that an
 * opened file has exactly the pixels `vae decode` writes. */
static void
layer_set_u8 (GimpLayer       *layer,
              const VaeTensor *rgb)
{
  GeglBuffer *buffer;
  guint8     *data;
  gint        height = vae_tensor_get_dim (rgb, 1);
  gint        width  = vae_tensor_get_dim (rgb, 2);

  data = g_malloc ((gsize) width * height * 3);
  /* a [3, h, w] image into a buffer of its size: this cannot fail */
  vae_tensor_to_pixels (rgb, NULL, 0, height, data, VAE_PIXEL_FORMAT_RGB_U8,
                        (gsize) width * 3, NULL);

  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, width, height), 0,
                   babl_format_with_space ("R'G'B' u8",
                                           gimp_drawable_get_format (GIMP_DRAWABLE (layer))),
                   data, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);
  g_free (data);
}

/**
 * file_image_new:
 * @file: (nullable): the file the image comes from (names the layer)
 * @rgb: [3, h, w] decoded pixels
 * @latent: (nullable): latents for the layer to carry, as Encode's layers
 *   do
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): a new 8-bit RGB image with one
 *   opaque layer.
 */
static GimpImage *
file_image_new (GFile            *file,
                const VaeTensor  *rgb,
                const VaeLatent  *latent,
                GError          **error)
{
  GimpImage        *image;
  GimpLayer        *layer;
  g_autofree gchar *name = NULL;
  gint              height = vae_tensor_get_dim (rgb, 1);
  gint              width  = vae_tensor_get_dim (rgb, 2);

  image = gimp_image_new_with_precision (width, height, GIMP_RGB,
                                         GIMP_PRECISION_U8_NON_LINEAR);
  if (image == NULL)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Could not make a %d × %d image: %s"), width, height,
                   gimp_pdb_get_last_error (gimp_get_pdb ()));
      return NULL;
    }

  name = file != NULL ? g_file_get_basename (file) : g_strdup (_("Decoded"));
  layer = gimp_layer_new (image, name, width, height, GIMP_RGB_IMAGE, 100.0,
                          gimp_image_get_default_new_layer_mode (image));
  gimp_image_insert_layer (image, layer, NULL, 0);
  layer_set_u8 (layer, rgb);

  if (latent != NULL &&
      ! vae_plugin_latent_attach (GIMP_ITEM (layer), latent, error))
    {
      gimp_image_delete (image);
      return NULL;
    }

  return image;
}

/* The thumbnail procedure's return values: an image of @rgb scaled to
 * fit @size, and the full picture's size. */
static GimpValueArray *
thumbnail_return (GimpProcedure   *procedure,
                  const VaeTensor *rgb,
                  gint             size)
{
  g_autoptr (VaeTensor) small = NULL;
  GimpValueArray       *return_values;
  GimpImage            *image;
  GError               *error = NULL;
  gint                  height = vae_tensor_get_dim (rgb, 1);
  gint                  width  = vae_tensor_get_dim (rgb, 2);
  gdouble               scale;

  scale = MIN (1.0, (gdouble) size / MAX (width, height));
  small = vae_image_resize (rgb, MAX (1, (gint) (width * scale + 0.5)),
                            MAX (1, (gint) (height * scale + 0.5)), &error);
  image = small != NULL ? file_image_new (NULL, small, NULL, &error) : NULL;
  if (image == NULL)
    return gimp_procedure_new_return_values (procedure,
                                             GIMP_PDB_EXECUTION_ERROR, error);

  return_values = gimp_procedure_new_return_values (procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_values, 1, image);
  GIMP_VALUES_SET_INT   (return_values, 2, width);
  GIMP_VALUES_SET_INT   (return_values, 3, height);
  GIMP_VALUES_SET_ENUM  (return_values, 4, GIMP_RGB_IMAGE);
  GIMP_VALUES_SET_INT   (return_values, 5, 1);

  return return_values;
}

/* Reads @file and decodes it; @latent gets the latents, completed as the
 * format says. */
static VaeTensor *
file_decode (const VaeFileFormat  *format,
             GFile                *file,
             const gchar          *requested,
             gboolean              interactive,
             gboolean              progress,
             VaeLatent           **latent,
             GError              **error)
{
  g_autoptr (VaeModel) model = NULL;
  VaePluginProgress    span;
  VaeTensor           *rgb = NULL;

  *latent = format->read (file, requested, interactive, &model, error);
  if (*latent == NULL)
    return NULL;

  if (progress)
    {
      gimp_progress_init_printf (_(format->progress),
                                 gimp_file_get_utf8_name (file),
                                 vae_plugin_model_label (model));
      vae_plugin_progress_span (&span, 0.0, 1.0);
    }
  if (! vae_model_decode (model, *latent, &rgb, NULL, NULL,
                          progress ? vae_plugin_progress_func : NULL, &span,
                          error))
    return NULL;

  if (format->complete_latents)
    {
      if (vae_latent_get_model_id (*latent) == NULL ||
          vae_latent_get_model_id (*latent)[0] == '\0')
        vae_latent_set_model (*latent, vae_model_get_id (model),
                              vae_model_get_hash (model));
      if (! vae_latent_get_image_size (*latent, NULL, NULL))
        vae_latent_set_image_size (*latent, vae_tensor_get_dim (rgb, 2),
                                   vae_tensor_get_dim (rgb, 1));
    }

  return rgb;
}

static GimpValueArray *
file_load_run (GimpProcedure         *procedure,
               GimpRunMode            run_mode,
               GFile                 *file,
               GimpMetadata          *metadata,
               GimpMetadataLoadFlags *flags,
               GimpProcedureConfig   *config,
               gpointer               run_data)
{
  const VaeFileFormat  *format = run_data;
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  g_autofree gchar     *requested = NULL;
  GimpValueArray       *return_values;
  GimpImage            *image = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  if (format->model_help != NULL)
    g_object_get (config, "model", &requested, NULL);
  rgb = file_decode (format, file, requested,
                     run_mode == GIMP_RUN_INTERACTIVE, TRUE, &latent, &error);
  if (rgb != NULL)
    image = file_image_new (file, rgb, latent, &error);
  if (image == NULL)
    return vae_plugin_return_error (procedure, error);

  gimp_progress_update (1.0);
  return_values = gimp_procedure_new_return_values (procedure,
                                                    GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_IMAGE (return_values, 1, image);

  return return_values;
}

static GimpValueArray *
file_thumb_run (GimpProcedure       *procedure,
                GFile               *file,
                gint                 size,
                GimpProcedureConfig *config,
                gpointer             run_data)
{
  g_autoptr (VaeLatent) latent = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  rgb = file_decode (run_data, file, NULL, FALSE, FALSE, &latent, &error);
  if (rgb == NULL)
    return gimp_procedure_new_return_values (procedure,
                                             GIMP_PDB_EXECUTION_ERROR, error);

  return thumbnail_return (procedure, rgb, size);
}

/* What GIMP knows a format's files by, for its load and export
 * procedures. */
static void
file_procedure_set_format (GimpProcedure       *procedure,
                           const VaeFileFormat *format)
{
  GimpFileProcedure *file_procedure = GIMP_FILE_PROCEDURE (procedure);

  gimp_file_procedure_set_format_name (file_procedure, format->format_name);
  gimp_file_procedure_set_mime_types (file_procedure, format->mime_type);
  gimp_file_procedure_set_extensions (file_procedure, format->extension);
}

/**
 * vae_file_open_procedure_new:
 * @plug_in: the plug-in
 * @name: the procedure's name
 * @format: the format it opens
 *
 * Returns: (transfer full): @format's thumbnail procedure when @name is
 *   the one @format names, else its load procedure.
 */
GimpProcedure *
vae_file_open_procedure_new (GimpPlugIn          *plug_in,
                             const gchar         *name,
                             const VaeFileFormat *format)
{
  GimpProcedure *procedure;

  if (g_strcmp0 (name, format->thumb_procedure) == 0)
    {
      procedure = gimp_thumbnail_procedure_new (plug_in, name,
                                                GIMP_PDB_PROC_TYPE_PLUGIN,
                                                file_thumb_run,
                                                (gpointer) format, NULL);
      vae_plugin_procedure_setup (procedure, NULL, _(format->thumb_blurb),
                                  _(format->thumb_help));

      return procedure;
    }

  procedure = gimp_load_procedure_new (plug_in, name,
                                       GIMP_PDB_PROC_TYPE_PLUGIN,
                                       file_load_run, (gpointer) format,
                                       NULL);
  vae_plugin_procedure_setup (procedure, _(format->label),
                              _(format->load_blurb), _(format->load_help));
  file_procedure_set_format (procedure, format);
  gimp_file_procedure_set_magics (GIMP_FILE_PROCEDURE (procedure),
                                  format->magics);
  gimp_load_procedure_set_thumbnail_loader (GIMP_LOAD_PROCEDURE (procedure),
                                            format->thumb_procedure);

  if (format->model_help != NULL)
    gimp_procedure_add_string_argument (procedure, "model",
                                        _("_Model"), _(format->model_help),
                                        "",
                                        G_PARAM_READWRITE);

  return procedure;
}

static GimpValueArray *
file_export_run (GimpProcedure        *procedure,
                 GimpRunMode           run_mode,
                 GimpImage            *image,
                 GFile                *file,
                 GimpExportOptions    *options,
                 GimpMetadata         *metadata,
                 GimpProcedureConfig  *config,
                 gpointer              run_data)
{
  const VaeFileExport  *export = run_data;
  g_autoptr (VaeModel)  model = NULL;
  g_autoptr (VaeTensor) rgb = NULL;
  g_autofree gchar     *path = NULL;
  VaePluginProgress     progress;
  VaeFileExportRun      run;
  GError               *error = NULL;

  gegl_init (NULL, NULL);

  path = vae_file_local_path (file, &error);
  if (path == NULL)
    return vae_plugin_return_error (procedure, error);

  rgb = vae_file_export_pixels (image, options, &error);
  if (rgb == NULL)
    return vae_plugin_return_error (procedure, error);

  run = (VaeFileExportRun) { procedure, run_mode, image, file, path, config,
                             rgb, &progress };
  if (vae_plugin_interactive (run_mode) && ! export->dialog (&run))
    return vae_plugin_return_cancel (procedure);

  model = export->model != NULL ? export->model (&run, &error)
                                : vae_plugin_config_load_model (config, &error);
  if (model == NULL || ! vae_plugin_check_encoder (model, &error))
    return vae_plugin_return_error (procedure, error);

  gimp_progress_init_printf (_(export->progress),
                             gimp_file_get_utf8_name (file),
                             vae_plugin_model_label (model));
  vae_plugin_progress_span (&progress, 0.0, 0.95);
  if (! export->write (&run, model, &error))
    return vae_plugin_return_error (procedure, error);
  gimp_progress_update (1.0);

  return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
}

/**
 * vae_file_export_procedure_new:
 * @plug_in: the plug-in
 * @name: the procedure's name
 * @export: the export procedure's parts
 *
 * Returns: (transfer full): an export procedure for @export's format, of
 *   any image (flattened to RGB or gray by GIMP).
 */
GimpProcedure *
vae_file_export_procedure_new (GimpPlugIn          *plug_in,
                               const gchar         *name,
                               const VaeFileExport *export)
{
  GimpProcedure *procedure;

  procedure = gimp_export_procedure_new (plug_in, name,
                                         GIMP_PDB_PROC_TYPE_PLUGIN, FALSE,
                                         file_export_run, (gpointer) export,
                                         NULL);
  gimp_procedure_set_image_types (procedure, "*");
  vae_plugin_procedure_setup (procedure, _(export->format->label),
                              _(export->blurb), _(export->help));
  file_procedure_set_format (procedure, export->format);
  gimp_export_procedure_set_capabilities (GIMP_EXPORT_PROCEDURE (procedure),
                                          GIMP_EXPORT_CAN_HANDLE_RGB |
                                          GIMP_EXPORT_CAN_HANDLE_GRAY,
                                          NULL, NULL, NULL);
  export->arguments (procedure);

  return procedure;
}

/**
 * vae_file_export_pixels:
 * @image: the image to export
 * @options: the export options GIMP passed
 * @error: return location for a #GError
 *
 * Reads what an export writes: the image as GIMP's export machinery
 * prepares it for a format without layers or alpha (visible layers merged,
 * flattened on the background colour, converted to RGB or gray), in a
 * temporary copy, so that @image itself never changes.
 *
 * Returns: (transfer full) (nullable): [3, h, w] R'G'B' pixels.
 */
VaeTensor *
vae_file_export_pixels (GimpImage          *image,
                        GimpExportOptions  *options,
                        GError            **error)
{
  GimpExportReturn  export;
  GimpImage        *copy = NULL;
  GList            *layers;
  GimpDrawable     *drawable;
  VaePluginPixels   pixels = { NULL, };
  gint              x, y;

  export = gimp_export_options_get_image (options, &image);
  if (export == GIMP_EXPORT_EXPORT)
    copy = image;

  /* One layer that does not cover the canvas exactly needs merging too,
   * or the file would have the layer's size and not the image's. */
  layers = gimp_image_list_layers (image);
  drawable = layers != NULL ? layers->data : NULL;
  if (drawable != NULL)
    gimp_drawable_get_offsets (drawable, &x, &y);
  if (drawable == NULL || layers->next != NULL ||
      x != 0 || y != 0 ||
      gimp_drawable_get_width (drawable) != gimp_image_get_width (image) ||
      gimp_drawable_get_height (drawable) != gimp_image_get_height (image) ||
      gimp_drawable_has_alpha (drawable))
    {
      if (copy == NULL)
        copy = image = gimp_image_duplicate (image);
      drawable = GIMP_DRAWABLE (gimp_image_flatten (image));
    }
  g_list_free (layers);

  if (drawable == NULL)
    g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                 _("The image has no visible pixels to export."));
  else
    vae_plugin_pixels_read (drawable, FALSE, &pixels, error);

  if (copy != NULL)
    gimp_image_delete (copy);
  g_clear_pointer (&pixels.alpha, vae_tensor_unref);

  return pixels.rgb;
}
