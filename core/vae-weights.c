/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 *
 * The weights container the readers fill (safetensors.c, pth.c) and the
 * architectures fetch from: names, roots and EMA copies, lazy widening and
 * its CRC checks, dtypes.  Loading a file is vae-weights-load.c's.
 */

#include <math.h>
#include <string.h>

#include <zlib.h>

#include "vae-error-private.h"
#include "vae-weights.h"

struct _VaeWeights
{
  gchar      *path;
  gchar      *display_name;
  GPtrArray  *tensors;       /* VaeWeight *, in file order */
  GHashTable *by_name;       /* name -> VaeWeight *, names owned by tensors */
  GHashTable *metadata;      /* key -> value, both owned */
  guint64     n_params;
  GMappedFile *mapping;      /* what lazy tensors' sources lie in */
  GPtrArray  *checks;        /* VaeWeightCheck *, owned */
  gchar      *root;          /* prefix of every name looked up, "" or a
                              * wrapper such as "state_dict." */
  gboolean    ema;           /* LitEma copies under root "model_ema." */
};

/* The CRC of bytes lazy tensors take their values from (a stored zip
 * entry), checked when the first of them is widened. */
struct _VaeWeightCheck
{
  gchar        *what;
  const guint8 *bytes;
  gsize         size;
  guint32       crc;
  gint          state;       /* 0 not yet, 1 good, -1 damaged */
};

static void
check_free (gpointer data)
{
  VaeWeightCheck *check = data;

  g_free (check->what);
  g_free (check);
}

static void
weight_free (gpointer data)
{
  VaeWeight *weight = data;

  g_free (weight->name);
  g_free (weight->data);
  g_free (weight);
}

VaeWeights *
vae_weights_new (const gchar *path)
{
  VaeWeights *weights;

  g_return_val_if_fail (path != NULL, NULL);

  weights = g_new0 (VaeWeights, 1);
  weights->path = g_strdup (path);
  weights->display_name = g_path_get_basename (path);
  weights->tensors = g_ptr_array_new_with_free_func (weight_free);
  weights->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  weights->metadata = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, g_free);
  weights->checks = g_ptr_array_new_with_free_func (check_free);
  weights->root = g_strdup ("");

  return weights;
}

void
vae_weights_free (VaeWeights *weights)
{
  if (! weights)
    return;

  g_hash_table_unref (weights->by_name);
  g_hash_table_unref (weights->metadata);
  g_ptr_array_unref (weights->tensors);
  g_ptr_array_unref (weights->checks);
  g_clear_pointer (&weights->mapping, g_mapped_file_unref);
  g_free (weights->root);
  g_free (weights->display_name);
  g_free (weights->path);
  g_free (weights);
}

static gchar *
format_shape (guint        n_dims,
              const gsize *shape)
{
  GString *str = g_string_new ("[");
  guint    i;

  for (i = 0; i < n_dims; i++)
    g_string_append_printf (str, "%s%" G_GSIZE_FORMAT,
                            i ? ", " : "", shape[i]);
  g_string_append_c (str, ']');

  return g_string_free (str, FALSE);
}

static VaeWeight *
weights_add (VaeWeights   *weights,
             const gchar  *name,
             VaeDtype      dtype,
             guint         n_dims,
             const gsize  *shape,
             const guint8 *source,
             GError      **error)
{
  VaeWeight *weight;
  gsize      n = 1;
  guint      i;

  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (n_dims == 0 || shape != NULL, NULL);

  if (g_hash_table_contains (weights->by_name, name))
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: tensor '%s' appears twice",
                          weights->display_name, name);
  if (n_dims > VAE_WEIGHT_MAX_DIMS)
    return vae_fail_null (error, VAE_ERROR_UNSUPPORTED,
                          "%s: tensor '%s' has %u dimensions; at most %d are "
                          "supported", weights->display_name, name, n_dims,
                          VAE_WEIGHT_MAX_DIMS);

  for (i = 0; i < n_dims; i++)
    {
      if (shape[i] != 0 && n > G_MAXSIZE / sizeof (gfloat) / shape[i])
        return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                              "%s: tensor '%s' is too large to hold in memory",
                              weights->display_name, name);
      n *= shape[i];
    }

  weight = g_new0 (VaeWeight, 1);
  weight->dtype = dtype;
  weight->n_dims = n_dims;
  for (i = 0; i < n_dims; i++)
    weight->shape[i] = shape[i];
  weight->n_elements = n;
  weight->source = source;
  /* At least one float, so that an empty tensor still has non-NULL data:
   * vae_weights_get() uses NULL to mean failure. */
  weight->data = source ? NULL : g_try_new (gfloat, MAX (n, 1));
  if (! weight->data && ! source)
    {
      g_free (weight);
      g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                   "%s: out of memory for tensor '%s' (%" G_GSIZE_FORMAT
                   " MiB)",
                   weights->display_name, name,
                   (n * sizeof (gfloat)) >> 20);
      return NULL;
    }
  weight->name = g_strdup (name);

  g_ptr_array_add (weights->tensors, weight);
  g_hash_table_insert (weights->by_name, weight->name, weight);
  weights->n_params += n;

  return weight;
}

