/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* AutoencoderKL, the VAE of Stable Diffusion 1.x/2.x and SDXL (4 latent
 * channels), SD3 and FLUX.1 (16) and FLUX.2 (32), including FLUX.2's
 * narrower "small decoder".
 *
 * Nothing is switched on a version: the configuration is read from the
 * tensors.  Level widths come from each ResNet's conv1, the number of
 * levels and of blocks per level from counting names, the latent channels
 * from the encoder's conv_out (2 z) or the decoder's conv_in (z), the quant
 * convs are used when present.  Encoder and decoder are read apart, so a
 * file holding only one of them works, and so does a decoder of other
 * widths than its encoder.
 *
 * Two naming schemes load, with or without the "first_stage_model." or
 * "vae." prefix of full checkpoints (whose other tensors are ignored):
 * the original LDM/CompVis/BFL names ("encoder.down.0.block.1.norm1",
 * "mid.attn_1.q" as a 1x1 conv, "nin_shortcut", "norm_out",
 * "decoder.up.3" running first) and the diffusers names
 * ("encoder.down_blocks.0.resnets.1.norm1", "mid_block.attentions.0.to_q"
 * or the older "query" as a Linear, "conv_shortcut", "conv_norm_out",
 * "decoder.up_blocks.0" running first).  Every tensor goes through one
 * resolver that tries the file's own scheme first, then the other, so the
 * error for a tensor that is missing names it as the file would.
 *
 * Which model a file is cannot always be told from its tensors: SD 1.x and
 * SDXL share one layout, and so do SD3 and FLUX.1.  The safetensors
 * metadata decides when it says ("modelspec.architecture" mentioning "xl",
 * "stable-diffusion-3"/"sd3" or "flux"; "scaling_factor" and
 * "shift_factor" taken as they are); otherwise 4 channels are reported as
 * SD 1.x (scale 0.18215) and 16 as FLUX.1 (0.3611, shift 0.1159).  The
 * model registry may override the scaling later.
 *
 * Latents are the posterior mean, the raw z channels the decoder consumes.
 * For FLUX.2 the diffusion model works on a further normalised form:
 * patchify 2x2 (channel c * 4 + i * 2 + j), then (x - bn.running_mean) /
 * sqrt (bn.running_var + 1e-4) per channel.  That step is not applied; its
 * parameters are exposed in VaeModelInfo (norm_*) and are part of the
 * model hash, as every tensor of the file is.
 *
 * Memory: a ResNet block keeps its input, one normalised copy and the conv1
 * output (with a 1x1 shortcut: input, shortcut output, conv1 output; the
 * input is normalised in place); feature maps come from a VaeScratch.  The
 * mid-block attention runs on token-major copies of q, k and v with the
 * streaming vae_op_attention, so its memory grows with the tokens, not
 * their square.  Tiled runs (see "tiles") hold less: their whole part
 * runs in bands.
 */

#include <math.h>
#include <string.h>

#include "../vae-blas.h"
#include "../vae-error.h"
#include "../vae-tiling.h"
#include "../ops/ops.h"
#include "arch.h"

#define GROUPS       32
#define EPS          1e-6f
#define MAX_LEVELS   8
#define MAX_BLOCKS   8
#define MAX_WIDTH    65536
#define TOKEN_BLOCK  128
#define BN_PATCH     2
#define BN_EPS       1e-4
#define OVERLAP      2      /* latent pixels between tiles */

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

typedef struct
{
  const gfloat *gamma1, *beta1, *gamma2, *beta2;
  VaeConv2d     conv1, conv2;
  gboolean      has_shortcut;
  VaeConv2d     shortcut;
} Resnet;

typedef struct
{
  gint          channels;
  const gfloat *gamma, *beta;
  /* [C, C] (out, in), whatever the file stored: 1x1 conv or Linear */
  const gfloat *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
} Attention;

typedef struct
{
  Resnet    resnets[MAX_BLOCKS];
  gint      n_resnets;
  gboolean  has_resample;   /* encoder: downsample after; decoder: upsample */
  VaeConv2d resample;
} Level;

typedef struct
{
  gboolean      present;
  gboolean      has_quant;  /* quant_conv (encoder), post_quant_conv (decoder) */
  VaeConv2d     quant;
  VaeConv2d     conv_in;
  Level         levels[MAX_LEVELS];   /* in the order they run */
  gint          n_levels;
  Resnet        mid1, mid2;
  gboolean      has_attention;
  Attention     attention;
  const gfloat *gamma_out, *beta_out;
  VaeConv2d     conv_out;   /* encoder: only the z mean channels when no quant */
  gint          z;
  guint         factor;
} Half;

typedef struct
{
  Half encoder;
  Half decoder;
} Kl;

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

/* Dimension @dim of @name if it is a tensor of @n_dims dimensions with a
 * plausible size there; otherwise -1, and the checked lookup that follows
 * reports the real problem. */
static gint
peek (VaeWeights  *w,
      const gchar *name,
      guint        n_dims,
      guint        dim)
{
  const VaeWeight *t = vae_weights_lookup (w, name);

  if (t == NULL || t->n_dims != n_dims || t->shape[dim] == 0 ||
      t->shape[dim] > MAX_WIDTH)
    return -1;

  return (gint) t->shape[dim];
}

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
    c_out = MAX (peek (w, weight_name, 4, 0), 1);

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
           const gfloat **gamma,
           const gfloat **beta,
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

  *gamma = vae_weights_get_1d (names->w, wname, channels, error);
  if (*gamma == NULL)
    return FALSE;
  *beta = vae_weights_get_1d (names->w, bname, channels, error);
  if (*beta == NULL)
    return FALSE;

  if (channels % GROUPS != 0)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s: '%s' normalises %d channels, which do not split into "
                   "%d groups", vae_weights_get_display_name (names->w),
                   wname, channels, GROUPS);
      return FALSE;
    }

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

  if (! load_norm (names, ldm_base, diff_base, "norm1", NULL, c_in,
                   &r->gamma1, &r->beta1, error) ||
      ! load_conv (names->w, conv1, c_in, -1, 3, &r->conv1, error))
    return FALSE;
  c_out = r->conv1.c_out;
  if (! load_norm (names, ldm_base, diff_base, "norm2", NULL, c_out,
                   &r->gamma2, &r->beta2, error) ||
      ! load_conv (names->w, conv2, c_out, c_out, 3, &r->conv2, error))
    return FALSE;

  r->has_shortcut = vae_weights_has (names->w, shortcut);
  if (r->has_shortcut)
    return load_conv (names->w, shortcut, c_in, c_out, 1, &r->shortcut, error);

  if (c_in != c_out)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_FORMAT,
                   "%s: missing tensor '%s' (the block changes width from %d "
                   "to %d)", vae_weights_get_display_name (names->w),
                   shortcut, c_in, c_out);
      return FALSE;
    }

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
                 const gfloat **weight,
                 const gfloat **bias,
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

  *weight = vae_weights_get (names->w, wname, t && t->n_dims == 2 ? 2 : 4,
                             shape, error);
  if (*weight == NULL)
    return FALSE;

  bname = bias_of (wname);
  *bias = vae_weights_get_1d (names->w, bname, channels, error);

  return *bias != NULL;
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

  return load_norm (names, ldm, diff, "norm", "group_norm", channels,
                    &a->gamma, &a->beta, error) &&
         load_projection (names, ldm, diff, "q", "to_q", "query", channels,
                          &a->wq, &a->bq, error) &&
         load_projection (names, ldm, diff, "k", "to_k", "key", channels,
                          &a->wk, &a->bk, error) &&
         load_projection (names, ldm, diff, "v", "to_v", "value", channels,
                          &a->wv, &a->bv, error) &&
         load_projection (names, ldm, diff, "proj_out", "to_out.0",
                          "proj_attn", channels, &a->wo, &a->bo, error);
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

static gboolean
encoder_build (Half         *e,
               VaeWeights   *w,
               const gchar  *prefix,
               GError      **error)
{
  g_autofree gchar *conv_in = NULL, *conv_out = NULL;
  g_autofree gchar *quant = NULL;
  Names             names;
  gint              c, i, j, z2;

  names_init (&names, w, prefix, "encoder");
  conv_in = g_strconcat (prefix, "encoder.conv_in.weight", NULL);
  if (! load_conv (w, conv_in, 3, -1, 3, &e->conv_in, error))
    return FALSE;
  c = e->conv_in.c_out;
  e->factor = 1;

  e->n_levels = count_levels (&names, "encoder.down.%d.block.0.norm1.weight",
                              "encoder.down_blocks.%d.resnets.0.norm1.weight",
                              MAX_LEVELS + 1);
  if (too_many (&names, "encoder levels", e->n_levels, MAX_LEVELS + 1, error))
    return FALSE;

  for (i = 0; i < e->n_levels; i++)
    {
      Level            *level = &e->levels[i];
      g_autofree gchar *down_ldm = g_strdup_printf ("encoder.down.%d.downsample.conv", i);
      g_autofree gchar *down_diff = g_strdup_printf ("encoder.down_blocks.%d.downsamplers.0.conv", i);

      level->n_resnets = count_blocks (&names,
                                       "encoder.down.%d.block.%d.norm1.weight", i,
                                       "encoder.down_blocks.%d.resnets.%d.norm1.weight", i,
                                       MAX_BLOCKS + 1);
      if (too_many (&names, "ResNet blocks per level", level->n_resnets,
                    MAX_BLOCKS + 1, error))
        return FALSE;

      for (j = 0; j < level->n_resnets; j++)
        {
          g_autofree gchar *ldm = g_strdup_printf ("encoder.down.%d.block.%d", i, j);
          g_autofree gchar *diff = g_strdup_printf ("encoder.down_blocks.%d.resnets.%d", i, j);

          if (! load_resnet (&names, ldm, diff, c, &level->resnets[j], error))
            return FALSE;
          c = level->resnets[j].conv1.c_out;
        }

      level->has_resample = field_exists (&names, down_ldm, down_diff,
                                          "weight", NULL);
      if (level->has_resample)
        {
          g_autofree gchar *name = field (&names, down_ldm, down_diff, "weight",
                                          NULL);

          /* Zero padding on the right and bottom only, stride 2. */
          if (! load_conv (w, name, c, c, 3, &level->resample, error))
            return FALSE;
          level->resample.stride = 2;
          level->resample.pad_top = level->resample.pad_left = 0;
          level->resample.pad_bottom = level->resample.pad_right = 1;
          e->factor *= 2;
        }
    }

  if (! load_mid (&names, "encoder", e, &c, error) ||
      ! load_norm (&names, "encoder", "encoder", "norm_out", "conv_norm_out",
                   c, &e->gamma_out, &e->beta_out, error))
    return FALSE;

  conv_out = g_strconcat (prefix, "encoder.conv_out.weight", NULL);
  if (! load_conv (w, conv_out, c, -1, 3, &e->conv_out, error))
    return FALSE;
  z2 = e->conv_out.c_out;
  if (z2 % 2 != 0)
    {
      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "%s: '%s' has %d outputs; a KL encoder gives 2 z (mean "
                   "and log-variance)", vae_weights_get_display_name (w),
                   conv_out, z2);
      return FALSE;
    }
  e->z = z2 / 2;

  /* SD's quant_conv sits at the top level, FLUX.2's (BFL names) inside
   * the encoder. */
  quant = g_strconcat (prefix, "quant_conv.weight", NULL);
  if (! vae_weights_has (w, quant))
    {
      g_free (quant);
      quant = g_strconcat (prefix, "encoder.quant_conv.weight", NULL);
    }
  e->has_quant = vae_weights_has (w, quant);
  if (e->has_quant && ! load_conv (w, quant, z2, z2, 1, &e->quant, error))
    return FALSE;

  /* Only the mean is wanted: the first z output channels of the last
   * layer, whose weights are the first z rows. */
  if (e->has_quant)
    e->quant.c_out = e->z;
  else
    e->conv_out.c_out = e->z;

  e->present = TRUE;

  return TRUE;
}

