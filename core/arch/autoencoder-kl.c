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
 * their square.  Tiled runs hold less (autoencoder-kl-tiles.c): their
 * whole part runs in bands (autoencoder-kl-bands.c).
 */

#include <math.h>
#include <string.h>

#include "../vae-blas.h"
#include "../vae-error.h"

#include "autoencoder-kl-private.h"

#define MAX_WIDTH    65536
#define TOKEN_BLOCK  128
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
gboolean
vae_kl_norm_silu (VaeRun           *run,
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

gboolean
vae_kl_resnet_forward (VaeRun        *run,
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
          ! vae_kl_norm_silu (run, *x, r->gamma1, r->beta1, *x, error))
        goto out;
      t = *x;
    }
  else
    {
      t = vae_scratch_get (scratch, c_in, h, w, error);
      if (t == NULL ||
          ! vae_kl_norm_silu (run, *x, r->gamma1, r->beta1, t, error))
        goto out;
    }

  u = vae_scratch_get (scratch, c_out, h, w, error);
  if (u == NULL ||
      ! vae_op_conv2d (run, &r->conv1, t, NULL, VAE_ACT_NONE, &u, error))
    goto out;
  if (t != *x)
    vae_scratch_put (scratch, t);
  t = NULL;

  if (! vae_kl_norm_silu (run, u, r->gamma2, r->beta2, u, error))
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

gboolean
vae_kl_project (VaeRun        *run,
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
  if (! vae_kl_project (run, &job, FALSE, error))
    goto out;
  job.out = k->data;
  job.weight = a->wk;
  job.bias = a->bk;
  if (! vae_kl_project (run, &job, FALSE, error))
    goto out;
  job.out = v->data;
  job.weight = a->wv;
  job.bias = a->bv;
  if (! vae_kl_project (run, &job, FALSE, error))
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
  ok = vae_kl_project (run, &job, TRUE, error);

out:
  vae_scratch_put (scratch, t);
  vae_scratch_put (scratch, q);
  vae_scratch_put (scratch, k);
  vae_scratch_put (scratch, v);

  return ok;
}

gboolean
vae_kl_conv_step (VaeRun           *run,
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
  return banded ? vae_kl_resnet_banded (run, scratch, r, x, error)
                : vae_kl_resnet_forward (run, scratch, r, x, error);
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
      ! (banded ? vae_kl_attention_banded (run, scratch, &half->attention, x, error)
                : attention_forward (run, scratch, &half->attention, *x, error)))
    return FALSE;

  return resnet_step (run, scratch, &half->mid2, banded, x, error);
}

/* Levels [first, last), the resampling conv of the last one only with
 * @last_resample; the ResNet blocks @banded or not. */
gboolean
vae_kl_levels_forward (VaeRun      *run,
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
          ! vae_kl_conv_step (run, scratch, &level->resample, x, error))
        return FALSE;
    }

  return TRUE;
}

/* The last GroupNorm + SiLU in place, then the output conv into a tensor
 * of its own: scratch maps may be far larger than the result. */
