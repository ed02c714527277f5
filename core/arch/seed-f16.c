/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* seed-f16, gimp-vae's own autoencoder (docs/seed-f16.md): 16x per side,
 * C latent channels.
 *
 * Encoder: a linear shortcut (unshuffle 16, 1x1 conv: a whitened PCA) plus
 * a conv branch on unshuffle_4 (2 x - 1): conv_in, Res, [unshuffle 2,
 * conv, Res] twice, then 1x1 conv_out of silu (h) added to the shortcut.
 *
 * Decoder: base = shuffle_16 (1x1 pca (z)); a 3x3 embed conv gives D-wide
 * tokens, one per latent pixel, run through pre-norm transformer blocks
 * (LayerNorm, multi-head self-attention with axial 2-D RoPE, GELU MLP)
 * and a last LayerNorm; a conv head (1x1 up1, shuffle 2, Res, 3x3 up2,
 * shuffle 2, plus a 3x3 skip conv of unshuffle_4 (2 base - 1), Res, 3x3
 * conv_out of silu) adds its shuffle_4 output to base.  Res (x) is
 * x + conv2 (silu (conv1 (silu (x)))).
 *
 * Widths come from the tensor shapes and heads, ln_eps and rope_base
 * from the vae.config metadata, so the small test models in
 * tests/data/seed run through exactly the code the real one does.
 *
 * The decoder's attention is global over all h w tokens: a tile of the
 * image would not decode to the same values, so there is no tiled path.
 */

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "../vae-error-private.h"
#include "../vae-json-private.h"
#include "../ops/ops.h"
#include "arch.h"

#define FACTOR      16
#define PATCH       (3 * FACTOR * FACTOR)   /* 768: one unshuffled 16x16 RGB patch */

typedef struct
{
  VaeConv2d conv1;
  VaeConv2d conv2;
} Res;

typedef struct
{
  VaeLayerNorm norm1, norm2;
  /* the three row blocks of attn.qkv, run apart because the attention op
   * wants each contiguous */
  VaeLinear    q, k, v;
  VaeLinear    proj, fc1, fc2;
} Block;

typedef struct
{
  gboolean      has_encoder;
  gboolean      has_decoder;
  guint         latent_channels;

  VaeConv2d     enc_pca, conv_in, down2, down3, enc_out;
  Res           enc_res1, enc_res2, enc_res3;

  VaeConv2d     dec_pca, embed, up1, up2, skip, dec_out;
  Res           dec_res1, dec_res2;
  Block        *blocks;
  gint          dim;
  gint          depth;
  gint          hidden;
  VaeAttention  attention;
  gdouble       rope_base;
  VaeLayerNorm  norm_out;
} Seed;

/* --- loading ------------------------------------------------------------ */

static const gfloat *
get_1d (VaeWeights   *w,
        const gchar  *name,
        gsize         d0,
        GError      **error)
{
  return vae_weights_get_1d (w, name, d0, error);
}

static const gfloat *
get_2d (VaeWeights   *w,
        const gchar  *name,
        gsize         d0,
        gsize         d1,
        GError      **error)
{
  const gsize shape[2] = { d0, d1 };

  return vae_weights_get (w, name, 2, shape, error);
}

/* <stem>.weight [c_out, c_in, k, k] and <stem>.bias [c_out], zero
 * padding k / 2. */
static gboolean
load_conv (VaeWeights   *w,
           const gchar  *stem,
           gint          c_in,
           gint          c_out,
           gint          kernel,
           VaeConv2d    *conv,
           GError      **error)
{
  g_autofree gchar *wname = g_strconcat (stem, ".weight", NULL);
  g_autofree gchar *bname = g_strconcat (stem, ".bias", NULL);
  const gfloat     *weight, *bias;

  weight = vae_weights_get_4d (w, wname, c_out, c_in, kernel, kernel, error);
  if (weight == NULL)
    return FALSE;
  bias = get_1d (w, bname, c_out, error);
  if (bias == NULL)
    return FALSE;

  vae_conv2d_init (conv, c_in, c_out, kernel, 1, kernel / 2, weight, bias);

  return TRUE;
}

static gboolean
load_res (VaeWeights   *w,
          const gchar  *stem,
          gint          channels,
          Res          *res,
          GError      **error)
{
  g_autofree gchar *c1 = g_strconcat (stem, ".conv1", NULL);
  g_autofree gchar *c2 = g_strconcat (stem, ".conv2", NULL);

  return load_conv (w, c1, channels, channels, 3, &res->conv1, error) &&
         load_conv (w, c2, channels, channels, 3, &res->conv2, error);
}

