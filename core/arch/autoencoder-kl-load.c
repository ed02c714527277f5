/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* AutoencoderKL's weights: which tensors make a half, in either naming
 * scheme (see autoencoder-kl.c), and the model built from them. */

#include <math.h>
#include <string.h>

#include "../vae-error-private.h"

#include "autoencoder-kl-private.h"

#define BN_PATCH     2
#define BN_EPS       1e-4

typedef enum
{
  SCHEME_LDM,
  SCHEME_DIFFUSERS
} Scheme;

/* Where the tensors of one half are: the file, the prefix, and the scheme
 * its names follow. */
typedef struct
{
  VaeWeights  *w;
  const gchar *prefix;
  Scheme       scheme;
} Names;

/* --- names ---------------------------------------------------------------- */

static const gchar *const prefixes[] = { "", "first_stage_model.", "vae." };

static gboolean
has (VaeWeights  *w,
     const gchar *prefix,
     const gchar *name)
{
  g_autofree gchar *full = g_strconcat (prefix, name, NULL);

  return vae_weights_has (w, full);
}

/* Does @w hold an AutoencoderKL encoder or decoder (@half) under @prefix?
 * conv_in alone is not enough: other families name their first conv so
 * too, but only this one has these mid-block ResNets. */
static gboolean
half_under (VaeWeights  *w,
            const gchar *prefix,
            const gchar *half)
{
  g_autofree gchar *conv_in = g_strconcat (half, ".conv_in.weight", NULL);
  g_autofree gchar *ldm = g_strconcat (half, ".mid.block_1.norm1.weight", NULL);
  g_autofree gchar *diff = g_strconcat (half, ".mid_block.resnets.0.norm1.weight",
                                        NULL);

  return has (w, prefix, conv_in) &&
         (has (w, prefix, ldm) || has (w, prefix, diff));
}

static const gchar *
find_prefix (VaeWeights  *w,
             const gchar *half)
{
  guint i;

  if (w == NULL)
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (half_under (w, prefixes[i], half))
      return prefixes[i];

  return NULL;
}

static void
names_init (Names       *names,
            VaeWeights  *w,
            const gchar *prefix,
            const gchar *half)
{
  g_autofree gchar *diff = g_strconcat (half, ".mid_block.resnets.0.norm1.weight",
                                        NULL);

  names->w = w;
  names->prefix = prefix;
  names->scheme = has (w, prefix, diff) ? SCHEME_DIFFUSERS : SCHEME_LDM;
}

/* The full name of one tensor, given its LDM, diffusers and (if any)
 * legacy diffusers spellings without prefix: the first the file has,
 * trying its own scheme first; when it has none, the own scheme's, so that
 * the "missing tensor" error names what this file should hold. */
static gchar *
resolve (const Names *names,
         const gchar *ldm,
         const gchar *diffusers,
         const gchar *legacy)
{
  const gchar *order[3];
  guint        i;

  if (names->scheme == SCHEME_DIFFUSERS)
    {
      order[0] = diffusers;
      order[1] = legacy;
      order[2] = ldm;
    }
  else
    {
      order[0] = ldm;
      order[1] = diffusers;
      order[2] = legacy;
    }

  for (i = 0; i < G_N_ELEMENTS (order); i++)
    if (order[i] && has (names->w, names->prefix, order[i]))
      return g_strconcat (names->prefix, order[i], NULL);

  return g_strconcat (names->prefix, order[0], NULL);
}

/* A tensor of a block whose LDM and diffusers names share the field. */
static gchar *
field (const Names *names,
       const gchar *ldm_base,
       const gchar *diff_base,
       const gchar *ldm_field,
       const gchar *diff_field)
{
  g_autofree gchar *a = g_strconcat (ldm_base, ".", ldm_field, NULL);
  g_autofree gchar *b = g_strconcat (diff_base, ".",
                                     diff_field ? diff_field : ldm_field, NULL);

  return resolve (names, a, b, NULL);
}