static gboolean
decoder_build (Half         *d,
               VaeWeights   *w,
               const gchar  *prefix,
               GError      **error)
{
  g_autofree gchar *conv_in = NULL, *conv_out = NULL, *quant = NULL;
  Names             names;
  gint              c, e, j, n_levels;

  names_init (&names, w, prefix, "decoder");

  conv_in = g_strconcat (prefix, "decoder.conv_in.weight", NULL);
  d->z = peek (w, conv_in, 4, 1);
  if (! load_conv (w, conv_in, MAX (d->z, 1), -1, 3, &d->conv_in, error))
    return FALSE;
  c = d->conv_in.c_out;
  d->factor = 1;

  quant = g_strconcat (prefix, "post_quant_conv.weight", NULL);
  if (! vae_weights_has (w, quant))
    {
      g_free (quant);
      quant = g_strconcat (prefix, "decoder.post_quant_conv.weight", NULL);
    }
  d->has_quant = vae_weights_has (w, quant);
  if (d->has_quant && ! load_conv (w, quant, d->z, d->z, 1, &d->quant, error))
    return FALSE;

  if (! load_mid (&names, "decoder", d, &c, error))
    return FALSE;

  /* LDM numbers the levels by resolution, up.{n-1} running first;
   * diffusers numbers them in the order they run. */
  n_levels = count_levels (&names, "decoder.up.%d.block.0.norm1.weight",
                           "decoder.up_blocks.%d.resnets.0.norm1.weight",
                           MAX_LEVELS + 1);
  if (too_many (&names, "decoder levels", n_levels, MAX_LEVELS + 1, error))
    return FALSE;
  d->n_levels = n_levels;

  for (e = 0; e < n_levels; e++)
    {
      Level            *level = &d->levels[e];
      const gint        i = n_levels - 1 - e;
      g_autofree gchar *up_ldm = g_strdup_printf ("decoder.up.%d.upsample.conv", i);
      g_autofree gchar *up_diff = g_strdup_printf ("decoder.up_blocks.%d.upsamplers.0.conv", e);

      level->n_resnets = count_blocks (&names,
                                       "decoder.up.%d.block.%d.norm1.weight", i,
                                       "decoder.up_blocks.%d.resnets.%d.norm1.weight", e,
                                       MAX_BLOCKS + 1);
      if (too_many (&names, "ResNet blocks per level", level->n_resnets,
                    MAX_BLOCKS + 1, error))
        return FALSE;

      for (j = 0; j < level->n_resnets; j++)
        {
          g_autofree gchar *ldm = g_strdup_printf ("decoder.up.%d.block.%d", i, j);
          g_autofree gchar *diff = g_strdup_printf ("decoder.up_blocks.%d.resnets.%d", e, j);

          if (! load_resnet (&names, ldm, diff, c, &level->resnets[j], error))
            return FALSE;
          c = level->resnets[j].conv1.c_out;
        }

      level->has_resample = field_exists (&names, up_ldm, up_diff, "weight",
                                          NULL);
      if (level->has_resample)
        {
          g_autofree gchar *name = field (&names, up_ldm, up_diff, "weight",
                                          NULL);

          if (! load_conv (w, name, c, c, 3, &level->resample, error))
            return FALSE;
          level->resample.upsample = 2;
          d->factor *= 2;
        }
    }

  if (! load_norm (&names, "decoder", "decoder", "norm_out", "conv_norm_out",
                   c, &d->gamma_out, &d->beta_out, error))
    return FALSE;

  conv_out = g_strconcat (prefix, "decoder.conv_out.weight", NULL);
  if (! load_conv (w, conv_out, c, 3, 3, &d->conv_out, error))
    return FALSE;

  d->present = TRUE;

  return TRUE;
}

/* --- forward ---------------------------------------------------------------- */

/* GroupNorm, then SiLU.  The op's fused SiLU calls expf per element;
 * normalising alone and a vectorised SiLU pass is faster, even with the
 * extra pass over memory.  The reference kernels keep the fused form. */
static gboolean
norm_silu (VaeRun           *run,
           const VaeTensor  *in,
           const gfloat     *gamma,
           const gfloat     *beta,
           VaeTensor        *out,
           GError          **error)
{
  if (run->reference)
    return vae_op_group_norm (run, in, GROUPS, gamma, beta, EPS, VAE_ACT_SILU,
                              out, error);

  if (! vae_op_group_norm (run, in, GROUPS, gamma, beta, EPS, VAE_ACT_NONE,
                           out, error))
    return FALSE;
  vae_op_silu (run, out);

  return TRUE;
}

static gboolean
resnet_forward (VaeRun        *run,
                VaeScratch    *scratch,
                const Resnet  *r,
                VaeTensor    **x,
                GError       **error)
{
  const gsize  h = VAE_T_H (*x), w = VAE_T_W (*x);
  const gint   c_in = r->conv1.c_in, c_out = r->conv1.c_out;
  VaeTensor   *s = NULL, *t = NULL, *u = NULL;
  gboolean     ok = FALSE;

  if (r->has_shortcut)
    {
      /* Shortcut first: after it nothing needs x as it was, so the first
       * GroupNorm can overwrite it and the block holds three maps, not
       * four. */
      s = vae_scratch_get (scratch, c_out, h, w, error);
      if (s == NULL ||
          ! vae_op_conv2d (run, &r->shortcut, *x, NULL, VAE_ACT_NONE, &s, error) ||
          ! norm_silu (run, *x, r->gamma1, r->beta1, *x, error))
        goto out;
      t = *x;
    }
  else
    {
      t = vae_scratch_get (scratch, c_in, h, w, error);
      if (t == NULL ||
          ! norm_silu (run, *x, r->gamma1, r->beta1, t, error))
        goto out;
    }

  u = vae_scratch_get (scratch, c_out, h, w, error);
  if (u == NULL ||
      ! vae_op_conv2d (run, &r->conv1, t, NULL, VAE_ACT_NONE, &u, error))
    goto out;
  if (t != *x)
    vae_scratch_put (scratch, t);
  t = NULL;

  if (! norm_silu (run, u, r->gamma2, r->beta2, u, error))
    goto out;

  /* out = shortcut (x) + conv2 (u), the sum fused into the conv. */
  if (r->has_shortcut)
    {
      if (! vae_op_conv2d (run, &r->conv2, u, s, VAE_ACT_NONE, &s, error))
        goto out;
      vae_scratch_put (scratch, *x);
      *x = s;
      s = NULL;
    }
  else if (! vae_op_conv2d (run, &r->conv2, u, *x, VAE_ACT_NONE, x, error))
    {
      goto out;
    }

  ok = TRUE;

out:
  if (t != *x)
    vae_scratch_put (scratch, t);
  vae_scratch_put (scratch, u);
  vae_scratch_put (scratch, s);

  return ok;
}

/* Linear maps between the channel-major feature map [C, n] and token-major
 * rows [n, C], a block of tokens per task, each one single-threaded sgemm. */
typedef struct
{
  const gfloat  *in;
  gfloat        *out;
  const gfloat  *weight;    /* [C, C] (out, in) */
  const gfloat  *bias;
  gsize          n;         /* tokens */
  gsize          stride;    /* floats between the channel-major map's channels */
  gint           c;
  gfloat       **acc;       /* per thread [C, TOKEN_BLOCK], for unproject */
} ProjJob;

/* out[t][o] = bias[o] + sum_i weight[o][i] in[i][t] */
static void
project_block (gsize    index,
               gint     thread,
               gpointer data)
{
  const ProjJob *job = data;
  const gsize    t0 = index * TOKEN_BLOCK;
  const gsize    nb = MIN (TOKEN_BLOCK, job->n - t0);
  const gint     c = job->c;
  gsize          t;
  gint           o;

  vae_sgemm (TRUE, TRUE, (gint) nb, c, c, 1.0f, job->in + t0, (gint) job->stride,
             job->weight, c, 0.0f, job->out + t0 * c, c);
  for (t = 0; t < nb; t++)
    {
      gfloat *row = job->out + (t0 + t) * c;

      for (o = 0; o < c; o++)
        row[o] += job->bias[o];
    }
}

/* out[o][t] += bias[o] + sum_i weight[o][i] in[t][i]: the output
 * projection and the residual add in one.  The product goes to a small
 * buffer first; written straight into out, whose rows are n floats apart
 * (a power of two for usual sizes), its rows would share cache sets. */
static void
unproject_block (gsize    index,
                 gint     thread,
                 gpointer data)
{
  const ProjJob *job = data;
  const gsize    t0 = index * TOKEN_BLOCK;
  const gsize    nb = MIN (TOKEN_BLOCK, job->n - t0);
  const gint     c = job->c;
  gfloat        *acc = job->acc[thread];
  gsize          t;
  gint           o;

  vae_sgemm (FALSE, TRUE, c, (gint) nb, c, 1.0f, job->weight, c,
             job->in + t0 * c, c, 0.0f, acc, (gint) nb);
  for (o = 0; o < c; o++)
    {
      gfloat       *row = job->out + (gsize) o * job->stride + t0;
      const gfloat *a = acc + (gsize) o * nb;
      const gfloat  b = job->bias[o];

      for (t = 0; t < nb; t++)
        row[t] += a[t] + b;
    }
}

/* The same two maps as plain loops in double, for run->reference. */
static void
project_reference (const ProjJob *job,
                   gboolean       unproject)
{
  const gint c = job->c;
  gsize      t;
  gint       o, i;

  for (t = 0; t < job->n; t++)
    for (o = 0; o < c; o++)
      {
        gdouble sum = job->bias[o];

        for (i = 0; i < c; i++)
          sum += (gdouble) job->weight[(gsize) o * c + i] *
                 (unproject ? job->in[t * c + i] : job->in[(gsize) i * job->stride + t]);
        if (unproject)
          job->out[(gsize) o * job->stride + t] += (gfloat) sum;
        else
          job->out[t * c + o] = (gfloat) sum;
      }
}

