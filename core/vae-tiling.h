/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include "vae-options.h"
#include "vae-run.h"
#include "vae-tensor-private.h"

G_BEGIN_DECLS

/* Tiled encoding and decoding: the grid and the blending.
 *
 * Along each axis [0, size) is covered by n spans [start_i, start_i + len_i)
 * that step by a fixed amount and overlap their neighbours by exactly
 * `overlap`.  Every span gets a weight that ramps up over its left overlap
 * and down over its right one with smootherstep, s(t) = t^3 (6t^2 - 15t +
 * 10); since s(t) + s(1 - t) = 1 the weights of the spans covering any
 * point sum to 1, and the product of the two axes' weights does so in 2-D.
 * Tiles are blended into the output without a separate weight image.
 */

typedef struct
{
  gsize start;
  gsize len;
} VaeSpan;

/* At most max (max_len, 2 * overlap) long (when size allows), starts
 * multiples of align, neighbours overlapping by overlap. */
GArray  * vae_tiles_split   (gsize            size,
                             gsize            max_len,
                             gsize            overlap,
                             gsize            align);

/* [*lo, *hi): @span widened by @margin on each side, within [0, size):
 * the region a tile is computed on so that its own span comes out as the
 * whole image would give it. */
void      vae_span_extend   (const VaeSpan   *span,
                             gsize            margin,
                             gsize            size,
                             gsize           *lo,
                             gsize           *hi);

/* Weight of position x (in units of the spans, scaled by scale: spans in
 * latent pixels, x in image pixels) inside span i of spans. */
gfloat    vae_tiles_weight  (const GArray    *spans,
                             guint            i,
                             gsize            overlap,
                             gsize            scale,
                             gsize            x);

/* The tiles of a tiled run over a w x h grid (latent pixels): the spans
 * along each axis, split for tiles of @tile a side, the margin each tile
 * is computed with and the overlap the tiles are blended over. */
typedef struct
{
  GArray *xs, *ys;
  gsize   w, h;
  gsize   tile, margin, overlap;
} VaeTileGrid;

void      vae_tile_grid_clear  (VaeTileGrid       *grid);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VaeTileGrid, vae_tile_grid_clear)

/* [*x0, *x1) x [*y0, *y1): what tile (ix, iy) of @grid is computed on,
 * its spans widened by the margin (vae_span_extend ()). */
void      vae_tile_grid_extent (const VaeTileGrid *grid,
                                guint              ix,
                                guint              iy,
                                gsize             *x0,
                                gsize             *y0,
                                gsize             *x1,
                                gsize             *y1);

/* Adds tile (ix, iy) of @grid, weighted, to @out over its spans.  @out
 * covers the grid, s pixels a cell along each axis, and @tile is what was
 * computed on the tile's extent at that scale. */
void      vae_tiles_blend   (VaeTensor         *out,
                             const VaeTensor   *tile,
                             const VaeTileGrid *grid,
                             guint              ix,
                             guint              iy);

/* Fills @out ([C, h, w]) with the region at (x, y) of @image padded at
 * the right and bottom as vae_image_pad() pads it with @mode, to any
 * size: a tiled encoder reads its tiles through this instead of holding a
 * padded copy of the whole image beside it. */
void      vae_tiles_crop_into (const VaeTensor *image,
                               VaePadMode       mode,
                               gsize            x,
                               gsize            y,
                               VaeTensor       *out);
VaeTensor * vae_tiles_crop    (const VaeTensor *image,
                               VaePadMode       mode,
                               gsize            x,
                               gsize            y,
                               gsize            width,
                               gsize            height,
                               GError         **error);

/* What a planned run costs: its tile side in image pixels (0: whole),
 * its work in FLOPs (margins and repeated passes included) and the peak
 * bytes of working memory it holds (feature maps, the output, copies of
 * the input; not the caller's input nor the weights). */
typedef struct
{
  gsize   tile;
  gdouble flops;
  gsize   memory;
} VaePlan;

/* Sets VAE_ERROR_NO_MEMORY for a run of @width x @height pixels that
 * needs at least @need bytes while @budget allows less. */
void      vae_plan_set_error  (GError         **error,
                               gboolean         decoder,
                               gsize            width,
                               gsize            height,
                               gsize            need,
                               gsize            budget);

/* Whole maps run in bands of rows (the latent-resolution part of a tiled
 * run, autoencoder-kl-bands.c and taesd-tiles.c): a band is about 1/16 of
 * its map, VAE_BAND_MIN_ROWS at least. */
#define VAE_BAND_MIN_ROWS 8

gsize       vae_band_rows     (gsize            h);
/* Rows [*a, *b) a band of output rows [y0, y1) reads through a kernel of
 * @halo rows of context each side. */
void        vae_band_input    (gsize            y0,
                               gsize            y1,
                               gsize            h,
                               gsize            halo,
                               gsize           *a,
                               gsize           *b);
/* Rows [y0, y1) of @x into a scratch map. */
VaeTensor * vae_rows_copy     (VaeScratch      *scratch,
                               const VaeTensor *x,
                               gsize            y0,
                               gsize            y1,
                               GError         **error);
/* dst[:, y0 : y1] = (or +=, with @add) src[:, skip : skip + y1 - y0] */
void        vae_rows_put      (VaeTensor       *dst,
                               const VaeTensor *src,
                               gsize            y0,
                               gsize            y1,
                               gsize            skip,
                               gboolean         add);

G_END_DECLS