static gboolean
field_exists (const Names *names,
              const gchar *ldm_base,
              const gchar *diff_base,
              const gchar *ldm_field,
              const gchar *diff_field)
{
  g_autofree gchar *name = field (names, ldm_base, diff_base, ldm_field,
                                  diff_field);

  return vae_weights_has (names->w, name);
}

/* --- loading -------------------------------------------------------------- */

/* "....weight" -> "....bias" */
static gchar *
bias_of (const gchar *weight_name)
{
  g_autofree gchar *stem = g_strndup (weight_name, strlen (weight_name) -
                                                   strlen ("weight"));

  return g_strconcat (stem, "bias", NULL);
}

/* A conv with bias; c_out < 0 takes it from the weight's shape. */
static gboolean
load_conv (VaeWeights   *w,
           const gchar  *weight_name,
           gint          c_in,
           gint          c_out,
           gint          kernel,
           VaeConv2d    *conv,
           GError      **error)
{
  g_autofree gchar *bias_name = NULL;
  const gfloat     *weight, *bias;

  if (c_out < 0)
    c_out = vae_arch_peek_dim (w, weight_name, 4, 0);

  weight = vae_weights_get_4d (w, weight_name, c_out, c_in, kernel, kernel,
                               error);
  if (weight == NULL)
    return FALSE;

  bias_name = bias_of (weight_name);
  bias = vae_weights_get_1d (w, bias_name, c_out, error);
  if (bias == NULL)
    return FALSE;

  vae_conv2d_init (conv, c_in, c_out, kernel, 1, kernel / 2, weight, bias);

  return TRUE;
}

static gboolean
load_norm (const Names   *names,
           const gchar   *ldm_base,
           const gchar   *diff_base,
           const gchar   *ldm_field,
           const gchar   *diff_field,
           gint           channels,
           VaeGroupNorm  *norm,
           GError       **error)
{
  g_autofree gchar *wf = g_strconcat (ldm_field, ".weight", NULL);
  g_autofree gchar *bf = g_strconcat (ldm_field, ".bias", NULL);
  g_autofree gchar *dwf = g_strconcat (diff_field ? diff_field : ldm_field,
                                       ".weight", NULL);
  g_autofree gchar *dbf = g_strconcat (diff_field ? diff_field : ldm_field,
                                       ".bias", NULL);
  g_autofree gchar *wname = field (names, ldm_base, diff_base, wf, dwf);
  g_autofree gchar *bname = field (names, ldm_base, diff_base, bf, dbf);

  norm->groups = GROUPS;
  norm->eps = EPS;
  norm->gamma = vae_weights_get_1d (names->w, wname, channels, error);
  if (norm->gamma == NULL)
    return FALSE;
  norm->beta = vae_weights_get_1d (names->w, bname, channels, error);
  if (norm->beta == NULL)
    return FALSE;

  if (channels % GROUPS != 0)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "%s: '%s' normalises %d channels, which do not split into "
                     "%d groups", vae_weights_get_display_name (names->w),
                     wname, channels, GROUPS);

  return TRUE;
}

