/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * The .vaez container and the two ways into it (docs/compression.md).
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <zlib.h>

#include "codec/entropy-model.h"
#include "codec/latent-coder.h"
#include "vae-compress.h"
#include "vae-error-private.h"
#include "vae-file.h"
#include "vae-model-private.h"
#include "vae-weights.h"

#define MAGIC "VAEZ"
#define VERSION 1
#define MAX_ID 64
#define HASH_BYTES 16
/* Bounds on what a header may claim.  A range-coded symbol can cost far
 * less than a bit, so a small file may honestly describe many values: the
 * bounds keep what a hostile one makes the decoder allocate (8 bytes per
 * latent value, 256 MiB at most) and loop over within reason, and still
 * hold 16384^2 images, TAEF2's latents of 8192^2. */
#define MAX_SIDE (1u << 14)
#define MAX_CHANNELS 1024
#define MAX_LATENT_VALUES ((gsize) 1 << 25)
#define MAX_FILE ((gsize) 1 << 30)

/* The generic coder's step, relative to each channel's spread: from 4
 * standard deviations at quality 0 to 1/64 at quality 100. */
#define LATENT_STEP(quality) exp2 (2.0 - (quality) / 125.0)

void
vae_compress_settings_init (VaeCompressSettings *settings)
{
  g_return_if_fail (settings != NULL);

  memset (settings, 0, sizeof (*settings));
  settings->quality = 75.0;
}

/**
 * vae_compressed_sniff:
 * @data: (array length=size): the first bytes of a file
 * @size: how many there are
 *
 * Returns: whether they start like a `.vaez` file (the format's magic).
 */
gboolean
vae_compressed_sniff (const guint8 *data,
                      gsize         size)
{
  return size >= 4 && memcmp (data, MAGIC, 4) == 0;
}

/**
 * vae_model_can_compress:
 * @model: a model
 *
 * Returns: whether @model has a trained entropy model, so that
 *   vae_compress_image() can use it (it must also be able to encode).
 */
gboolean
vae_model_can_compress (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, FALSE);

  return vae_model_get_entropy_model (model) != NULL;
}

/* --- header ---------------------------------------------------------- */

typedef struct
{
  VaeCompressKind  kind;
  gchar            model_id[MAX_ID + 1];
  guint8           hash[HASH_BYTES];
  guint            width;
  guint            height;
  guint            channels;
  guint            latent_height;
  guint            latent_width;
  guint            quality;          /* 0..VAE_CODEC_QUALITY_MAX */
  gfloat          *mean;             /* VAE_COMPRESS_LATENT: [C] */
  gfloat          *step;             /* VAE_COMPRESS_LATENT: [C] */
  const guint8    *payload;
  gsize            payload_size;
} Header;

static void
put_varint (GByteArray *out,
            guint64     value)
{
  do
    {
      guint8 b = value & 0x7f;

      value >>= 7;
      if (value)
        b |= 0x80;
      g_byte_array_append (out, &b, 1);
    }
  while (value);
}

static void
put_f32 (GByteArray *out,
         gfloat      value)
{
  guint32 bits;

  memcpy (&bits, &value, 4);
  bits = GUINT32_TO_LE (bits);
  g_byte_array_append (out, (const guint8 *) &bits, 4);
}

static gboolean
hash_from_string (const gchar *text,
                  guint8      *hash)
{
  guint i;

  if (text == NULL || !g_str_has_prefix (text, "sha256:") ||
      strlen (text) < 7 + 2 * HASH_BYTES)
    return FALSE;
  for (i = 0; i < HASH_BYTES; i++)
    {
      gint hi = g_ascii_xdigit_value (text[7 + 2 * i]);
      gint lo = g_ascii_xdigit_value (text[8 + 2 * i]);

      if (hi < 0 || lo < 0)
        return FALSE;
      hash[i] = (guint8) (hi << 4 | lo);
    }

  return TRUE;
}

static gchar *
hash_to_string (const guint8 *hash)
{
  GString *s = g_string_new ("sha256:");
  guint    i;

  for (i = 0; i < HASH_BYTES; i++)
    g_string_append_printf (s, "%02x", hash[i]);

  return g_string_free (s, FALSE);
}

