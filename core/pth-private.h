/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae-weights.h"

G_BEGIN_DECLS

/* PyTorch checkpoints (torch.save since 1.6) are zip archives holding a
 * pickle (<archive>/data.pkl) that describes the tensors and one entry per
 * storage (<archive>/data/<key>) with the raw little-endian elements.  The
 * three parts below read them without running anything from the file.
 */

/* zip-reader.c: the central directory of an archive held in memory. */
typedef struct _VaeZip VaeZip;

typedef struct
{
  gchar   *name;
  guint16  method;          /* 0 stored, 8 deflate */
  guint32  crc32;
  guint64  compressed_size;
  guint64  size;            /* uncompressed */
  guint64  data_offset;     /* of the (compressed) bytes in the archive */
} VaeZipEntry;

VaeZip            * vae_zip_open          (const guint8      *data,
                                           gsize              size,
                                           const gchar       *display,
                                           GError           **error);
void                vae_zip_free          (VaeZip            *zip);
guint               vae_zip_get_n_entries (VaeZip            *zip);
const VaeZipEntry * vae_zip_get_entry     (VaeZip            *zip,
                                           guint              index);
const VaeZipEntry * vae_zip_find          (VaeZip            *zip,
                                           const gchar       *name);
/* The uncompressed bytes, CRC checked: a view into the archive for stored
 * entries, a new buffer for deflated ones. */
GBytes            * vae_zip_read          (VaeZip            *zip,
                                           const VaeZipEntry *entry,
                                           GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeZip, vae_zip_free)

/* pickle.c: the tensors of a pickled (nested) dict, in dict order. */
typedef struct
{
  gchar    *name;           /* nested dict keys joined with '.' */
  VaeDtype  dtype;
  gchar    *storage_key;    /* <archive>/data/<storage_key> */
  guint64   storage_numel;  /* elements the storage claims to hold */
  guint64   offset;         /* in elements */
  guint     n_dims;
  gsize     shape[VAE_WEIGHT_MAX_DIMS];
  guint64   stride[VAE_WEIGHT_MAX_DIMS];
  guint64   n_elements;
} VaePickleTensor;

/* Largest pickle read: some 80000 tensors (a full SD checkpoint has
 * about 1100 in a pickle of 150 KiB).  The reader's memory is bounded by a
 * multiple of the pickle's size. */
#define VAE_PICKLE_MAX_SIZE ((gsize) 16 << 20)

/* Returns an array of VaePickleTensor (freed with the array).  Every
 * tensor's view lies inside storage_numel; whether the storage entry really
 * holds that many elements is the caller's check.  @display names the
 * pickle in messages, e.g. "model.pth: archive/data.pkl". */
GPtrArray         * vae_pickle_load_tensors (const guint8    *data,
                                             gsize            size,
                                             const gchar     *display,
                                             GError         **error);

/* The storages of a legacy checkpoint, in the order their bytes follow
 * the pickles: each an 8-byte little-endian element count, then the
 * elements. */
typedef struct
{
  gchar    *key;
  guint     esize;          /* bytes per element, integer storages too */
  guint64   numel;          /* what the pickle claims */
} VaePickleStorage;

/* Reads the five pickles of a legacy (before torch 1.6) checkpoint: magic
 * number, format version, system information, the object, the storage
 * keys.  Returns the tensors as vae_pickle_load_tensors() does, with
 * @storages (VaePickleStorage, freed with the array) and @data_start, the
 * offset where the storages' bytes begin. */
GPtrArray         * vae_pickle_load_legacy  (const guint8    *data,
                                             gsize            size,
                                             const gchar     *display,
                                             GPtrArray      **storages,
                                             gsize           *data_start,
                                             GError         **error);

/* pth.c: a zip or legacy checkpoint held in memory.  With @keep (the
 * mapping @data lies in), contiguous views of stored bytes are widened
 * only when looked up, as vae_safetensors_parse() does. */
gboolean            vae_pth_is_legacy     (const guint8      *data,
                                           gsize              size);
VaeWeights        * vae_pth_parse         (const guint8      *data,
                                           gsize              size,
                                           const gchar       *path,
                                           GMappedFile       *keep,
                                           GError           **error);

G_END_DECLS
