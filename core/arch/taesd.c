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

#include "../vae-error.h"
#include "../vae-image.h"
#include "../vae-tiling.h"
#include "../ops/ops.h"
#include "arch.h"

#define POOL_GROUPS 4        /* nn.GroupNorm (4, n_out * 4) */
#define POOL_EPS    1e-5f
#define CLAMP_LIMIT 3.0f

typedef enum
{
  LAYER_CONV,
  LAYER_BLOCK,
  LAYER_RELU,
  LAYER_UPSAMPLE,
  LAYER_CLAMP
} LayerType;

typedef struct
{
  LayerType      type;
  gint           index;

  /* LAYER_CONV, with a following ReLU / preceding upsample fused in */
  VaeConv2d      conv;
  VaeActivation  act;

  /* LAYER_BLOCK */
  VaeConv2d      c0, c2, c4;
  gboolean       has_skip;
  VaeConv2d      skip;
  gboolean       has_pool;
  VaeConv2d      pool_in, pool_out;
  const gfloat  *pool_gamma;
  const gfloat  *pool_beta;
} Layer;

typedef struct
{
  GArray  *layers;           /* Layer, after fusion */
  gint     in_channels;
  gint     out_channels;
  guint    factor;
  gboolean has_pool;
} Half;

typedef struct
{
  Half     encoder;
  Half     decoder;
  gboolean has_encoder;
  gboolean has_decoder;
} Taesd;

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

/* Output channels of a conv weight, from its shape, before it is checked. */
static gint
peek_out_channels (VaeWeights  *w,
                   const gchar *prefix,
                   gint         index,
                   const gchar *rest)
{
  g_autofree gchar *name = g_strdup_printf ("%s%d.%s", prefix, index, rest);
  const VaeWeight  *t = vae_weights_lookup (w, name);

  return (t && t->n_dims == 4 && t->shape[0] <= 65536) ? (gint) t->shape[0] : -1;
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
  const gfloat     *weight, *bias = NULL;
  gint              c_out;

  c_out = peek_out_channels (w, prefix, index, wname);
  if (c_out <= 0)
    c_out = 1;  /* get4 below reports the real problem */

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
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "block %s%d: its three convs differ in width",
                   prefix, index);
      return FALSE;
    }

  layer->has_skip = has (w, prefix, index, "skip.weight");
  if (layer->has_skip)
    {
      if (! load_conv (w, prefix, index, "skip.", c_in, 1, FALSE, &layer->skip, error))
        return FALSE;
      if (layer->skip.c_out != width)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "block %s%d: skip conv has %d outputs, expected %d",
                       prefix, index, layer->skip.c_out, width);
          return FALSE;
        }
    }
  else if (c_in != width)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "missing tensor '%s%d.skip.weight' (block changes width "
                   "from %d to %d)", prefix, index, c_in, width);
      return FALSE;
    }

  layer->has_pool = has (w, prefix, index, "pool.0.weight");
  if (layer->has_pool)
    {
      gint pool_width;

      /* The pool branch sits at the block's input, before the convs. */
      if (c_in != width)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "block %s%d has a GroupNorm pool but changes width",
                       prefix, index);
          return FALSE;
        }
      if (! load_conv (w, prefix, index, "pool.0.", width, 1, FALSE,
                       &layer->pool_in, error))
        return FALSE;
      pool_width = layer->pool_in.c_out;
      if (pool_width % POOL_GROUPS != 0)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "block %s%d: pool width %d does not split into %d groups",
                       prefix, index, pool_width, POOL_GROUPS);
          return FALSE;
        }
      layer->pool_gamma = get1 (w, prefix, index, "pool.1.weight", pool_width, error);
      if (layer->pool_gamma == NULL)
        return FALSE;
      layer->pool_beta = get1 (w, prefix, index, "pool.1.bias", pool_width, error);
      if (layer->pool_beta == NULL)
        return FALSE;
      if (! load_conv (w, prefix, index, "pool.3.", pool_width, 1, FALSE,
                       &layer->pool_out, error))
        return FALSE;
      if (layer->pool_out.c_out != width)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "block %s%d: pool output has %d channels, expected %d",
                       prefix, index, layer->pool_out.c_out, width);
          return FALSE;
        }
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
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: no TAESD layers found", vae_weights_get_path (w));
      return FALSE;
    }

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
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: cannot tell the input channels of the first layer",
                   vae_weights_get_path (w));
      return FALSE;
    }
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
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: layer %s%u has no tensors and is not where a "
                       "TAESD layer without parameters can be",
                       vae_weights_get_path (w), prefix, i);
          return FALSE;
        }

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

/* --- forward ------------------------------------------------------------ */