/* The whole file for @h with @payload; @h->payload is not used. */
static GBytes *
write_file (const Header *h,
            GByteArray   *payload)
{
  GByteArray *out = g_byte_array_new ();
  guint8      id_len = (guint8) strlen (h->model_id);
  guint8      fixed[2] = { VERSION, (guint8) h->kind };
  guint32     crc;
  guint       c;

  g_byte_array_append (out, (const guint8 *) MAGIC, 4);
  g_byte_array_append (out, fixed, 2);
  g_byte_array_append (out, &id_len, 1);
  g_byte_array_append (out, (const guint8 *) h->model_id, id_len);
  g_byte_array_append (out, h->hash, HASH_BYTES);
  put_varint (out, h->width);
  put_varint (out, h->height);
  put_varint (out, h->channels);
  put_varint (out, h->latent_height);
  put_varint (out, h->latent_width);
  put_varint (out, h->quality);
  if (h->kind == VAE_COMPRESS_LATENT)
    for (c = 0; c < h->channels; c++)
      {
        put_f32 (out, h->mean[c]);
        put_f32 (out, h->step[c]);
      }
  put_varint (out, payload->len);
  g_byte_array_append (out, payload->data, payload->len);
  crc = GUINT32_TO_LE (crc32 (0, out->data, out->len));
  g_byte_array_append (out, (const guint8 *) &crc, 4);

  return g_byte_array_free_to_bytes (out);
}

typedef struct
{
  const guint8 *p;
  const guint8 *end;
} Cursor;

static gboolean
get_bytes (Cursor       *cur,
           gsize         n,
           const guint8 **out)
{
  if ((gsize) (cur->end - cur->p) < n)
    return FALSE;
  *out = cur->p;
  cur->p += n;
  return TRUE;
}

static gboolean
get_varint (Cursor  *cur,
            guint64  max,
            guint64 *value)
{
  guint64 v = 0;
  guint   shift;

  for (shift = 0; shift < 64; shift += 7)
    {
      guint8 b;

      if (cur->p >= cur->end)
        return FALSE;
      b = *cur->p++;
      v |= (guint64) (b & 0x7f) << shift;
      if (!(b & 0x80))
        {
          *value = v;
          return v <= max;
        }
    }

  return FALSE;
}

static gboolean
get_f32 (Cursor  *cur,
         gfloat  *value)
{
  const guint8 *b;
  guint32       bits;

  if (!get_bytes (cur, 4, &b))
    return FALSE;
  memcpy (&bits, b, 4);
  bits = GUINT32_FROM_LE (bits);
  memcpy (value, &bits, 4);

  return TRUE;
}

static void
header_clear (Header *h)
{
  g_clear_pointer (&h->mean, g_free);
  g_clear_pointer (&h->step, g_free);
}

