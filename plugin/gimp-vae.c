/* gimp-vae - image autoencoders in GIMP 3
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The plug-in object: one binary, five procedures under Filters ▸ VAE
 * (proc-*.c) and File ▸ Open and Export As for .latent and .vaez files
 * (file-*.c).
 */

#include <libgimp/gimp.h>

#include "gimp-vae.h"
#include "vae-file-common.h"

/* A procedure is made by its constructor, or, for File ▸ Open's (loading
 * and thumbnails), by vae_file_open_procedure_new () for its format, or,
 * for Export As, by vae_file_export_procedure_new () from its parts. */
typedef struct
{
  const gchar          *name;
  GimpProcedure *     (* create) (GimpPlugIn  *plug_in,
                                  const gchar *name);
  const VaeFileFormat  *format;
  const VaeFileExport  *export;
} ProcedureEntry;

static const ProcedureEntry procedures[] =
{
  { VAE_PROC_ENCODE,        vae_encode_procedure_new,        NULL, NULL },
  { VAE_PROC_DECODE,        vae_decode_procedure_new,        NULL, NULL },
  { VAE_PROC_RECONSTRUCT,   vae_reconstruct_procedure_new,   NULL, NULL },
  { VAE_PROC_INTERPOLATE,   vae_interpolate_procedure_new,   NULL, NULL },
  { VAE_PROC_EDIT,          vae_edit_procedure_new,          NULL, NULL },
  /* A thumbnail procedure must be installed before the load procedure
   * that names it. */
  { VAE_PROC_LATENT_THUMB,  NULL, &vae_latent_format, NULL },
  { VAE_PROC_LATENT_LOAD,   NULL, &vae_latent_format, NULL },
  { VAE_PROC_LATENT_EXPORT, NULL, NULL, &vae_latent_export },
  { VAE_PROC_VAEZ_THUMB,    NULL, &vae_vaez_format,   NULL },
  { VAE_PROC_VAEZ_LOAD,     NULL, &vae_vaez_format,   NULL },
  { VAE_PROC_VAEZ_EXPORT,   NULL, NULL, &vae_vaez_export },
};

#define VAE_TYPE_PLUG_IN (vae_plug_in_get_type ())
G_DECLARE_FINAL_TYPE (VaePlugIn, vae_plug_in, VAE, PLUG_IN, GimpPlugIn)

struct _VaePlugIn
{
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (VaePlugIn, vae_plug_in, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (VAE_TYPE_PLUG_IN)

static GList *
vae_plug_in_query_procedures (GimpPlugIn *plug_in)
{
  GList *names = NULL;
  gsize  i;

  for (i = G_N_ELEMENTS (procedures); i-- > 0;)
    names = g_list_prepend (names, g_strdup (procedures[i].name));

  return names;
}

static GimpProcedure *
vae_plug_in_create_procedure (GimpPlugIn  *plug_in,
                              const gchar *name)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (procedures); i++)
    {
      const ProcedureEntry *entry = &procedures[i];

      if (g_strcmp0 (name, entry->name) != 0)
        continue;
      if (entry->format != NULL)
        return vae_file_open_procedure_new (plug_in, name, entry->format);
      if (entry->export != NULL)
        return vae_file_export_procedure_new (plug_in, name, entry->export);
      return entry->create (plug_in, name);
    }

  return NULL;
}

/* GIMP's default: domain "gimp-vae" (the plug-in folder's name), catalogs
 * in the plug-in folder's locale/.  Stated explicitly so that a renamed
 * folder does not silently lose the translations.
 */
static gboolean
vae_plug_in_set_i18n (GimpPlugIn   *plug_in,
                      const gchar  *procedure_name,
                      gchar       **gettext_domain,
                      gchar       **catalog_dir)
{
  *gettext_domain = g_strdup (GETTEXT_PACKAGE);
  *catalog_dir = g_strdup ("locale");

  return TRUE;
}

static void
vae_plug_in_class_init (VaePlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = vae_plug_in_query_procedures;
  plug_in_class->create_procedure = vae_plug_in_create_procedure;
  plug_in_class->set_i18n         = vae_plug_in_set_i18n;
}

static void
vae_plug_in_init (VaePlugIn *plug_in)
{
}