static gboolean
project (VaeRun        *run,
         ProjJob       *job,
         gboolean       unproject,
         GError       **error)
{
  const gsize n_blocks = (job->n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
  gboolean    ok = TRUE;
  gint        i;

  if (run->reference)
    {
      project_reference (job, unproject);
    }
  else if (! unproject)
    {
      vae_parallel_for (run, n_blocks, project_block, job);
    }
  else
    {
      job->acc = g_new0 (gfloat *, run->n_threads);
      for (i = 0; i < run->n_threads && ok; i++)
        ok = (job->acc[i] = g_try_malloc ((gsize) job->c * TOKEN_BLOCK *
                                          sizeof (gfloat))) != NULL;
      if (ok)
        vae_parallel_for (run, n_blocks, unproject_block, job);
      for (i = 0; i < run->n_threads; i++)
        g_free (job->acc[i]);
      g_clear_pointer (&job->acc, g_free);
      if (! ok)
        {
          g_set_error_literal (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                               "out of memory for attention buffers");
          return FALSE;
        }
    }

  return vae_run_advance (run, 2.0 * job->n * job->c * job->c, error);
}

/* x += proj_out (attention (q (t), k (t), v (t))), t = GroupNorm (x). */
static gboolean
attention_forward (VaeRun           *run,
                   VaeScratch       *scratch,
                   const Attention  *a,
                   VaeTensor        *x,
                   GError          **error)
{
  const gsize  h = VAE_T_H (x), w = VAE_T_W (x), n = h * w;
  const gint   c = a->channels;
  VaeTensor   *t, *q = NULL, *k = NULL, *v = NULL;
  ProjJob      job = { 0, };
  gboolean     ok = FALSE;

  /* Token-major [n, C] buffers, shaped [C, h, w] only to come from the
   * scratch list. */
  t = vae_scratch_get (scratch, c, h, w, error);
  if (t == NULL ||
      ! (q = vae_scratch_get (scratch, c, h, w, error)) ||
      ! (k = vae_scratch_get (scratch, c, h, w, error)) ||
      ! (v = vae_scratch_get (scratch, c, h, w, error)))
    goto out;

  if (! vae_op_group_norm (run, x, GROUPS, a->gamma, a->beta, EPS,
                           VAE_ACT_NONE, t, error))
    goto out;

  job.in = t->data;
  job.n = n;
  job.stride = n;
  job.c = c;
  job.out = q->data;
  job.weight = a->wq;
  job.bias = a->bq;
  if (! project (run, &job, FALSE, error))
    goto out;
  job.out = k->data;
  job.weight = a->wk;
  job.bias = a->bk;
  if (! project (run, &job, FALSE, error))
    goto out;
  job.out = v->data;
  job.weight = a->wv;
  job.bias = a->bv;
  if (! project (run, &job, FALSE, error))
    goto out;

  /* The normalised map is no longer needed: the attention output goes
   * there. */
  if (! vae_op_attention (run, q->data, k->data, v->data, n, 1, c,
                          (gfloat) (1.0 / sqrt (c)), t->data, error))
    goto out;

  job.in = t->data;
  job.out = x->data;
  job.weight = a->wo;
  job.bias = a->bo;
  ok = project (run, &job, TRUE, error);

out:
  vae_scratch_put (scratch, t);
  vae_scratch_put (scratch, q);
  vae_scratch_put (scratch, k);
  vae_scratch_put (scratch, v);

  return ok;
}

/* --- whole maps in bands ------------------------------------------------- */

/* A tiled run keeps the latent-resolution part whole (the mid-block
 * attention needs every token), and the levels next to it when they fit.
 * Those maps can be large: a 4096^2 SD decode's mid block works on 512
 * channels of 512 x 512, 512 MiB a map.  So there the ResNet blocks and
 * the attention run in bands of rows.  Each GroupNorm takes its statistics
 * from its whole input first (exact, as the untiled run's), then every
 * band is normalised with them and convolved with the rows of context its
 * kernel needs above and below.  A ResNet block holds its input and the
 * conv1 output, two maps instead of three (with a 1x1 shortcut, the new
 * output too); the attention holds its input and its output, two maps
 * instead of five: keys and values are made again, a band at a time, for
 * each band of queries, which costs 4 n C^2 FLOPs per query band against
 * the attention's 4 n^2 C (3 % more at 4096^2, 16 query bands). */

#define BAND_MIN_ROWS  8
#define BAND_DIVISIONS 16   /* a band is about 1/16 of its map, at most */

static gsize
band_rows (gsize h)
{
  return MAX (BAND_MIN_ROWS, (h + BAND_DIVISIONS - 1) / BAND_DIVISIONS);
}

/* Key bands are half as tall as query bands: the attention's working set
 * is a query band's queries, normalised input and running output, and
 * one key band's keys and values. */
static gsize
key_rows (gsize h)
{
  return MAX (BAND_MIN_ROWS, band_rows (h) / 2);
}

/* Rows [*a, *b) a band of output rows [y0, y1) reads through a kernel of
 * @halo rows of context each side. */
static void
band_input (gsize  y0,
            gsize  y1,
            gsize  h,
            gsize  halo,
            gsize *a,
            gsize *b)
{
  *a = y0 > halo ? y0 - halo : 0;
  *b = MIN (y1 + halo, h);
}

/* Whole-map GroupNorm statistics of @x, for normalising it a band at a
 * time. */
static VaeNormStats *
whole_stats (VaeRun           *run,
             const VaeTensor  *x,
             GError          **error)
{
  VaeNormStats *stats = vae_norm_stats_new ();

  vae_norm_stats_begin (stats, VAE_NORM_STATS_COLLECT, 1, 1, 0, 0, 1, 1);
  if (! vae_norm_stats_add (stats, run, x, GROUPS, error))
    g_clear_pointer (&stats, vae_norm_stats_free);

  return stats;
}

/* Rows [y0, y1) of @x into a scratch map. */
static VaeTensor *
band_copy (VaeScratch       *scratch,
           const VaeTensor  *x,
           gsize             y0,
           gsize             y1,
           GError          **error)
{
  const gsize c = VAE_T_C (x), h = VAE_T_H (x), w = VAE_T_W (x);
  VaeTensor  *t = vae_scratch_get (scratch, c, y1 - y0, w, error);
  gsize       i;

  if (t == NULL)
    return NULL;
  for (i = 0; i < c; i++)
    memcpy (t->data + i * (y1 - y0) * w, x->data + (i * h + y0) * w,
            (y1 - y0) * w * sizeof (gfloat));

  return t;
}

/* Rows [y0, y1) of @x normalised with @stats, then SiLU with @silu, into a
 * scratch map. */
static VaeTensor *
band_normalised (VaeRun           *run,
                 VaeScratch       *scratch,
                 VaeNormStats     *stats,
                 const VaeTensor  *x,
                 gsize             y0,
                 gsize             y1,
                 const gfloat     *gamma,
                 const gfloat     *beta,
                 gboolean          silu,
                 GError          **error)
{
  VaeNormStats *saved = run->norm_stats;
  VaeTensor    *t = band_copy (scratch, x, y0, y1, error);
  gboolean      ok;

  if (t == NULL)
    return NULL;
  vae_norm_stats_begin (stats, VAE_NORM_STATS_APPLY, 1, 1, 0, 0, 1, 1);
  run->norm_stats = stats;
  ok = silu ? norm_silu (run, t, gamma, beta, t, error)
            : vae_op_group_norm (run, t, GROUPS, gamma, beta, EPS, VAE_ACT_NONE,
                                 t, error);
  run->norm_stats = saved;
  if (! ok)
    {
      vae_scratch_put (scratch, t);
      return NULL;
    }

  return t;
}

/* conv (silu (norm (x))) for output rows [y0, y1), into a scratch map
 * that starts *skip rows earlier (its context rows, to be dropped). */
static VaeTensor *
band_conv (VaeRun           *run,
           VaeScratch       *scratch,
           VaeNormStats     *stats,
           const VaeTensor  *x,
           const gfloat     *gamma,
           const gfloat     *beta,
           const VaeConv2d  *conv,
           gsize             y0,
           gsize             y1,
           gsize            *skip,
           GError          **error)
{
  VaeTensor *t, *u;
  gsize      a, b;

  band_input (y0, y1, VAE_T_H (x), conv->kernel / 2, &a, &b);
  t = band_normalised (run, scratch, stats, x, a, b, gamma, beta, TRUE, error);
  if (t == NULL)
    return NULL;
  u = vae_scratch_get (scratch, conv->c_out, b - a, VAE_T_W (x), error);
  if (u && ! vae_op_conv2d (run, conv, t, NULL, VAE_ACT_NONE, &u, error))
    {
      vae_scratch_put (scratch, u);
      u = NULL;
    }
  vae_scratch_put (scratch, t);
  *skip = y0 - a;

  return u;
}

/* dst[:, y0 : y1] = (or +=, with @add) src[:, skip : skip + y1 - y0] */
static void
put_rows (VaeTensor        *dst,
          const VaeTensor  *src,
          gsize             y0,
          gsize             y1,
          gsize             skip,
          gboolean          add)
{
  const gsize w = VAE_T_W (dst), n = (y1 - y0) * w;
  gsize       c, i;

  for (c = 0; c < VAE_T_C (dst); c++)
    {
      gfloat       *d = dst->data + (c * VAE_T_H (dst) + y0) * w;
      const gfloat *s = src->data + (c * VAE_T_H (src) + skip) * w;

      if (add)
        for (i = 0; i < n; i++)
          d[i] += s[i];
      else
        memcpy (d, s, n * sizeof (gfloat));
    }
}

/* resnet_forward() in bands. */
static gboolean
resnet_banded (VaeRun        *run,
               VaeScratch    *scratch,
               const Resnet  *r,
               VaeTensor    **x,
               GError       **error)
{
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), rows = band_rows (h);
  VaeNormStats *stats;
  VaeTensor    *u = NULL, *y = NULL, *band = NULL, *s_in = NULL, *s_out = NULL;
  gboolean      ok = FALSE;
  gsize         y0, y1, skip;

  /* u = conv1 (silu (norm1 (x))) */
  stats = whole_stats (run, *x, error);
  if (stats == NULL ||
      (u = vae_scratch_get (scratch, r->conv1.c_out, h, w, error)) == NULL)
    goto out;
  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      band = band_conv (run, scratch, stats, *x, r->gamma1, r->beta1, &r->conv1,
                        y0, y1, &skip, error);
      if (band == NULL)
        goto out;
      put_rows (u, band, y0, y1, skip, FALSE);
      vae_scratch_put (scratch, g_steal_pointer (&band));
    }
  vae_norm_stats_free (stats);

  /* shortcut (x) + conv2 (silu (norm2 (u))); conv2 reads u only, so
   * without a shortcut the sum goes into x itself. */
  stats = whole_stats (run, u, error);
  if (stats == NULL)
    goto out;
  if (r->has_shortcut &&
      (y = vae_scratch_get (scratch, r->conv2.c_out, h, w, error)) == NULL)
    goto out;
  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      band = band_conv (run, scratch, stats, u, r->gamma2, r->beta2, &r->conv2,
                        y0, y1, &skip, error);
      if (band == NULL)
        goto out;
      if (r->has_shortcut)
        {
          s_in = band_copy (scratch, *x, y0, y1, error);
          if (s_in == NULL ||
              (s_out = vae_scratch_get (scratch, r->shortcut.c_out, y1 - y0, w,
                                        error)) == NULL ||
              ! vae_op_conv2d (run, &r->shortcut, s_in, NULL, VAE_ACT_NONE, &s_out,
                               error))
            goto out;
          put_rows (y, s_out, y0, y1, 0, FALSE);
          put_rows (y, band, y0, y1, skip, TRUE);
          vae_scratch_put (scratch, g_steal_pointer (&s_in));
          vae_scratch_put (scratch, g_steal_pointer (&s_out));
        }
      else
        {
          put_rows (*x, band, y0, y1, skip, TRUE);
        }
      vae_scratch_put (scratch, g_steal_pointer (&band));
    }
  if (r->has_shortcut)
    {
      vae_scratch_put (scratch, *x);
      *x = g_steal_pointer (&y);
    }
  ok = TRUE;

out:
  if (stats)
    vae_norm_stats_free (stats);
  vae_scratch_put (scratch, u);
  vae_scratch_put (scratch, y);
  vae_scratch_put (scratch, band);
  vae_scratch_put (scratch, s_in);
  vae_scratch_put (scratch, s_out);

  return ok;
}

/* Rows [y0, y1) of @x normalised for the attention and projected by
 * @weight, @bias into token-major @out. */
static gboolean
band_project (VaeRun           *run,
              VaeScratch       *scratch,
              VaeNormStats     *stats,
              const Attention  *a,
              const VaeTensor  *x,
              gsize             y0,
              gsize             y1,
              const gfloat     *weight,
              const gfloat     *bias,
              gfloat           *out,
              GError          **error)
{
  VaeTensor *t;
  ProjJob    job = { 0, };
  gboolean   ok;

  t = band_normalised (run, scratch, stats, x, y0, y1, a->gamma, a->beta, FALSE,
                       error);
  if (t == NULL)
    return FALSE;
  job.in = t->data;
  job.n = (y1 - y0) * VAE_T_W (x);
  job.stride = job.n;
  job.c = a->channels;
  job.out = out;
  job.weight = weight;
  job.bias = bias;
  ok = project (run, &job, FALSE, error);
  vae_scratch_put (scratch, t);

  return ok;
}

/* attention_forward() in bands of queries, against keys and values made a
 * band at a time; *x is replaced by a new map. */