static gboolean
read_header (GBytes  *bytes,
             Header  *h,
             GError **error)
{
  gsize         size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  const guint8 *b;
  Cursor        cur;
  guint64       v[7];
  guint32       crc;
  guint         id_len;
  guint         c;
  guint         i;

  memset (h, 0, sizeof (*h));

  if (size < 4 || memcmp (data, MAGIC, 4) != 0)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "not a compressed image (.vaez): the file does not start "
                     "with \"" MAGIC "\"");
  if (size < 4 + 2 + 1 + HASH_BYTES + 4)
    goto truncated;
  if (data[4] != VERSION)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "the .vaez file is of format version %u; this libvae "
                     "reads version %u%s", data[4], VERSION,
                     data[4] > VERSION ? " (it was made by a newer gimp-vae)" : "");

  /* everything else is only trusted once the checksum says it is intact */
  memcpy (&crc, data + size - 4, 4);
  if (GUINT32_FROM_LE (crc) != crc32 (0, data, size - 4))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "the .vaez file is damaged or truncated (checksum "
                     "mismatch)");

  if (data[5] != VAE_COMPRESS_LEARNED && data[5] != VAE_COMPRESS_LATENT)
    goto bad;
  h->kind = data[5];
  cur.p = data + 6;
  cur.end = data + size - 4;

  id_len = *cur.p++;
  if (id_len == 0 || id_len > MAX_ID || !get_bytes (&cur, id_len, &b))
    goto bad;
  for (i = 0; i < id_len; i++)
    if (!g_ascii_isgraph (b[i]))
      goto bad;
  memcpy (h->model_id, b, id_len);
  h->model_id[id_len] = '\0';
  if (!get_bytes (&cur, HASH_BYTES, &b))
    goto bad;
  memcpy (h->hash, b, HASH_BYTES);

  if (!get_varint (&cur, MAX_SIDE, &v[0]) || v[0] == 0 ||
      !get_varint (&cur, MAX_SIDE, &v[1]) || v[1] == 0 ||
      !get_varint (&cur, MAX_CHANNELS, &v[2]) || v[2] == 0 ||
      !get_varint (&cur, MAX_SIDE, &v[3]) || v[3] == 0 ||
      !get_varint (&cur, MAX_SIDE, &v[4]) || v[4] == 0 ||
      !get_varint (&cur, VAE_CODEC_QUALITY_MAX, &v[5]))
    goto bad;
  h->width = v[0];
  h->height = v[1];
  h->channels = v[2];
  h->latent_height = v[3];
  h->latent_width = v[4];
  h->quality = v[5];
  if (v[2] * v[3] * v[4] > MAX_LATENT_VALUES ||
      v[3] * v[4] > v[0] * v[1] || v[0] > v[4] * 64 || v[1] > v[3] * 64)
    goto bad;

  if (h->kind == VAE_COMPRESS_LATENT)
    {
      h->mean = g_new (gfloat, h->channels);
      h->step = g_new (gfloat, h->channels);
      for (c = 0; c < h->channels; c++)
        if (!get_f32 (&cur, &h->mean[c]) || !get_f32 (&cur, &h->step[c]) ||
            !isfinite (h->mean[c]) || !isfinite (h->step[c]) ||
            !(h->step[c] > 0.0f))
          goto bad;
    }

  if (!get_varint (&cur, G_MAXSIZE, &v[6]) || v[6] != (guint64) (cur.end - cur.p))
    goto bad;
  h->payload = cur.p;
  h->payload_size = v[6];

  return TRUE;

truncated:
  g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
               "the .vaez file is truncated (%" G_GSIZE_FORMAT " bytes)", size);
  return FALSE;

bad:
  header_clear (h);
  g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
               "the .vaez file's header is invalid");
  return FALSE;
}

/**
 * vae_compressed_read_info:
 * @data: the bytes of a `.vaez` file
 * @info: (out caller-allocates): what its header says
 * @error: return location for a #GError
 *
 * Reads and checks the header (the checksum covers the whole file), without
 * a model.
 *
 * Returns: %TRUE on success; %FALSE with %VAE_ERROR_FORMAT (not a .vaez
 *   file, damaged) or %VAE_ERROR_UNSUPPORTED (a newer format version).
 */
gboolean
vae_compressed_read_info (GBytes             *data,
                          VaeCompressedInfo  *info,
                          GError            **error)
{
  Header h;
  guint  i;

  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);

  memset (info, 0, sizeof (*info));
  if (!read_header (data, &h, error))
    return FALSE;

  info->kind = h.kind;
  info->model_id = g_strdup (h.model_id);
  for (i = 0; i < 8; i++)
    g_snprintf (info->model_hash + 2 * i, 3, "%02x", h.hash[i]);
  info->width = h.width;
  info->height = h.height;
  info->channels = h.channels;
  info->latent_width = h.latent_width;
  info->latent_height = h.latent_height;
  info->quality = h.quality / 10.0;
  info->size = g_bytes_get_size (data);
  info->bpp = 8.0 * info->size / ((gdouble) h.width * h.height);
  header_clear (&h);

  return TRUE;
}

void
vae_compressed_info_clear (VaeCompressedInfo *info)
{
  g_clear_pointer (&info->model_id, g_free);
}