VaeWeight *
vae_weights_add (VaeWeights   *weights,
                 const gchar  *name,
                 VaeDtype      dtype,
                 guint         n_dims,
                 const gsize  *shape,
                 GError      **error)
{
  return weights_add (weights, name, dtype, n_dims, shape, NULL, error);
}

VaeWeight *
vae_weights_add_lazy (VaeWeights   *weights,
                      const gchar  *name,
                      VaeDtype      dtype,
                      guint         n_dims,
                      const gsize  *shape,
                      const guint8 *source,
                      GError      **error)
{
  g_return_val_if_fail (source != NULL, NULL);

  return weights_add (weights, name, dtype, n_dims, shape, source, error);
}

VaeWeightCheck *
vae_weights_add_check (VaeWeights   *weights,
                       const gchar  *what,
                       const guint8 *bytes,
                       gsize         size,
                       guint32       crc)
{
  VaeWeightCheck *check = g_new0 (VaeWeightCheck, 1);

  check->what = g_strdup (what);
  check->bytes = bytes;
  check->size = size;
  check->crc = crc;
  g_ptr_array_add (weights->checks, check);

  return check;
}

void
vae_weights_keep (VaeWeights  *weights,
                  GMappedFile *mapping)
{
  g_clear_pointer (&weights->mapping, g_mapped_file_unref);
  weights->mapping = g_mapped_file_ref (mapping);
}

void
vae_weights_drop_unused (VaeWeights *weights)
{
  guint i;

  g_return_if_fail (weights != NULL);

  for (i = weights->tensors->len; i-- > 0; )
    {
      VaeWeight *weight = g_ptr_array_index (weights->tensors, i);

      if (! weight->used)
        {
          weights->n_params -= weight->n_elements;
          g_hash_table_remove (weights->by_name, weight->name);
          g_ptr_array_remove_index (weights->tensors, i);
        }
    }
  /* Every tensor left was fetched, hence widened: the file can go. */
  g_clear_pointer (&weights->mapping, g_mapped_file_unref);
}

guint64
vae_weights_get_n_used_params (VaeWeights *weights)
{
  guint64 n = 0;
  guint   i;

  g_return_val_if_fail (weights != NULL, 0);

  for (i = 0; i < weights->tensors->len; i++)
    {
      VaeWeight *weight = g_ptr_array_index (weights->tensors, i);

      if (weight->used)
        n += weight->n_elements;
    }

  return n;
}

void
vae_weights_set_metadata (VaeWeights  *weights,
                          const gchar *key,
                          const gchar *value)
{
  g_return_if_fail (weights != NULL);
  g_return_if_fail (key != NULL && value != NULL);

  g_hash_table_replace (weights->metadata, g_strdup (key), g_strdup (value));
}

const gchar *
vae_weights_get_path (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, NULL);

  return weights->path;
}

const gchar *
vae_weights_get_display_name (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, NULL);

  return weights->display_name;
}

guint
vae_weights_get_n_tensors (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, 0);

  return weights->tensors->len;
}

guint64
vae_weights_get_n_params (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, 0);

  return weights->n_params;
}

/* Does @name lie under the root, and is it one models see? */
static const gchar *
relative_name (VaeWeights  *weights,
               const gchar *name)
{
  gsize n = strlen (weights->root);

  if (strncmp (name, weights->root, n) != 0)
    return NULL;
  if (weights->ema && g_str_has_prefix (name + n, "model_ema."))
    return NULL;

  return name + n;
}