static gboolean
load_encoder (Seed        *seed,
              VaeWeights  *w,
              GError     **error)
{
  gint c = vae_arch_peek_dim (w, "encoder.pca.weight", 4, 0);
  gint c1 = vae_arch_peek_dim (w, "encoder.conv_in.weight", 4, 0);
  gint c2, c3;

  if (! load_conv (w, "encoder.pca", PATCH, c, 1, &seed->enc_pca, error) ||
      ! load_conv (w, "encoder.conv_in", 3 * 16, c1, 3, &seed->conv_in, error) ||
      ! load_res (w, "encoder.res1", c1, &seed->enc_res1, error))
    return FALSE;

  c2 = vae_arch_peek_dim (w, "encoder.down2.weight", 4, 0);
  if (! load_conv (w, "encoder.down2", 4 * c1, c2, 3, &seed->down2, error) ||
      ! load_res (w, "encoder.res2", c2, &seed->enc_res2, error))
    return FALSE;

  c3 = vae_arch_peek_dim (w, "encoder.down3.weight", 4, 0);
  if (! load_conv (w, "encoder.down3", 4 * c2, c3, 3, &seed->down3, error) ||
      ! load_res (w, "encoder.res3", c3, &seed->enc_res3, error) ||
      ! load_conv (w, "encoder.conv_out", c3, c, 1, &seed->enc_out, error))
    return FALSE;

  seed->latent_channels = c;

  return TRUE;
}

/* A member of vae.config that must be a number; FALSE with an error when
 * it is missing or not one. */
static gboolean
config_number (JsonObject   *config,
               const gchar  *path,
               const gchar  *key,
               gdouble      *value,
               GError      **error)
{
  JsonNode *node = json_object_get_member (config, key);
  GType     type = node ? json_node_get_value_type (node) : G_TYPE_INVALID;

  if (node == NULL || ! JSON_NODE_HOLDS_VALUE (node) ||
      (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config has no number '%s'", path, key);
  *value = type == G_TYPE_INT64 ? (gdouble) json_node_get_int (node)
                                : json_node_get_double (node);

  return TRUE;
}

/* A member that, when present, must equal what the tensors say. */
static gboolean
config_agrees (JsonObject   *config,
               const gchar  *path,
               const gchar  *key,
               gdouble       expected,
               GError      **error)
{
  gdouble value;

  if (! json_object_has_member (config, key))
    return TRUE;
  if (! config_number (config, path, key, &value, error))
    return FALSE;
  if (value != expected)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "%s: vae.config says %s = %g, the tensors %g",
                     path, key, value, expected);

  return TRUE;
}

/* TRUE when @key is absent or the string @value. */
static gboolean
config_string_is (JsonObject  *config,
                  const gchar *key,
                  const gchar *value)
{
  JsonNode *node = json_object_get_member (config, key);

  if (node == NULL)
    return TRUE;

  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING &&
         g_strcmp0 (json_node_get_string (node), value) == 0;
}

/* heads, ln_eps and rope_base cannot be read from shapes: the attention,
 * the LayerNorms and the RoPE get them here, after every shape. */
static gboolean
load_config (Seed        *seed,
             VaeWeights  *w,
             GError     **error)
{
  const gchar        *path = vae_weights_get_display_name (w);
  const gchar        *text = vae_weights_get_metadata (w, "vae.config");
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError)  json_error = NULL;
  g_autofree gchar   *problem = NULL;
  JsonNode           *root;
  JsonObject         *config;
  gdouble             heads, eps, base;
  gint                i;

  if (text == NULL)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: no vae.config metadata (a seed-f16 decoder needs "
                     "its heads, ln_eps and rope_base)", path);

  /* The metadata comes from the file: check it before json-glib does. */
  if (! vae_json_check (text, strlen (text), 8, 1024, &problem))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config is not JSON: %s", path, problem);
  parser = json_parser_new ();
  if (! json_parser_load_from_data (parser, text, -1, &json_error))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config is not JSON: %s", path, json_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || ! JSON_NODE_HOLDS_OBJECT (root))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config is not a JSON object", path);
  config = json_node_get_object (root);

  if (! config_number (config, path, "heads", &heads, error) ||
      ! config_number (config, path, "ln_eps", &eps, error) ||
      ! config_number (config, path, "rope_base", &base, error))
    return FALSE;

  if (! (heads >= 1 && heads <= seed->dim && heads == floor (heads)) ||
      seed->dim % (gint) heads != 0 || (seed->dim / (gint) heads) % 4 != 0)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "%s: vae.config heads = %g does not split the token "
                     "width %d into heads of a multiple of 4 features "
                     "(2-D RoPE)", path, heads, seed->dim);
  if (! (eps > 0.0 && eps < 1.0))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config ln_eps = %g is not in (0, 1)", path, eps);
  if (! (base > 1.0 && isfinite (base)))
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: vae.config rope_base = %g is not above 1", path, base);

  if (! config_agrees (config, path, "dim", seed->dim, error) ||
      ! config_agrees (config, path, "depth", seed->depth, error) ||
      ! config_agrees (config, path, "factor", FACTOR, error) ||
      ! config_agrees (config, path, "latent_channels",
                       seed->dec_pca.c_in, error))
    return FALSE;
  if (json_object_has_member (config, "mlp_ratio") &&
      ! config_agrees (config, path, "mlp_ratio",
                       (gdouble) seed->hidden / seed->dim, error))
    return FALSE;

  /* Another GELU or activation would be another model. */
  if (! config_string_is (config, "gelu", "erf") ||
      ! config_string_is (config, "activation", "silu"))
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s: vae.config asks for another GELU or activation than "
                     "seed-f16's (erf GELU, SiLU)", path);

  seed->attention.n_heads = (gint) heads;
  seed->attention.head_dim = seed->dim / (gint) heads;
  seed->attention.scale = (gfloat) (1.0 / sqrt (seed->attention.head_dim));
  for (i = 0; i < seed->depth; i++)
    seed->blocks[i].norm1.eps = seed->blocks[i].norm2.eps = (gfloat) eps;
  seed->norm_out.eps = (gfloat) eps;
  seed->rope_base = base;

  return TRUE;
}