/* --- compressing ----------------------------------------------------- */

/* Codes z at one quality setting; returns the whole file. */
typedef GBytes * (* CodeFunc) (gconstpointer  self,
                               Header        *h,
                               gint32        *q);

typedef struct
{
  const VaeEntropyModel *model;
  const gfloat          *z;
} Learned;

static GBytes *
code_learned (gconstpointer  self,
              Header        *h,
              gint32        *q)
{
  const Learned        *l = self;
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  gsize                  plane = (gsize) h->latent_height * h->latent_width;

  vae_entropy_model_quantize (l->model, h->quality, l->z, plane, q);
  vae_entropy_model_encode (l->model, h->quality, q, h->latent_height,
                            h->latent_width, payload);

  return write_file (h, payload);
}

typedef struct
{
  const gfloat *z;
  gdouble      *spread;     /* [C]: standard deviation of each channel */
} Generic;

static GBytes *
code_generic (gconstpointer  self,
              Header        *h,
              gint32        *q)
{
  const Generic        *g = self;
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  gsize                  plane = (gsize) h->latent_height * h->latent_width;
  gdouble                rel = LATENT_STEP (h->quality);
  guint                  c;
  gsize                  i;

  for (c = 0; c < h->channels; c++)
    {
      h->step[c] = g->spread[c] > 0.0 ? (gfloat) (rel * g->spread[c]) : 1.0f;
      for (i = 0; i < plane; i++)
        {
          gfloat v = nearbyintf ((g->z[c * plane + i] - h->mean[c]) / h->step[c]);

          q[c * plane + i] = (gint32) CLAMP (v, -VAE_CODEC_MAX_MAGNITUDE,
                                             VAE_CODEC_MAX_MAGNITUDE);
        }
    }
  vae_latent_coder_encode (q, h->channels, h->latent_height, h->latent_width,
                           payload);

  return write_file (h, payload);
}

/* The file at the settings' quality, or at the best quality whose file
 * fits the target: file size grows with quality, so a bisection over the
 * integer settings finds it in about ten codings. */
static GBytes *
code_with_settings (CodeFunc                   code,
                    gconstpointer              self,
                    Header                    *h,
                    const VaeCompressSettings *settings,
                    GError                   **error)
{
  g_autofree gint32 *q = NULL;
  gsize              n = (gsize) h->channels * h->latent_height * h->latent_width;
  gdouble            budget;
  GBytes            *best;
  guint              lo;
  guint              hi;

  q = g_try_new (gint32, n);
  if (q == NULL)
    return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                          "out of memory for %" G_GSIZE_FORMAT " latent values",
                          n);

  if (!(settings->target_bpp > 0.0))
    {
      h->quality = (guint) CLAMP (round (settings->quality * 10.0), 0,
                                  VAE_CODEC_QUALITY_MAX);
      return code (self, h, q);
    }

  budget = settings->target_bpp * h->width * h->height / 8.0;
  h->quality = 0;
  best = code (self, h, q);
  if (g_bytes_get_size (best) > budget)
    return best;

  lo = 0;
  hi = VAE_CODEC_QUALITY_MAX + 1;
  while (hi - lo > 1)
    {
      guint   mid = (lo + hi) / 2;
      GBytes *file;

      h->quality = mid;
      file = code (self, h, q);
      if (g_bytes_get_size (file) <= budget)
        {
          g_bytes_unref (best);
          best = file;
          lo = mid;
        }
      else
        {
          g_bytes_unref (file);
          hi = mid;
        }
    }

  return best;
}

static gboolean
fill_model_fields (Header      *h,
                   const gchar *id,
                   const gchar *hash,
                   GError     **error)
{
  if (id == NULL || strlen (id) == 0 || strlen (id) > MAX_ID)
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "the latents name no model (or one with an id of over %d "
                     "characters); a .vaez file must say which model decodes "
                     "it", MAX_ID);
  g_strlcpy (h->model_id, id, sizeof (h->model_id));
  if (!hash_from_string (hash, h->hash))
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "the latents do not record the hash of the model that "
                     "made them");

  return TRUE;
}