static gboolean
load_resnet (const Names  *names,
             const gchar  *ldm_base,
             const gchar  *diff_base,
             gint          c_in,
             Resnet       *r,
             GError      **error)
{
  g_autofree gchar *conv1 = field (names, ldm_base, diff_base, "conv1.weight", NULL);
  g_autofree gchar *conv2 = field (names, ldm_base, diff_base, "conv2.weight", NULL);
  g_autofree gchar *shortcut = field (names, ldm_base, diff_base,
                                      "nin_shortcut.weight",
                                      "conv_shortcut.weight");
  gint              c_out;

  if (! load_norm (names, ldm_base, diff_base, "norm1", NULL, c_in, &r->norm1,
                   error) ||
      ! load_conv (names->w, conv1, c_in, -1, 3, &r->conv1, error))
    return FALSE;
  c_out = r->conv1.c_out;
  if (! load_norm (names, ldm_base, diff_base, "norm2", NULL, c_out, &r->norm2,
                   error) ||
      ! load_conv (names->w, conv2, c_out, c_out, 3, &r->conv2, error))
    return FALSE;

  r->has_shortcut = vae_weights_has (names->w, shortcut);
  if (r->has_shortcut)
    return load_conv (names->w, shortcut, c_in, c_out, 1, &r->shortcut, error);

  if (c_in != c_out)
    return vae_fail (error, VAE_ERROR_FORMAT,
                     "%s: missing tensor '%s' (the block changes width from %d "
                     "to %d)", vae_weights_get_display_name (names->w),
                     shortcut, c_in, c_out);

  return TRUE;
}

/* q, k, v or the output projection: LDM stores a 1x1 conv [C, C, 1, 1],
 * diffusers a Linear [C, C]; the numbers are laid out alike. */
static gboolean
load_projection (const Names   *names,
                 const gchar   *ldm_base,
                 const gchar   *diff_base,
                 const gchar   *ldm_field,
                 const gchar   *diff_field,
                 const gchar   *legacy_field,
                 gint           channels,
                 VaeLinear     *linear,
                 GError       **error)
{
  g_autofree gchar *a = g_strconcat (ldm_base, ".", ldm_field, ".weight", NULL);
  g_autofree gchar *b = g_strconcat (diff_base, ".", diff_field, ".weight", NULL);
  g_autofree gchar *c = g_strconcat (diff_base, ".", legacy_field, ".weight", NULL);
  g_autofree gchar *q = g_strconcat (diff_base, ".query.weight", NULL);
  g_autofree gchar *wname = NULL;
  g_autofree gchar *bname = NULL;
  const VaeWeight  *t;
  gsize             shape[4] = { channels, channels, 1, 1 };

  /* A file with the legacy names is told by its query weight, so that a
   * missing tensor is reported in its own spelling. */
  if (has (names->w, names->prefix, q))
    wname = resolve (names, a, c, b);
  else
    wname = resolve (names, a, b, c);
  t = vae_weights_lookup (names->w, wname);

  linear->d_in = channels;
  linear->d_out = channels;
  linear->weight = vae_weights_get (names->w, wname, t && t->n_dims == 2 ? 2 : 4,
                                    shape, error);
  if (linear->weight == NULL)
    return FALSE;

  bname = bias_of (wname);
  linear->bias = vae_weights_get_1d (names->w, bname, channels, error);

  return linear->bias != NULL;
}

static gboolean
load_attention (const Names  *names,
                const gchar  *half,
                gint          channels,
                Attention    *a,
                GError      **error)
{
  g_autofree gchar *ldm = g_strconcat (half, ".mid.attn_1", NULL);
  g_autofree gchar *diff = g_strconcat (half, ".mid_block.attentions.0", NULL);

  a->channels = channels;
  a->attn.n_heads = 1;
  a->attn.head_dim = channels;
  a->attn.scale = (gfloat) (1.0 / sqrt (channels));

  return load_norm (names, ldm, diff, "norm", "group_norm", channels, &a->norm,
                    error) &&
         load_projection (names, ldm, diff, "q", "to_q", "query", channels,
                          &a->q, error) &&
         load_projection (names, ldm, diff, "k", "to_k", "key", channels,
                          &a->k, error) &&
         load_projection (names, ldm, diff, "v", "to_v", "value", channels,
                          &a->v, error) &&
         load_projection (names, ldm, diff, "proj_out", "to_out.0",
                          "proj_attn", channels, &a->out, error);
}

