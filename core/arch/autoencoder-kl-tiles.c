/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

/* Tiled decoding and encoding that gives the untiled result.
 *
 * Two things in a KL VAE see the whole image: the mid-block attention and
 * the GroupNorm statistics.  Everything at latent resolution runs whole
 * (the decoder's post_quant_conv, conv_in and mid block; the encoder's mid
 * block, norm_out, conv_out and quant_conv), and so do the levels next to
 * it when that fits the budget and saves work: the decoder's first
 * levels, the encoder's last ones.  The whole part runs in bands of rows
 * (autoencoder-kl-bands.c), which keeps a 4096^2 SD decode's mid block
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

#include <math.h>
#include <string.h>

#include "../vae-error.h"
#include "../vae-tiling.h"

#include "autoencoder-kl-private.h"

#define OVERLAP 2   /* latent pixels between tiles */

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
  gsize            h, w;       /* the latent grid */
  VaePadMode       pad_mode;   /* how the encoder's image is read past its edge */
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
          cost.memory = MAX (cost.memory,
                             vae_kl_resnet_memory (r, h * w) * sizeof (gfloat));
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
                vae_kl_mid_banded_memory (half, h, w));
  else
    peak = MAX (vae_kl_mid_banded_memory (half, h, w),
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
          peak = MAX (peak, vae_kl_resnet_banded_memory (&level->resnets[j], lh, lw));
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

/* One tile: what is computed (its span and margin, clipped to the grid)
 * and its own region, which the tiles partition, for the statistics. */
typedef struct
{
  gsize x0, y0, x1, y1;
  gsize own_x0, own_y0, own_x1, own_y1;
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
grid_init (VaeTileGrid *grid,
           gsize        w,
           gsize        h,
           gsize        tile,
           gsize        margin)
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

/* [*a, *b): what span i of @spans owns along an axis of @size. */
static void
span_own (const GArray *spans,
          guint         i,
          gsize         size,
          gsize         overlap,
          gsize        *a,
          gsize        *b)
{
  /* Neighbours overlap by exactly @overlap; its middle divides them. */
  *a = i == 0 ? 0 : g_array_index (spans, VaeSpan, i).start + overlap / 2;
  *b = i + 1 == spans->len
       ? size : g_array_index (spans, VaeSpan, i + 1).start + overlap / 2;
}

static void
grid_tile (const VaeTileGrid *grid,
           guint              ix,
           guint              iy,
           Tile              *t)
{
  vae_tile_grid_extent (grid, ix, iy, &t->x0, &t->y0, &t->x1, &t->y1);
  span_own (grid->xs, ix, grid->w, grid->overlap, &t->own_x0, &t->own_x1);
  span_own (grid->ys, iy, grid->h, grid->overlap, &t->own_y0, &t->own_y1);
}

/* Work of the tiled part up to @stop over every tile of @grid. */
static gdouble
grid_flops (const Tiler       *tiler,
            const VaeTileGrid *grid,
            gint               stop)
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

  t = MIN (t, MAX (tiler->h, tiler->w));
  while (t > 2 &&
         tiler->fixed + tiled_cost (tiler, stop, MIN (t + 2 * margin, tiler->h),
                                    MIN (t + 2 * margin, tiler->w)).memory >
         tiler->budget)
    t -= MAX (t / 16, 1);

  return t;
}

static void
pass_grid (const Tiler *tiler,
           VaeTileGrid *grid,
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

  return vae_op_group_norm (run, &tiler->half->norm_out, x, VAE_ACT_NONE, x,
                            error);
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
  if (vae_kl_norm_silu (run, &r->norm1, x, t, error))
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
      ! vae_op_conv2d_step (run, &tiler->scratch,
                            &half->levels[first - 1].resample, VAE_ACT_NONE, x,
                            error))
    return FALSE;
  if (! tiler->decoder &&
      ! vae_op_conv2d_step (run, &tiler->scratch, &half->conv_in, VAE_ACT_NONE,
                            x, error))
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
          if (! vae_kl_resnet_forward (run, &tiler->scratch, r, x, error))
            return FALSE;
        }
      if (level->has_resample &&
          ! vae_op_conv2d_step (run, &tiler->scratch, &level->resample,
                                VAE_ACT_NONE, x, error))
        return FALSE;
    }

  if (! tiler->decoder)
    return TRUE;
  if (stop >= gn)
    return stop_here (tiler, run, *x, stop, gn, &stopped, error);

  y = vae_kl_head_forward (run, half, &half->conv_out, *x, error);
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
  VaeTensor       *out = vae_scratch_get (&tiler->scratch, VAE_T_C (src), h, w, error);
  gsize            i;

  if (out == NULL)
    return NULL;
  /* The encoder's image is read as padded, and mapped to [-1, 1]. */
  vae_tiles_crop_into (src, tiler->pad_mode, x, y, out);
  if (! tiler->decoder)
    for (i = 0; i < out->n_elements; i++)
      out->data[i] = out->data[i] * 2.0f - 1.0f;

  return out;
}