static gboolean
attention_banded (VaeRun           *run,
                  VaeScratch       *scratch,
                  const Attention  *a,
                  VaeTensor       **x,
                  GError          **error)
{
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), n = h * w;
  const gsize   c = a->channels, rows_q = band_rows (h), rows_k = key_rows (h);
  const gfloat  scale = (gfloat) (1.0 / sqrt (c));
  VaeNormStats *stats;
  VaeTensor    *y = NULL;
  gfloat       *q = NULL, *acc = NULL, *max = NULL, *sum = NULL, *k = NULL, *v = NULL;
  gboolean      ok = FALSE;
  gsize         q0, q1, k0, k1;

  stats = whole_stats (run, *x, error);
  if (stats == NULL ||
      (y = vae_scratch_get (scratch, c, h, w, error)) == NULL)
    goto out;
  q = g_try_malloc (MIN (rows_q, h) * w * c * sizeof (gfloat));
  acc = g_try_malloc (MIN (rows_q, h) * w * c * sizeof (gfloat));
  max = g_try_malloc (MIN (rows_q, h) * w * sizeof (gfloat));
  sum = g_try_malloc (MIN (rows_q, h) * w * sizeof (gfloat));
  k = g_try_malloc (MIN (rows_k, h) * w * c * sizeof (gfloat));
  v = g_try_malloc (MIN (rows_k, h) * w * c * sizeof (gfloat));
  if (! q || ! acc || ! max || ! sum || ! k || ! v)
    {
      g_set_error_literal (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
                           "out of memory for attention buffers");
      goto out;
    }
  /* The residual: the output projection adds to it. */
  memcpy (y->data, (*x)->data, c * n * sizeof (gfloat));

  for (q0 = 0; q0 < h; q0 = q1)
    {
      ProjJob job = { 0, };
      gsize   nq;

      q1 = MIN (q0 + rows_q, h);
      nq = (q1 - q0) * w;
      if (! band_project (run, scratch, stats, a, *x, q0, q1, a->wq, a->bq, q, error))
        goto out;
      vae_attention_state_init (nq, 1, c, max, sum, acc);
      for (k0 = 0; k0 < h; k0 = k1)
        {
          k1 = MIN (k0 + rows_k, h);
          if (! band_project (run, scratch, stats, a, *x, k0, k1, a->wk, a->bk, k,
                              error) ||
              ! band_project (run, scratch, stats, a, *x, k0, k1, a->wv, a->bv, v,
                              error) ||
              ! vae_op_attention_partial (run, q, nq, k, v, (k1 - k0) * w, 1, c,
                                          scale, max, sum, acc, error))
            goto out;
        }
      vae_attention_state_finish (nq, 1, c, sum, acc);

      job.in = acc;
      job.n = nq;
      job.stride = n;
      job.c = c;
      job.out = y->data + q0 * w;
      job.weight = a->wo;
      job.bias = a->bo;
      if (! project (run, &job, TRUE, error))
        goto out;
    }

  vae_scratch_put (scratch, *x);
  *x = g_steal_pointer (&y);
  ok = TRUE;

out:
  if (stats)
    vae_norm_stats_free (stats);
  vae_scratch_put (scratch, y);
  g_free (q);
  g_free (acc);
  g_free (max);
  g_free (sum);
  g_free (k);
  g_free (v);

  return ok;
}

/* y = conv (x) into a fresh scratch map, which replaces x. */
static gboolean
conv_step (VaeRun           *run,
           VaeScratch       *scratch,
           const VaeConv2d  *conv,
           VaeTensor       **x,
           GError          **error)
{
  VaeTensor *y;
  gsize      ho, wo;

  vae_conv2d_out_size (conv, VAE_T_H (*x), VAE_T_W (*x), &ho, &wo);
  y = vae_scratch_get (scratch, conv->c_out, MAX (ho, 1), MAX (wo, 1), error);
  if (y == NULL ||
      ! vae_op_conv2d (run, conv, *x, NULL, VAE_ACT_NONE, &y, error))
    {
      vae_scratch_put (scratch, y);
      return FALSE;
    }
  vae_scratch_put (scratch, *x);
  *x = y;

  return TRUE;
}

static gboolean
resnet_step (VaeRun        *run,
             VaeScratch    *scratch,
             const Resnet  *r,
             gboolean       banded,
             VaeTensor    **x,
             GError       **error)
{
  return banded ? resnet_banded (run, scratch, r, x, error)
                : resnet_forward (run, scratch, r, x, error);
}

/* The mid block, @banded or not. */
static gboolean
mid_forward (VaeRun      *run,
             VaeScratch  *scratch,
             const Half  *half,
             gboolean     banded,
             VaeTensor  **x,
             GError     **error)
{
  if (! resnet_step (run, scratch, &half->mid1, banded, x, error))
    return FALSE;
  if (half->has_attention &&
      ! (banded ? attention_banded (run, scratch, &half->attention, x, error)
                : attention_forward (run, scratch, &half->attention, *x, error)))
    return FALSE;

  return resnet_step (run, scratch, &half->mid2, banded, x, error);
}

/* Levels [first, last), the resampling conv of the last one only with
 * @last_resample; the ResNet blocks @banded or not. */
static gboolean
levels_forward (VaeRun      *run,
                VaeScratch  *scratch,
                const Half  *half,
                gint         first,
                gint         last,
                gboolean     last_resample,
                gboolean     banded,
                VaeTensor  **x,
                GError     **error)
{
  gint i, j;

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        if (! resnet_step (run, scratch, &level->resnets[j], banded, x, error))
          return FALSE;
      if (level->has_resample && (i + 1 < last || last_resample) &&
          ! conv_step (run, scratch, &level->resample, x, error))
        return FALSE;
    }

  return TRUE;
}

/* The last GroupNorm + SiLU in place, then the output conv into a tensor
 * of its own: scratch maps may be far larger than the result. */
static VaeTensor *
head_forward (VaeRun           *run,
              const Half       *half,
              const VaeConv2d  *conv,
              VaeTensor        *x,
              GError          **error)
{
  VaeTensor *y = NULL;

  if (! norm_silu (run, x, half->gamma_out, half->beta_out, x, error) ||
      ! vae_op_conv2d (run, conv, x, NULL, VAE_ACT_NONE, &y, error))
    return NULL;

  return y;
}

static gdouble
resnet_flops (const Resnet *r,
              gsize         h,
              gsize         w)
{
  return vae_conv2d_flops (&r->conv1, h, w) + vae_conv2d_flops (&r->conv2, h, w) +
         (r->has_shortcut ? vae_conv2d_flops (&r->shortcut, h, w) : 0.0);
}

/* A conv run in bands over h rows (resnet_banded()): context rows
 * included. */
static gdouble
banded_conv_flops (const VaeConv2d *conv,
                   gsize            h,
                   gsize            w)
{
  const gsize rows = band_rows (h);
  gdouble     flops = 0.0;
  gsize       y0, y1, a, b;

  for (y0 = 0; y0 < h; y0 = y1)
    {
      y1 = MIN (y0 + rows, h);
      band_input (y0, y1, h, conv->kernel / 2, &a, &b);
      flops += vae_conv2d_flops (conv, b - a, w);
    }

  return flops;
}

static gdouble
resnet_step_flops (const Resnet *r,
                   gboolean      banded,
                   gsize         h,
                   gsize         w)
{
  if (! banded)
    return resnet_flops (r, h, w);

  return banded_conv_flops (&r->conv1, h, w) + banded_conv_flops (&r->conv2, h, w) +
         (r->has_shortcut ? banded_conv_flops (&r->shortcut, h, w) : 0.0);
}

/* attention_banded(): each query band's projection, the keys and values
 * made again for it, its share of the attention and its output
 * projection, in the terms its ops count them. */
static gdouble
attention_banded_flops (gint  c,
                        gsize h,
                        gsize w)
{
  const gsize rows_q = band_rows (h), rows_k = key_rows (h);
  gdouble     flops = 0.0;
  gsize       q0, q1, k0, k1;

  for (q0 = 0; q0 < h; q0 = q1)
    {
      const gsize nq = (MIN (q0 + rows_q, h) - q0) * w;

      q1 = MIN (q0 + rows_q, h);
      flops += 2.0 * nq * c * c;
      for (k0 = 0; k0 < h; k0 = k1)
        {
          const gsize nk = (MIN (k0 + rows_k, h) - k0) * w;

          k1 = MIN (k0 + rows_k, h);
          flops += 2 * (2.0 * nk * c * c) + 4.0 * (gdouble) nq * (gdouble) nk * 1 * c;
        }
      flops += 2.0 * nq * c * c;
    }

  return flops;
}

static gdouble
mid_flops (const Half *half,
           gboolean    banded,
           gsize       h,
           gsize       w)
{
  gdouble flops = resnet_step_flops (&half->mid1, banded, h, w) +
                  resnet_step_flops (&half->mid2, banded, h, w);
  gint    c = half->attention.channels;

  if (half->has_attention && banded)
    flops += attention_banded_flops (c, h, w);
  else if (half->has_attention)
    flops += 4 * 2.0 * h * w * c * c + vae_attention_flops (h * w, 1, c);

  return flops;
}

/* The same levels on an input of *h x *w, which they update to their
 * output size. */
static gdouble
levels_flops (const Half *half,
              gint        first,
              gint        last,
              gboolean    last_resample,
              gboolean    banded,
              gsize      *h,
              gsize      *w)
{
  gdouble flops = 0.0;
  gsize   ho, wo;
  gint    i, j;

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        flops += resnet_step_flops (&level->resnets[j], banded, *h, *w);
      if (level->has_resample && (i + 1 < last || last_resample))
        {
          flops += vae_conv2d_flops (&level->resample, *h, *w);
          vae_conv2d_out_size (&level->resample, *h, *w, &ho, &wo);
          *h = ho;
          *w = wo;
        }
    }

  return flops;
}

/* The decoder's latent-resolution part: post_quant_conv, conv_in, mid. */
static gdouble
decoder_head_flops (const Half *d,
                    gboolean    banded,
                    gsize       h,
                    gsize       w)
{
  return (d->has_quant ? vae_conv2d_flops (&d->quant, h, w) : 0.0) +
         vae_conv2d_flops (&d->conv_in, h, w) + mid_flops (d, banded, h, w);
}

/* ... and the rest, levels and conv_out, on h x w latent pixels. */
static gdouble
decoder_tail_flops (const Half *d,
                    gsize       h,
                    gsize       w,
                    gboolean    with_out)
{
  gdouble flops = levels_flops (d, 0, d->n_levels, TRUE, FALSE, &h, &w);

  return flops + (with_out ? vae_conv2d_flops (&d->conv_out, h, w) : 0.0);
}

/* The encoder up to its latent resolution: conv_in and the levels, on an
 * H x W image. */
static gdouble
encoder_body_flops (const Half *e,
                    gsize       h,
                    gsize       w)
{
  gdouble flops = vae_conv2d_flops (&e->conv_in, h, w);

  return flops + levels_flops (e, 0, e->n_levels, TRUE, FALSE, &h, &w);
}

/* ... and the rest on h x w latent pixels: mid, conv_out, quant_conv. */
static gdouble
encoder_tail_flops (const Half *e,
                    gboolean    banded,
                    gsize       h,
                    gsize       w)
{
  return mid_flops (e, banded, h, w) + vae_conv2d_flops (&e->conv_out, h, w) +
         (e->has_quant ? vae_conv2d_flops (&e->quant, h, w) : 0.0);
}

/* What a half costs on an input of h x w (image for the encoder, latent
 * for the decoder). */
static gdouble
half_flops (const Half *half,
            gboolean    decoder,
            gsize       h,
            gsize       w)
{
  if (decoder)
    return decoder_head_flops (half, FALSE, h, w) + decoder_tail_flops (half, h, w, TRUE);

  return encoder_body_flops (half, h, w) +
         encoder_tail_flops (half, FALSE, h / half->factor, w / half->factor);
}

/* --- VaeArchClass ----------------------------------------------------------- */

static gboolean
kl_probe (VaeWeights *encoder,
          VaeWeights *decoder)
{
  return find_prefix (encoder, "encoder") || find_prefix (encoder, "decoder") ||
         find_prefix (decoder, "encoder") || find_prefix (decoder, "decoder");
}

