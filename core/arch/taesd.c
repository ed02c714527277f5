/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* The TAESD family of tiny autoencoders (madebyollin/taesd): TAESD and
 * TAESDXL (4 latent channels), TAESD3 and TAEF1 (16), TAEF2 (32, with a
 * GroupNorm "pool" branch in the blocks next to the latent) and the 32x
 * TAESANA layout.
 *
 * Their checkpoints are nn.Sequential state dicts: "<index>.weight" is a
 * plain 3x3 conv, "<index>.conv.{0,2,4}.*" a residual Block (with
 * "<index>.skip.weight" when it changes width and "<index>.pool.*" when it
 * has the GroupNorm branch), and an index with no tensors is a layer
 * without parameters.  Rather than keeping a table per variant, the layer
 * list is read from the names, and the parameterless layers are told by
 * their neighbours:
 *
 *   - in a decoder, index 0 is the latent clamp tanh (x / 3) * 3;
 *   - after a conv it is a ReLU;
 *   - after a Block (decoder) it is a nearest 2x upsample;
 *   - an encoder conv is stride 2 when it has no bias or a ReLU follows it
 *     (TAESD: "conv(64, 64, stride=2, bias=False)"; TAESANA's first two
 *     convs: "conv(3, 32, stride=2), ReLU").
 *
 * Widths come from the tensors too, so the small test models in
 * tests/data/taesd run through exactly the same code as the real ones.
 */

#include <math.h>
#include <string.h>

#include "../vae-error-private.h"

#include "taesd-private.h"

static const gchar *const prefixes[] = {
  "", "encoder.", "decoder.", "taesd_encoder.", "taesd_decoder.",
};

/* Splits "<prefix><index>.<rest>"; FALSE when the name is not of that form
 * or <rest> is not a tensor a TAESD layer has. */
static gboolean
parse_name (const gchar  *name,
            const gchar  *prefix,
            gint         *index,
            const gchar **rest)
{
  static const gchar *const known[] = {
    "weight", "bias",
    "conv.0.weight", "conv.0.bias", "conv.2.weight", "conv.2.bias",
    "conv.4.weight", "conv.4.bias", "skip.weight",
    "pool.0.weight", "pool.1.weight", "pool.1.bias", "pool.3.weight",
  };
  gchar  *end;
  gint64  i;
  guint   k;

  if (! g_str_has_prefix (name, prefix))
    return FALSE;
  name += strlen (prefix);
  if (! g_ascii_isdigit (name[0]))
    return FALSE;

  i = g_ascii_strtoll (name, &end, 10);
  if (*end != '.' || i < 0 || i > 255)
    return FALSE;

  for (k = 0; k < G_N_ELEMENTS (known); k++)
    if (strcmp (end + 1, known[k]) == 0)
      {
        *index = (gint) i;
        *rest = end + 1;
        return TRUE;
      }

  return FALSE;
}

/* The prefix under which @weights hold one TAESD half: every tensor must
 * parse under it.  NULL when they do not look like TAESD at all. */
static const gchar *
find_prefix (VaeWeights  *weights,
             const gchar *want)
{
  g_autoptr (GPtrArray) names = vae_weights_list (weights);
  guint p, i;

  for (p = 0; p < G_N_ELEMENTS (prefixes); p++)
    {
      gboolean all = names->len > 0;

      if (want && prefixes[p][0] && ! strstr (prefixes[p], want))
        continue;

      for (i = 0; i < names->len && all; i++)
        {
          const gchar *rest;
          gint         index;

          all = parse_name (g_ptr_array_index (names, i), prefixes[p],
                            &index, &rest);
        }
      if (all)
        return prefixes[p];
    }

  return NULL;
}

static gboolean
has (VaeWeights  *w,
     const gchar *prefix,
     gint         index,
     const gchar *rest)
{
  g_autofree gchar *name = g_strdup_printf ("%s%d.%s", prefix, index, rest);

  return vae_weights_has (w, name);
}

static const gfloat *
get4 (VaeWeights   *w,
      const gchar  *prefix,
      gint          index,
      const gchar  *rest,
      gsize         d0,
      gsize         d1,
      gsize         d2,
      gsize         d3,
      GError      **error)
{
  g_autofree gchar *name = g_strdup_printf ("%s%d.%s", prefix, index, rest);

  return vae_weights_get_4d (w, name, d0, d1, d2, d3, error);
}

