/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "../vae-error.h"
#include "../vae-image.h"
#include "../vae-tiling.h"

#include "taesd-private.h"

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

/* Peak bytes of feature maps while vae_taesd_half_forward () runs layers [first,
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
            gsize ho = h, wo = w;

            vae_taesd_layer_size (layer, &ho, &wo);
            now = channels * h * w + (gsize) layer->conv.c_out * ho * wo;
            channels = layer->conv.c_out;
          }
          break;
        case LAYER_BLOCK:
          now = 3 * (gsize) layer->c0.c_out * h * w +
                (layer->has_pool ? (gsize) layer->pool_in.c_out * h * w : 0);
          channels = layer->c0.c_out;
          break;
        case LAYER_UPSAMPLE:
          now = 5 * channels * h * w;
          break;
        default:
          break;
        }
      peak = MAX (peak, now);
      vae_taesd_layer_size (layer, &h, &w);
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

gsize
vae_taesd_memory (gpointer self,
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
      const gsize  band = MIN (vae_band_rows (h) + 2 * layer_halo (layer), h) * w;
      gsize        c_out, now;

      if (layer->type == LAYER_RELU || layer->type == LAYER_CLAMP)
        continue;
      if (! layer_banded (layer))
        {
          /* with its input, which vae_taesd_half_forward () copies */
          peak = MAX (peak, channels * h * w);
          peak = MAX (peak, half_memory (half, i, i + 1, channels, h, w) / sizeof (gfloat));
          vae_taesd_layer_size (layer, &h, &w);
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
  const gsize rows = vae_band_rows (h);
  gdouble     flops = 0.0;
  guint       i;

  for (i = first; i < last; i++)
    {
      const Layer *layer = &g_array_index (half->layers, Layer, i);
      const gsize  halo = layer_halo (layer);
      gsize        y0;

      if (! layer_banded (layer))
        {
          flops += vae_taesd_half_flops (half, i, i + 1, h, w);
          vae_taesd_layer_size (layer, &h, &w);
          continue;
        }

      if (layer->type == LAYER_BLOCK && layer->has_pool)
        flops += vae_conv2d_flops (&layer->pool_in, h, w);
      for (y0 = 0; y0 < h; y0 += rows)
        {
          const gsize a = y0 > halo ? y0 - halo : 0, b = MIN (y0 + rows + halo, h);

          flops += vae_taesd_half_flops (half, i, i + 1, b - a, w);
        }
    }

  return flops;
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
  const gsize   h = VAE_T_H (x), rows = vae_band_rows (h);
  VaeNormStats *stats = vae_norm_stats_new ();
  gsize         y0;

  for (y0 = 0; y0 < h; y0 += rows)
    {
      const gsize y1 = MIN (y0 + rows, h);
      VaeTensor  *band = vae_rows_copy (scratch, x, y0, y1, error);
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
  const gsize   h = VAE_T_H (*x), w = VAE_T_W (*x), rows = vae_band_rows (h);
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
      VaeTensor  *band = vae_rows_copy (scratch, *x, a, b, error);

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
          ok = vae_taesd_block_forward (run, scratch, layer, &band, error);
          run->norm_stats = saved;
        }
      if (ok)
        vae_rows_put (out, band, y0, y1, y0 - a, FALSE);
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
          VaeTensor *y = vae_taesd_half_forward (half, *x, i, i + 1, run, error);

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
 * every tile with its margin. */
static gdouble
tiled_grid (const Half  *half,
            gboolean     decoder,
            guint        split,
            gsize        h,
            gsize        w,
            gsize        tile,
            VaeTileGrid *grid)
{
  const guint  end = half->layers->len;
  const gsize  f = half->factor;
  gdouble      work;
  guint        ix, iy;

  grid->w = w;
  grid->h = h;
  grid->margin = tiled_margin (half, decoder, split);
  /* The margin makes tiles exact; the overlap only has to hide rounding. */
  grid->tile = MAX (tile / f, 2);
  grid->overlap = MIN (grid->margin, grid->tile / 2);
  grid->xs = vae_tiles_split (w, grid->tile, grid->overlap, 1);
  grid->ys = vae_tiles_split (h, grid->tile, grid->overlap, 1);

  work = decoder ? banded_flops (half, 0, split, h, w) : banded_flops (half, split, end, h, w);
  for (iy = 0; iy < grid->ys->len; iy++)
    for (ix = 0; ix < grid->xs->len; ix++)
      {
        gsize x0, x1, y0, y1;

        vae_tile_grid_extent (grid, ix, iy, &x0, &y0, &x1, &y1);
        work += decoder ? vae_taesd_half_flops (half, split, end, y1 - y0, x1 - x0)
                        : vae_taesd_half_flops (half, 0, split, (y1 - y0) * f, (x1 - x0) * f);
      }

  return work;
}