static gboolean
block_forward (VaeRun      *run,
               VaeScratch  *scratch,
               const Layer *layer,
               VaeTensor  **x,
               GError     **error)
{
  const gsize  h = VAE_T_H (*x), w = VAE_T_W (*x);
  VaeTensor   *t1 = NULL, *t2 = NULL, *out;
  gboolean     ok = FALSE;

  if (layer->has_pool)
    {
      VaeTensor *p = vae_scratch_get (scratch, layer->pool_in.c_out, h, w, error);

      /* x = x + pool_out (relu (gn (pool_in (x)))) */
      ok = p &&
           vae_op_conv2d (run, &layer->pool_in, *x, NULL, VAE_ACT_NONE, &p, error) &&
           vae_op_group_norm (run, p, POOL_GROUPS, layer->pool_gamma,
                              layer->pool_beta, POOL_EPS, VAE_ACT_RELU, p, error) &&
           vae_op_conv2d (run, &layer->pool_out, p, *x, VAE_ACT_NONE, x, error);
      vae_scratch_put (scratch, p);
      if (! ok)
        return FALSE;
    }

  t1 = vae_scratch_get (scratch, layer->c0.c_out, h, w, error);
  t2 = t1 ? vae_scratch_get (scratch, layer->c0.c_out, h, w, error) : NULL;
  if (t2 == NULL)
    goto out;

  if (! vae_op_conv2d (run, &layer->c0, *x, NULL, VAE_ACT_RELU, &t1, error) ||
      ! vae_op_conv2d (run, &layer->c2, t1, NULL, VAE_ACT_RELU, &t2, error))
    goto out;

  /* out = relu (c4 (t2) + skip (x)); with an identity skip the sum lands
   * in x itself. */
  if (layer->has_skip)
    {
      out = t1;
      t1 = NULL;
      if (! vae_op_conv2d (run, &layer->skip, *x, NULL, VAE_ACT_NONE, &out, error) ||
          ! vae_op_conv2d (run, &layer->c4, t2, out, VAE_ACT_RELU, &out, error))
        {
          vae_scratch_put (scratch, out);
          goto out;
        }
      vae_scratch_put (scratch, *x);
      *x = out;
    }
  else if (! vae_op_conv2d (run, &layer->c4, t2, *x, VAE_ACT_RELU, x, error))
    {
      goto out;
    }

  ok = TRUE;

out:
  vae_scratch_put (scratch, t1);
  vae_scratch_put (scratch, t2);

  return ok;
}

/* Runs layers [first, last) of @half on @input; consumes nothing, returns
 * a new tensor. */
static VaeTensor *
half_forward (const Half       *half,
              const VaeTensor  *input,
              guint             first,
              guint             last,
              VaeRun           *run,
              GError          **error)
{
  VaeScratch  scratch;
  VaeTensor  *x;
  guint       i;

  vae_scratch_init (&scratch);

  x = vae_scratch_get (&scratch, VAE_T_C (input), VAE_T_H (input),
                       VAE_T_W (input), error);
  if (x == NULL)
    goto fail;
  memcpy (x->data, input->data, input->n_elements * sizeof (gfloat));

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      switch (layer->type)
        {
        case LAYER_CONV:
          {
            VaeTensor *y;
            gsize      ho, wo;

            vae_conv2d_out_size (&layer->conv, VAE_T_H (x), VAE_T_W (x), &ho, &wo);
            y = vae_scratch_get (&scratch, layer->conv.c_out, MAX (ho, 1),
                                 MAX (wo, 1), error);
            if (y == NULL ||
                ! vae_op_conv2d (run, &layer->conv, x, NULL, layer->act, &y, error))
              {
                vae_scratch_put (&scratch, y);
                goto fail;
              }
            vae_scratch_put (&scratch, x);
            x = y;
          }
          break;

        case LAYER_BLOCK:
          if (! block_forward (run, &scratch, layer, &x, error))
            goto fail;
          break;

        case LAYER_RELU:
          vae_op_activate (run, x, VAE_ACT_RELU);
          break;

        case LAYER_CLAMP:
          vae_op_tanh_clamp (run, x, CLAMP_LIMIT);
          break;

        case LAYER_UPSAMPLE:
          {
            VaeTensor *y = vae_op_upsample_nearest (run, x, 2, error);

            if (y == NULL)
              goto fail;
            vae_scratch_put (&scratch, x);
            x = y;
          }
          break;
        }
    }

  vae_scratch_clear (&scratch);

  return x;

fail:
  vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return NULL;
}

static gdouble
half_flops (const Half *half,
            guint       first,
            guint       last,
            gsize       height,
            gsize       width)
{
  gdouble flops = 0.0;
  guint   i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);
      gsize        ho, wo;

      switch (layer->type)
        {
        case LAYER_CONV:
          flops += vae_conv2d_flops (&layer->conv, height, width);
          vae_conv2d_out_size (&layer->conv, height, width, &ho, &wo);
          height = ho;
          width = wo;
          break;
        case LAYER_BLOCK:
          flops += vae_conv2d_flops (&layer->c0, height, width) +
                   vae_conv2d_flops (&layer->c2, height, width) +
                   vae_conv2d_flops (&layer->c4, height, width);
          if (layer->has_skip)
            flops += vae_conv2d_flops (&layer->skip, height, width);
          if (layer->has_pool)
            flops += vae_conv2d_flops (&layer->pool_in, height, width) +
                     vae_conv2d_flops (&layer->pool_out, height, width);
          break;
        case LAYER_UPSAMPLE:
          height *= 2;
          width *= 2;
          break;
        default:
          break;
        }
    }

  return flops;
}