static const gfloat *
get1 (VaeWeights   *w,
      const gchar  *prefix,
      gint          index,
      const gchar  *rest,
      gsize         d0,
      GError      **error)
{
  g_autofree gchar *name = g_strdup_printf ("%s%d.%s", prefix, index, rest);

  return vae_weights_get_1d (w, name, d0, error);
}

static gboolean
load_conv (VaeWeights   *w,
           const gchar  *prefix,
           gint          index,
           const gchar  *stem,       /* "", "conv.0.", "skip.", ... */
           gint          c_in,
           gint          kernel,
           gboolean      allow_bias,
           VaeConv2d    *conv,
           GError      **error)
{
  g_autofree gchar *wname = g_strconcat (stem, "weight", NULL);
  g_autofree gchar *bname = g_strconcat (stem, "bias", NULL);
  g_autofree gchar *weight_name = g_strdup_printf ("%s%d.%s", prefix, index, wname);
  const gfloat     *weight, *bias = NULL;
  gint              c_out;

  c_out = vae_arch_peek_dim (w, weight_name, 4, 0);
  weight = get4 (w, prefix, index, wname, c_out, c_in, kernel, kernel, error);
  if (weight == NULL)
    return FALSE;
  if (allow_bias && has (w, prefix, index, bname))
    {
      bias = get1 (w, prefix, index, bname, c_out, error);
      if (bias == NULL)
        return FALSE;
    }

  vae_conv2d_init (conv, c_in, c_out, kernel, 1, kernel / 2, weight, bias);

  return TRUE;
}

static gboolean
load_block (VaeWeights   *w,
            const gchar  *prefix,
            gint          index,
            gint          c_in,
            Layer        *layer,
            GError      **error)
{
  gint width;

  if (! load_conv (w, prefix, index, "conv.0.", c_in, 3, TRUE, &layer->c0, error))
    return FALSE;
  width = layer->c0.c_out;
  if (! load_conv (w, prefix, index, "conv.2.", width, 3, TRUE, &layer->c2, error) ||
      ! load_conv (w, prefix, index, "conv.4.", width, 3, TRUE, &layer->c4, error))
    return FALSE;
  if (layer->c2.c_out != width || layer->c4.c_out != width)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "block %s%d: its three convs differ in width",
                     prefix, index);

  layer->has_skip = has (w, prefix, index, "skip.weight");
  if (layer->has_skip)
    {
      if (! load_conv (w, prefix, index, "skip.", c_in, 1, FALSE, &layer->skip, error))
        return FALSE;
      if (layer->skip.c_out != width)
        return vae_fail (error, VAE_ERROR_SHAPE,
                         "block %s%d: skip conv has %d outputs, expected %d",
                         prefix, index, layer->skip.c_out, width);
    }
  else if (c_in != width)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "missing tensor '%s%d.skip.weight' (block changes width "
                     "from %d to %d)", prefix, index, c_in, width);

  layer->has_pool = has (w, prefix, index, "pool.0.weight");
  if (layer->has_pool)
    {
      gint pool_width;

      /* The pool branch sits at the block's input, before the convs. */
      if (c_in != width)
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "block %s%d has a GroupNorm pool but changes width",
                         prefix, index);
      if (! load_conv (w, prefix, index, "pool.0.", width, 1, FALSE,
                       &layer->pool_in, error))
        return FALSE;
      pool_width = layer->pool_in.c_out;
      if (pool_width % POOL_GROUPS != 0)
        return vae_fail (error, VAE_ERROR_SHAPE,
                         "block %s%d: pool width %d does not split into %d groups",
                         prefix, index, pool_width, POOL_GROUPS);
      layer->pool_norm.groups = POOL_GROUPS;
      layer->pool_norm.eps = POOL_EPS;
      layer->pool_norm.gamma = get1 (w, prefix, index, "pool.1.weight",
                                     pool_width, error);
      if (layer->pool_norm.gamma == NULL)
        return FALSE;
      layer->pool_norm.beta = get1 (w, prefix, index, "pool.1.bias", pool_width,
                                    error);
      if (layer->pool_norm.beta == NULL)
        return FALSE;
      if (! load_conv (w, prefix, index, "pool.3.", pool_width, 1, FALSE,
                       &layer->pool_out, error))
        return FALSE;
      if (layer->pool_out.c_out != width)
        return vae_fail (error, VAE_ERROR_SHAPE,
                         "block %s%d: pool output has %d channels, expected %d",
                         prefix, index, layer->pool_out.c_out, width);
    }

  return TRUE;
}