static gint
count_blocks (VaeWeights *w)
{
  g_autoptr (GPtrArray) names = vae_weights_list (w);
  gint                  depth = 0;
  guint                 i;

  for (i = 0; i < names->len; i++)
    {
      const gchar *name = g_ptr_array_index (names, i);
      gchar       *end;
      gint64       index;

      if (! g_str_has_prefix (name, "decoder.blocks."))
        continue;
      name += strlen ("decoder.blocks.");
      if (! g_ascii_isdigit (name[0]))
        continue;
      index = g_ascii_strtoll (name, &end, 10);
      if (*end == '.' && index >= 0 && index < 1024)
        depth = MAX (depth, (gint) index + 1);
    }

  return depth;
}

/* <stem>.weight and <stem>.bias [dim]; eps comes with the config. */
static gboolean
load_layer_norm (VaeWeights    *w,
                 const gchar   *stem,
                 gint           dim,
                 VaeLayerNorm  *norm,
                 GError       **error)
{
  g_autofree gchar *wname = g_strconcat (stem, ".weight", NULL);
  g_autofree gchar *bname = g_strconcat (stem, ".bias", NULL);

  norm->dim = dim;

  return (norm->gamma = get_1d (w, wname, dim, error)) &&
         (norm->beta = get_1d (w, bname, dim, error));
}

/* <stem>.weight [d_out, d_in] and <stem>.bias [d_out]. */
static gboolean
load_linear (VaeWeights   *w,
             const gchar  *stem,
             gint          d_in,
             gint          d_out,
             VaeLinear    *linear,
             GError      **error)
{
  g_autofree gchar *wname = g_strconcat (stem, ".weight", NULL);
  g_autofree gchar *bname = g_strconcat (stem, ".bias", NULL);

  linear->d_in = d_in;
  linear->d_out = d_out;

  return (linear->weight = get_2d (w, wname, d_out, d_in, error)) &&
         (linear->bias = get_1d (w, bname, d_out, error));
}

static gboolean
load_block (VaeWeights   *w,
            gint          i,
            const Seed   *seed,
            Block        *b,
            GError      **error)
{
#define NAME(s) (g_snprintf (name, sizeof name, "decoder.blocks.%d." s, i), name)
  const gint  d = seed->dim;
  const gsize dd = (gsize) d * d;
  gchar       name[96];
  VaeLinear   qkv;

  if (! load_layer_norm (w, NAME ("norm1"), d, &b->norm1, error) ||
      ! load_linear (w, NAME ("attn.qkv"), d, 3 * d, &qkv, error) ||
      ! load_linear (w, NAME ("attn.proj"), d, d, &b->proj, error) ||
      ! load_layer_norm (w, NAME ("norm2"), d, &b->norm2, error) ||
      ! load_linear (w, NAME ("fc1"), d, seed->hidden, &b->fc1, error) ||
      ! load_linear (w, NAME ("fc2"), seed->hidden, d, &b->fc2, error))
    return FALSE;
#undef NAME

  b->q = (VaeLinear) { d, d, qkv.weight, qkv.bias };
  b->k = (VaeLinear) { d, d, qkv.weight + dd, qkv.bias + d };
  b->v = (VaeLinear) { d, d, qkv.weight + 2 * dd, qkv.bias + 2 * d };

  return TRUE;
}

