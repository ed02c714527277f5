/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Model facts: a model's id, name and latent scaling come from the
 * registry (data/models.json), never from the architectures, which report
 * structure only (architecture, latent channels, factor, traits such as
 * TAEF2's pooled blocks).  In order:
 *
 *   1. the registry entry whose files the model's files are: the same
 *      architecture, latent channels and factor, and every file of one of
 *      its sets matched by size and, where the registry lists one, SHA-256
 *      sum (summed only when the size matches);
 *   2. otherwise the first family (models.json's "families") the structure
 *      fits, with what the files' own metadata says over it: "vae.id" and
 *      "vae.name" (our own files, seed-f16-codec), "scaling_factor" and
 *      "shift_factor" (diffusers' configs as safetensors metadata).
 *
 * A model loaded through vae_registry_load() takes its entry's facts
 * without summing anything.
 */

#include <math.h>
#include <string.h>

#include "vae-registry-private.h"
#include "vae-sha256-private.h"

#define MAX_FILES 2

/* The loaded files: paths, or one model held in memory. */
typedef struct
{
  const gchar * const *paths;
  GBytes              *bytes;
  guint                n;
  gint64               sizes[MAX_FILES];
  gchar               *sums[MAX_FILES];
} Loaded;

static gboolean
loaded_matches (Loaded         *loaded,
                guint           k,
                const FileSpec *spec)
{
  if (spec->size < 0 || loaded->sizes[k] != spec->size)
    return FALSE;
  if (spec->sha256[0] == '\0')
    return TRUE;
  if (loaded->sums[k] == NULL)
    loaded->sums[k] = loaded->bytes
                      ? vae_sha256_data (g_bytes_get_data (loaded->bytes, NULL),
                                         g_bytes_get_size (loaded->bytes))
                      : vae_registry_sum_file (loaded->paths[k], NULL, NULL);

  return g_strcmp0 (loaded->sums[k], spec->sha256) == 0;
}

/* Whether the loaded files are the files of @set, one for one. */
static gboolean
set_matches (const VaeRegistryEntry *entry,
             const gchar            *set,
             Loaded                 *loaded)
{
  guint n = 0, matched = 0;
  guint i, k;

  for (i = 0; i < entry->files->len; i++)
    n += g_str_equal (g_array_index (entry->files, FileSpec, i).set, set);
  if (n != loaded->n)
    return FALSE;

  for (k = 0; k < loaded->n; k++)
    for (i = 0; i < entry->files->len; i++)
      {
        const FileSpec *spec = &g_array_index (entry->files, FileSpec, i);

        if (g_str_equal (spec->set, set) && loaded_matches (loaded, k, spec))
          {
            matched++;
            break;
          }
      }

  return matched == loaded->n;
}

static const VaeRegistryEntry *
entry_for_files (VaeRegistry        *registry,
                 const VaeModelInfo *info,
                 Loaded             *loaded)
{
  guint i, j;

  for (i = 0; i < registry->entries->len; i++)
    {
      const VaeRegistryEntry *entry = g_ptr_array_index (registry->entries, i);

      if (! g_str_equal (entry->architecture, info->architecture) ||
          entry->latent_channels != info->latent_channels ||
          entry->factor != info->factor)
        continue;
      for (j = 0; j < entry->sets->len; j++)
        if (set_matches (entry, g_ptr_array_index (entry->sets, j), loaded))
          return entry;
    }

  return NULL;
}

/* The decoder's file first: seed-f16-codec names itself there. */
static const gchar *
metadata (VaeWeights  *encoder,
          VaeWeights  *decoder,
          const gchar *key)
{
  const gchar *value = decoder ? vae_weights_get_metadata (decoder, key) : NULL;

  if (value == NULL && encoder)
    value = vae_weights_get_metadata (encoder, key);

  return value;
}

static gboolean
metadata_number (VaeWeights  *encoder,
                 VaeWeights  *decoder,
                 const gchar *key,
                 gdouble     *value)
{
  const gchar *text = metadata (encoder, decoder, key);
  gchar       *end;
  gdouble      v;

  if (text == NULL)
    return FALSE;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || ! isfinite (v))
    return FALSE;
  *value = v;

  return TRUE;
}

static gboolean
has_trait (const VaeModelInfo *info,
           const gchar        *trait)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (info->traits) && info->traits[i]; i++)
    if (g_str_equal (info->traits[i], trait))
      return TRUE;

  return FALSE;
}