static void
half_clear (Half *half)
{
  g_clear_pointer (&half->layers, g_array_unref);
}

/* Reads the layer list of one half, checks the channel chain, then fuses
 * ReLUs into the conv before them and upsamples into the conv after. */
static gboolean
half_build (Half        *half,
            VaeWeights  *w,
            const gchar *prefix,
            gboolean     decoder,
            GError     **error)
{
  g_autoptr (GPtrArray) names = vae_weights_list (w);
  g_autoptr (GArray)    raw = g_array_new (FALSE, TRUE, sizeof (Layer));
  gint                  max_index = -1;
  gint                  channels;
  guint                 i;

  for (i = 0; i < names->len; i++)
    {
      const gchar *rest;
      gint         index;

      if (parse_name (g_ptr_array_index (names, i), prefix, &index, &rest))
        max_index = MAX (max_index, index);
    }
  if (max_index < 0)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: no TAESD layers found", vae_weights_get_path (w));

  /* Input channels: the first conv's weight says it. */
  channels = -1;
  for (i = 0; i <= (guint) max_index && channels < 0; i++)
    {
      const gchar *stem = has (w, prefix, i, "weight") ? "weight" : "conv.0.weight";
      g_autofree gchar *name = g_strdup_printf ("%s%u.%s", prefix, i, stem);
      const VaeWeight  *t = vae_weights_lookup (w, name);

      if (t && t->n_dims == 4 && t->shape[1] > 0 && t->shape[1] <= 65536)
        channels = (gint) t->shape[1];
    }
  if (channels <= 0)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: cannot tell the input channels of the first layer",
                     vae_weights_get_path (w));
  half->in_channels = channels;
  half->factor = 1;

  for (i = 0; i <= (guint) max_index; i++)
    {
      Layer layer = { 0, };

      layer.index = i;
      if (has (w, prefix, i, "weight"))
        {
          layer.type = LAYER_CONV;
          if (! load_conv (w, prefix, i, "", channels, 3, TRUE, &layer.conv, error))
            return FALSE;
          channels = layer.conv.c_out;
        }
      else if (has (w, prefix, i, "conv.0.weight"))
        {
          layer.type = LAYER_BLOCK;
          if (! load_block (w, prefix, i, channels, &layer, error))
            return FALSE;
          channels = layer.c0.c_out;
          half->has_pool |= layer.has_pool;
        }
      else if (decoder && i == 0)
        {
          layer.type = LAYER_CLAMP;
        }
      else if (i > 0 && g_array_index (raw, Layer, i - 1).type == LAYER_CONV)
        {
          layer.type = LAYER_RELU;
        }
      else if (decoder && i > 0 &&
               g_array_index (raw, Layer, i - 1).type == LAYER_BLOCK)
        {
          layer.type = LAYER_UPSAMPLE;
          half->factor *= 2;
        }
      else
        return vae_fail (error, VAE_ERROR_FORMAT,
                         "%s: layer %s%u has no tensors and is not where a "
                         "TAESD layer without parameters can be",
                         vae_weights_get_path (w), prefix, i);

      g_array_append_val (raw, layer);
    }
  half->out_channels = channels;

  /* Strides (encoder) and fusion. */
  half->layers = g_array_new (FALSE, TRUE, sizeof (Layer));
  for (i = 0; i < raw->len; i++)
    {
      Layer    *layer = &g_array_index (raw, Layer, i);
      gboolean  next_is_relu = i + 1 < raw->len &&
                               g_array_index (raw, Layer, i + 1).type == LAYER_RELU;

      if (layer->type == LAYER_CONV && ! decoder && i + 1 < raw->len &&
          (layer->conv.bias == NULL || next_is_relu))
        {
          layer->conv.stride = 2;
          half->factor *= 2;
        }

      if (layer->type == LAYER_RELU && half->layers->len > 0 &&
          g_array_index (half->layers, Layer, half->layers->len - 1).type == LAYER_CONV)
        {
          g_array_index (half->layers, Layer, half->layers->len - 1).act = VAE_ACT_RELU;
          continue;
        }
      if (layer->type == LAYER_CONV && half->layers->len > 0 &&
          g_array_index (half->layers, Layer, half->layers->len - 1).type == LAYER_UPSAMPLE)
        {
          g_array_index (half->layers, Layer, half->layers->len - 1) = *layer;
          g_array_index (half->layers, Layer, half->layers->len - 1).conv.upsample = 2;
          continue;
        }

      g_array_append_val (half->layers, *layer);
    }

  return TRUE;
}