static gboolean
load_decoder (Seed        *seed,
              VaeWeights  *w,
              GError     **error)
{
  gint c = vae_arch_peek_dim (w, "decoder.pca.weight", 4, 1);
  gint d = vae_arch_peek_dim (w, "decoder.embed.weight", 4, 0);
  gint up1, h1, up2, h2, i;

  if (! load_conv (w, "decoder.pca", c, PATCH, 1, &seed->dec_pca, error) ||
      ! load_conv (w, "decoder.embed", c, d, 3, &seed->embed, error))
    return FALSE;

  seed->dim = d;
  seed->depth = count_blocks (w);
  seed->hidden = vae_arch_peek_dim (w, "decoder.blocks.0.fc1.weight", 2, 0);
  if (seed->depth == 0)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: missing tensor 'decoder.blocks.0.attn.qkv.weight'",
                     vae_weights_get_display_name (w));

  seed->blocks = g_new0 (Block, seed->depth);
  for (i = 0; i < seed->depth; i++)
    if (! load_block (w, i, seed, &seed->blocks[i], error))
      return FALSE;
  if (! load_layer_norm (w, "decoder.norm_out", d, &seed->norm_out, error))
    return FALSE;

  /* up1 and up2 feed a shuffle by 2: four times the next width. */
  up1 = vae_arch_peek_dim (w, "decoder.up1.weight", 4, 0);
  h1 = MAX (up1 / 4, 1);
  if (! load_conv (w, "decoder.up1", d, 4 * h1, 1, &seed->up1, error) ||
      ! load_res (w, "decoder.res1", h1, &seed->dec_res1, error))
    return FALSE;
  up2 = vae_arch_peek_dim (w, "decoder.up2.weight", 4, 0);
  h2 = MAX (up2 / 4, 1);
  if (! load_conv (w, "decoder.up2", h1, 4 * h2, 3, &seed->up2, error) ||
      ! load_conv (w, "decoder.skip", 3 * 16, h2, 3, &seed->skip, error) ||
      ! load_res (w, "decoder.res2", h2, &seed->dec_res2, error) ||
      ! load_conv (w, "decoder.conv_out", h2, 3 * 16, 3, &seed->dec_out, error))
    return FALSE;

  /* The config is read last, checked against every shape above. */
  return load_config (seed, w, error);
}

static gboolean
is_seed_metadata (VaeWeights *w)
{
  return w && g_strcmp0 (vae_weights_get_metadata (w, "vae.architecture"),
                         "seed-f16") == 0;
}

static gboolean
holds_encoder (VaeWeights *w)
{
  return w && vae_weights_has (w, "encoder.pca.weight") &&
         vae_weights_has (w, "encoder.conv_in.weight");
}

static gboolean
holds_decoder (VaeWeights *w)
{
  return w && vae_weights_has (w, "decoder.pca.weight") &&
         vae_weights_has (w, "decoder.blocks.0.attn.qkv.weight");
}

static gboolean
seed_probe (VaeWeights *encoder,
            VaeWeights *decoder)
{
  if (encoder && encoder == decoder)
    return is_seed_metadata (encoder) || holds_encoder (encoder) ||
           holds_decoder (encoder);

  return (encoder && (is_seed_metadata (encoder) || holds_encoder (encoder))) ||
         (decoder && (is_seed_metadata (decoder) || holds_decoder (decoder)));
}

static void
seed_destroy (gpointer self)
{
  Seed *seed = self;

  g_free (seed->blocks);
  g_free (seed);
}

static gpointer
seed_create (VaeWeights    *encoder,
             VaeWeights    *decoder,
             VaeModelInfo  *info,
             GError       **error)
{
  Seed *seed = g_new0 (Seed, 1);

  seed->has_encoder = encoder && vae_weights_has (encoder, "encoder.pca.weight");
  seed->has_decoder = decoder && vae_weights_has (decoder, "decoder.pca.weight");

  /* Two files given as the halves must each hold theirs. */
  if (encoder != decoder)
    {
      VaeWeights *lacking = (encoder && ! seed->has_encoder) ? encoder
                            : (decoder && ! seed->has_decoder) ? decoder : NULL;

      if (lacking)
        {
          const gchar *half = lacking == encoder ? "encoder" : "decoder";

          g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                       "%s: missing tensor '%s.pca.weight' (given as the "
                       "seed-f16 %s)", vae_weights_get_display_name (lacking),
                       half, half);
          goto fail;
        }
    }
  if (! seed->has_encoder && ! seed->has_decoder)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: missing tensors 'encoder.pca.weight' and "
                   "'decoder.pca.weight': no seed-f16 encoder or decoder",
                   vae_weights_get_display_name (encoder ? encoder : decoder));
      goto fail;
    }

  if (seed->has_encoder && ! load_encoder (seed, encoder, error))
    goto fail;
  if (seed->has_decoder)
    {
      guint c = seed->latent_channels;

      if (! load_decoder (seed, decoder, error))
        goto fail;
      if (seed->has_encoder && c != (guint) seed->dec_pca.c_in)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                       "seed-f16 encoder (%u latent channels) and decoder "
                       "(%d) do not belong together", c, seed->dec_pca.c_in);
          goto fail;
        }
      seed->latent_channels = seed->dec_pca.c_in;
    }

  info->architecture = g_strdup ("seed-f16");
  info->latent_channels = seed->latent_channels;
  info->factor = FACTOR;

  return seed;