/**
 * vae_compress_image:
 * @model: a model with an entropy model (vae_model_can_compress())
 * @image: a [3, H, W] image, values in [0, 1]
 * @settings: quality or target rate
 * @options: (nullable): encoding options, %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @progress: (nullable): progress callback
 * @progress_data: data for @progress
 * @error: return location for a #GError
 *
 * Encodes @image and codes its latents with the model's trained entropy
 * model into the bytes of a `.vaez` file.
 *
 * Returns: (transfer full) (nullable): the file's bytes.
 */
GBytes *
vae_compress_image (VaeModel                  *model,
                    const VaeTensor           *image,
                    const VaeCompressSettings *settings,
                    const VaeOptions          *options,
                    GCancellable              *cancellable,
                    VaeProgressFunc            progress,
                    gpointer                   progress_data,
                    GError                   **error)
{
  const VaeEntropyModel *em;
  g_autoptr (VaeLatent)  latent = NULL;
  const VaeTensor       *z;
  Header                 h = { 0 };
  Learned                self;
  GBytes                *file;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  em = vae_model_get_entropy_model (model);
  if (em == NULL || !vae_model_can_encode (model))
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "the model %s has no trained entropy model: it "
                          "cannot compress images (compress its latents "
                          "instead, or use "
                          "a codec model such as seed-f16-codec)",
                          vae_model_get_id (model));
  if (vae_tensor_get_dim (image, 1) > MAX_SIDE ||
      vae_tensor_get_dim (image, 2) > MAX_SIDE)
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "images of over %u pixels a side cannot be "
                          "compressed", MAX_SIDE);

  if (!vae_model_encode (model, image, &latent, options, cancellable,
                         progress, progress_data, error))
    return NULL;

  h.kind = VAE_COMPRESS_LEARNED;
  if (!fill_model_fields (&h, vae_model_get_id (model),
                          vae_model_get_hash (model), error))
    return NULL;
  z = vae_latent_get_tensor (latent);
  h.width = vae_tensor_get_dim (image, 2);
  h.height = vae_tensor_get_dim (image, 1);
  h.channels = vae_latent_get_channels (latent);
  h.latent_height = vae_latent_get_height (latent);
  h.latent_width = vae_latent_get_width (latent);
  self.model = em;
  self.z = vae_tensor_peek_data (z);

  file = code_with_settings (code_learned, &self, &h, settings, error);
  if (file != NULL && progress)
    progress (1.0, "compress", progress_data);

  return file;
}

/**
 * vae_compress_latent:
 * @latent: latents of any model, recording the model (vae_latent_set_model())
 * @settings: quality or target rate
 * @error: return location for a #GError
 *
 * Codes @latent with libvae's generic adaptive coder: each channel is
 * quantised with a step proportional to its spread, the steps are stored.
 *
 * Returns: (transfer full) (nullable): the bytes of a `.vaez` file.
 */