/* --- tiles ---------------------------------------------------------------- */

/* Layers that see the whole image (the GroupNorm pools) stay untiled; the
 * rest only mixes neighbours, so a tile computed with a margin as wide as
 * that part's receptive field gives exactly the untiled values inside the
 * margin.  The decoder runs its latent-resolution head (clamp, first conv,
 * the pooled blocks) on the whole latent and tiles from the first
 * upsample on; the encoder tiles up to its first pooled block and runs the
 * pooled blocks and the last conv on the assembled latent-resolution map.
 */

/* Receptive-field radius of layers [first, last), in units of the grid
 * whose pixels are @res pixels of the layers' input. */
static gdouble
half_radius (const Half *half,
             guint       first,
             guint       last,
             gdouble     res)
{
  gdouble radius = 0.0;
  guint   i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      switch (layer->type)
        {
        case LAYER_CONV:
          if (layer->conv.upsample > 1)
            res *= layer->conv.upsample;
          radius += (layer->conv.kernel / 2) / res;
          if (layer->conv.stride > 1)
            res /= layer->conv.stride;
          break;
        case LAYER_BLOCK:
          radius += 3 * (layer->c0.kernel / 2) / res;
          break;
        case LAYER_UPSAMPLE:
          res *= 2;
          break;
        default:
          break;
        }
    }

  return radius;
}

static guint
first_pool_block (const Half *half)
{
  guint i;

  for (i = 0; i < half->layers->len; i++)
    if (g_array_index (half->layers, Layer, i).type == LAYER_BLOCK &&
        g_array_index (half->layers, Layer, i).has_pool)
      return i;

  return half->layers->len;
}

/* The decoder's tiled part starts at its first upsample; nothing global may
 * follow. */
static gboolean
decoder_split (const Half *half,
               guint      *split)
{
  guint i;

  for (i = 0; i < half->layers->len; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      if (layer->type == LAYER_UPSAMPLE ||
          (layer->type == LAYER_CONV && layer->conv.upsample > 1))
        break;
    }
  *split = i;

  for (; i < half->layers->len; i++)
    if (g_array_index (half->layers, Layer, i).type == LAYER_BLOCK &&
        g_array_index (half->layers, Layer, i).has_pool)
      return FALSE;

  return TRUE;
}

/* ... and the encoder's ends at its first pooled block, after which no
 * layer may downsample. */
static gboolean
encoder_split (const Half *half,
               guint      *split)
{
  guint i;

  *split = first_pool_block (half);
  for (i = *split; i < half->layers->len; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      if (layer->type == LAYER_CONV && layer->conv.stride > 1)
        return FALSE;
    }

  return TRUE;
}

/* Peak bytes of feature maps while half_forward () runs layers [first,
 * last) on a [channels, h, w] map. */
static gsize
half_memory (const Half *half,
             guint       first,
             guint       last,
             gsize       channels,
             gsize       h,
             gsize       w)
{
  gsize peak = channels * h * w;   /* its copy of the input */
  guint i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);
      gsize        now = 0;

      switch (layer->type)
        {
        case LAYER_CONV:
          {
            gsize ho, wo;

            vae_conv2d_out_size (&layer->conv, h, w, &ho, &wo);
            now = channels * h * w + (gsize) layer->conv.c_out * ho * wo;
            channels = layer->conv.c_out;
            h = ho;
            w = wo;
          }
          break;
        case LAYER_BLOCK:
          now = 3 * (gsize) layer->c0.c_out * h * w +
                (layer->has_pool ? (gsize) layer->pool_in.c_out * h * w : 0);
          channels = layer->c0.c_out;
          break;
        case LAYER_UPSAMPLE:
          now = 5 * channels * h * w;
          h *= 2;
          w *= 2;
          break;
        default:
          break;
        }
      peak = MAX (peak, now);
    }

  return peak * sizeof (gfloat);
}

/* Width of the map after layers [0, last). */
static gsize
half_channels (const Half *half,
               guint       last)
{
  gsize channels = half->in_channels;
  guint i;

  for (i = 0; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      if (layer->type == LAYER_CONV)
        channels = layer->conv.c_out;
      else if (layer->type == LAYER_BLOCK)
        channels = layer->c0.c_out;
    }

  return channels;
}

static gsize
taesd_memory (gpointer self,
              gboolean decoder,
              gsize    width,
              gsize    height)
{
  Taesd      *taesd = self;
  const Half *half = decoder ? &taesd->decoder : &taesd->encoder;
  const gsize f = decoder ? half->factor : 1;

  return half_memory (half, 0, half->layers->len, half->in_channels,
                      height / f, width / f);
}

/* --- the whole part in bands ---------------------------------------------- */

/* A tiled run keeps the latent-resolution part whole: the GroupNorm pools
 * see the whole map.  At 8192^2 that part's maps are 256 MiB each and a
 * pool's is 1 GiB, so it runs in bands of rows: a pool's statistics are
 * taken over the whole map first (a pass of its 1x1 input conv), then
 * every band runs the block with them, reading the rows of context its
 * three 3x3 convs need above and below.  A block holds its input and its
 * output, two maps, beside one band's buffers. */