static void
kl_destroy (gpointer self)
{
  g_free (self);
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

static const gchar *
metadata (VaeWeights  *a,
          VaeWeights  *b,
          const gchar *key)
{
  const gchar *value = a ? vae_weights_get_metadata (a, key) : NULL;

  if (value == NULL && b)
    value = vae_weights_get_metadata (b, key);

  return value;
}

static gboolean
metadata_number (VaeWeights  *a,
                 VaeWeights  *b,
                 const gchar *key,
                 gdouble     *value)
{
  const gchar *text = metadata (a, b, key);
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

static void
identify (Kl           *kl,
          VaeWeights   *enc_w,
          VaeWeights   *dec_w,
          const gfloat *bn_mean,
          const gfloat *bn_var,
          VaeModelInfo *info)
{
  const gchar      *arch = metadata (enc_w, dec_w, "modelspec.architecture");
  g_autofree gchar *lower = arch ? g_ascii_strdown (arch, -1) : NULL;
  const guint       z = info->latent_channels;
  gdouble           v;

  info->architecture = g_strdup ("autoencoder-kl");
  info->scale = 1.0;
  info->shift = 0.0;

  if (z == 4)
    {
      info->id = g_strdup ("sd-vae");
      if (lower && strstr (lower, "xl"))
        {
          info->name = g_strdup ("SDXL VAE (4 channels)");
          info->scale = 0.13025;
        }
      else
        {
          info->name = g_strdup ("Stable Diffusion VAE (SD 1.x/2.x/SDXL, "
                                 "4 channels)");
          info->scale = 0.18215;
        }
    }
  else if (z == 16 && lower && (strstr (lower, "stable-diffusion-3") ||
                                strstr (lower, "sd3") ||
                                strstr (lower, "stable-diffusion-v3")))
    {
      info->id = g_strdup ("sd3-vae");
      info->name = g_strdup ("Stable Diffusion 3 VAE (16 channels)");
      info->scale = 1.5305;
      info->shift = 0.0609;
    }
  else if (z == 16)
    {
      info->id = g_strdup ("flux1-vae");
      info->name = g_strdup ("FLUX.1 VAE (16 channels; SD3 shares the "
                             "layout)");
      info->scale = 0.3611;
      info->shift = 0.1159;
    }
  else if (z == 32)
    {
      info->id = g_strdup ("flux2-vae");
      info->name = g_strdup (kl->decoder.present &&
                             kl->decoder.conv_in.c_out < 512
                             ? "FLUX.2 VAE (32 channels, small decoder)"
                             : "FLUX.2 VAE (32 channels)");
    }
  else
    {
      info->id = g_strdup_printf ("kl-vae-%uch", z);
      info->name = g_strdup_printf ("AutoencoderKL (%u channels)", z);
    }

  if (metadata_number (enc_w, dec_w, "scaling_factor", &v) && v > 0.0)
    info->scale = v;
  if (metadata_number (enc_w, dec_w, "shift_factor", &v))
    info->shift = v;

  if (bn_mean && bn_var)
    {
      info->norm_patch = BN_PATCH;
      info->norm_channels = z * BN_PATCH * BN_PATCH;
      info->norm_mean = bn_mean;
      info->norm_var = bn_var;
      info->norm_eps = BN_EPS;
    }
}

static gpointer
kl_create (VaeWeights    *encoder,
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

  if (enc_w && ! encoder_build (&kl->encoder, enc_w, enc_prefix, error))
    goto fail;
  if (dec_w && ! decoder_build (&kl->decoder, dec_w, dec_prefix, error))
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
  identify (kl, enc_w, dec_w, bn_mean, bn_var, info);

  return kl;

fail:
  kl_destroy (kl);

  return NULL;
}

static gboolean
kl_can_encode (gpointer self)
{
  return ((Kl *) self)->encoder.present;
}

static gboolean
kl_can_decode (gpointer self)
{
  return ((Kl *) self)->decoder.present;
}

/* The encoder's latent-resolution part on @x (consumed): mid, norm_out,
 * conv_out, quant_conv.  Returns the z means. */
static VaeTensor *
encoder_tail (VaeRun      *run,
              VaeScratch  *scratch,
              const Half  *e,
              gboolean     banded,
              VaeTensor  **x,
              GError     **error)
{
  VaeTensor *y, *z = NULL;

  if (! mid_forward (run, scratch, e, banded, x, error) ||
      ! (y = head_forward (run, e, &e->conv_out, *x, error)))
    return NULL;
  if (! e->has_quant)
    return y;

  if (! vae_op_conv2d (run, &e->quant, y, NULL, VAE_ACT_NONE, &z, error))
    z = NULL;
  vae_tensor_unref (y);

  return z;
}

/* [0, 1] -> [-1, 1] into a scratch map. */
static VaeTensor *
encoder_input (VaeScratch       *scratch,
               const VaeTensor  *image,
               GError          **error)
{
  VaeTensor *x = vae_scratch_get (scratch, 3, VAE_T_H (image), VAE_T_W (image),
                                  error);
  gsize      i;

  if (x == NULL)
    return NULL;
  for (i = 0; i < image->n_elements; i++)
    x->data[i] = image->data[i] * 2.0f - 1.0f;

  return x;
}

static gboolean
kl_encode (gpointer          self,
           const VaeTensor  *image,
           VaeTensor       **latent,
           VaeRun           *run,
           GError          **error)
{
  const Half *e = &((Kl *) self)->encoder;
  VaeScratch  scratch;
  VaeTensor  *x;

  *latent = NULL;
  vae_run_begin (run, "encode", half_flops (e, FALSE, VAE_T_H (image),
                                            VAE_T_W (image)));
  vae_scratch_init (&scratch);

  x = encoder_input (&scratch, image, error);
  if (x != NULL &&
      conv_step (run, &scratch, &e->conv_in, &x, error) &&
      levels_forward (run, &scratch, e, 0, e->n_levels, TRUE, FALSE, &x, error))
    *latent = encoder_tail (run, &scratch, e, FALSE, &x, error);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *latent != NULL;
}

static gboolean
check_latent (const Half       *d,
              const VaeTensor  *latent,
              GError          **error)
{
  if (latent->n_dims != 3 || VAE_T_C (latent) != (gsize) d->z)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (latent);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "the KL decoder takes [%d, h, w] latents, not %s", d->z,
                   shape);
      return FALSE;
    }

  return TRUE;
}

/* The decoder's latent-resolution part: post_quant_conv, conv_in, mid.
 * Returns a scratch map. */
static VaeTensor *
decoder_head (VaeRun           *run,
              VaeScratch       *scratch,
              const Half       *d,
              gboolean          banded,
              const VaeTensor  *latent,
              GError          **error)
{
  VaeTensor *x;

  if (d->has_quant)
    {
      x = vae_scratch_get (scratch, d->z, VAE_T_H (latent), VAE_T_W (latent),
                           error);
      if (x == NULL ||
          ! vae_op_conv2d (run, &d->quant, latent, NULL, VAE_ACT_NONE, &x, error) ||
          ! conv_step (run, scratch, &d->conv_in, &x, error))
        goto fail;
    }
  else
    {
      x = vae_scratch_get (scratch, d->conv_in.c_out, VAE_T_H (latent),
                           VAE_T_W (latent), error);
      if (x == NULL ||
          ! vae_op_conv2d (run, &d->conv_in, latent, NULL, VAE_ACT_NONE, &x,
                           error))
        goto fail;
    }

  if (mid_forward (run, scratch, d, banded, &x, error))
    return x;

fail:
  if (x)
    vae_tensor_unref (x);

  return NULL;
}

/* The rest on @x (consumed): levels, norm_out, conv_out.  Returns the
 * image in [-1, 1]. */
static VaeTensor *
decoder_tail (VaeRun      *run,
              VaeScratch  *scratch,
              const Half  *d,
              VaeTensor  **x,
              GError     **error)
{
  if (! levels_forward (run, scratch, d, 0, d->n_levels, TRUE, FALSE, x, error))
    return NULL;

  return head_forward (run, d, &d->conv_out, *x, error);
}

/* [-1, 1] -> [0, 1]; vae_model_decode clamps. */
static void
decoder_output (VaeTensor *y)
{
  gsize i;

  for (i = 0; i < y->n_elements; i++)
    y->data[i] = (y->data[i] + 1.0f) * 0.5f;
}

static gboolean
kl_decode (gpointer          self,
           const VaeTensor  *latent,
           VaeTensor       **image,
           VaeRun           *run,
           GError          **error)
{
  const Half *d = &((Kl *) self)->decoder;
  VaeScratch  scratch;
  VaeTensor  *x;

  *image = NULL;
  if (! check_latent (d, latent, error))
    return FALSE;

  vae_run_begin (run, "decode", half_flops (d, TRUE, VAE_T_H (latent),
                                            VAE_T_W (latent)));
  vae_scratch_init (&scratch);

  x = decoder_head (run, &scratch, d, FALSE, latent, error);
  if (x != NULL)
    *image = decoder_tail (run, &scratch, d, &x, error);
  if (*image)
    decoder_output (*image);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *image != NULL;
}

/* --- memory ----------------------------------------------------------------- */

/* Peak feature maps of an untiled run (a VaeScratch keeps few maps beyond
 * those live at one time): a ResNet block holds three maps, the attention
 * five, a resampling conv its input and output.  In floats. */
static gsize
resnet_memory (const Resnet *r,
               gsize         n)
{
  return ((gsize) r->conv1.c_in + 2 * (gsize) r->conv1.c_out) * n;
}

static gsize
mid_memory (const Half *half,
            gsize       n)
{
  gsize peak = MAX (resnet_memory (&half->mid1, n), resnet_memory (&half->mid2, n));

  if (half->has_attention)
    peak = MAX (peak, 5 * (gsize) half->attention.channels * n);

  return peak;
}

static gsize
levels_memory (const Half *half,
               gboolean    decoder,
               gsize      *n)
{
  gsize peak = 0;
  gint  i, j;

  for (i = 0; i < half->n_levels; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        peak = MAX (peak, resnet_memory (&level->resnets[j], *n));
      if (level->has_resample)
        {
          gsize out = decoder ? *n * 4 : *n / 4;

          peak = MAX (peak, (gsize) level->resample.c_in * *n +
                            (gsize) level->resample.c_out * out);
          *n = out;
        }
    }

  return peak;
}

/* Bytes, for choose_tile(). */
static gsize
kl_memory (gpointer self,
           gboolean decoder,
           gsize    width,
           gsize    height)
{
  const Kl   *kl = self;
  const Half *half = decoder ? &kl->decoder : &kl->encoder;
  gsize       n, peak, levels;

  if (! half->present)
    return 0;

  /* levels_memory() moves n on: not inside MAX (). */
  if (decoder)
    {
      n = (height / half->factor) * (width / half->factor);
      peak = ((gsize) half->z * (half->has_quant ? 2 : 1) +
              (gsize) half->conv_in.c_out) * n;
      peak = MAX (peak, mid_memory (half, n));
      levels = levels_memory (half, TRUE, &n);
      peak = MAX (peak, levels);
      peak = MAX (peak, ((gsize) half->conv_out.c_in + 3) * n);
    }
  else
    {
      n = height * width;
      peak = (3 + (gsize) half->conv_in.c_out) * n;
      levels = levels_memory (half, FALSE, &n);
      peak = MAX (peak, levels);
      peak = MAX (peak, mid_memory (half, n));
      peak = MAX (peak, ((gsize) half->conv_out.c_in + 4 * (gsize) half->z) * n);
    }

  return peak * sizeof (gfloat);
}

/* --- tiles ---------------------------------------------------------------- */

/* Tiled decoding and encoding that gives the untiled result.
 *
 * Two things in a KL VAE see the whole image: the mid-block attention and
 * the GroupNorm statistics.  Everything at latent resolution runs whole
 * (the decoder's post_quant_conv, conv_in and mid block; the encoder's mid
 * block, norm_out, conv_out and quant_conv), and so do the levels next to
 * it when that fits the budget and saves work: the decoder's first
 * levels, the encoder's last ones.  The whole part runs in bands of rows
 * (see "whole maps in bands"), which keeps a 4096^2 SD decode's mid block
 * at two 512 MiB maps.  The rest, the "tiled part" (the decoder's
 * finer levels and head, the encoder's conv_in and finer levels), runs in
 * tiles over the latent grid, each with a margin as wide as the receptive
 * field of what it computes, so that with the same GroupNorm statistics a
 * tile's inner values are the untiled ones.  Encoder tiles start on latent
 * pixels, so that every stride-2 conv samples the pixels it samples on the
 * whole image (the downsample pads right and bottom only, which the
 * margin covers too).
 *
 * Statistics: each GroupNorm's input depends on the statistics of every
 * GroupNorm before it, so whole-image statistics cannot all come from one
 * pass.  Statistics gathered in one pass over the tiles, each tile
 * normalised with its own (VAE_NORM_STATS_COLLECT), are 10-25 % off on a
 * photo whose tiles differ (sky and ground): a random SD-style model's
 * decoded image is 38 dB from the untiled one with only the finest level
 * tiled (1024^2), 15 dB with every level tiled (narrower model, 512^2); a
 * first pass at half resolution, 30 and 20 dB; further passes normalised
 * with the previous pass's statistics make one more layer exact each but
 * the later ones worse (docs/tiling.md).  So the statistics are made
 * exact one GroupNorm at a time: pass g runs every
 * tile up to the input of GroupNorm g, normalising the ones before it
 * with their (exact) whole-image statistics, and adds that input's sums
 * over the tile's own region; a last pass applies them all and blends.
 * Each pass stops at its GroupNorm and carries only the margin its layers
 * need, and takes tiles as large as its maps allow; still the passes cost
 * several times the tiled part (at 1024^2 an SD decode does 2.9 times the
 * untiled work, at 4096^2 9 times), which is why as much as fits runs
 * whole.  tiler_init() weighs that: of the splits whose whole part and
 * tiles fit the budget, it takes the one with the least work.
 */