GBytes *
vae_compress_latent (const VaeLatent           *latent,
                     const VaeCompressSettings *settings,
                     GError                   **error)
{
  const gfloat        *z;
  g_autofree gdouble  *spread = NULL;
  Header               h = { 0 };
  Generic              self;
  gsize                plane;
  guint                width = 0;
  guint                height = 0;
  guint                c;
  gsize                i;
  GBytes              *file;

  g_return_val_if_fail (latent != NULL, NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  h.kind = VAE_COMPRESS_LATENT;
  if (!fill_model_fields (&h, vae_latent_get_model_id (latent),
                          vae_latent_get_model_hash (latent), error))
    return NULL;
  h.channels = vae_latent_get_channels (latent);
  h.latent_height = vae_latent_get_height (latent);
  h.latent_width = vae_latent_get_width (latent);
  if (!vae_latent_get_image_size (latent, &width, &height))
    {
      /* ComfyUI's latents record no image size: the factor is unknown
       * here, 8 is what most models use */
      width = h.latent_width * 8;
      height = h.latent_height * 8;
    }
  h.width = width;
  h.height = height;
  if (h.channels > MAX_CHANNELS || h.width > MAX_SIDE || h.height > MAX_SIDE ||
      h.latent_width > MAX_SIDE || h.latent_height > MAX_SIDE ||
      (gsize) h.channels * h.latent_width * h.latent_height > MAX_LATENT_VALUES)
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "latents of %u x %u x %u are too large for a .vaez "
                          "file", h.channels, h.latent_height, h.latent_width);

  z = vae_tensor_peek_data (vae_latent_get_tensor (latent));
  plane = (gsize) h.latent_height * h.latent_width;
  h.mean = g_new (gfloat, h.channels);
  h.step = g_new (gfloat, h.channels);
  spread = g_new (gdouble, h.channels);
  for (c = 0; c < h.channels; c++)
    {
      gdouble s1 = 0.0;
      gdouble s2 = 0.0;

      for (i = 0; i < plane; i++)
        {
          if (!isfinite (z[c * plane + i]))
            {
              header_clear (&h);
              g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                           "the latents hold a value that is not a finite "
                           "number (channel %u)", c);
              return NULL;
            }
          s1 += z[c * plane + i];
        }
      h.mean[c] = (gfloat) (s1 / plane);
      for (i = 0; i < plane; i++)
        s2 += (z[c * plane + i] - h.mean[c]) * (z[c * plane + i] - h.mean[c]);
      spread[c] = sqrt (s2 / plane);
    }
  self.z = z;
  self.spread = spread;

  file = code_with_settings (code_generic, &self, &h, settings, error);
  header_clear (&h);

  return file;
}

/* --- decompressing --------------------------------------------------- */

/**
 * vae_decompress_latent:
 * @model: (nullable): the model that made the file; needed (and checked)
 *   for %VAE_COMPRESS_LEARNED files only
 * @data: the bytes of a `.vaez` file
 * @error: return location for a #GError
 *
 * Decodes the latents of a `.vaez` file, recording the model and the
 * image size.
 *
 * Returns: (transfer full) (nullable): the latents.
 */
VaeLatent *
vae_decompress_latent (VaeModel  *model,
                       GBytes    *data,
                       GError   **error)
{
  g_autoptr (VaeTensor) tensor = NULL;
  g_autofree gint32    *q = NULL;
  g_autofree gchar     *hash = NULL;
  VaeLatent            *latent;
  Header                h;
  gfloat               *z;
  gsize                 plane;
  gsize                 n;
  guint                 c;
  gsize                 i;
  gboolean              ok;

  g_return_val_if_fail (data != NULL, NULL);

  if (!read_header (data, &h, error))
    return NULL;
  hash = hash_to_string (h.hash);

  if (h.kind == VAE_COMPRESS_LEARNED)
    {
      const VaeEntropyModel *em = model ? vae_model_get_entropy_model (model) : NULL;

      if (em == NULL || g_strcmp0 (vae_model_get_hash (model), hash) != 0)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                       "the file was compressed by the model %s "
                       "(hash %.23s); %s", h.model_id, hash,
                       model == NULL ? "no model was given" :
                       em == NULL ? "the model given has no entropy model" :
                       "the model given is another one");
          header_clear (&h);
          return NULL;
        }
      if (h.channels != vae_model_get_latent_channels (model) ||
          h.latent_width != (h.width + vae_model_get_factor (model) - 1) /
                            vae_model_get_factor (model) ||
          h.latent_height != (h.height + vae_model_get_factor (model) - 1) /
                             vae_model_get_factor (model))
        {
          header_clear (&h);
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "the .vaez file's header is invalid");
          return NULL;
        }
    }

  plane = (gsize) h.latent_height * h.latent_width;
  n = plane * h.channels;
  q = g_try_new (gint32, n);
  tensor = q ? vae_tensor_new_3d (h.channels, h.latent_height, h.latent_width,
                                  error) : NULL;
  if (tensor == NULL)
    {
      if (q == NULL)
        g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                     "out of memory for %" G_GSIZE_FORMAT " latent values", n);
      header_clear (&h);
      return NULL;
    }
  z = vae_tensor_get_data (tensor);

  if (h.kind == VAE_COMPRESS_LEARNED)
    {
      const VaeEntropyModel *em = vae_model_get_entropy_model (model);

      ok = vae_entropy_model_decode (em, h.quality, h.payload, h.payload_size,
                                     h.latent_height, h.latent_width, q, error);
      if (ok)
        vae_entropy_model_dequantize (em, h.quality, q, plane, z);
    }
  else
    {
      ok = vae_latent_coder_decode (h.payload, h.payload_size, h.channels,
                                    h.latent_height, h.latent_width, q, error);
      if (ok)
        for (c = 0; c < h.channels; c++)
          for (i = 0; i < plane; i++)
            z[c * plane + i] = h.mean[c] + q[c * plane + i] * h.step[c];
    }
  if (!ok)
    {
      header_clear (&h);
      return NULL;
    }

  latent = vae_latent_new (tensor, error);
  if (latent != NULL)
    {
      vae_latent_set_model (latent, h.model_id, hash);
      vae_latent_set_image_size (latent, h.width, h.height);
    }
  header_clear (&h);

  return latent;
}