/* --- VaeArchClass ------------------------------------------------------- */

/* A single file holding both halves under "encoder." and "decoder." (or
 * ComfyUI's "taesd_encoder." / "taesd_decoder."): the two prefixes, or
 * FALSE. */
static gboolean
find_combined (VaeWeights   *w,
               const gchar **enc_prefix,
               const gchar **dec_prefix)
{
  static const gchar *const pairs[][2] = {
    { "encoder.", "decoder." },
    { "taesd_encoder.", "taesd_decoder." },
  };
  g_autoptr (GPtrArray) names = vae_weights_list (w);
  guint p, i;

  for (p = 0; p < G_N_ELEMENTS (pairs); p++)
    {
      gboolean all = names->len > 0;

      for (i = 0; i < names->len && all; i++)
        {
          const gchar *name = g_ptr_array_index (names, i);
          const gchar *rest;
          gint         index;

          all = parse_name (name, pairs[p][0], &index, &rest) ||
                parse_name (name, pairs[p][1], &index, &rest);
        }
      if (all)
        {
          *enc_prefix = pairs[p][0];
          *dec_prefix = pairs[p][1];
          return TRUE;
        }
    }

  return FALSE;
}

static gboolean
taesd_probe (VaeWeights *encoder,
             VaeWeights *decoder)
{
  const gchar *e, *d;

  if (encoder && encoder == decoder)
    return find_prefix (encoder, NULL) || find_combined (encoder, &e, &d);

  return (encoder && find_prefix (encoder, "encoder")) ||
         (decoder && find_prefix (decoder, "decoder"));
}

static void
taesd_destroy (gpointer self)
{
  Taesd *taesd = self;

  half_clear (&taesd->encoder);
  half_clear (&taesd->decoder);
  g_free (taesd);
}

/* One unprefixed half: tell which from the first layer.  Decoders start
 * with the parameterless clamp, encoders with a conv on RGB. */
static gboolean
is_decoder_half (VaeWeights  *w,
                 const gchar *prefix)
{
  g_autofree gchar *first = NULL;
  const VaeWeight  *t;

  if (strstr (prefix, "decoder"))
    return TRUE;
  if (strstr (prefix, "encoder"))
    return FALSE;

  first = g_strdup_printf ("%s0.weight", prefix);
  t = vae_weights_lookup (w, first);

  return t == NULL || t->n_dims != 4 || t->shape[1] != 3;
}

/* Builds the half that @w under @prefix holds; @role ("encoder",
 * "decoder" or NULL for either) is what the caller gave it as. */
static gboolean
taesd_add_half (Taesd        *taesd,
                VaeWeights   *w,
                const gchar  *prefix,
                const gchar  *role,
                GError      **error)
{
  gboolean dec = is_decoder_half (w, prefix);

  if (role && dec != (strcmp (role, "decoder") == 0))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s looks like a TAESD %s, but was given as the %s",
                     vae_weights_get_path (w), dec ? "decoder" : "encoder", role);
  if (dec ? taesd->has_decoder : taesd->has_encoder)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: two TAESD %ss given", vae_weights_get_path (w),
                     dec ? "decoder" : "encoder");
  if (! half_build (dec ? &taesd->decoder : &taesd->encoder, w, prefix, dec,
                    error))
    return FALSE;

  if (dec)
    taesd->has_decoder = TRUE;
  else
    taesd->has_encoder = TRUE;

  return TRUE;
}