VaeTensor *
vae_kl_head_forward (VaeRun           *run,
                     const Half       *half,
                     const VaeConv2d  *conv,
                     VaeTensor        *x,
                     GError          **error)
{
  VaeTensor *y = NULL;

  if (! vae_kl_norm_silu (run, x, half->gamma_out, half->beta_out, x, error) ||
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

static gdouble
resnet_step_flops (const Resnet *r,
                   gboolean      banded,
                   gsize         h,
                   gsize         w)
{
  if (! banded)
    return resnet_flops (r, h, w);

  return vae_kl_banded_conv_flops (&r->conv1, h, w) +
         vae_kl_banded_conv_flops (&r->conv2, h, w) +
         (r->has_shortcut ? vae_kl_banded_conv_flops (&r->shortcut, h, w) : 0.0);
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
    flops += vae_kl_attention_banded_flops (c, h, w);
  else if (half->has_attention)
    flops += 4 * 2.0 * h * w * c * c + vae_attention_flops (h * w, 1, c);

  return flops;
}

/* The same levels on an input of *h x *w, which they update to their
 * output size. */
gdouble
vae_kl_levels_flops (const Half *half,
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
gdouble
vae_kl_decoder_head_flops (const Half *d,
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
  gdouble flops = vae_kl_levels_flops (d, 0, d->n_levels, TRUE, FALSE, &h, &w);

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

  return flops + vae_kl_levels_flops (e, 0, e->n_levels, TRUE, FALSE, &h, &w);
}

/* ... and the rest on h x w latent pixels: mid, conv_out, quant_conv. */
gdouble
vae_kl_encoder_tail_flops (const Half *e,
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
    return vae_kl_decoder_head_flops (half, FALSE, h, w) +
           decoder_tail_flops (half, h, w, TRUE);

  return encoder_body_flops (half, h, w) +
         vae_kl_encoder_tail_flops (half, FALSE, h / half->factor, w / half->factor);
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
VaeTensor *
vae_kl_encoder_tail (VaeRun      *run,
                     VaeScratch  *scratch,
                     const Half  *e,
                     gboolean     banded,
                     VaeTensor  **x,
                     GError     **error)
{
  VaeTensor *y, *z = NULL;

  if (! mid_forward (run, scratch, e, banded, x, error) ||
      ! (y = vae_kl_head_forward (run, e, &e->conv_out, *x, error)))
    return NULL;
  if (! e->has_quant)
    return y;

  if (! vae_op_conv2d (run, &e->quant, y, NULL, VAE_ACT_NONE, &z, error))
    z = NULL;
  vae_tensor_unref (y);

  return z;
}

/* [0, 1] -> [-1, 1] into a scratch map. */
VaeTensor *
vae_kl_encoder_input (VaeScratch       *scratch,
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

  x = vae_kl_encoder_input (&scratch, image, error);
  if (x != NULL &&
      vae_kl_conv_step (run, &scratch, &e->conv_in, &x, error) &&
      vae_kl_levels_forward (run, &scratch, e, 0, e->n_levels, TRUE, FALSE, &x, error))
    *latent = vae_kl_encoder_tail (run, &scratch, e, FALSE, &x, error);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *latent != NULL;
}

gboolean
vae_kl_check_latent (const Half       *d,
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
VaeTensor *
vae_kl_decoder_head (VaeRun           *run,
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
          ! vae_kl_conv_step (run, scratch, &d->conv_in, &x, error))
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
  if (! vae_kl_levels_forward (run, scratch, d, 0, d->n_levels, TRUE, FALSE, x, error))
    return NULL;

  return vae_kl_head_forward (run, d, &d->conv_out, *x, error);
}

/* [-1, 1] -> [0, 1]; vae_model_decode clamps. */
void
vae_kl_decoder_output (VaeTensor *y)
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
  if (! vae_kl_check_latent (d, latent, error))
    return FALSE;

  vae_run_begin (run, "decode", half_flops (d, TRUE, VAE_T_H (latent),
                                            VAE_T_W (latent)));
  vae_scratch_init (&scratch);

  x = vae_kl_decoder_head (run, &scratch, d, FALSE, latent, error);
  if (x != NULL)
    *image = decoder_tail (run, &scratch, d, &x, error);
  if (*image)
    vae_kl_decoder_output (*image);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *image != NULL;
}

/* --- memory ----------------------------------------------------------------- */

/* Peak feature maps of an untiled run (a VaeScratch keeps few maps beyond
 * those live at one time): a ResNet block holds three maps, the attention
 * five, a resampling conv its input and output.  In floats. */
gsize
vae_kl_resnet_memory (const Resnet *r,
                      gsize         n)
{
  return ((gsize) r->conv1.c_in + 2 * (gsize) r->conv1.c_out) * n;
}

static gsize
mid_memory (const Half *half,
            gsize       n)
{
  gsize peak = MAX (vae_kl_resnet_memory (&half->mid1, n),
                    vae_kl_resnet_memory (&half->mid2, n));

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
        peak = MAX (peak, vae_kl_resnet_memory (&level->resnets[j], *n));
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
gsize
vae_kl_memory (gpointer self,
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
  .memory = vae_kl_memory,
  .plan = vae_kl_plan,
  .encode_tiled = kl_encode_tiled,
  .decode_tiled = kl_decode_tiled,
};