#define BAND_MIN_ROWS  8
#define BAND_DIVISIONS 16   /* a band is about 1/16 of its map, at most */

static gsize
band_rows (gsize h)
{
  return MAX (BAND_MIN_ROWS, (h + BAND_DIVISIONS - 1) / BAND_DIVISIONS);
}

/* Rows of context each side for @layer's output rows. */
static gsize
layer_halo (const Layer *layer)
{
  if (layer->type == LAYER_CONV)
    return layer->conv.kernel / 2;
  if (layer->type == LAYER_BLOCK)
    return layer->c0.kernel / 2 + layer->c2.kernel / 2 + layer->c4.kernel / 2;

  return 0;
}

/* Runs in bands: a block, or a conv that keeps the resolution. */
static gboolean
layer_banded (const Layer *layer)
{
  return layer->type == LAYER_BLOCK ||
         (layer->type == LAYER_CONV && layer->conv.stride == 1 &&
          layer->conv.upsample <= 1);
}

/* Peak bytes of half_forward_banded () over layers [first, last) on a
 * [channels, h, w] map, which it consumes. */
static gsize
banded_memory (const Half *half,
               guint       first,
               guint       last,
               gsize       channels,
               gsize       h,
               gsize       w)
{
  gsize peak = channels * h * w;
  guint i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);
      const gsize  band = MIN (band_rows (h) + 2 * layer_halo (layer), h) * w;
      gsize        c_out, now;

      if (layer->type == LAYER_RELU || layer->type == LAYER_CLAMP)
        continue;
      if (! layer_banded (layer))
        {
          /* with its input, which half_forward () copies */
          peak = MAX (peak, channels * h * w);
          peak = MAX (peak, half_memory (half, i, i + 1, channels, h, w) / sizeof (gfloat));
          if (layer->type == LAYER_CONV)
            {
              gsize ho, wo;

              vae_conv2d_out_size (&layer->conv, h, w, &ho, &wo);
              h = ho;
              w = wo;
            }
          else if (layer->type == LAYER_UPSAMPLE)
            {
              h *= 2;
              w *= 2;
            }
          channels = half_channels (half, i + 1);
          continue;
        }

      c_out = layer->type == LAYER_CONV ? (gsize) layer->conv.c_out
                                        : (gsize) layer->c0.c_out;
      /* Input and output maps; a band's input, and what the layer holds
       * on it (a block: the pool's map, two inner maps and its output). */
      now = (channels + c_out) * h * w +
            (layer->type == LAYER_CONV
             ? (channels + c_out) * band
             : (channels + 3 * c_out +
                (layer->has_pool ? (gsize) layer->pool_in.c_out : 0)) * band);
      peak = MAX (peak, now);
      channels = c_out;
    }

  return peak * sizeof (gfloat);
}

/* Work of half_forward_banded () over layers [first, last) on an h x w
 * map: every band computes its rows of context again, and a pool's
 * statistics take one more pass of its input conv. */
static gdouble
banded_flops (const Half *half,
              guint       first,
              guint       last,
              gsize       h,
              gsize       w)
{
  const gsize rows = band_rows (h);
  gdouble     flops = 0.0;
  guint       i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);
      const gsize  halo = layer_halo (layer);
      gsize        y0;

      if (! layer_banded (layer))
        {
          flops += half_flops (half, i, i + 1, h, w);
          if (layer->type == LAYER_CONV)
            {
              gsize ho, wo;

              vae_conv2d_out_size (&layer->conv, h, w, &ho, &wo);
              h = ho;
              w = wo;
            }
          else if (layer->type == LAYER_UPSAMPLE)
            {
              h *= 2;
              w *= 2;
            }
          continue;
        }

      if (layer->type == LAYER_BLOCK && layer->has_pool)
        flops += vae_conv2d_flops (&layer->pool_in, h, w);
      for (y0 = 0; y0 < h; y0 += rows)
        {
          const gsize a = y0 > halo ? y0 - halo : 0, b = MIN (y0 + rows + halo, h);

          flops += half_flops (half, i, i + 1, b - a, w);
        }
    }

  return flops;
}

/* Rows [a, b) of @x into a scratch map. */
static VaeTensor *
rows_copy (VaeScratch       *scratch,
           const VaeTensor  *x,
           gsize             a,
           gsize             b,
           GError          **error)
{
  const gsize c = VAE_T_C (x), h = VAE_T_H (x), w = VAE_T_W (x);
  VaeTensor  *t = vae_scratch_get (scratch, c, b - a, w, error);
  gsize       i;

  if (t == NULL)
    return NULL;
  for (i = 0; i < c; i++)
    memcpy (t->data + i * (b - a) * w, x->data + (i * h + a) * w,
            (b - a) * w * sizeof (gfloat));

  return t;
}