GPtrArray *
vae_weights_list (VaeWeights *weights)
{
  GPtrArray *names;
  guint      i;

  g_return_val_if_fail (weights != NULL, NULL);

  names = g_ptr_array_sized_new (weights->tensors->len);
  for (i = 0; i < weights->tensors->len; i++)
    {
      VaeWeight   *weight = g_ptr_array_index (weights->tensors, i);
      const gchar *name = relative_name (weights, weight->name);

      if (name)
        g_ptr_array_add (names, (gpointer) name);
    }

  return names;
}

/* LitEma (latent-diffusion, stable-diffusion) keeps its copy of parameter
 * a.b.c as buffer "model_ema.abc" of the same module. */
static gchar *
ema_name (const gchar *root,
          const gchar *name)
{
  GString     *out = g_string_new (root);
  const gchar *p;

  g_string_append (out, "model_ema.");
  for (p = name; *p; p++)
    if (*p != '.')
      g_string_append_c (out, *p);

  return g_string_free (out, FALSE);
}

/* The tensor @name names for models: under the root, the EMA copy when
 * there is one of the same shape. */
static VaeWeight *
find (VaeWeights  *weights,
      const gchar *name)
{
  g_autofree gchar *full = NULL;
  VaeWeight        *plain;

  if (! weights->root[0] && ! weights->ema)
    return g_hash_table_lookup (weights->by_name, name);

  full = g_strconcat (weights->root, name, NULL);
  plain = g_hash_table_lookup (weights->by_name, full);

  if (weights->ema)
    {
      g_autofree gchar *shadow_name = ema_name (weights->root, name);
      VaeWeight        *shadow = g_hash_table_lookup (weights->by_name,
                                                      shadow_name);
      gboolean          same = shadow != NULL;
      guint             d;

      if (shadow && plain)
        {
          same = shadow->n_dims == plain->n_dims;
          for (d = 0; same && d < plain->n_dims; d++)
            same = shadow->shape[d] == plain->shape[d];
        }
      if (same)
        return shadow;
    }

  return plain;
}

gboolean
vae_weights_set_root (VaeWeights  *weights,
                      const gchar *root)
{
  gsize n = strlen (root);
  guint i;

  g_return_val_if_fail (weights != NULL && root != NULL, FALSE);

  g_free (weights->root);
  weights->root = g_strdup (root);
  weights->ema = FALSE;

  for (i = 0; i < weights->tensors->len; i++)
    {
      VaeWeight   *weight = g_ptr_array_index (weights->tensors, i);
      const gchar *rest;

      if (strncmp (weight->name, root, n) != 0 ||
          ! g_str_has_prefix (weight->name + n, "model_ema."))
        continue;
      /* a LitEma copy: one undotted name past its prefix, not LitEma's
       * own counters */
      rest = weight->name + n + strlen ("model_ema.");
      if (! strchr (rest, '.') && strcmp (rest, "decay") != 0 &&
          strcmp (rest, "num_updates") != 0)
        {
          weights->ema = TRUE;
          break;
        }
    }

  for (i = 0; i < weights->tensors->len; i++)
    if (relative_name (weights,
                       ((VaeWeight *) g_ptr_array_index (weights->tensors,
                                                         i))->name))
      return TRUE;

  return FALSE;
}

const gchar *
vae_weights_get_root (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, NULL);

  return weights->root;
}

gboolean
vae_weights_uses_ema (VaeWeights *weights)
{
  g_return_val_if_fail (weights != NULL, FALSE);

  return weights->ema;
}

/* Widens a lazy tensor on first use.  Out of memory it stays unwidened,
 * and callers report that. */
static gboolean
materialize (VaeWeight *weight)
{
  if (weight->data)
    return TRUE;

  weight->data = g_try_new (gfloat, MAX (weight->n_elements, 1));
  if (! weight->data)
    return FALSE;
  if (weight->check && weight->check->state == 0)
    weight->check->state = crc32_z (0, weight->check->bytes,
                                    weight->check->size) ==
                           weight->check->crc ? 1 : -1;
  vae_dtype_widen (weight->dtype, weight->source, weight->data,
                   weight->n_elements);

  return TRUE;
}

const VaeWeight *
vae_weights_lookup (VaeWeights  *weights,
                    const gchar *name)
{
  VaeWeight *weight;

  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  weight = find (weights, name);
  if (weight && ! materialize (weight))
    return NULL;

  return weight;
}