fail:
  seed_destroy (seed);

  return NULL;
}

static gboolean
seed_can_encode (gpointer self)
{
  return ((Seed *) self)->has_encoder;
}

static gboolean
seed_can_decode (gpointer self)
{
  return ((Seed *) self)->has_decoder;
}

/* --- cost ----------------------------------------------------------------- */

/* Convolutions, linears and attention matmuls, 2 FLOPs per multiply-add,
 * on an image of height x width pixels: the spec's cost model, and what
 * the ops report as progress. */
static gdouble
encoder_flops (const Seed *seed,
               gsize       height,
               gsize       width)
{
  const gsize h4 = height / 4, w4 = width / 4;

  return vae_conv2d_flops (&seed->enc_pca, height / 16, width / 16) +
         vae_conv2d_flops (&seed->conv_in, h4, w4) +
         vae_conv2d_flops (&seed->enc_res1.conv1, h4, w4) * 2 +
         vae_conv2d_flops (&seed->down2, h4 / 2, w4 / 2) +
         vae_conv2d_flops (&seed->enc_res2.conv1, h4 / 2, w4 / 2) * 2 +
         vae_conv2d_flops (&seed->down3, h4 / 4, w4 / 4) +
         vae_conv2d_flops (&seed->enc_res3.conv1, h4 / 4, w4 / 4) * 2 +
         vae_conv2d_flops (&seed->enc_out, h4 / 4, w4 / 4);
}

static gdouble
decoder_flops (const Seed *seed,
               gsize       h,
               gsize       w)
{
  const gsize  n = h * w;
  const Block *b = &seed->blocks[0];
  gdouble      block;

  block = vae_linear_flops (&b->q, n) + vae_linear_flops (&b->k, n) +
          vae_linear_flops (&b->v, n) + vae_linear_flops (&b->proj, n) +
          vae_linear_flops (&b->fc1, n) + vae_linear_flops (&b->fc2, n) +
          vae_attention_flops (&seed->attention, n);

  return vae_conv2d_flops (&seed->dec_pca, h, w) +
         vae_conv2d_flops (&seed->embed, h, w) +
         seed->depth * block +
         vae_conv2d_flops (&seed->up1, h, w) +
         vae_conv2d_flops (&seed->dec_res1.conv1, 2 * h, 2 * w) * 2 +
         vae_conv2d_flops (&seed->up2, 2 * h, 2 * w) +
         vae_conv2d_flops (&seed->skip, 4 * h, 4 * w) +
         vae_conv2d_flops (&seed->dec_res2.conv1, 4 * h, 4 * w) * 2 +
         vae_conv2d_flops (&seed->dec_out, 4 * h, 4 * w);
}

static gdouble
seed_flops (gpointer self,
            gboolean decoder,
            gsize    width,
            gsize    height)
{
  Seed *seed = self;

  if (decoder)
    return seed->has_decoder ? decoder_flops (seed, height / FACTOR, width / FACTOR)
                             : 0.0;

  return seed->has_encoder ? encoder_flops (seed, height, width) : 0.0;
}

/* Peak bytes of feature maps of a run on a width x height image (what
 * the scratch lists hold at their fullest), for the memory budget. */
static gsize
seed_memory (const Seed *seed,
             gboolean    decoder,
             gsize       width,
             gsize       height)
{
  const gsize n = (height / FACTOR) * (width / FACTOR), n4 = 16 * n;
  gsize       tokens, head;

  if (! decoder)
    /* The latents beside the learned branch's widest level: conv_in's
     * input and output, then its Res block's three maps (at 2048^2: 192
     * MiB measured, 194 estimated). */
    return ((gsize) seed->latent_channels * n +
            MAX (PATCH * n,
                 MAX (48 * n4 + (gsize) seed->conv_in.c_out * n4,
                      3 * (gsize) seed->conv_in.c_out * n4))) * sizeof (gfloat);

  /* base at H/4 twice (as is and as the skip conv's input) beside the
   * token map with the transformer's buffers, or the head's Res blocks
   * (three maps each) and at last the output image.  Measured at 2048^2:
   * 328 MiB of maps against these 336. */
  tokens = (PATCH + 6 * (gsize) seed->dim + (gsize) seed->hidden) * n;
  head = MAX (3 * (gsize) seed->up1.c_out * n, 3 * (gsize) seed->up2.c_out * 4 * n) +
         PATCH * n;

  return (2 * 48 * n4 + MAX (tokens, head)) * sizeof (gfloat);
}