/* dst[:, y0 : y1] = src[:, skip : skip + y1 - y0] */
static void
rows_put (VaeTensor        *dst,
          const VaeTensor  *src,
          gsize             y0,
          gsize             y1,
          gsize             skip)
{
  const gsize w = VAE_T_W (dst);
  gsize       c;

  for (c = 0; c < VAE_T_C (dst); c++)
    memcpy (dst->data + (c * VAE_T_H (dst) + y0) * w,
            src->data + (c * VAE_T_H (src) + skip) * w,
            (y1 - y0) * w * sizeof (gfloat));
}

/* The whole-map statistics of the pool's GroupNorm: its input, the
 * block's input through the pool's 1x1 conv, a band at a time. */
static VaeNormStats *
pool_stats (VaeRun           *run,
            VaeScratch       *scratch,
            const Layer      *layer,
            const VaeTensor  *x,
            GError          **error)
{
  const gsize   h = VAE_T_H (x), rows = band_rows (h);
  VaeNormStats *stats = vae_norm_stats_new ();
  gsize         y0;

  for (y0 = 0; y0 < h; y0 += rows)
    {
      const gsize y1 = MIN (y0 + rows, h);
      VaeTensor  *band = rows_copy (scratch, x, y0, y1, error);
      VaeTensor  *p = band ? vae_scratch_get (scratch, layer->pool_in.c_out, y1 - y0,
                                              VAE_T_W (x), error) : NULL;
      gboolean    ok;

      ok = p && vae_op_conv2d (run, &layer->pool_in, band, NULL, VAE_ACT_NONE, &p, error);
      if (ok)
        {
          /* The band is the region: base grid 1 x 1, all of it. */
          vae_norm_stats_begin (stats, VAE_NORM_STATS_COLLECT, 1, 1, 0, 0, 1, 1);
          ok = vae_norm_stats_add (stats, run, p, POOL_GROUPS, error);
        }
      vae_scratch_put (scratch, band);
      vae_scratch_put (scratch, p);
      if (! ok)
        {
          vae_norm_stats_free (stats);
          return NULL;
        }
    }

  return stats;
}

/* One layer on the whole map *x in bands of output rows, each computed
 * from its rows plus the layer's context: inside the context the convs'
 * zero padding at a band's edge does not reach, so every band holds the
 * rows the whole map would give.  Replaces *x. */
static gboolean
layer_forward_banded (VaeRun       *run,
                      VaeScratch   *scratch,
                      const Layer  *layer,
                      VaeTensor   **x,
                      GError      **error)
{
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), rows = band_rows (h);
  const gsize   halo = layer_halo (layer);
  VaeNormStats *stats = NULL, *saved = run->norm_stats;
  VaeTensor    *out;
  gsize         y0, c_out;
  gboolean      ok = TRUE;

  c_out = layer->type == LAYER_CONV ? (gsize) layer->conv.c_out : (gsize) layer->c0.c_out;
  if (layer->type == LAYER_BLOCK && layer->has_pool)
    {
      stats = pool_stats (run, scratch, layer, *x, error);
      if (stats == NULL)
        return FALSE;
    }
  out = vae_tensor_new_3d_uninit (c_out, h, w, error);
  if (out == NULL)
    {
      vae_norm_stats_free (stats);
      return FALSE;
    }

  for (y0 = 0; y0 < h && ok; y0 += rows)
    {
      const gsize y1 = MIN (y0 + rows, h);
      const gsize a = y0 > halo ? y0 - halo : 0, b = MIN (y1 + halo, h);
      VaeTensor  *band = rows_copy (scratch, *x, a, b, error);

      if (band == NULL)
        {
          ok = FALSE;
          break;
        }
      if (layer->type == LAYER_CONV)
        {
          VaeTensor *y = vae_scratch_get (scratch, c_out, b - a, w, error);

          ok = y && vae_op_conv2d (run, &layer->conv, band, NULL, layer->act, &y, error);
          vae_scratch_put (scratch, band);
          band = y;
        }
      else
        {
          /* The pool's GroupNorm normalises with the whole map's
           * statistics (its one call per band). */
          if (stats)
            {
              vae_norm_stats_begin (stats, VAE_NORM_STATS_APPLY, 1, 1, 0, 0, 1, 1);
              run->norm_stats = stats;
            }
          ok = block_forward (run, scratch, layer, &band, error);
          run->norm_stats = saved;
        }
      if (ok)
        rows_put (out, band, y0, y1, y0 - a);
      vae_scratch_put (scratch, band);
    }

  vae_norm_stats_free (stats);
  if (! ok)
    {
      vae_tensor_unref (out);
      return FALSE;
    }
  vae_tensor_unref (*x);
  *x = out;

  return TRUE;
}

/* Layers [first, last) of @half on the whole map *x, which it replaces,
 * with the blocks and convs in bands. */