/* A tiled run: its plan and its state. */
typedef struct
{
  const Half      *half;
  gboolean         decoder;
  /* decoder: levels before it run untiled (its resampling conv is
   * tiled); encoder: levels from it */
  gint             split;
  gsize            in_scale;   /* map pixels per latent pixel, tiled part's input */
  gsize            out_scale;  /* ... and its output */
  gint             n_norms;    /* GroupNorm calls in the tiled part */
  gsize            budget;     /* bytes, and of them the whole maps' */
  gsize            fixed;
  gsize            max_tile;   /* latent pixels */
  const VaeTensor *source;     /* the tiled part's input, whole */
  VaeTensor       *out;        /* its output, blended from the tiles */
  VaeScratch       scratch;
} Tiler;

/* What the tiled part costs on one tile. */
typedef struct
{
  gdouble radius;   /* receptive field, latent pixels */
  gdouble flops;
  gsize   memory;   /* peak bytes of feature maps */
} Cost;

/* Cost of a resampling conv on a map of *h x *w pixels, @scale of them per
 * latent pixel; all three follow it. */
static void
conv_cost (Cost            *cost,
           const VaeConv2d *conv,
           gsize           *h,
           gsize           *w,
           gdouble         *scale)
{
  gsize ho, wo;

  vae_conv2d_out_size (conv, *h, *w, &ho, &wo);
  cost->flops += vae_conv2d_flops (conv, *h, *w);
  cost->memory = MAX (cost->memory, ((gsize) conv->c_in * *h * *w +
                                     (gsize) conv->c_out * ho * wo) * sizeof (gfloat));
  if (conv->upsample > 1)
    *scale *= conv->upsample;
  if (conv->stride > 1)
    {
      /* Output j reads inputs stride j .. stride j + kernel - 1. */
      cost->radius += (conv->kernel - 1) / *scale;
      *scale /= conv->stride;
    }
  else
    {
      cost->radius += (conv->kernel / 2) / *scale;
    }
  *h = ho;
  *w = wo;
}

/* The tiled part on a tile of h x w latent pixels, up to the input of
 * its GroupNorm call @stop (past the last one: up to the decoder's
 * conv_out), or all of it for stop < 0. */
static Cost
tiled_cost (const Tiler *tiler,
            gint         stop,
            gsize        h,
            gsize        w)
{
  const Half *half = tiler->half;
  const gint  first = tiler->decoder ? tiler->split : 0;
  const gint  last = tiler->decoder ? half->n_levels : tiler->split;
  gdouble     scale = tiler->in_scale;
  Cost        cost = { 0.0, 0.0, 0 };
  gint        i, j, gn = 0;

  h *= tiler->in_scale;
  w *= tiler->in_scale;
  if (tiler->decoder && first > 0 && half->levels[first - 1].has_resample)
    conv_cost (&cost, &half->levels[first - 1].resample, &h, &w, &scale);
  if (! tiler->decoder)
    conv_cost (&cost, &half->conv_in, &h, &w, &scale);

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++)
        {
          const Resnet *r = &level->resnets[j];

          if (stop == gn++)
            return cost;
          cost.memory = MAX (cost.memory, resnet_memory (r, h * w) * sizeof (gfloat));
          cost.flops += vae_conv2d_flops (&r->conv1, h, w);
          cost.radius += (r->conv1.kernel / 2) / scale;
          if (stop == gn++)
            return cost;
          cost.flops += vae_conv2d_flops (&r->conv2, h, w) +
                        (r->has_shortcut ? vae_conv2d_flops (&r->shortcut, h, w) : 0.0);
          cost.radius += (r->conv2.kernel / 2) / scale;
        }
      if (level->has_resample)
        conv_cost (&cost, &level->resample, &h, &w, &scale);
    }

  if (tiler->decoder && stop < 0)
    conv_cost (&cost, &half->conv_out, &h, &w, &scale);

  return cost;
}

static gsize
tiled_margin (const Tiler *tiler,
              gint         stop)
{
  /* The radius does not depend on the tile's size. */
  return (gsize) ceil (tiled_cost (tiler, stop, 1, 1).radius) + 1;
}

/* Sets the split: decoder levels before it run whole (the upsample of
 * the last of them is tiled), encoder levels from it. */
static void
tiler_set_split (Tiler *tiler,
                 gint   split)
{
  const Half *half = tiler->half;
  gint        i;

  tiler->split = split;
  if (tiler->decoder)
    {
      tiler->in_scale = 1;
      for (i = 0; i + 1 < split; i++)
        if (half->levels[i].has_resample)
          tiler->in_scale *= 2;
      tiler->out_scale = half->factor;
    }
  else
    {
      tiler->in_scale = half->factor;
      tiler->out_scale = half->factor;
      for (i = 0; i < split; i++)
        if (half->levels[i].has_resample)
          tiler->out_scale /= 2;
    }

  tiler->n_norms = 0;
  for (i = tiler->decoder ? split : 0;
       i < (tiler->decoder ? half->n_levels : split); i++)
    tiler->n_norms += 2 * half->levels[i].n_resnets;
  if (tiler->decoder)
    tiler->n_norms++;   /* norm_out */
}

/* Floats that resnet_banded() holds on h x w: input and conv1 output
 * (and the new output with a shortcut), and a band's buffers. */
static gsize
resnet_banded_memory (const Resnet *r,
                      gsize         h,
                      gsize         w)
{
  const gsize c_in = r->conv1.c_in, c_out = r->conv1.c_out;
  const gsize band = MIN (band_rows (h) + 2, h) * w;
  gsize       floats = (c_in + c_out) * h * w + (MAX (c_in, c_out) + c_out) * band;

  if (r->has_shortcut)
    floats += c_out * h * w + (c_in + c_out) * band;

  return floats;
}

/* ... attention_banded(): input, output, a query band's queries,
 * normalised input and running state, a key band's keys and values. */
static gsize
attention_banded_memory (gsize c,
                         gsize h,
                         gsize w)
{
  const gsize nq = MIN (band_rows (h), h) * w, nk = MIN (key_rows (h), h) * w;

  return 2 * c * h * w + (3 * c + 2) * nq + 3 * c * nk;
}

static gsize
mid_banded_memory (const Half *half,
                   gsize       h,
                   gsize       w)
{
  gsize peak = MAX (resnet_banded_memory (&half->mid1, h, w),
                    resnet_banded_memory (&half->mid2, h, w));

  if (half->has_attention)
    peak = MAX (peak, attention_banded_memory (half->attention.channels, h, w));

  return peak;
}

/* Peak bytes of a tiled run's whole part with the split at @split, on h x w
 * latent pixels: the latent-resolution part and the levels run whole, in
 * bands, with their resampling convs whole. */
static gsize
whole_memory (const Tiler *tiler,
              gint         split,
              gsize        h,
              gsize        w)
{
  const Half *half = tiler->half;
  const gsize n = h * w;
  gsize       peak, lh, lw, ho, wo;
  gint        i, j;

  if (tiler->decoder)
    peak = MAX (((gsize) half->z * 2 + (gsize) half->conv_in.c_out) * n,
                mid_banded_memory (half, h, w));
  else
    peak = MAX (mid_banded_memory (half, h, w),
                ((gsize) half->conv_out.c_in + 4 * (gsize) half->z) * n);

  /* Level sizes from the decoder's latent or the encoder's image. */
  lh = tiler->decoder ? h : h * half->factor;
  lw = tiler->decoder ? w : w * half->factor;
  for (i = 0; i < half->n_levels; i++)
    {
      const Level *level = &half->levels[i];
      gboolean     whole = tiler->decoder ? i < split : i >= split;

      if (whole)
        for (j = 0; j < level->n_resnets; j++)
          peak = MAX (peak, resnet_banded_memory (&level->resnets[j], lh, lw));
      if (! level->has_resample)
        continue;
      vae_conv2d_out_size (&level->resample, lh, lw, &ho, &wo);
      /* The decoder's last whole level leaves its upsample to the tiles. */
      if (whole && (! tiler->decoder || i + 1 < split))
        peak = MAX (peak, (gsize) level->resample.c_in * lh * lw +
                          (gsize) level->resample.c_out * ho * wo);
      lh = ho;
      lw = wo;
    }

  return peak * sizeof (gfloat);
}

/* Width of the tiled part's input or output map. */
static gsize
tiler_channels (const Tiler *tiler,
                gboolean     output)
{
  const Half  *half = tiler->half;
  const Level *level;

  if (tiler->decoder && output)
    return 3;
  if (! tiler->decoder && ! output)
    return 3;
  if (tiler->decoder && tiler->split == 0)
    return (gsize) half->mid2.conv1.c_out;
  if (! tiler->decoder && tiler->split == 0)
    return (gsize) half->conv_in.c_out;
  level = &half->levels[tiler->split - 1];

  return (gsize) level->resnets[level->n_resnets - 1].conv1.c_out;
}

typedef struct
{
  GArray *xs, *ys;          /* spans over the latent grid */
  gsize   w, h;             /* latent pixels */
  gsize   tile, margin, overlap;
} Grid;

/* One tile: what is computed (its span and margin, clipped to the grid)
 * and its own region, which the tiles partition, for the statistics. */
typedef struct
{
  const VaeSpan *sx, *sy;
  gsize          x0, y0, x1, y1;
  gsize          own_x0, own_y0, own_x1, own_y1;
} Tile;

/* A span length no longer than @tile that splits @size into as few spans
 * as @tile does, but evenly: the last one is not a sliver that costs as
 * much margin as a whole tile. */
static gsize
balanced (gsize size,
          gsize tile,
          gsize overlap)
{
  gsize n;

  if (tile >= size || tile <= overlap)
    return tile;
  n = (size - overlap + (tile - overlap) - 1) / (tile - overlap);

  return (size - overlap + n - 1) / n + overlap;
}

static void
grid_init (Grid  *grid,
           gsize  w,
           gsize  h,
           gsize  tile,
           gsize  margin)
{
  grid->w = w;
  grid->h = h;
  grid->tile = tile;
  grid->margin = margin;
  /* With one set of statistics and full margins the tiles agree to float
   * rounding: the overlap only has to hide that. */
  grid->overlap = MIN (OVERLAP, tile / 2);
  grid->xs = vae_tiles_split (w, balanced (w, tile, grid->overlap), grid->overlap, 1);
  grid->ys = vae_tiles_split (h, balanced (h, tile, grid->overlap), grid->overlap, 1);
}

static void
grid_clear (Grid *grid)
{
  g_clear_pointer (&grid->xs, g_array_unref);
  g_clear_pointer (&grid->ys, g_array_unref);
}

static void
span_bounds (const GArray *spans,
             guint         i,
             gsize         size,
             gsize         margin,
             gsize         overlap,
             gsize        *a,
             gsize        *b,
             gsize        *own_a,
             gsize        *own_b)
{
  const VaeSpan *s = &g_array_index (spans, VaeSpan, i);

  vae_span_extend (s, margin, size, a, b);
  /* Neighbours overlap by exactly @overlap; its middle divides them. */
  *own_a = i == 0 ? 0 : s->start + overlap / 2;
  *own_b = i + 1 == spans->len
           ? size : g_array_index (spans, VaeSpan, i + 1).start + overlap / 2;
}

static void
grid_tile (const Grid *grid,
           guint       ix,
           guint       iy,
           Tile       *t)
{
  t->sx = &g_array_index (grid->xs, VaeSpan, ix);
  t->sy = &g_array_index (grid->ys, VaeSpan, iy);
  span_bounds (grid->xs, ix, grid->w, grid->margin, grid->overlap,
               &t->x0, &t->x1, &t->own_x0, &t->own_x1);
  span_bounds (grid->ys, iy, grid->h, grid->margin, grid->overlap,
               &t->y0, &t->y1, &t->own_y0, &t->own_y1);
}