/* mid: block_1, attn_1 (when present), block_2; returns the width. */
static gboolean
load_mid (const Names  *names,
          const gchar  *half_name,
          Half         *half,
          gint         *channels,
          GError      **error)
{
  g_autofree gchar *ldm1 = g_strconcat (half_name, ".mid.block_1", NULL);
  g_autofree gchar *ldm2 = g_strconcat (half_name, ".mid.block_2", NULL);
  g_autofree gchar *diff1 = g_strconcat (half_name, ".mid_block.resnets.0", NULL);
  g_autofree gchar *diff2 = g_strconcat (half_name, ".mid_block.resnets.1", NULL);
  g_autofree gchar *attn_ldm = g_strconcat (half_name, ".mid.attn_1", NULL);
  g_autofree gchar *attn_diff = g_strconcat (half_name, ".mid_block.attentions.0",
                                             NULL);

  if (! load_resnet (names, ldm1, diff1, *channels, &half->mid1, error))
    return FALSE;
  *channels = half->mid1.conv1.c_out;

  /* Configurations without the mid-block attention exist
   * (mid_block_add_attention = false). */
  half->has_attention = field_exists (names, attn_ldm, attn_diff, "norm.weight",
                                      "group_norm.weight");
  if (half->has_attention &&
      ! load_attention (names, half_name, *channels, &half->attention, error))
    return FALSE;

  if (! load_resnet (names, ldm2, diff2, *channels, &half->mid2, error))
    return FALSE;
  *channels = half->mid2.conv1.c_out;

  return TRUE;
}

/* How many of name_0, name_1, ... exist, where the names come from
 * @ldm_fmt and @diff_fmt with one %d (two for blocks: level, index).  At
 * least 1, so that an absent first one is reported when it is loaded. */
static gint
count_levels (const Names *names,
              const gchar *ldm_fmt,
              const gchar *diff_fmt,
              gint         n_max)
{
  gint i;

  for (i = 0; i < n_max; i++)
    {
      g_autofree gchar *a = g_strdup_printf (ldm_fmt, i);
      g_autofree gchar *b = g_strdup_printf (diff_fmt, i);
      g_autofree gchar *name = resolve (names, a, b, NULL);

      if (! vae_weights_has (names->w, name))
        break;
    }

  return MAX (i, 1);
}

static gint
count_blocks (const Names *names,
              const gchar *ldm_fmt,
              gint         ldm_level,
              const gchar *diff_fmt,
              gint         diff_level,
              gint         n_max)
{
  gint j;

  for (j = 0; j < n_max; j++)
    {
      g_autofree gchar *a = g_strdup_printf (ldm_fmt, ldm_level, j);
      g_autofree gchar *b = g_strdup_printf (diff_fmt, diff_level, j);
      g_autofree gchar *name = resolve (names, a, b, NULL);

      if (! vae_weights_has (names->w, name))
        break;
    }

  return MAX (j, 1);
}

static gboolean
too_many (const Names  *names,
          const gchar  *what,
          gint          n,
          gint          n_max,
          GError      **error)
{
  if (n < n_max)
    return FALSE;

  g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
               "%s: more than %d %s", vae_weights_get_display_name (names->w),
               n_max - 1, what);
  return TRUE;
}

/* How a half names its parts.  Diffusers numbers the levels of both halves
 * in the order they run; LDM numbers the decoder's by resolution, up.{n-1}
 * running first. */
typedef struct
{
  const gchar *half;            /* "encoder", "decoder" */
  const gchar *ldm_level;       /* "down", "up" */
  const gchar *diff_level;      /* "down_blocks", "up_blocks" */
  const gchar *ldm_resample;    /* "downsample", "upsample" */
  const gchar *diff_resample;   /* "downsamplers", "upsamplers" */
  const gchar *quant;           /* "quant_conv", "post_quant_conv" */
  gboolean     decoder;
} HalfNames;

static const HalfNames encoder_names = {
  "encoder", "down", "down_blocks", "downsample", "downsamplers",
  "quant_conv", FALSE
};