static gboolean
half_forward_banded (const Half  *half,
                     guint        first,
                     guint        last,
                     VaeTensor  **x,
                     VaeRun      *run,
                     GError     **error)
{
  VaeScratch scratch;
  gboolean   ok = TRUE;
  guint      i;

  vae_scratch_init (&scratch);
  for (i = first; i < last && ok; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);

      if (layer_banded (layer))
        {
          ok = layer_forward_banded (run, &scratch, layer, x, error);
        }
      else if (layer->type == LAYER_RELU)
        {
          vae_op_activate (run, *x, VAE_ACT_RELU);
        }
      else if (layer->type == LAYER_CLAMP)
        {
          vae_op_tanh_clamp (run, *x, CLAMP_LIMIT);
        }
      else
        {
          VaeTensor *y = half_forward (half, *x, i, i + 1, run, error);

          ok = y != NULL;
          if (ok)
            {
              vae_tensor_unref (*x);
              *x = y;
            }
        }
    }
  vae_scratch_clear (&scratch);

  return ok;
}

/* --- the plan --------------------------------------------------------------- */

/* The tiled part's margin in latent pixels.  Encoder tiles start on the
 * latent grid so that every stride-2 conv samples where it does on the
 * whole image. */
static gsize
tiled_margin (const Half *half,
              gboolean    decoder,
              guint       split)
{
  return decoder
         ? (gsize) ceil (half_radius (half, split, half->layers->len, 1.0)) + 1
         : (gsize) ceil (half_radius (half, 0, split, (gdouble) half->factor)) + 1;
}

/* The grid of a tiled run over h x w latent pixels in tiles of @tile
 * image pixels, and its work: the whole part once, the tiled part on
 * every tile with its margin.  @xs and @ys may be NULL. */
static gdouble
tiled_grid (const Half  *half,
            gboolean     decoder,
            guint        split,
            gsize        h,
            gsize        w,
            gsize        tile,
            gsize       *margin,
            gsize       *overlap,
            GArray     **xs,
            GArray     **ys)
{
  const guint  end = half->layers->len;
  const gsize  f = half->factor;
  GArray      *sx, *sy;
  gdouble      work;
  guint        ix, iy;

  *margin = tiled_margin (half, decoder, split);
  /* The margin makes tiles exact; the overlap only has to hide rounding. */
  tile = MAX (tile / f, 2);
  *overlap = MIN (*margin, tile / 2);
  sx = vae_tiles_split (w, tile, *overlap, 1);
  sy = vae_tiles_split (h, tile, *overlap, 1);

  work = decoder ? banded_flops (half, 0, split, h, w) : banded_flops (half, split, end, h, w);
  for (iy = 0; iy < sy->len; iy++)
    for (ix = 0; ix < sx->len; ix++)
      {
        gsize x0, x1, y0, y1;

        vae_span_extend (&g_array_index (sx, VaeSpan, ix), *margin, w, &x0, &x1);
        vae_span_extend (&g_array_index (sy, VaeSpan, iy), *margin, h, &y0, &y1);
        work += decoder ? half_flops (half, split, end, y1 - y0, x1 - x0)
                        : half_flops (half, 0, split, (y1 - y0) * f, (x1 - x0) * f);
      }

  if (xs)
    *xs = sx;
  else
    g_array_unref (sx);
  if (ys)
    *ys = sy;
  else
    g_array_unref (sy);

  return work;
}

static gdouble
taesd_flops (gpointer self,
             gboolean decoder,
             gsize    width,
             gsize    height)
{
  Taesd *taesd = self;

  if (decoder)
    return taesd->has_decoder
           ? half_flops (&taesd->decoder, 0, taesd->decoder.layers->len,
                         height / taesd->decoder.factor,
                         width / taesd->decoder.factor)
           : 0.0;

  return taesd->has_encoder
         ? half_flops (&taesd->encoder, 0, taesd->encoder.layers->len, height, width)
         : 0.0;
}

/* Planned tiles are at least this many margins wide: margins and
 * overlaps then cost at most about 2.6 times a tile's own work, so the
 * work stays proportional to the pixels, and a budget too small for
 * such tiles is refused rather than run in slivers that are mostly
 * margin. */
#define MIN_TILE_MARGINS 6

/* Peak bytes of one tile of t x t latent pixels of the tiled part on an
 * h x w latent map: the crop of the tile with its margins (clipped to the
 * map) beside the tiled part's maps, its result among them. */
static gsize
tile_memory (const Half *half,
             gboolean    decoder,
             guint       split,
             gsize       margin,
             gsize       t,
             gsize       h,
             gsize       w)
{
  const gsize f = half->factor, c = half_channels (half, split);
  const gsize th = MIN (t + 2 * margin, h), tw = MIN (t + 2 * margin, w);

  if (decoder)
    return c * th * tw * sizeof (gfloat) +
           half_memory (half, split, half->layers->len, c, th, tw);

  return 3 * th * tw * f * f * sizeof (gfloat) +
         half_memory (half, 0, split, 3, th * f, tw * f);
}