gboolean
vae_weights_has (VaeWeights  *weights,
                 const gchar *name)
{
  g_return_val_if_fail (weights != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return find (weights, name) != NULL;
}

const gchar *
vae_weights_get_metadata (VaeWeights  *weights,
                          const gchar *key)
{
  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_hash_table_lookup (weights->metadata, key);
}

/* The first NaN or infinity of @data, or -1: a whole pass that only ORs
 * bits, so that it vectorises; the position is looked for only when there
 * is one. */
static gssize
find_non_finite (const gfloat *data,
                 gsize         n)
{
  guint32 bad = 0;
  gsize   i;

  for (i = 0; i < n; i++)
    {
      guint32 bits;

      memcpy (&bits, data + i, sizeof bits);
      bad |= (bits & 0x7f800000) == 0x7f800000;
    }
  if (! bad)
    return -1;

  for (i = 0; i < n; i++)
    if (! isfinite (data[i]))
      return i;

  return -1;
}

static const gfloat *
weights_get (VaeWeights   *weights,
             const gchar  *name,
             guint         n_dims,
             const gsize  *shape,
             GError      **error)
{
  const VaeWeight *weight;
  gboolean         same;
  guint            i;

  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (n_dims == 0 || shape != NULL, NULL);

  weight = find (weights, name);
  if (! weight)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: missing tensor '%s'", weights->display_name,
                          name);
  if (! materialize ((VaeWeight *) weight))
    return vae_fail_null (error, VAE_ERROR_NO_MEMORY,
                          "%s: out of memory for tensor '%s' (%" G_GSIZE_FORMAT
                          " MiB)", weights->display_name, name,
                          (weight->n_elements * sizeof (gfloat)) >> 20);
  ((VaeWeight *) weight)->used = TRUE;

  same = weight->n_dims == n_dims;
  for (i = 0; same && i < n_dims; i++)
    same = weight->shape[i] == shape[i];

  if (! same)
    {
      g_autofree gchar *have = format_shape (weight->n_dims, weight->shape);
      g_autofree gchar *want = format_shape (n_dims, shape);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s: tensor '%s' has shape %s, expected %s",
                   weights->display_name, name, have, want);
      return NULL;
    }

  if (weight->check && weight->check->state < 0)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: tensor '%s': %s is damaged (CRC mismatch)",
                          weights->display_name, name, weight->check->what);

  /* A NaN or infinity in a weight spreads to every pixel it touches: the
   * file is damaged, and saying so beats a garbage image.  Checked once,
   * on the tensors a model uses. */
  if (! weight->checked)
    {
      VaeWeight *w = (VaeWeight *) weight;
      gssize     at = find_non_finite (weight->data, weight->n_elements);

      w->checked = TRUE;
      w->finite = at < 0;
      if (at >= 0)
        return vae_fail_null (error, VAE_ERROR_FORMAT,
                              "%s: tensor '%s' holds %s at element %"
                              G_GSSIZE_FORMAT "; the weights are damaged",
                              weights->display_name, name,
                              isnan (weight->data[at]) ? "NaN"
                              : weight->data[at] > 0 ? "+inf" : "-inf", at);
    }
  if (! weight->finite)
    return vae_fail_null (error, VAE_ERROR_FORMAT,
                          "%s: tensor '%s' holds NaN or infinite values; the "
                          "weights are damaged", weights->display_name, name);

  return weight->data;
}

const gfloat *
vae_weights_get (VaeWeights   *weights,
                 const gchar  *name,
                 guint         n_dims,
                 const gsize  *shape,
                 GError      **error)
{
  const gfloat *data = weights_get (weights, name, n_dims, shape, error);

  if (! data && error)
    vae_error_tidy (*error);

  return data;
}

const gfloat *
vae_weights_get_1d (VaeWeights   *weights,
                    const gchar  *name,
                    gsize         d0,
                    GError      **error)
{
  gsize shape[1] = { d0 };

  return vae_weights_get (weights, name, 1, shape, error);
}

const gfloat *
vae_weights_get_4d (VaeWeights   *weights,
                    const gchar  *name,
                    gsize         d0,
                    gsize         d1,
                    gsize         d2,
                    gsize         d3,
                    GError      **error)
{
  gsize shape[4] = { d0, d1, d2, d3 };

  return vae_weights_get (weights, name, 4, shape, error);
}

/* Element conversions.  Files are little-endian and tensors need not be
 * aligned inside them, hence memcpy for every load. */

gsize
vae_dtype_size (VaeDtype dtype)
{
  switch (dtype)
    {
    case VAE_DTYPE_F32:  return 4;
    case VAE_DTYPE_F16:  return 2;
    case VAE_DTYPE_BF16: return 2;
    case VAE_DTYPE_F64:  return 8;
    }
  g_return_val_if_reached (0);
}