static gboolean
family_fits (const Family       *family,
             const VaeModelInfo *info,
             VaeWeights         *encoder,
             VaeWeights         *decoder)
{
  const gchar      *value;
  g_autofree gchar *lower = NULL;
  guint             i;

  if (! g_str_equal (family->architecture, info->architecture) ||
      (family->latent_channels && family->latent_channels != info->latent_channels) ||
      (family->factor && family->factor != info->factor))
    return FALSE;
  for (i = 0; family->traits[i]; i++)
    if (! has_trait (info, family->traits[i]))
      return FALSE;
  if (family->metadata_key == NULL)
    return TRUE;

  value = metadata (encoder, decoder, family->metadata_key);
  if (value == NULL)
    return FALSE;
  lower = g_ascii_strdown (value, -1);
  for (i = 0; family->metadata_words[i]; i++)
    if (strstr (lower, family->metadata_words[i]))
      return TRUE;

  return FALSE;
}

static void
set_facts (VaeModelInfo *info,
           gchar        *id,
           gchar        *name,
           gdouble       scale,
           gdouble       shift)
{
  g_free (info->id);
  g_free (info->name);
  info->id = id;
  info->name = name;
  info->scale = scale;
  info->shift = shift;
}

void
vae_registry_entry_apply (const VaeRegistryEntry *entry,
                          VaeModelInfo           *info)
{
  set_facts (info, g_strdup (entry->id), g_strdup (entry->name), entry->scale,
             entry->shift);
}

static void
identify_by_structure (VaeRegistry  *registry,
                       VaeModelInfo *info,
                       VaeWeights   *encoder,
                       VaeWeights   *decoder)
{
  const gchar *text;
  gdouble      v;
  guint        i;

  set_facts (info, g_strdup (info->architecture), g_strdup (info->architecture),
             1.0, 0.0);
  for (i = 0; registry && i < registry->families->len; i++)
    {
      const Family *family = g_ptr_array_index (registry->families, i);

      if (family_fits (family, info, encoder, decoder))
        {
          set_facts (info,
                     vae_registry_family_expand (family->id, info->latent_channels),
                     vae_registry_family_expand (family->name, info->latent_channels),
                     family->scale, family->shift);
          break;
        }
    }

  if ((text = metadata (encoder, decoder, "vae.id")) && vae_registry_valid_id (text))
    {
      g_free (info->id);
      info->id = g_strdup (text);
    }
  if ((text = metadata (encoder, decoder, "vae.name")) && text[0] != '\0')
    {
      g_free (info->name);
      info->name = g_strdup (text);
    }
  if (metadata_number (encoder, decoder, "scaling_factor", &v) && v > 0.0)
    info->scale = v;
  if (metadata_number (encoder, decoder, "shift_factor", &v))
    info->shift = v;
}

void
vae_registry_identify (VaeModelInfo        *info,
                       VaeWeights          *encoder,
                       VaeWeights          *decoder,
                       const gchar * const *files,
                       GBytes              *bytes)
{
  g_autoptr (VaeRegistry)  registry = vae_registry_new (NULL);
  const VaeRegistryEntry  *entry = NULL;
  Loaded                   loaded = { files, bytes, 0, };
  guint                    k;

  if (bytes)
    {
      loaded.n = 1;
      loaded.sizes[0] = g_bytes_get_size (bytes);
    }
  for (k = 0; files && files[k] && k < MAX_FILES; k++)
    {
      loaded.sizes[k] = vae_registry_file_size (files[k]);
      loaded.n = k + 1;
    }

  if (registry && loaded.n > 0)
    entry = entry_for_files (registry, info, &loaded);
  if (entry)
    vae_registry_entry_apply (entry, info);
  else
    identify_by_structure (registry, info, encoder, decoder);

  for (k = 0; k < MAX_FILES; k++)
    g_free (loaded.sums[k]);
}