static const HalfNames decoder_names = {
  "decoder", "up", "up_blocks", "upsample", "upsamplers",
  "post_quant_conv", TRUE
};

/* The levels in the order they run, on @c channels, which they update. */
static gboolean
load_levels (const Names      *names,
             const HalfNames  *hn,
             Half             *half,
             gint             *c,
             GError          **error)
{
  g_autofree gchar *ldm_blocks = g_strdup_printf ("%s.%s.%%d.block.%%d.norm1.weight",
                                                  hn->half, hn->ldm_level);
  g_autofree gchar *diff_blocks = g_strdup_printf ("%s.%s.%%d.resnets.%%d.norm1.weight",
                                                   hn->half, hn->diff_level);
  g_autofree gchar *ldm_first = g_strdup_printf ("%s.%s.%%d.block.0.norm1.weight",
                                                 hn->half, hn->ldm_level);
  g_autofree gchar *diff_first = g_strdup_printf ("%s.%s.%%d.resnets.0.norm1.weight",
                                                  hn->half, hn->diff_level);
  gint              n, e, j;

  n = count_levels (names, ldm_first, diff_first, MAX_LEVELS + 1);
  if (too_many (names, hn->decoder ? "decoder levels" : "encoder levels", n,
                MAX_LEVELS + 1, error))
    return FALSE;
  half->n_levels = n;

  for (e = 0; e < n; e++)
    {
      Level            *level = &half->levels[e];
      const gint        i = hn->decoder ? n - 1 - e : e;
      g_autofree gchar *ldm = g_strdup_printf ("%s.%s.%d", hn->half, hn->ldm_level, i);
      g_autofree gchar *diff = g_strdup_printf ("%s.%s.%d", hn->half, hn->diff_level, e);
      g_autofree gchar *ldm_resample = g_strdup_printf ("%s.%s.conv", ldm,
                                                        hn->ldm_resample);
      g_autofree gchar *diff_resample = g_strdup_printf ("%s.%s.0.conv", diff,
                                                         hn->diff_resample);

      level->n_resnets = count_blocks (names, ldm_blocks, i, diff_blocks, e,
                                       MAX_BLOCKS + 1);
      if (too_many (names, "ResNet blocks per level", level->n_resnets,
                    MAX_BLOCKS + 1, error))
        return FALSE;

      for (j = 0; j < level->n_resnets; j++)
        {
          g_autofree gchar *ldm_block = g_strdup_printf ("%s.block.%d", ldm, j);
          g_autofree gchar *diff_block = g_strdup_printf ("%s.resnets.%d", diff, j);

          if (! load_resnet (names, ldm_block, diff_block, *c,
                             &level->resnets[j], error))
            return FALSE;
          *c = level->resnets[j].conv1.c_out;
        }

      level->has_resample = field_exists (names, ldm_resample, diff_resample,
                                          "weight", NULL);
      if (level->has_resample)
        {
          g_autofree gchar *name = field (names, ldm_resample, diff_resample,
                                          "weight", NULL);

          if (! load_conv (names->w, name, *c, *c, 3, &level->resample, error))
            return FALSE;
          if (hn->decoder)
            {
              level->resample.upsample = 2;
            }
          else
            {
              /* Zero padding on the right and bottom only, stride 2. */
              level->resample.stride = 2;
              level->resample.pad_top = level->resample.pad_left = 0;
              level->resample.pad_bottom = level->resample.pad_right = 1;
            }
          half->factor *= 2;
        }
    }

  return TRUE;
}

/* quant_conv (encoder) or post_quant_conv (decoder) on @c channels, when
 * there is one: SD's sits at the top level, FLUX.2's (BFL names) inside
 * the half. */