const gchar *
vae_dtype_name (VaeDtype dtype)
{
  switch (dtype)
    {
    case VAE_DTYPE_F32:  return "F32";
    case VAE_DTYPE_F16:  return "F16";
    case VAE_DTYPE_BF16: return "BF16";
    case VAE_DTYPE_F64:  return "F64";
    }
  g_return_val_if_reached ("?");
}

static inline gfloat
float_from_bits (guint32 bits)
{
  gfloat f;

  memcpy (&f, &bits, sizeof f);

  return f;
}

/* Exact: every binary16 value, subnormals included, is a binary32 value. */
gfloat
vae_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;

  if (exponent == 0x1f)
    /* inf, or nan with its payload */
    return float_from_bits (sign | 0x7f800000 | (mantissa << 13));

  if (exponent == 0)
    {
      if (mantissa == 0)
        return float_from_bits (sign);

      /* subnormal: shift the leading 1 up to the implicit bit */
      exponent = 127 - 15 + 1;
      while (! (mantissa & 0x400))
        {
          mantissa <<= 1;
          exponent--;
        }
      mantissa &= 0x3ff;

      return float_from_bits (sign | (exponent << 23) | (mantissa << 13));
    }

  return float_from_bits (sign | ((exponent + 127 - 15) << 23)
                          | (mantissa << 13));
}

gfloat
vae_bfloat16_to_float (guint16 bits)
{
  return float_from_bits ((guint32) bits << 16);
}

gfloat
vae_dtype_load (VaeDtype      dtype,
                const guint8 *src)
{
  guint16 u16;
  guint32 u32;
  guint64 u64;
  gdouble d;

  switch (dtype)
    {
    case VAE_DTYPE_F32:
      memcpy (&u32, src, 4);
      return float_from_bits (GUINT32_FROM_LE (u32));

    case VAE_DTYPE_F16:
      memcpy (&u16, src, 2);
      return vae_half_to_float (GUINT16_FROM_LE (u16));

    case VAE_DTYPE_BF16:
      memcpy (&u16, src, 2);
      return vae_bfloat16_to_float (GUINT16_FROM_LE (u16));

    case VAE_DTYPE_F64:
      memcpy (&u64, src, 8);
      u64 = GUINT64_FROM_LE (u64);
      memcpy (&d, &u64, 8);
      return (gfloat) d;
    }

  g_return_val_if_reached (0.0f);
}

void
vae_dtype_widen (VaeDtype      dtype,
                 const guint8 *src,
                 gfloat       *dest,
                 gsize         n_elements)
{
  gsize step = vae_dtype_size (dtype);
  gsize i;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (dtype == VAE_DTYPE_F32)
    {
      memcpy (dest, src, n_elements * sizeof (gfloat));
      return;
    }
#endif

  for (i = 0; i < n_elements; i++)
    dest[i] = vae_dtype_load (dtype, src + i * step);
}

/* Messages quote names from files (tensor names, zip entries, metadata),
 * which may hold newlines or terminal escapes, or run to megabytes.
 * Longest message kept whole; longer ones lose their middle. */
#define MAX_MESSAGE 1000

/**
 * vae_error_tidy:
 * @error: (nullable): an error about data from a file
 *
 * Makes @error's message one line of printable text: control characters
 * become escapes (\n, \t, \xHH), invalid UTF-8 becomes U+FFFD and an
 * overlong message is shortened in the middle.
 */
void
vae_error_tidy (GError *error)
{
  g_autofree gchar *valid = NULL;
  GString          *out;
  const gchar      *p;

  if (! error || ! error->message)
    return;

  valid = g_utf8_make_valid (error->message, -1);
  out = g_string_sized_new (strlen (valid));
  for (p = valid; *p; p++)
    {
      guchar c = *p;

      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_c (out, c);
    }

  if (out->len > MAX_MESSAGE)
    {
      const gchar *cut = g_utf8_find_prev_char (out->str,
                                                out->str + MAX_MESSAGE * 2 / 3);
      const gchar *resume = g_utf8_find_next_char (out->str + out->len -
                                                   MAX_MESSAGE / 3, NULL);
      g_autofree gchar *tail = g_strdup (resume);

      g_string_truncate (out, cut - out->str);
      g_string_append (out, " [...] ");
      g_string_append (out, tail);
    }

  g_free (error->message);
  error->message = g_string_free (out, FALSE);
}