/* One pass over the tiles of @grid: statistics in @mode, each tile up to
 * @stop (see tile_forward()); a whole pass (stop < 0) blends the tiles
 * into tiler->out. */
static gboolean
tiles_pass (Tiler             *tiler,
            const VaeTileGrid *grid,
            VaeNormStatsMode   mode,
            gint               stop,
            VaeRun            *run,
            GError           **error)
{
  const gsize is = tiler->in_scale;
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
          vae_tiles_blend (tiler->out, x, grid, ix, iy);
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
  x = tiler->decoder
      ? vae_kl_decoder_head (run, &tiler->scratch, half, FALSE, small, error)
      : vae_kl_encoder_input (&tiler->scratch, small, error);
  ok = x != NULL &&
       (! tiler->decoder ||
        vae_kl_levels_forward (run, &tiler->scratch, half, 0, tiler->split,
                               FALSE, FALSE, &x, error));
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
stats_passes (Tiler             *tiler,
              const VaeTileGrid *grid,
              const VaeTensor   *input,
              VaeKlStats         plan,
              VaeRun            *run,
              GError           **error)
{
  gint g;

  switch (plan)
    {
    case VAE_KL_STATS_EXACT:
      for (g = 0; g < tiler->n_norms; g++)
        {
          VaeTileGrid pass;
          gboolean    ok;

          pass_grid (tiler, &pass, grid->w, grid->h, g);
          ok = tiles_pass (tiler, &pass, VAE_NORM_STATS_APPLY, g, run, error);
          vae_tile_grid_clear (&pass);
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
stats_flops (const Tiler       *tiler,
             const VaeTileGrid *grid,
             VaeKlStats         plan)
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
          VaeTileGrid pass;

          pass_grid (tiler, &pass, grid->w, grid->h, g);
          flops += grid_flops (tiler, &pass, g);
          vae_tile_grid_clear (&pass);
        }
      return flops;
    case VAE_KL_STATS_TILES:
      return grid_flops (tiler, grid, tiler->n_norms);
    case VAE_KL_STATS_LOW_RES:
      if (tiler->decoder)
        flops = vae_kl_decoder_head_flops (half, FALSE, h, w) +
                vae_kl_levels_flops (half, 0, tiler->split, FALSE, FALSE, &h, &w);
      return flops + tiled_cost (tiler, tiler->n_norms, grid->h / 2, grid->w / 2).flops;
    }

  return 0.0;
}

/* What of a budget the feature maps a tiled run plans may take: the rest
 * is for what the plan does not count, above all the Winograd transforms
 * of the weights a conv makes on each call (36 MiB for 512 x 512
 * channels) and the ops' per-thread buffers.  An SD-size decode at 4096^2
 * peaked at 590 MiB above its planned maps, weights (335 MiB) included. */
static gsize
maps_budget (gsize budget)
{
  return budget - budget / 8;
}

/* Planned last-pass tiles are at least this many margins wide, or the
 * split is not taken: narrower tiles would be mostly margin, and the
 * work would grow faster than the pixels. */
#define MIN_TILE_MARGINS 2

/* Bytes of the whole maps the tiled part reads and writes: the decoder's
 * input map and output image, the encoder's output map. */
static gsize
tiler_fixed (const Tiler *tiler,
             gsize        h,
             gsize        w)
{
  const Half *half = tiler->half;

  return (tiler->decoder
          ? tiler_channels (tiler, FALSE) * tiler->in_scale * tiler->in_scale +
            3 * half->factor * half->factor
          : tiler_channels (tiler, TRUE) * tiler->out_scale * tiler->out_scale) *
         h * w * sizeof (gfloat);
}

/* Peak bytes of the run with the split set: its whole part, or its last
 * pass's tiles beside the maps they read and write. */
static gsize
tiler_memory (const Tiler       *tiler,
              const VaeTileGrid *grid)
{
  const gsize t = grid->tile + 2 * grid->margin;

  return MAX (whole_memory (tiler, tiler->split, grid->h, grid->w),
              tiler->fixed + tiled_cost (tiler, -1, MIN (t, grid->h), MIN (t, grid->w)).memory);
}

/* Plans a tiled run within @budget bytes over h x w latent pixels, in
 * tiles of at most @tile image pixels a side.  Every split is tried: the
 * whole part (in bands) must fit the budget, and the tiles of the last
 * pass must fit it beside the whole maps the tiled part reads and writes,
 * with @min_tile: at least MIN_TILE_MARGINS margins wide; of those that
 * fit, the one with the least work wins.  FALSE when none fits (the
 * latent-resolution part cannot be tiled), with *need the least a split
 * would need; with @force_split >= 0, that split, fitting or not. */
static gboolean
tiler_init (Tiler       *tiler,
            VaeTileGrid *grid,
            const Kl    *kl,
            gboolean     decoder,
            gsize        h,
            gsize        w,
            gsize        tile,
            gsize        budget,
            gboolean     min_tile,
            gint         force_split,
            gsize       *need)
{
  const Half *half = decoder ? &kl->decoder : &kl->encoder;
  gdouble     best_work = G_MAXDOUBLE;
  gint        best = -1, split;

  memset (tiler, 0, sizeof *tiler);
  memset (grid, 0, sizeof *grid);
  tiler->half = half;
  tiler->decoder = decoder;
  tiler->budget = budget;
  tiler->h = h;
  tiler->w = w;
  tiler->max_tile = MAX (tile / half->factor, 2);
  vae_scratch_init (&tiler->scratch);
  *need = G_MAXSIZE;

  for (split = 0; split <= half->n_levels && force_split < 0; split++)
    {
      gsize       margin, th, tw, whole, least;
      gdouble     work;
      VaeTileGrid g;

      tiler_set_split (tiler, split);
      tiler->fixed = tiler_fixed (tiler, h, w);
      whole = whole_memory (tiler, split, h, w);
      margin = tiled_margin (tiler, -1);
      th = pass_tile (tiler, -1, margin);
      /* What this split needs at the least: its whole part, and its
       * narrowest tiles beside the whole maps. */
      least = min_tile ? MIN (MIN_TILE_MARGINS * margin, MAX (h, w)) : 2;
      *need = MIN (*need, MAX (whole, tiler->fixed +
                               tiled_cost (tiler, -1, MIN (least + 2 * margin, h),
                                           MIN (least + 2 * margin, w)).memory));
      if (whole > budget || th < least ||
          tiler->fixed + tiled_cost (tiler, -1, MIN (th + 2 * margin, h),
                                     MIN (th + 2 * margin, w)).memory > budget)
        continue;

      pass_grid (tiler, &g, w, h, -1);
      /* vae_kl_levels_flops() moves these on */
      th = decoder ? h : h * tiler->out_scale;
      tw = decoder ? w : w * tiler->out_scale;
      work = stats_flops (tiler, &g, VAE_KL_STATS_EXACT) + grid_flops (tiler, &g, -1) +
             (decoder
              ? vae_kl_levels_flops (half, 0, split, FALSE, TRUE, &th, &tw)
              : vae_kl_levels_flops (half, split, half->n_levels, TRUE, TRUE,
                                     &th, &tw));
      vae_tile_grid_clear (&g);
      if (work < best_work)
        {
          best_work = work;
          best = split;
        }
    }

  if (force_split >= 0)
    best = MIN (force_split, half->n_levels);
  if (best < 0)
    return FALSE;
  tiler_set_split (tiler, best);
  tiler->fixed = tiler_fixed (tiler, h, w);
  pass_grid (tiler, grid, w, h, -1);
  best_work = stats_flops (tiler, grid, VAE_KL_STATS_EXACT) + grid_flops (tiler, grid, -1);
  g_debug ("KL %s tiles: levels %s %d whole, %d GroupNorms tiled, "
           "%" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT " tiles of %" G_GSIZE_FORMAT
           " latent pixels, margin %" G_GSIZE_FORMAT "; budget %" G_GSIZE_FORMAT
           " MiB, whole part %" G_GSIZE_FORMAT " MiB, peak %" G_GSIZE_FORMAT
           " MiB; tiles %.1f TFLOP",
           decoder ? "decode" : "encode", decoder ? "before" : "from",
           tiler->split, tiler->n_norms, (gsize) grid->xs->len,
           (gsize) grid->ys->len, grid->tile, grid->margin, tiler->budget >> 20,
           whole_memory (tiler, best, h, w) >> 20, tiler_memory (tiler, grid) >> 20,
           best_work / 1e12);

  return TRUE;
}

static void
tiler_clear (Tiler       *tiler,
             VaeTileGrid *grid)
{
  vae_scratch_clear (&tiler->scratch);
  vae_tile_grid_clear (grid);
}

/* The whole work of a tiled run as planned: the whole part, the
 * statistics passes and the last pass. */
static gdouble
tiler_flops (const Tiler       *tiler,
             const VaeTileGrid *grid,
             VaeKlStats         plan)
{
  const Half *half = tiler->half;
  gsize       h = grid->h, w = grid->w;

  if (tiler->decoder)
    return vae_kl_decoder_head_flops (half, TRUE, h, w) +
           vae_kl_levels_flops (half, 0, tiler->split, FALSE, TRUE, &h, &w) +
           stats_flops (tiler, grid, plan) + grid_flops (tiler, grid, -1);

  h *= tiler->out_scale;
  w *= tiler->out_scale;

  return stats_flops (tiler, grid, plan) + grid_flops (tiler, grid, -1) +
         vae_kl_levels_flops (half, tiler->split, half->n_levels, TRUE, TRUE, &h, &w) +
         vae_kl_encoder_tail_flops (half, TRUE, grid->h, grid->w);
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
  VaeTileGrid           grid;
  VaeTensor            *x = NULL;
  gboolean              ok = FALSE;
  gsize                 need;

  *image = NULL;
  if (! vae_kl_check_latent (d, latent, error))
    return FALSE;
  if (plan == VAE_KL_STATS_LOW_RES && (h % 2 != 0 || w % 2 != 0))
    plan = VAE_KL_STATS_EXACT;

  if (! tiler_init (&tiler, &grid, self, TRUE, h, w, tile,
                    maps_budget (run->memory_budget), FALSE, split, &need))
    {
      vae_plan_set_error (error, TRUE, w * d->factor, h * d->factor, need + need / 7,
                          run->memory_budget);
      tiler_clear (&tiler, &grid);
      return FALSE;
    }
  run->norm_stats = NULL;
  vae_run_begin (run, "decode", tiler_flops (&tiler, &grid, plan));

  /* The untiled part on the whole latent; its buffers (the attention's
   * above all) go before the tiles start. */
  x = vae_kl_decoder_head (run, &tiler.scratch, d, TRUE, latent, error);
  if (x == NULL ||
      ! vae_kl_levels_forward (run, &tiler.scratch, d, 0, tiler.split, FALSE,
                               TRUE, &x, error))
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

  vae_kl_decoder_output (out);
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
  /* The image need not be padded: its tiles are read as padded. */
  const gsize   h = (VAE_T_H (image) + f - 1) / f, w = (VAE_T_W (image) + f - 1) / f;
  VaeNormStats *saved = run->norm_stats;
  Tiler         tiler;
  VaeTileGrid   grid;
  VaeTensor    *body = NULL;
  gboolean      ok = FALSE;
  gsize         need;

  *latent = NULL;
  /* The half-resolution pass (a measurement) reads the whole image. */
  if (plan == VAE_KL_STATS_LOW_RES &&
      (h % 2 != 0 || w % 2 != 0 || VAE_T_H (image) != h * f || VAE_T_W (image) != w * f))
    plan = VAE_KL_STATS_EXACT;

  if (! tiler_init (&tiler, &grid, self, FALSE, h, w, tile,
                    maps_budget (run->memory_budget), FALSE, split, &need))
    {
      vae_plan_set_error (error, FALSE, w * f, h * f, need + need / 7,
                          run->memory_budget);
      tiler_clear (&tiler, &grid);
      return FALSE;
    }
  run->norm_stats = NULL;
  vae_run_begin (run, "encode", tiler_flops (&tiler, &grid, plan));

  tiler.source = image;
  tiler.pad_mode = run->pad_mode;
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
  if (vae_kl_levels_forward (run, &tiler.scratch, e, tiler.split, e->n_levels,
                             TRUE, TRUE, &body, error))
    *latent = vae_kl_encoder_tail (run, &tiler.scratch, e, TRUE, &body, error);
  ok = *latent != NULL;

out:
  g_clear_pointer (&run->norm_stats, vae_norm_stats_free);
  run->norm_stats = saved;
  if (body)
    vae_tensor_unref (body);
  tiler_clear (&tiler, &grid);

  return ok;
}

gboolean
vae_kl_plan (gpointer   self,
             gboolean   decoder,
             gsize      width,
             gsize      height,
             gboolean   copy,
             gsize      budget,
             gsize      max_tile,
             VaePlan   *plan,
             GError   **error)
{
  const Kl   *kl = self;
  const Half *half = decoder ? &kl->decoder : &kl->encoder;
  const gsize f = half->factor;
  const gsize image = 3 * width * height * sizeof (gfloat);
  gsize       tile, need;
  Tiler       tiler;
  VaeTileGrid grid;
  gboolean    ok;

  /* Whole: every map at once, beside the encoder's padded copy of its
   * input or the decoder's cropped copy of its output. */
  plan->tile = 0;
  plan->flops = vae_arch_autoencoder_kl.flops (self, decoder, width, height);
  plan->memory = vae_kl_memory (self, decoder, width, height) + (copy ? image : 0);
  if (plan->memory <= budget && (max_tile == 0 || max_tile >= MAX (width, height)))
    return TRUE;

  /* Tiled: no larger than asked, or than the image; the tiler takes the
   * largest that fit.  The encoder reads its tiles from the unpadded
   * image; the decoder's output may be cropped into a copy after the
   * tiles are gone. */
  tile = max_tile > 0 ? MIN (max_tile, MAX (width, height)) : MAX (width, height);
  ok = tiler_init (&tiler, &grid, kl, decoder, height / f, width / f, tile,
                   maps_budget (budget), max_tile == 0, -1, &need);
  need += need / 7;
  if (ok && decoder && copy && 2 * image > budget)
    {
      need = 2 * image;
      ok = FALSE;
    }
  if (! ok)
    {
      vae_plan_set_error (error, decoder, width, height, need, budget);
      tiler_clear (&tiler, &grid);
      return FALSE;
    }

  plan->tile = tile;
  plan->flops = tiler_flops (&tiler, &grid, VAE_KL_STATS_EXACT);
  plan->memory = MAX (tiler_memory (&tiler, &grid), decoder && copy ? 2 * image : 0);
  tiler_clear (&tiler, &grid);

  return TRUE;
}