/* seed-f16 cannot tile (the decoder's attention is global): it runs
 * whole when that fits the budget, and refuses before allocating
 * otherwise. */
static gboolean
seed_plan (gpointer   self,
           gboolean   decoder,
           gsize      width,
           gsize      height,
           gboolean   copy,
           gsize      budget,
           gsize      max_tile,
           VaePlan   *plan,
           GError   **error)
{
  Seed *seed = self;

  plan->tile = 0;
  plan->flops = seed_flops (self, decoder, width, height);
  plan->memory = seed_memory (seed, decoder, width, height) +
                 (copy ? 3 * width * height * sizeof (gfloat) : 0);
  if (plan->memory <= budget)
    return TRUE;

  vae_plan_set_error (error, decoder, width, height, plan->memory, budget);

  return FALSE;
}

/* --- forward -------------------------------------------------------------- */

/* x <- Res (x) = x + conv2 (silu (conv1 (silu (x)))). */
static gboolean
res_forward (VaeRun      *run,
             VaeScratch  *scratch,
             const Res   *res,
             VaeTensor   *x,
             GError     **error)
{
  const gsize  c = VAE_T_C (x), h = VAE_T_H (x), w = VAE_T_W (x);
  VaeTensor   *t1, *t2 = NULL;
  gboolean     ok = FALSE;

  t1 = vae_scratch_get (scratch, c, h, w, error);
  if (t1 == NULL || (t2 = vae_scratch_get (scratch, c, h, w, error)) == NULL)
    goto out;

  memcpy (t1->data, x->data, x->n_elements * sizeof (gfloat));
  vae_op_silu (run, t1);
  ok = vae_op_conv2d (run, &res->conv1, t1, NULL, VAE_ACT_SILU, &t2, error) &&
       vae_op_conv2d (run, &res->conv2, t2, x, VAE_ACT_NONE, &x, error);

out:
  vae_scratch_put (scratch, t1);
  vae_scratch_put (scratch, t2);

  return ok;
}

/* Pixel (un)shuffle of @in by @r into a map from the scratch, consuming
 * @in. */
static VaeTensor *
shuffle_step (VaeRun      *run,
              VaeScratch  *scratch,
              VaeTensor   *in,
              gint         r,
              gboolean     unshuffle,
              GError     **error)
{
  const gsize c = VAE_T_C (in), h = VAE_T_H (in), w = VAE_T_W (in);
  VaeTensor  *out;
  gboolean    ok;

  out = unshuffle ? vae_scratch_get (scratch, c * r * r, h / r, w / r, error)
                  : vae_scratch_get (scratch, c / (r * r), h * r, w * r, error);
  ok = out && (unshuffle
               ? vae_op_pixel_unshuffle (run, in, r, 1.0f, 0.0f, out, error)
               : vae_op_pixel_shuffle (run, in, r, out, error));
  if (! ok)
    g_clear_pointer (&out, vae_tensor_unref);
  vae_scratch_put (scratch, in);

  return out;
}

/* conv, then Res, at one resolution. */
static VaeTensor *
conv_res_step (VaeRun           *run,
               VaeScratch       *scratch,
               const VaeConv2d  *conv,
               const Res        *res,
               VaeTensor        *in,
               GError          **error)
{
  if (! vae_op_conv2d_step (run, scratch, conv, VAE_ACT_NONE, &in, error) ||
      ! res_forward (run, scratch, res, in, error))
    {
      vae_scratch_put (scratch, in);
      return NULL;
    }

  return in;
}

static gboolean
seed_encode (gpointer          self,
             const VaeTensor  *image,
             VaeTensor       **latent,
             VaeRun           *run,
             GError          **error)
{
  Seed       *seed = self;
  const gsize height = VAE_T_H (image), width = VAE_T_W (image);
  VaeScratch  scratch;
  VaeTensor  *z = NULL, *x = NULL;

  if (image->n_dims != 3 || VAE_T_C (image) != 3 || height % FACTOR != 0 ||
      width % FACTOR != 0 || height == 0 || width == 0)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (image);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "seed-f16 encodes [3, H, W] images with H and W multiples "
                   "of 16, not %s", shape);
      return FALSE;
    }

  vae_run_begin (run, "encode", encoder_flops (seed, height, width));
  vae_scratch_init (&scratch);

  /* Linear shortcut: the latent starts as pca (unshuffle_16 (image)). */
  z = vae_tensor_new_3d_uninit (seed->latent_channels, height / FACTOR,
                                width / FACTOR, error);
  x = z ? vae_scratch_get (&scratch, PATCH, height / FACTOR, width / FACTOR,
                           error) : NULL;
  if (x == NULL ||
      ! vae_op_pixel_unshuffle (run, image, FACTOR, 1.0f, 0.0f, x, error) ||
      ! vae_op_conv2d (run, &seed->enc_pca, x, NULL, VAE_ACT_NONE, &z, error))
    goto fail;
  vae_scratch_put (&scratch, g_steal_pointer (&x));

  /* Learned branch on 2 x - 1. */
  x = vae_scratch_get (&scratch, 3 * 16, height / 4, width / 4, error);
  if (x == NULL ||
      ! vae_op_pixel_unshuffle (run, image, 4, 2.0f, -1.0f, x, error))
    goto fail;
  if (! (x = conv_res_step (run, &scratch, &seed->conv_in, &seed->enc_res1, x, error)) ||
      ! (x = shuffle_step (run, &scratch, x, 2, TRUE, error)) ||
      ! (x = conv_res_step (run, &scratch, &seed->down2, &seed->enc_res2, x, error)) ||
      ! (x = shuffle_step (run, &scratch, x, 2, TRUE, error)) ||
      ! (x = conv_res_step (run, &scratch, &seed->down3, &seed->enc_res3, x, error)))
    goto fail;

  vae_op_silu (run, x);
  if (! vae_op_conv2d (run, &seed->enc_out, x, z, VAE_ACT_NONE, &z, error))
    goto fail;

  vae_tensor_unref (x);
  vae_scratch_clear (&scratch);
  *latent = z;

  return TRUE;