/* Work of the tiled part up to @stop over every tile of @grid. */
static gdouble
grid_flops (const Tiler *tiler,
            const Grid  *grid,
            gint         stop)
{
  gdouble flops = 0.0;
  guint   ix, iy;

  for (iy = 0; iy < grid->ys->len; iy++)
    for (ix = 0; ix < grid->xs->len; ix++)
      {
        Tile t;

        grid_tile (grid, ix, iy, &t);
        flops += tiled_cost (tiler, stop, t.y1 - t.y0, t.x1 - t.x0).flops;
      }

  return flops;
}

/* The grid of a pass up to GroupNorm @stop (stop < 0: the last pass):
 * tiles as large as the budget allows beside the whole maps, up to
 * max_tile.  Passes that stop early hold smaller maps, so their tiles are
 * larger and carry less margin for their area. */
static gsize
pass_tile (const Tiler *tiler,
           gint         stop,
           gsize        margin)
{
  gsize t = tiler->max_tile;

  while (t > 8 &&
         tiler->fixed + tiled_cost (tiler, stop, t + 2 * margin, t + 2 * margin).memory >
         tiler->budget)
    t -= MAX (t / 8, 1);

  return t;
}

static void
pass_grid (const Tiler *tiler,
           Grid        *grid,
           gsize        w,
           gsize        h,
           gint         stop)
{
  const gsize margin = tiled_margin (tiler, stop);

  grid_init (grid, w, h, pass_tile (tiler, stop, margin), margin);
}

/* The map @stop's sums are taken from; past the last GroupNorm the
 * decoder's norm_out runs as it is (in a COLLECT pass, adding them). */
static gboolean
stop_here (Tiler        *tiler,
           VaeRun       *run,
           VaeTensor    *x,
           gint          stop,
           gint          gn,
           gboolean     *stopped,
           GError      **error)
{
  *stopped = TRUE;
  if (stop == gn)
    return vae_norm_stats_add (run->norm_stats, run, x, GROUPS, error);

  return vae_op_group_norm (run, x, GROUPS, tiler->half->gamma_out,
                            tiler->half->beta_out, EPS, VAE_ACT_NONE, x, error);
}

/* conv1 (silu (norm1 (x))) of a block into a new scratch map: the input
 * of its second GroupNorm. */
static VaeTensor *
resnet_first_half (VaeRun        *run,
                   VaeScratch    *scratch,
                   const Resnet  *r,
                   VaeTensor     *x,
                   GError       **error)
{
  VaeTensor *t, *u = NULL;

  t = vae_scratch_get (scratch, VAE_T_C (x), VAE_T_H (x), VAE_T_W (x), error);
  if (t == NULL)
    return NULL;
  if (norm_silu (run, x, r->gamma1, r->beta1, t, error))
    {
      u = vae_scratch_get (scratch, r->conv1.c_out, VAE_T_H (x), VAE_T_W (x), error);
      if (u && ! vae_op_conv2d (run, &r->conv1, t, NULL, VAE_ACT_NONE, &u, error))
        {
          vae_scratch_put (scratch, u);
          u = NULL;
        }
    }
  vae_scratch_put (scratch, t);

  return u;
}

/* Runs the tiled part on the tile *x, which it replaces: up to the input
 * of GroupNorm @stop, whose sums it adds to the statistics (past the
 * last, for a COLLECT pass: up to the decoder's conv_out), or all of it
 * for stop < 0. */
static gboolean
tile_forward (Tiler       *tiler,
              VaeRun      *run,
              VaeTensor  **x,
              gint         stop,
              GError     **error)
{
  const Half *half = tiler->half;
  const gint  first = tiler->decoder ? tiler->split : 0;
  const gint  last = tiler->decoder ? half->n_levels : tiler->split;
  gboolean    stopped = FALSE;
  gint        i, j, gn = 0;
  VaeTensor  *y;

  if (tiler->decoder && first > 0 && half->levels[first - 1].has_resample &&
      ! conv_step (run, &tiler->scratch, &half->levels[first - 1].resample, x, error))
    return FALSE;
  if (! tiler->decoder &&
      ! conv_step (run, &tiler->scratch, &half->conv_in, x, error))
    return FALSE;

  for (i = first; i < last; i++)
    {
      const Level *level = &half->levels[i];

      for (j = 0; j < level->n_resnets; j++, gn += 2)
        {
          const Resnet *r = &level->resnets[j];

          if (stop == gn)
            return stop_here (tiler, run, *x, stop, gn, &stopped, error);
          if (stop == gn + 1)
            {
              gboolean ok;

              y = resnet_first_half (run, &tiler->scratch, r, *x, error);
              if (y == NULL)
                return FALSE;
              ok = stop_here (tiler, run, y, stop, gn + 1, &stopped, error);
              vae_scratch_put (&tiler->scratch, y);
              return ok;
            }
          if (! resnet_forward (run, &tiler->scratch, r, x, error))
            return FALSE;
        }
      if (level->has_resample &&
          ! conv_step (run, &tiler->scratch, &level->resample, x, error))
        return FALSE;
    }

  if (! tiler->decoder)
    return TRUE;
  if (stop >= gn)
    return stop_here (tiler, run, *x, stop, gn, &stopped, error);

  y = head_forward (run, half, &half->conv_out, *x, error);
  if (y == NULL)
    return FALSE;
  vae_scratch_put (&tiler->scratch, *x);
  *x = y;

  return TRUE;
}

/* src[:, y : y + h, x : x + w] of the tiled part's input, in map pixels,
 * into a scratch map; for the encoder also [0, 1] -> [-1, 1]. */
static VaeTensor *
crop_source (Tiler   *tiler,
             gsize    x,
             gsize    y,
             gsize    w,
             gsize    h,
             GError **error)
{
  const VaeTensor *src = tiler->source;
  const gsize      channels = VAE_T_C (src);
  VaeTensor       *out = vae_scratch_get (&tiler->scratch, channels, h, w, error);
  gsize            c, row, i;

  if (out == NULL)
    return NULL;
  for (c = 0; c < channels; c++)
    for (row = 0; row < h; row++)
      {
        const gfloat *s = src->data + (c * VAE_T_H (src) + y + row) * VAE_T_W (src) + x;
        gfloat       *d = out->data + (c * h + row) * w;

        if (tiler->decoder)
          memcpy (d, s, w * sizeof (gfloat));
        else
          for (i = 0; i < w; i++)
            d[i] = s[i] * 2.0f - 1.0f;
      }

  return out;
}

/* One pass over the tiles of @grid: statistics in @mode, each tile up to
 * @stop (see tile_forward()); a whole pass (stop < 0) blends the tiles
 * into tiler->out. */
static gboolean
tiles_pass (Tiler             *tiler,
            const Grid        *grid,
            VaeNormStatsMode   mode,
            gint               stop,
            VaeRun            *run,
            GError           **error)
{
  const gsize is = tiler->in_scale, os = tiler->out_scale;
  guint       ix, iy;

  /* Passes differ in their tiles' sizes and depth; buffers a pass leaves
   * behind would stay beside the next pass's, each set sized to the whole
   * budget. */
  vae_scratch_clear (&tiler->scratch);
  vae_scratch_init (&tiler->scratch);

  for (iy = 0; iy < grid->ys->len; iy++)
    for (ix = 0; ix < grid->xs->len; ix++)
      {
        VaeTensor *x;
        gboolean   ok;
        Tile       t;

        grid_tile (grid, ix, iy, &t);
        x = crop_source (tiler, t.x0 * is, t.y0 * is, (t.x1 - t.x0) * is,
                         (t.y1 - t.y0) * is, error);
        if (x == NULL)
          return FALSE;
        vae_norm_stats_begin (run->norm_stats, mode, t.x1 - t.x0, t.y1 - t.y0,
                              t.own_x0 - t.x0, t.own_y0 - t.y0,
                              t.own_x1 - t.x0, t.own_y1 - t.y0);

        ok = tile_forward (tiler, run, &x, stop, error);
        if (ok && stop < 0)
          vae_tiles_blend (tiler->out, x, (t.sx->start - t.x0) * os,
                           (t.sy->start - t.y0) * os, t.sx->start * os,
                           t.sy->start * os, t.sx->len * os, t.sy->len * os,
                           grid->xs, ix, grid->ys, iy, grid->overlap, os);
        vae_scratch_put (&tiler->scratch, x);
        if (! ok)
          return FALSE;
      }

  return TRUE;
}

/* A 2 x 2 box filter of @t: the input of a first pass at half resolution. */
static VaeTensor *
half_size (const VaeTensor  *t,
           GError          **error)
{
  const gsize h = VAE_T_H (t) / 2, w = VAE_T_W (t) / 2, tw = VAE_T_W (t);
  VaeTensor  *out = vae_tensor_new_3d_uninit (VAE_T_C (t), h, w, error);
  gsize       c, y, x;

  if (out == NULL)
    return NULL;
  for (c = 0; c < VAE_T_C (t); c++)
    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        {
          const gfloat *p = t->data + (c * VAE_T_H (t) + 2 * y) * tw + 2 * x;

          out->data[(c * h + y) * w + x] = 0.25f * (p[0] + p[1] + p[tw] + p[tw + 1]);
        }

  return out;
}

/* Statistics from the whole input at half resolution, untiled (measured
 * against the exact ones; see the top of this section): the decoder from
 * a 2 x 2-averaged latent, its untiled part run on that too, the encoder
 * from a 2 x 2-averaged image. */
static gboolean
low_res_pass (Tiler            *tiler,
              const VaeTensor  *input,
              VaeRun           *run,
              GError          **error)
{
  const Half           *half = tiler->half;
  g_autoptr (VaeTensor) small = half_size (input, error);
  VaeNormStats         *stats = run->norm_stats;
  VaeTensor            *x = NULL;
  gboolean              ok = FALSE;
  gsize                 h, w;

  if (small == NULL)
    return FALSE;
  h = VAE_T_H (small) / (tiler->decoder ? 1 : half->factor);
  w = VAE_T_W (small) / (tiler->decoder ? 1 : half->factor);

  run->norm_stats = NULL;
  x = tiler->decoder ? decoder_head (run, &tiler->scratch, half, FALSE, small, error)
                     : encoder_input (&tiler->scratch, small, error);
  ok = x != NULL &&
       (! tiler->decoder ||
        levels_forward (run, &tiler->scratch, half, 0, tiler->split, FALSE, FALSE, &x,
                        error));
  run->norm_stats = stats;
  if (ok)
    {
      vae_norm_stats_begin (stats, VAE_NORM_STATS_COLLECT, w, h, 0, 0, w, h);
      ok = tile_forward (tiler, run, &x, tiler->n_norms, error);
    }

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&tiler->scratch);
  vae_scratch_init (&tiler->scratch);

  return ok;
}

/* The passes that make the statistics, and their work. */
static gboolean
stats_passes (Tiler            *tiler,
              const Grid       *grid,
              const VaeTensor  *input,
              VaeKlStats        plan,
              VaeRun           *run,
              GError          **error)
{
  gint g;

  switch (plan)
    {
    case VAE_KL_STATS_EXACT:
      for (g = 0; g < tiler->n_norms; g++)
        {
          Grid     pass;
          gboolean ok;

          pass_grid (tiler, &pass, grid->w, grid->h, g);
          ok = tiles_pass (tiler, &pass, VAE_NORM_STATS_APPLY, g, run, error);
          grid_clear (&pass);
          if (! ok)
            return FALSE;
        }
      return TRUE;
    case VAE_KL_STATS_TILES:
      return tiles_pass (tiler, grid, VAE_NORM_STATS_COLLECT, tiler->n_norms,
                         run, error);
    case VAE_KL_STATS_LOW_RES:
      return low_res_pass (tiler, input, run, error);
    }

  return FALSE;
}

static gdouble
stats_flops (const Tiler *tiler,
             const Grid  *grid,
             VaeKlStats   plan)
{
  const Half *half = tiler->half;
  gdouble     flops = 0.0;
  gsize       h = grid->h / 2, w = grid->w / 2;
  gint        g;

  switch (plan)
    {
    case VAE_KL_STATS_EXACT:
      for (g = 0; g < tiler->n_norms; g++)
        {
          Grid pass;

          pass_grid (tiler, &pass, grid->w, grid->h, g);
          flops += grid_flops (tiler, &pass, g);
          grid_clear (&pass);
        }
      return flops;
    case VAE_KL_STATS_TILES:
      return grid_flops (tiler, grid, tiler->n_norms);
    case VAE_KL_STATS_LOW_RES:
      if (tiler->decoder)
        flops = decoder_head_flops (half, FALSE, h, w) +
                levels_flops (half, 0, tiler->split, FALSE, FALSE, &h, &w);
      return flops + tiled_cost (tiler, tiler->n_norms, grid->h / 2, grid->w / 2).flops;
    }

  return 0.0;
}