gdouble
vae_taesd_flops (gpointer self,
                 gboolean decoder,
                 gsize    width,
                 gsize    height)
{
  Taesd *taesd = self;

  if (decoder)
    return taesd->has_decoder
           ? vae_taesd_half_flops (&taesd->decoder, 0, taesd->decoder.layers->len,
                         height / taesd->decoder.factor,
                         width / taesd->decoder.factor)
           : 0.0;

  return taesd->has_encoder
         ? vae_taesd_half_flops (&taesd->encoder, 0, taesd->encoder.layers->len, height, width)
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

gboolean
vae_taesd_plan (gpointer   self,
                gboolean   decoder,
                gsize      width,
                gsize      height,
                gboolean   copy,
                gsize      budget,
                gsize      max_tile,
                VaePlan   *plan,
                GError   **error)
{
  Taesd               *taesd = self;
  const Half          *half = decoder ? &taesd->decoder : &taesd->encoder;
  const gsize          f = half->factor, h = height / f, w = width / f;
  const gsize          image = 3 * width * height * sizeof (gfloat);
  g_auto (VaeTileGrid) grid = { 0 };
  gsize                whole, fixed, phase, margin, t, t_min, c;
  gboolean             can_tile;
  guint                split;

  /* Whole: every map at once, beside the encoder's padded copy of its
   * input or the decoder's cropped copy of its output. */
  whole = vae_taesd_memory (self, decoder, width, height) + (copy ? image : 0);
  plan->tile = 0;
  plan->flops = vae_taesd_flops (self, decoder, width, height);
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
  plan->flops = tiled_grid (half, decoder, split, h, w, plan->tile, &grid);
  plan->memory = MAX (phase, fixed + tile_memory (half, decoder, split, margin, t, h, w));

  return TRUE;
}

/* Layers [first, last) of @half on each tile of @grid, blended into
 * @out, which covers the grid.  A grid cell is @in_scale pixels of
 * @source (the image, read as padded, or the decoder's head). */
static gboolean
tiles_forward (const Half        *half,
               const VaeTensor   *source,
               gsize              in_scale,
               guint              first,
               guint              last,
               const VaeTileGrid *grid,
               VaeTensor         *out,
               VaeRun            *run,
               GError           **error)
{
  const gsize i = in_scale;
  guint       ix, iy;

  for (iy = 0; iy < grid->ys->len; iy++)
    for (ix = 0; ix < grid->xs->len; ix++)
      {
        g_autoptr (VaeTensor) crop = NULL;
        g_autoptr (VaeTensor) part = NULL;
        gsize                 x0, x1, y0, y1;

        vae_tile_grid_extent (grid, ix, iy, &x0, &y0, &x1, &y1);

        crop = vae_tiles_crop (source, run->pad_mode, x0 * i, y0 * i,
                               (x1 - x0) * i, (y1 - y0) * i, error);
        if (crop == NULL)
          return FALSE;
        part = vae_taesd_half_forward (half, crop, first, last, run, error);
        if (part == NULL)
          return FALSE;

        vae_tiles_blend (out, part, grid, ix, iy);
      }

  return TRUE;
}

gboolean
vae_taesd_decode_tiled (gpointer          self,
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
  g_auto (VaeTileGrid)  grid = { 0 };
  gdouble               work;
  guint                 split;

  if (! decoder_split (dec, &split))
    return taesd->has_decoder &&
           vae_arch_taesd.decode (self, latent, image, run, error);

  work = tiled_grid (dec, TRUE, split, h, w, tile, &grid);
  vae_run_begin (run, "decode", work);

  /* The head in bands, on a copy (the clamp works in place); the image
   * is made once its maps are gone. */
  head = vae_tensor_copy (latent, error);
  if (head == NULL || ! half_forward_banded (dec, 0, split, &head, run, error))
    return FALSE;
  out = vae_tensor_new_3d (dec->out_channels, h * f, w * f, error);
  if (out == NULL)
    return FALSE;

  if (! tiles_forward (dec, head, 1, split, end, &grid, out, run, error))
    return FALSE;
  *image = g_steal_pointer (&out);

  return TRUE;
}

gboolean
vae_taesd_encode_tiled (gpointer          self,
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
  g_auto (VaeTileGrid)  grid = { 0 };
  gdouble               work;
  guint                 split;

  if (! encoder_split (enc, &split) || split == 0)
    {
      g_autoptr (VaeTensor) padded = vae_image_pad (image, f, run->pad_mode, error);

      return padded && vae_arch_taesd.encode (self, padded, latent, run, error);
    }

  work = tiled_grid (enc, FALSE, split, h, w, tile, &grid);
  vae_run_begin (run, "encode", work);

  body = vae_tensor_new_3d (half_channels (enc, split), h, w, error);
  if (body == NULL)
    return FALSE;

  if (! tiles_forward (enc, image, f, 0, split, &grid, body, run, error) ||
      ! half_forward_banded (enc, split, enc->layers->len, &body, run, error))
    return FALSE;
  *latent = g_steal_pointer (&body);

  return TRUE;
}