/**
 * vae_decompress_image:
 * @model: the model that made the file (for %VAE_COMPRESS_LATENT files:
 *   the model that made the latents)
 * @data: the bytes of a `.vaez` file
 * @options: (nullable): decoding options, %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @progress: (nullable): progress callback
 * @progress_data: data for @progress
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the [3, H, W] image at the size it
 *   was compressed at, not clamped.
 */
VaeTensor *
vae_decompress_image (VaeModel          *model,
                      GBytes            *data,
                      const VaeOptions  *options,
                      GCancellable      *cancellable,
                      VaeProgressFunc    progress,
                      gpointer           progress_data,
                      GError           **error)
{
  g_autoptr (VaeLatent) latent = NULL;
  VaeTensor            *image = NULL;

  g_return_val_if_fail (model != NULL, NULL);

  latent = vae_decompress_latent (model, data, error);
  if (latent == NULL)
    return NULL;
  if (!vae_model_decode (model, latent, &image, options, cancellable,
                         progress, progress_data, error))
    return NULL;

  return image;
}

/* --- files ----------------------------------------------------------- */

/**
 * vae_compressed_load:
 * @path: a `.vaez` file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the file's bytes, unchecked (see
 *   vae_compressed_read_info()); %NULL with %VAE_ERROR_IO when it cannot be
 *   read, is not a regular file or is over 1 GiB.
 */
GBytes *
vae_compressed_load (const gchar  *path,
                     GError      **error)
{
  g_autofree gchar *display = NULL;
  g_autofree gchar *contents = NULL;
  GStatBuf          st;
  gsize             size;
  gint              fd;
  gboolean          too_large;

  g_return_val_if_fail (path != NULL, NULL);

  display = g_filename_display_name (path);
  fd = vae_open_regular (path, error);
  if (fd < 0)
    return NULL;
  too_large = fstat (fd, &st) != 0 || (gsize) st.st_size > MAX_FILE;
  close (fd);
  if (too_large)
    return vae_fail_null (error, VAE_ERROR_IO,
                          "cannot open %s: over 1 GiB, too large for a .vaez "
                          "file", display);

  if (!g_file_get_contents (path, &contents, &size, NULL))
    return vae_fail_null (error, VAE_ERROR_IO, "cannot read %s", display);

  return g_bytes_new_take (g_steal_pointer (&contents), size);
}

/**
 * vae_compressed_save:
 * @data: the bytes of a `.vaez` file
 * @path: where to write them
 * @error: return location for a #GError
 *
 * Replaces @path atomically (a device or FIFO is written into).
 *
 * Returns: %TRUE on success, else %FALSE with %VAE_ERROR_IO.
 */
gboolean
vae_compressed_save (GBytes       *data,
                     const gchar  *path,
                     GError      **error)
{
  gsize         size;
  gconstpointer bytes;

  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  bytes = g_bytes_get_data (data, &size);
  return vae_file_write (path, bytes, size, "the compressed image", error);
}