static gboolean
load_quant (VaeWeights       *w,
            const gchar      *prefix,
            const HalfNames  *hn,
            gint              c,
            Half             *half,
            GError          **error)
{
  g_autofree gchar *quant = g_strconcat (prefix, hn->quant, ".weight", NULL);

  if (! vae_weights_has (w, quant))
    {
      g_free (quant);
      quant = g_strconcat (prefix, hn->half, ".", hn->quant, ".weight", NULL);
    }
  half->has_quant = vae_weights_has (w, quant);

  return ! half->has_quant || load_conv (w, quant, c, c, 1, &half->quant, error);
}

/* The encoder's conv_out gives the mean and log-variance of z: z is half
 * its outputs, and only the mean is wanted, the first z output channels of
 * the last layer, whose weights are the first z rows. */
static gboolean
encoder_finish (Half         *e,
                VaeWeights   *w,
                const gchar  *prefix,
                GError      **error)
{
  const gint z2 = e->conv_out.c_out;

  if (z2 % 2 != 0)
    {
      g_autofree gchar *conv_out = g_strconcat (prefix, "encoder.conv_out.weight",
                                                NULL);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s: '%s' has %d outputs; a KL encoder gives 2 z (mean "
                   "and log-variance)", vae_weights_get_display_name (w),
                   conv_out, z2);
      return FALSE;
    }
  e->z = z2 / 2;

  if (! load_quant (w, prefix, &encoder_names, z2, e, error))
    return FALSE;
  if (e->has_quant)
    e->quant.c_out = e->z;
  else
    e->conv_out.c_out = e->z;

  return TRUE;
}

/* One half, read in the order it runs: the decoder starts at latent
 * resolution (post_quant_conv, conv_in, mid, levels), the encoder ends
 * there (conv_in, levels, mid, conv_out, quant_conv). */
static gboolean
half_build (Half             *half,
            const HalfNames  *hn,
            VaeWeights       *w,
            const gchar      *prefix,
            GError          **error)
{
  g_autofree gchar *conv_in = g_strconcat (prefix, hn->half, ".conv_in.weight", NULL);
  g_autofree gchar *conv_out = g_strconcat (prefix, hn->half, ".conv_out.weight", NULL);
  Names             names;
  gint              c;

  names_init (&names, w, prefix, hn->half);
  if (hn->decoder)
    half->z = vae_arch_peek_dim (w, conv_in, 4, 1);
  if (! load_conv (w, conv_in, hn->decoder ? half->z : 3, -1, 3,
                   &half->conv_in, error))
    return FALSE;
  c = half->conv_in.c_out;
  half->factor = 1;

  if (hn->decoder &&
      (! load_quant (w, prefix, hn, half->z, half, error) ||
       ! load_mid (&names, hn->half, half, &c, error)))
    return FALSE;
  if (! load_levels (&names, hn, half, &c, error))
    return FALSE;
  if (! hn->decoder && ! load_mid (&names, hn->half, half, &c, error))
    return FALSE;
  if (! load_norm (&names, hn->half, hn->half, "norm_out", "conv_norm_out",
                   c, &half->norm_out, error) ||
      ! load_conv (w, conv_out, c, hn->decoder ? 3 : -1, 3, &half->conv_out,
                   error))
    return FALSE;
  if (! hn->decoder && ! encoder_finish (half, w, prefix, error))
    return FALSE;

  half->present = TRUE;

  return TRUE;
}

/* --- the model -------------------------------------------------------------- */

gboolean
vae_kl_probe (VaeWeights *encoder,
              VaeWeights *decoder)
{
  return find_prefix (encoder, "encoder") || find_prefix (encoder, "decoder") ||
         find_prefix (decoder, "encoder") || find_prefix (decoder, "decoder");
}

/* The file holding @half: the one it was given as, else the other (a
 * whole VAE in a file whose name says "encoder", say
 * full_encoder_small_decoder.safetensors). */
static VaeWeights *
pick_weights (VaeWeights   *own,
              VaeWeights   *other,
              const gchar  *half,
              const gchar **prefix)
{
  if ((*prefix = find_prefix (own, half)))
    return own;
  if ((*prefix = find_prefix (other, half)))
    return other;

  return NULL;
}