static gboolean
taesd_plan (gpointer   self,
            gboolean   decoder,
            gsize      width,
            gsize      height,
            gboolean   copy,
            gsize      budget,
            gsize      max_tile,
            VaePlan   *plan,
            GError   **error)
{
  Taesd      *taesd = self;
  const Half *half = decoder ? &taesd->decoder : &taesd->encoder;
  const gsize f = half->factor, h = height / f, w = width / f;
  const gsize image = 3 * width * height * sizeof (gfloat);
  gsize       whole, fixed, phase, margin, overlap, t, t_min, c;
  gboolean    can_tile;
  guint       split;

  /* Whole: every map at once, beside the encoder's padded copy of its
   * input or the decoder's cropped copy of its output. */
  whole = taesd_memory (self, decoder, width, height) + (copy ? image : 0);
  plan->tile = 0;
  plan->flops = taesd_flops (self, decoder, width, height);
  plan->memory = whole;

  can_tile = decoder ? decoder_split (half, &split)
                     : (encoder_split (half, &split) && split > 0);
  if (whole <= budget && (max_tile == 0 || max_tile >= MAX (width, height)))
    return TRUE;
  if (! can_tile)
    {
      if (whole <= budget)
        return TRUE;
      vae_plan_set_error (error, decoder, width, height, whole, budget);
      return FALSE;
    }

  /* Tiled: the latent-resolution part runs whole, in bands; then the
   * tiles run beside the whole maps they read and write (the decoder's
   * head map and output image, the encoder's map at the split).  The
   * encoder reads its tiles from the unpadded image; the decoder's
   * output may be cropped into a copy after the tiles are gone. */
  c = half_channels (half, split);
  phase = decoder ? banded_memory (half, 0, split, half->in_channels, h, w)
                  : banded_memory (half, split, half->layers->len, c, h, w);
  fixed = (c * h * w + (decoder ? 3 * h * w * f * f : 0)) * sizeof (gfloat);
  phase = MAX (phase, decoder && copy ? 2 * image : 0);
  margin = tiled_margin (half, decoder, split);

  t = MAX (h, w);
  if (max_tile > 0)
    t = MIN (t, MAX (max_tile / f, 2));
  while (t >= 2 && fixed + tile_memory (half, decoder, split, margin, t, h, w) > budget)
    t -= MAX (t / 16, 1);
  t_min = max_tile > 0 ? 2 : MIN (MIN_TILE_MARGINS * margin, MAX (h, w));
  if (phase > budget || t < t_min)
    {
      vae_plan_set_error (error, decoder, width, height,
                          MAX (phase, fixed + tile_memory (half, decoder, split,
                                                           margin, t_min, h, w)),
                          budget);
      return FALSE;
    }

  plan->tile = t * f;
  plan->flops = tiled_grid (half, decoder, split, h, w, plan->tile, &margin, &overlap,
                            NULL, NULL);
  plan->memory = MAX (phase, fixed + tile_memory (half, decoder, split, margin, t, h, w));

  return TRUE;
}

static gboolean
taesd_decode_tiled (gpointer          self,
                    const VaeTensor  *latent,
                    VaeTensor       **image,
                    gsize             tile,
                    VaeRun           *run,
                    GError          **error)
{
  Taesd                *taesd = self;
  const Half           *dec = &taesd->decoder;
  const guint           end = dec->layers->len;
  const gsize           f = dec->factor;
  const gsize           h = VAE_T_H (latent), w = VAE_T_W (latent);
  g_autoptr (VaeTensor) head = NULL;
  g_autoptr (VaeTensor) out = NULL;
  g_autoptr (GArray)    xs = NULL, ys = NULL;
  gsize                 margin, overlap;
  gdouble               work;
  guint                 split, ix, iy;

  if (! decoder_split (dec, &split))
    return taesd->has_decoder &&
           vae_arch_taesd.decode (self, latent, image, run, error);

  work = tiled_grid (dec, TRUE, split, h, w, tile, &margin, &overlap, &xs, &ys);
  vae_run_begin (run, "decode", work);

  /* The head in bands, on a copy (the clamp works in place); the image
   * is made once its maps are gone. */
  head = vae_tensor_copy (latent, error);
  if (head == NULL || ! half_forward_banded (dec, 0, split, &head, run, error))
    return FALSE;
  out = vae_tensor_new_3d (dec->out_channels, h * f, w * f, error);
  if (out == NULL)
    return FALSE;

  for (iy = 0; iy < ys->len; iy++)
    for (ix = 0; ix < xs->len; ix++)
      {
        const VaeSpan        *sx = &g_array_index (xs, VaeSpan, ix);
        const VaeSpan        *sy = &g_array_index (ys, VaeSpan, iy);
        g_autoptr (VaeTensor) crop = NULL;
        g_autoptr (VaeTensor) part = NULL;
        gsize                 x0, x1, y0, y1;

        vae_span_extend (sx, margin, w, &x0, &x1);
        vae_span_extend (sy, margin, h, &y0, &y1);

        crop = vae_image_crop (head, x0, y0, x1 - x0, y1 - y0, error);
        if (crop == NULL)
          return FALSE;
        part = half_forward (dec, crop, split, end, run, error);
        if (part == NULL)
          return FALSE;

        vae_tiles_blend (out, part, (sx->start - x0) * f, (sy->start - y0) * f,
                         sx->start * f, sy->start * f, sx->len * f, sy->len * f,
                         xs, ix, ys, iy, overlap, f);
      }

  *image = g_steal_pointer (&out);

  return TRUE;
}