static gboolean
taesd_load_halves (Taesd       *taesd,
                   VaeWeights  *encoder,
                   VaeWeights  *decoder,
                   GError     **error)
{
  const gchar *prefix, *enc_prefix, *dec_prefix;

  if (encoder && encoder == decoder)
    {
      if ((prefix = find_prefix (encoder, NULL)))
        return taesd_add_half (taesd, encoder, prefix, NULL, error);
      if (find_combined (encoder, &enc_prefix, &dec_prefix))
        return taesd_add_half (taesd, encoder, enc_prefix, "encoder", error) &&
               taesd_add_half (taesd, encoder, dec_prefix, "decoder", error);
    }
  else
    {
      if (encoder && (prefix = find_prefix (encoder, "encoder")) &&
          ! taesd_add_half (taesd, encoder, prefix, "encoder", error))
        return FALSE;
      if (decoder && (prefix = find_prefix (decoder, "decoder")) &&
          ! taesd_add_half (taesd, decoder, prefix, "decoder", error))
        return FALSE;
      if ((encoder == NULL || taesd->has_encoder) &&
          (decoder == NULL || taesd->has_decoder))
        return TRUE;
    }

  g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
               "%s does not hold a TAESD encoder or decoder",
               vae_weights_get_path (encoder ? encoder : decoder));

  return FALSE;
}

static gpointer
taesd_create (VaeWeights    *encoder,
              VaeWeights    *decoder,
              VaeModelInfo  *info,
              GError       **error)
{
  Taesd *taesd = g_new0 (Taesd, 1);
  guint  latent_channels = 0, factor = 0;

  if (! taesd_load_halves (taesd, encoder, decoder, error))
    goto fail;

  if (taesd->has_encoder)
    {
      if (taesd->encoder.in_channels != 3)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "TAESD encoder takes %d channels, expected 3",
                       taesd->encoder.in_channels);
          goto fail;
        }
      latent_channels = taesd->encoder.out_channels;
      factor = taesd->encoder.factor;
    }
  if (taesd->has_decoder)
    {
      if (taesd->decoder.out_channels != 3)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "TAESD decoder gives %d channels, expected 3",
                       taesd->decoder.out_channels);
          goto fail;
        }
      if (taesd->has_encoder &&
          ((guint) taesd->decoder.in_channels != latent_channels ||
           taesd->decoder.factor != factor))
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "TAESD encoder (%u channels, %ux) and decoder (%d "
                       "channels, %ux) do not belong together",
                       latent_channels, factor, taesd->decoder.in_channels,
                       taesd->decoder.factor);
          goto fail;
        }
      latent_channels = taesd->decoder.in_channels;
      factor = taesd->decoder.factor;
    }

  info->architecture = g_strdup ("taesd");
  info->latent_channels = latent_channels;
  info->factor = factor;
  /* TAEF2's blocks next to the latent have a GroupNorm branch */
  if (taesd->encoder.has_pool || taesd->decoder.has_pool)
    info->traits[0] = "pooled";

  return taesd;

fail:
  taesd_destroy (taesd);

  return NULL;
}

static gboolean
taesd_can_encode (gpointer self)
{
  return ((Taesd *) self)->has_encoder;
}

static gboolean
taesd_can_decode (gpointer self)
{
  return ((Taesd *) self)->has_decoder;
}

static gboolean
taesd_encode (gpointer          self,
              const VaeTensor  *image,
              VaeTensor       **latent,
              VaeRun           *run,
              GError          **error)
{
  Taesd *taesd = self;

  vae_run_begin (run, "encode", vae_taesd_half_flops (&taesd->encoder, 0, taesd->encoder.layers->len,
                                            VAE_T_H (image), VAE_T_W (image)));
  *latent = vae_taesd_half_forward (&taesd->encoder, image, 0, taesd->encoder.layers->len,
                          run, error);

  return *latent != NULL;
}

static gboolean
taesd_decode (gpointer          self,
              const VaeTensor  *latent,
              VaeTensor       **image,
              VaeRun           *run,
              GError          **error)
{
  Taesd *taesd = self;

  vae_run_begin (run, "decode", vae_taesd_half_flops (&taesd->decoder, 0, taesd->decoder.layers->len,
                                            VAE_T_H (latent), VAE_T_W (latent)));
  *image = vae_taesd_half_forward (&taesd->decoder, latent, 0, taesd->decoder.layers->len,
                         run, error);

  return *image != NULL;
}

const VaeArchClass vae_arch_taesd = {
  .name = "taesd",
  .probe = taesd_probe,
  .create = taesd_create,
  .destroy = taesd_destroy,
  .can_encode = taesd_can_encode,
  .can_decode = taesd_can_decode,
  .encode = taesd_encode,
  .decode = taesd_decode,
  .flops = vae_taesd_flops,
  .memory = vae_taesd_memory,
  .plan = vae_taesd_plan,
  .encode_tiled = vae_taesd_encode_tiled,
  .decode_tiled = vae_taesd_decode_tiled,
};