/* Bytes a tiled run of @tile image pixels a side may use in all, on h x
 * w latent pixels.  choose_tile() (vae-model.c) took the largest tile for
 * which an untiled run on a quarter more (kl_memory ()) fits the budget
 * beside two copies of the image and two 64-channel maps at latent
 * resolution; that sum is this run's budget (when the tile size was given,
 * the budget it implies).  The encoder's image and its padded copy are the
 * caller's, so it leaves them out. */
static gsize
tiled_budget (const Kl *kl,
              gboolean  decoder,
              gsize     h,
              gsize     w,
              gsize     tile)
{
  const gsize f = decoder ? kl->decoder.factor : kl->encoder.factor;

  return kl_memory ((gpointer) kl, decoder, tile + tile / 4, tile + tile / 4) +
         (2 * 64 * h * w + (decoder ? 2 * 3 * h * w * f * f : 0)) * sizeof (gfloat);
}

/* Plans a tiled run of @tile image pixels a side over h x w latent
 * pixels.  Every split is tried: the whole part (in bands) must fit the
 * budget, and the tiles of the last pass, no larger than @tile, must fit
 * it beside the whole maps the tiled part reads and writes; of those that
 * fit, the one with the least work wins.  The most tiled (the decoder's
 * split 0, the encoder's last) is the fallback that always runs, over the
 * budget if it must: the latent-resolution part cannot be tiled. */
static void
tiler_init (Tiler      *tiler,
            Grid       *grid,
            const Kl   *kl,
            gboolean    decoder,
            gsize       h,
            gsize       w,
            gsize       tile,
            gint        force_split)
{
  const Half *half = decoder ? &kl->decoder : &kl->encoder;
  const gint  fallback = decoder ? 0 : half->n_levels;
  gdouble     best_work = G_MAXDOUBLE;
  gint        best = fallback, split;

  memset (tiler, 0, sizeof *tiler);
  tiler->half = half;
  tiler->decoder = decoder;
  tiler->budget = tiled_budget (kl, decoder, h, w, tile);
  tiler->max_tile = MAX (tile / half->factor, 2);
  vae_scratch_init (&tiler->scratch);

  for (split = 0; split <= half->n_levels && force_split < 0; split++)
    {
      gsize   margin, th, tw;
      gdouble work;
      Grid    g;

      tiler_set_split (tiler, split);
      if (split != fallback && whole_memory (tiler, split, h, w) > tiler->budget)
        continue;

      /* The tiled part's whole input (decoder) and output. */
      tiler->fixed = (decoder ? tiler_channels (tiler, FALSE) * tiler->in_scale * tiler->in_scale +
                                3 * half->factor * half->factor
                              : tiler_channels (tiler, TRUE) * tiler->out_scale * tiler->out_scale) *
                     h * w * sizeof (gfloat);
      margin = tiled_margin (tiler, -1);
      th = pass_tile (tiler, -1, margin);
      if (split != fallback &&
          tiler->fixed + tiled_cost (tiler, -1, th + 2 * margin, th + 2 * margin).memory >
          tiler->budget)
        continue;

      pass_grid (tiler, &g, w, h, -1);
      /* levels_flops() moves these on */
      th = decoder ? h : h * tiler->out_scale;
      tw = decoder ? w : w * tiler->out_scale;
      work = stats_flops (tiler, &g, VAE_KL_STATS_EXACT) + grid_flops (tiler, &g, -1) +
             (decoder ? levels_flops (half, 0, split, FALSE, TRUE, &th, &tw)
                      : levels_flops (half, split, half->n_levels, TRUE, TRUE, &th, &tw));
      grid_clear (&g);
      if (work < best_work)
        {
          best_work = work;
          best = split;
        }
    }

  if (force_split >= 0)
    best = MIN (force_split, half->n_levels);
  tiler_set_split (tiler, best);
  tiler->fixed = (decoder ? tiler_channels (tiler, FALSE) * tiler->in_scale * tiler->in_scale +
                            3 * half->factor * half->factor
                          : tiler_channels (tiler, TRUE) * tiler->out_scale * tiler->out_scale) *
                 h * w * sizeof (gfloat);
  pass_grid (tiler, grid, w, h, -1);
  best_work = stats_flops (tiler, grid, VAE_KL_STATS_EXACT) + grid_flops (tiler, grid, -1);
  g_debug ("KL %s tiles: levels %s %d whole, %d GroupNorms tiled, "
           "%" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT " tiles of %" G_GSIZE_FORMAT
           " latent pixels, margin %" G_GSIZE_FORMAT "; budget %" G_GSIZE_FORMAT
           " MiB, whole part %" G_GSIZE_FORMAT " MiB; tiles %.1f TFLOP",
           decoder ? "decode" : "encode", decoder ? "before" : "from",
           tiler->split, tiler->n_norms, (gsize) grid->xs->len,
           (gsize) grid->ys->len, grid->tile, grid->margin, tiler->budget >> 20,
           whole_memory (tiler, best, h, w) >> 20, best_work / 1e12);
}

static void
tiler_clear (Tiler *tiler,
             Grid  *grid)
{
  vae_scratch_clear (&tiler->scratch);
  grid_clear (grid);
}

gboolean
vae_kl_decode_tiled_with (gpointer          self,
                          const VaeTensor  *latent,
                          VaeTensor       **image,
                          gsize             tile,
                          VaeKlStats        plan,
                          gint              split,
                          VaeRun           *run,
                          GError          **error)
{
  const Half           *d = &((Kl *) self)->decoder;
  const gsize           h = VAE_T_H (latent), w = VAE_T_W (latent);
  VaeNormStats         *saved = run->norm_stats;
  g_autoptr (VaeTensor) out = NULL;
  Tiler                 tiler;
  Grid                  grid;
  VaeTensor            *x = NULL;
  gboolean              ok = FALSE;
  gsize                 ph = h, pw = w;

  *image = NULL;
  if (! check_latent (d, latent, error))
    return FALSE;
  if (plan == VAE_KL_STATS_LOW_RES && (h % 2 != 0 || w % 2 != 0))
    plan = VAE_KL_STATS_EXACT;

  tiler_init (&tiler, &grid, self, TRUE, h, w, tile, split);
  run->norm_stats = NULL;
  vae_run_begin (run, "decode",
                 decoder_head_flops (d, TRUE, h, w) +
                 levels_flops (d, 0, tiler.split, FALSE, TRUE, &ph, &pw) +
                 stats_flops (&tiler, &grid, plan) + grid_flops (&tiler, &grid, -1));

  /* The untiled part on the whole latent; its buffers (the attention's
   * above all) go before the tiles start. */
  x = decoder_head (run, &tiler.scratch, d, TRUE, latent, error);
  if (x == NULL ||
      ! levels_forward (run, &tiler.scratch, d, 0, tiler.split, FALSE, TRUE, &x, error))
    goto out;
  vae_scratch_clear (&tiler.scratch);
  vae_scratch_init (&tiler.scratch);
  tiler.source = x;
  out = vae_tensor_new_3d (3, h * d->factor, w * d->factor, error);
  if (out == NULL)
    goto out;
  tiler.out = out;

  run->norm_stats = vae_norm_stats_new ();
  if (! stats_passes (&tiler, &grid, latent, plan, run, error) ||
      ! tiles_pass (&tiler, &grid, VAE_NORM_STATS_APPLY, -1, run, error))
    goto out;

  decoder_output (out);
  *image = g_steal_pointer (&out);
  ok = TRUE;

out:
  g_clear_pointer (&run->norm_stats, vae_norm_stats_free);
  run->norm_stats = saved;
  if (x)
    vae_tensor_unref (x);
  tiler_clear (&tiler, &grid);

  return ok;
}

gboolean
vae_kl_encode_tiled_with (gpointer          self,
                          const VaeTensor  *image,
                          VaeTensor       **latent,
                          gsize             tile,
                          VaeKlStats        plan,
                          gint              split,
                          VaeRun           *run,
                          GError          **error)
{
  const Half   *e = &((Kl *) self)->encoder;
  const gsize   f = e->factor;
  const gsize   h = VAE_T_H (image) / f, w = VAE_T_W (image) / f;
  VaeNormStats *saved = run->norm_stats;
  Tiler         tiler;
  Grid          grid;
  VaeTensor    *body = NULL;
  gboolean      ok = FALSE;
  gsize         bh, bw;

  *latent = NULL;
  if (plan == VAE_KL_STATS_LOW_RES && (h % 2 != 0 || w % 2 != 0))
    plan = VAE_KL_STATS_EXACT;

  tiler_init (&tiler, &grid, self, FALSE, h, w, tile, split);
  bh = h * tiler.out_scale;
  bw = w * tiler.out_scale;
  run->norm_stats = NULL;
  vae_run_begin (run, "encode",
                 stats_flops (&tiler, &grid, plan) + grid_flops (&tiler, &grid, -1) +
                 levels_flops (e, tiler.split, e->n_levels, TRUE, TRUE, &bh, &bw) +
                 encoder_tail_flops (e, TRUE, h, w));

  tiler.source = image;
  body = vae_tensor_new_3d (tiler_channels (&tiler, TRUE), h * tiler.out_scale,
                            w * tiler.out_scale, error);
  if (body == NULL)
    goto out;
  tiler.out = body;

  run->norm_stats = vae_norm_stats_new ();
  if (! stats_passes (&tiler, &grid, image, plan, run, error) ||
      ! tiles_pass (&tiler, &grid, VAE_NORM_STATS_APPLY, -1, run, error))
    goto out;
  g_clear_pointer (&run->norm_stats, vae_norm_stats_free);

  /* The tiles' buffers go before the untiled part needs its own. */
  vae_scratch_clear (&tiler.scratch);
  vae_scratch_init (&tiler.scratch);
  if (levels_forward (run, &tiler.scratch, e, tiler.split, e->n_levels, TRUE, TRUE, &body,
                      error))
    *latent = encoder_tail (run, &tiler.scratch, e, TRUE, &body, error);
  ok = *latent != NULL;

out:
  g_clear_pointer (&run->norm_stats, vae_norm_stats_free);
  run->norm_stats = saved;
  if (body)
    vae_tensor_unref (body);
  tiler_clear (&tiler, &grid);

  return ok;
}

static gboolean
kl_decode_tiled (gpointer          self,
                 const VaeTensor  *latent,
                 VaeTensor       **image,
                 gsize             tile,
                 VaeRun           *run,
                 GError          **error)
{
  return vae_kl_decode_tiled_with (self, latent, image, tile, VAE_KL_STATS_EXACT,
                                   -1, run, error);
}

static gboolean
kl_encode_tiled (gpointer          self,
                 const VaeTensor  *image,
                 VaeTensor       **latent,
                 gsize             tile,
                 VaeRun           *run,
                 GError          **error)
{
  return vae_kl_encode_tiled_with (self, image, latent, tile, VAE_KL_STATS_EXACT,
                                   -1, run, error);
}

static gdouble
kl_flops (gpointer self,
          gboolean decoder,
          gsize    width,
          gsize    height)
{
  const Kl *kl = self;

  if (decoder)
    return kl->decoder.present
           ? half_flops (&kl->decoder, TRUE, height / kl->decoder.factor,
                         width / kl->decoder.factor)
           : 0.0;

  return kl->encoder.present ? half_flops (&kl->encoder, FALSE, height, width)
                             : 0.0;
}

const VaeArchClass vae_arch_autoencoder_kl = {
  .name = "autoencoder-kl",
  .probe = kl_probe,
  .create = kl_create,
  .destroy = kl_destroy,
  .can_encode = kl_can_encode,
  .can_decode = kl_can_decode,
  .encode = kl_encode,
  .decode = kl_decode,
  .flops = kl_flops,
  .memory = kl_memory,
  .encode_tiled = kl_encode_tiled,
  .decode_tiled = kl_decode_tiled,
};