static gboolean
taesd_encode_tiled (gpointer          self,
                    const VaeTensor  *image,
                    VaeTensor       **latent,
                    gsize             tile,
                    VaeRun           *run,
                    GError          **error)
{
  Taesd                *taesd = self;
  const Half           *enc = &taesd->encoder;
  const gsize           f = enc->factor;
  /* The image need not be padded: tiles read it as padded. */
  const gsize           h = (VAE_T_H (image) + f - 1) / f;
  const gsize           w = (VAE_T_W (image) + f - 1) / f;
  g_autoptr (VaeTensor) body = NULL;
  g_autoptr (GArray)    xs = NULL, ys = NULL;
  gsize                 margin, overlap;
  gdouble               work;
  guint                 split, ix, iy;

  if (! encoder_split (enc, &split) || split == 0)
    {
      g_autoptr (VaeTensor) padded = vae_image_pad (image, f, run->pad_mode, error);

      return padded && vae_arch_taesd.encode (self, padded, latent, run, error);
    }

  work = tiled_grid (enc, FALSE, split, h, w, tile, &margin, &overlap, &xs, &ys);
  vae_run_begin (run, "encode", work);

  body = vae_tensor_new_3d (half_channels (enc, split), h, w, error);
  if (body == NULL)
    return FALSE;

  for (iy = 0; iy < ys->len; iy++)
    for (ix = 0; ix < xs->len; ix++)
      {
        const VaeSpan        *sx = &g_array_index (xs, VaeSpan, ix);
        const VaeSpan        *sy = &g_array_index (ys, VaeSpan, iy);
        g_autoptr (VaeTensor) crop = NULL;
        g_autoptr (VaeTensor) part = NULL;
        gsize                 x0, x1, y0, y1;

        vae_span_extend (sx, margin, w, &x0, &x1);
        vae_span_extend (sy, margin, h, &y0, &y1);

        crop = vae_tiles_crop (image, run->pad_mode, x0 * f, y0 * f, (x1 - x0) * f,
                               (y1 - y0) * f, error);
        if (crop == NULL)
          return FALSE;
        part = half_forward (enc, crop, 0, split, run, error);
        if (part == NULL)
          return FALSE;

        vae_tiles_blend (body, part, sx->start - x0, sy->start - y0,
                         sx->start, sy->start, sx->len, sy->len,
                         xs, ix, ys, iy, overlap, 1);
      }

  if (! half_forward_banded (enc, split, enc->layers->len, &body, run, error))
    return FALSE;
  *latent = g_steal_pointer (&body);

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
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s looks like a TAESD %s, but was given as the %s",
                   vae_weights_get_path (w), dec ? "decoder" : "encoder", role);
      return FALSE;
    }
  if (dec ? taesd->has_decoder : taesd->has_encoder)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: two TAESD %ss given", vae_weights_get_path (w),
                   dec ? "decoder" : "encoder");
      return FALSE;
    }
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
  Taesd    *taesd = g_new0 (Taesd, 1);
  guint     latent_channels = 0, factor = 0;
  gboolean  pool;

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

  pool = taesd->encoder.has_pool || taesd->decoder.has_pool;
  info->architecture = g_strdup ("taesd");
  info->latent_channels = latent_channels;
  info->factor = factor;
  /* TAESD latents already live in the diffusion model's space. */
  info->scale = 1.0;
  info->shift = 0.0;
  if (factor == 32)
    {
      info->id = g_strdup ("taesana");
      info->name = g_strdup ("TAESANA (tiny autoencoder for DC-AE f32c32)");
    }
  else if (latent_channels == 32 && pool)
    {
      info->id = g_strdup ("taef2");
      info->name = g_strdup ("TAEF2 (tiny autoencoder for FLUX.2)");
    }
  else if (latent_channels == 16)
    {
      info->id = g_strdup ("taef1");
      info->name = g_strdup ("TAEF1 / TAESD3 (tiny autoencoder, 16 channels)");
    }
  else if (latent_channels == 4)
    {
      info->id = g_strdup ("taesd");
      info->name = g_strdup ("TAESD / TAESDXL (tiny autoencoder, 4 channels)");
    }
  else
    {
      info->id = g_strdup_printf ("taesd-%uch", latent_channels);
      info->name = g_strdup_printf ("TAESD-style autoencoder (%u channels)",
                                    latent_channels);
    }

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

  vae_run_begin (run, "encode", half_flops (&taesd->encoder, 0, taesd->encoder.layers->len,
                                            VAE_T_H (image), VAE_T_W (image)));
  *latent = half_forward (&taesd->encoder, image, 0, taesd->encoder.layers->len,
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

  vae_run_begin (run, "decode", half_flops (&taesd->decoder, 0, taesd->decoder.layers->len,
                                            VAE_T_H (latent), VAE_T_W (latent)));
  *image = half_forward (&taesd->decoder, latent, 0, taesd->decoder.layers->len,
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
  .flops = taesd_flops,
  .memory = taesd_memory,
  .plan = taesd_plan,
  .encode_tiled = taesd_encode_tiled,
  .decode_tiled = taesd_decode_tiled,
};