fail:
  if (x)
    vae_tensor_unref (x);
  if (z)
    vae_tensor_unref (z);
  vae_scratch_clear (&scratch);

  return FALSE;
}

/* Token buffers for the transformer, [n, width] each. */
typedef struct
{
  gfloat *t;       /* the residual stream */
  gfloat *u;       /* normalised stream, then the attention output */
  gfloat *q;
  gfloat *k;
  gfloat *v;
  gfloat *mlp;     /* [n, hidden] */
} Tokens;

static gboolean
block_forward (VaeRun       *run,
               const Seed   *seed,
               const Block  *b,
               Tokens       *tk,
               gsize         h,
               gsize         w,
               GError      **error)
{
  const gsize         n = h * w;
  const VaeAttention *attn = &seed->attention;

  /* t += proj (attention (rope (q), rope (k), v)) of norm1 (t) */
  return vae_op_layer_norm (run, &b->norm1, tk->t, n, tk->u, error) &&
         vae_op_linear (run, &b->q, tk->u, n, NULL, VAE_ACT_NONE, tk->q, error) &&
         vae_op_linear (run, &b->k, tk->u, n, NULL, VAE_ACT_NONE, tk->k, error) &&
         vae_op_linear (run, &b->v, tk->u, n, NULL, VAE_ACT_NONE, tk->v, error) &&
         vae_op_rope_2d (run, tk->q, h, w, attn->n_heads, attn->head_dim,
                         seed->rope_base, error) &&
         vae_op_rope_2d (run, tk->k, h, w, attn->n_heads, attn->head_dim,
                         seed->rope_base, error) &&
         vae_op_attention (run, attn, tk->q, tk->k, tk->v, n, tk->u, error) &&
         vae_op_linear (run, &b->proj, tk->u, n, tk->t, VAE_ACT_NONE, tk->t,
                        error) &&
         /* t += fc2 (gelu (fc1 (norm2 (t)))) */
         vae_op_layer_norm (run, &b->norm2, tk->t, n, tk->u, error) &&
         vae_op_linear (run, &b->fc1, tk->u, n, NULL, VAE_ACT_GELU, tk->mlp,
                        error) &&
         vae_op_linear (run, &b->fc2, tk->mlp, n, tk->t, VAE_ACT_NONE, tk->t,
                        error);
}

/* [D, h, w] after the embed conv -> the blocks -> norm_out -> [D, h, w],
 * in place in @x. */
static gboolean
transformer_forward (VaeRun      *run,
                     const Seed  *seed,
                     VaeTensor   *x,
                     GError     **error)
{
  const gsize  h = VAE_T_H (x), w = VAE_T_W (x), n = h * w;
  const gsize  d = seed->dim;
  gfloat      *buffer;
  Tokens       tk;
  gboolean     ok;
  gint         i;

  buffer = g_try_malloc ((6 * d + seed->hidden) * n * sizeof (gfloat));
  if (buffer == NULL)
    return vae_fail (error, VAE_ERROR_NO_MEMORY,
                     "out of memory for %" G_GSIZE_FORMAT " tokens of seed-f16",
                     n);
  tk.t = buffer;
  tk.u = tk.t + n * d;
  tk.q = tk.u + n * d;
  tk.k = tk.q + n * d;
  tk.v = tk.k + n * d;
  tk.mlp = tk.v + n * d;

  ok = vae_op_transpose (run, x->data, d, n, tk.t, error);
  for (i = 0; i < seed->depth && ok; i++)
    ok = block_forward (run, seed, &seed->blocks[i], &tk, h, w, error);
  ok = ok &&
       vae_op_layer_norm (run, &seed->norm_out, tk.t, n, tk.u, error) &&
       vae_op_transpose (run, tk.u, n, d, x->data, error);

  g_free (buffer);

  return ok;
}

