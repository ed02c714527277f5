/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * Private: what the registry's files share.  vae-registry.c holds the
 * registry object, its lookups and the entries' accessors;
 * vae-registry-parse.c reads models.json strictly; vae-registry-find.c
 * the search path, installed files and models the registry does not list;
 * vae-registry-verify.c checks installed files; vae-registry-resolve.c
 * loads models and turns names into them.
 */

#pragma once

#include "vae-registry.h"
#include "arch/arch.h"

G_BEGIN_DECLS

#define RESOURCE_PREFIX   "/org/gimp-vae"
#define RESOURCE_REGISTRY RESOURCE_PREFIX "/models.json"
/* A registry is a few kilobytes; anything this large is not one. */
#define MAX_REGISTRY_SIZE ((gsize) 16 << 20)
/* The registry nests five levels (root, models, entry, files, file); a
 * safetensors header three.  Values: a registry of thousands of models, a
 * header of a quarter million tensors. */
#define MAX_JSON_DEPTH    32
#define MAX_JSON_VALUES   ((guint64) 1 << 21)

typedef struct
{
  gchar  *name;
  gchar  *set;
  gint64  size;
  gchar  *sha256;
  gchar  *url;
} FileSpec;

struct _VaeRegistryEntry
{
  gchar     *id;
  gchar     *name;
  gchar     *architecture;
  gchar     *license;
  gchar     *homepage;
  gchar     *note;
  guint      latent_channels;
  guint      factor;
  guint      n_tensors;
  gdouble    scale;
  gdouble    shift;
  gboolean   is_default;
  gboolean   is_codec;
  gboolean   embedded;
  GArray    *files;         /* FileSpec, in registry order */
  GPtrArray *sets;          /* distinct set names, first-listed first */
  GArray    *views;         /* VaeRegistryFile pointing into files */
};

/* What to call a model the registry does not list by its files, told by
 * its structure (see vae-registry-identify.c). */
typedef struct
{
  gchar   *architecture;
  guint    latent_channels;   /* 0: any */
  guint    factor;            /* 0: any */
  GStrv    traits;            /* the architecture reports all of them */
  gchar   *metadata_key;      /* NULL, or the file's metadata value */
  GStrv    metadata_words;    /* under it, lower-cased, holds one of these */
  gchar   *id;                /* "{channels}" stands for the latent channels */
  gchar   *name;
  gdouble  scale;
  gdouble  shift;
} Family;

struct _VaeRegistry
{
  gint       ref_count;
  gchar     *source;
  GPtrArray *entries;       /* VaeRegistryEntry * */
  GPtrArray *families;      /* Family *, in the order they are tried */
  GStrv      search_path;
  GResource *resource;      /* where embedded weights are looked up */
};

/* Where the files of one set were found. */
typedef struct
{
  gchar       *folder;
  const gchar *set;
} Location;

/* vae-registry-parse.c: the entries and families of a registry file, in
 * order (the arrays free them). */
gboolean    vae_registry_parse                 (const gchar             *data,
                                                gssize                   length,
                                                const gchar             *source,
                                                GPtrArray              **entries,
                                                GPtrArray              **families,
                                                GError                 **error);
gchar     * vae_registry_family_expand         (const gchar             *text,
                                                guint                    latent_channels);
/* Ids name folders and are typed by users: lower case, digits and
 * . _ - +, starting with a letter or digit, 64 at most. */
gboolean    vae_registry_valid_id              (const gchar             *id);

/* vae-registry-find.c */
gchar     * vae_registry_describe_search_path  (VaeRegistry             *registry);
gint64      vae_registry_file_size             (const gchar             *path);
gboolean    vae_registry_find_location         (VaeRegistry             *registry,
                                                const VaeRegistryEntry  *entry,
                                                Location                *location);
gchar     * vae_registry_resource_path         (const VaeRegistryEntry  *entry,
                                                const gchar             *name);
GBytes    * vae_registry_embedded_bytes        (VaeRegistry             *registry,
                                                const VaeRegistryEntry  *entry);

/* vae-registry-verify.c: the SHA-256 of a file in lower-case hex, read in
 * chunks. */
gchar     * vae_registry_sum_file              (const gchar             *path,
                                                GCancellable            *cancellable,
                                                GError                 **error);

/* vae-registry-identify.c: the model facts (id, name, latent scaling) of a
 * model just built, from libvae's registry: @entry's, or those of the entry
 * whose files @files (or @bytes, a model held in memory) are, else the
 * first family its structure fits, with what the files' own metadata
 * says. */
void        vae_registry_entry_apply           (const VaeRegistryEntry  *entry,
                                                VaeModelInfo            *info);
void        vae_registry_identify              (VaeModelInfo            *info,
                                                VaeWeights              *encoder,
                                                VaeWeights              *decoder,
                                                const gchar * const     *files,
                                                GBytes                  *bytes);

G_END_DECLS