/* The structure the registry tells KL models apart by: FLUX.2's narrower
 * "small decoder", and its latent BatchNorm statistics. */
static void
describe (Kl           *kl,
          const gfloat *bn_mean,
          const gfloat *bn_var,
          VaeModelInfo *info)
{
  const guint z = info->latent_channels;

  info->architecture = g_strdup ("autoencoder-kl");
  if (kl->decoder.present && kl->decoder.conv_in.c_out < 512)
    info->traits[0] = "small-decoder";

  if (bn_mean && bn_var)
    {
      info->norm_patch = BN_PATCH;
      info->norm_channels = z * BN_PATCH * BN_PATCH;
      info->norm_mean = bn_mean;
      info->norm_var = bn_var;
      info->norm_eps = BN_EPS;
    }
}

gpointer
vae_kl_create (VaeWeights    *encoder,
               VaeWeights    *decoder,
               VaeModelInfo  *info,
               GError       **error)
{
  Kl           *kl = g_new0 (Kl, 1);
  VaeWeights   *enc_w, *dec_w;
  const gchar  *enc_prefix, *dec_prefix;
  const gfloat *bn_mean = NULL, *bn_var = NULL;
  guint         z;

  enc_w = pick_weights (encoder, decoder, "encoder", &enc_prefix);
  dec_w = pick_weights (decoder, encoder, "decoder", &dec_prefix);
  if (enc_w == NULL && dec_w == NULL)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "%s does not hold an AutoencoderKL encoder or decoder",
                   vae_weights_get_display_name (encoder ? encoder : decoder));
      goto fail;
    }

  if (enc_w && ! half_build (&kl->encoder, &encoder_names, enc_w, enc_prefix,
                             error))
    goto fail;
  if (dec_w && ! half_build (&kl->decoder, &decoder_names, dec_w, dec_prefix,
                             error))
    goto fail;

  if (kl->encoder.present && kl->decoder.present &&
      (kl->encoder.z != kl->decoder.z ||
       kl->encoder.factor != kl->decoder.factor))
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "the KL encoder (%d channels, %ux) and decoder (%d "
                   "channels, %ux) do not belong together",
                   kl->encoder.z, kl->encoder.factor, kl->decoder.z,
                   kl->decoder.factor);
      goto fail;
    }

  z = kl->encoder.present ? kl->encoder.z : kl->decoder.z;

  /* FLUX.2's latent BatchNorm statistics, over the 2x2-patchified latent. */
  {
    VaeWeights       *w = enc_w ? enc_w : dec_w;
    const gchar      *prefix = enc_w ? enc_prefix : dec_prefix;
    g_autofree gchar *mean = g_strconcat (prefix, "bn.running_mean", NULL);
    g_autofree gchar *var = g_strconcat (prefix, "bn.running_var", NULL);

    if (vae_weights_has (w, mean) || vae_weights_has (w, var))
      {
        const gsize c = (gsize) z * BN_PATCH * BN_PATCH;
        gsize       i;

        if (! (bn_mean = vae_weights_get_1d (w, mean, c, error)) ||
            ! (bn_var = vae_weights_get_1d (w, var, c, error)))
          goto fail;
        for (i = 0; i < c; i++)
          if (! (bn_var[i] >= 0.0f) || ! isfinite (bn_mean[i]))
            {
              g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                           "%s: '%s' or '%s' holds a negative or non-finite "
                           "value", vae_weights_get_display_name (w),
                           mean, var);
              goto fail;
            }
      }
  }

  info->latent_channels = z;
  info->factor = kl->encoder.present ? kl->encoder.factor : kl->decoder.factor;
  describe (kl, bn_mean, bn_var, info);

  return kl;

fail:
  g_free (kl);

  return NULL;
}