static gboolean
seed_decode (gpointer          self,
             const VaeTensor  *latent,
             VaeTensor       **image,
             VaeRun           *run,
             GError          **error)
{
  Seed       *seed = self;
  const gsize h = VAE_T_H (latent), w = VAE_T_W (latent);
  const gsize height = h * FACTOR, width = w * FACTOR;
  VaeScratch  scratch;
  VaeTensor  *base = NULL, *base4 = NULL, *skip_in = NULL, *x = NULL;
  VaeTensor  *out = NULL;

  if (latent->n_dims != 3 || VAE_T_C (latent) != seed->latent_channels ||
      h == 0 || w == 0)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (latent);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "seed-f16 decodes [%u, h, w] latents, not %s",
                   seed->latent_channels, shape);
      return FALSE;
    }

  vae_run_begin (run, "decode", decoder_flops (seed, h, w));
  vae_scratch_init (&scratch);

  /* base = shuffle_16 (pca (z)); the head wants it at H/4 twice: as is
   * (added to conv_out's output before the last shuffle) and as
   * 2 base - 1 (the skip conv's input). */
  x = vae_scratch_get (&scratch, PATCH, h, w, error);
  if (x == NULL ||
      ! vae_op_conv2d (run, &seed->dec_pca, latent, NULL, VAE_ACT_NONE, &x, error) ||
      ! (base = shuffle_step (run, &scratch, g_steal_pointer (&x), FACTOR,
                              FALSE, error)))
    goto fail;
  base4 = vae_scratch_get (&scratch, 3 * 16, height / 4, width / 4, error);
  skip_in = base4 ? vae_scratch_get (&scratch, 3 * 16, height / 4, width / 4,
                                     error) : NULL;
  if (skip_in == NULL ||
      ! vae_op_pixel_unshuffle (run, base, 4, 1.0f, 0.0f, base4, error) ||
      ! vae_op_pixel_unshuffle (run, base, 4, 2.0f, -1.0f, skip_in, error))
    goto fail;
  vae_scratch_put (&scratch, g_steal_pointer (&base));

  /* Tokens. */
  x = vae_scratch_get (&scratch, seed->dim, h, w, error);
  if (x == NULL ||
      ! vae_op_conv2d (run, &seed->embed, latent, NULL, VAE_ACT_NONE, &x, error) ||
      ! transformer_forward (run, seed, x, error))
    goto fail;

  /* Pixel head. */
  if (! vae_op_conv2d_step (run, &scratch, &seed->up1, VAE_ACT_NONE, &x,
                            error) ||
      ! (x = shuffle_step (run, &scratch, x, 2, FALSE, error)) ||
      ! res_forward (run, &scratch, &seed->dec_res1, x, error) ||
      ! vae_op_conv2d_step (run, &scratch, &seed->up2, VAE_ACT_NONE, &x,
                            error) ||
      ! (x = shuffle_step (run, &scratch, x, 2, FALSE, error)) ||
      ! vae_op_conv2d (run, &seed->skip, skip_in, x, VAE_ACT_NONE, &x, error) ||
      ! res_forward (run, &scratch, &seed->dec_res2, x, error))
    goto fail;
  vae_scratch_put (&scratch, g_steal_pointer (&skip_in));

  vae_op_silu (run, x);
  if (! vae_op_conv2d (run, &seed->dec_out, x, base4, VAE_ACT_NONE, &base4, error))
    goto fail;
  vae_scratch_put (&scratch, g_steal_pointer (&x));

  out = vae_tensor_new_3d_uninit (3, height, width, error);
  if (out == NULL ||
      ! vae_op_pixel_shuffle (run, base4, 4, out, error))
    goto fail;

  vae_tensor_unref (base4);
  vae_scratch_clear (&scratch);
  *image = out;

  return TRUE;

fail:
  g_clear_pointer (&base, vae_tensor_unref);
  g_clear_pointer (&base4, vae_tensor_unref);
  g_clear_pointer (&skip_in, vae_tensor_unref);
  g_clear_pointer (&x, vae_tensor_unref);
  g_clear_pointer (&out, vae_tensor_unref);
  vae_scratch_clear (&scratch);

  return FALSE;
}

const VaeArchClass vae_arch_seed_f16 = {
  .name = "seed-f16",
  .probe = seed_probe,
  .create = seed_create,
  .destroy = seed_destroy,
  .can_encode = seed_can_encode,
  .can_decode = seed_can_decode,
  .encode = seed_encode,
  .decode = seed_decode,
  .flops = seed_flops,
  .plan = seed_plan,
};
