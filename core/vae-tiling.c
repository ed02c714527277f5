/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <string.h>

#include "vae-error.h"
#include "vae-image-private.h"
#include "vae-tiling.h"

GArray *
vae_tiles_split (gsize size,
                 gsize max_len,
                 gsize overlap,
                 gsize align)
{
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (VaeSpan));
  gsize   step, n, i;

  align = MAX (align, 1);
  if (max_len >= size || max_len <= overlap)
    {
      VaeSpan all = { 0, size };

      g_array_append_val (spans, all);
      return spans;
    }

  step = (max_len - overlap) / align * align;
  /* A point may lie in at most two spans per axis, or the ramps no longer
   * sum to 1: the step is at least the overlap. */
  step = MAX (step, (overlap + align - 1) / align * align);
  step = MAX (step, align);
  /* n spans so that the last starts no later than size - overlap: it is
   * then at least as long as its overlap, and ramps never cross. */
  n = (size - overlap + step - 1) / step;
  n = MAX (n, 1);

  for (i = 0; i < n; i++)
    {
      VaeSpan span;

      span.start = i * step;
      span.len = (i + 1 == n) ? size - span.start : MIN (step + overlap, size - span.start);
      g_array_append_val (spans, span);
    }

  return spans;
}

void
vae_span_extend (const VaeSpan *span,
                 gsize          margin,
                 gsize          size,
                 gsize         *lo,
                 gsize         *hi)
{
  *lo = span->start > margin ? span->start - margin : 0;
  *hi = MIN (span->start + span->len + margin, size);
}

static gfloat
smootherstep (gfloat t)
{
  t = CLAMP (t, 0.0f, 1.0f);

  return t * t * t * (t * (t * 6.0f - 15.0f) + 10.0f);
}

gfloat
vae_tiles_weight (const GArray *spans,
                  guint         i,
                  gsize         overlap,
                  gsize         scale,
                  gsize         x)
{
  const VaeSpan *span = &g_array_index (spans, VaeSpan, i);
  const gfloat   width = (gfloat) (overlap * scale);
  gfloat         w = 1.0f;

  if (overlap == 0)
    return 1.0f;

  /* Pixel centres, so that the two ramps of a zone mirror each other. */
  if (i > 0 && x < (span->start + overlap) * scale)
    w *= smootherstep ((x - span->start * scale + 0.5f) / width);
  if (i + 1 < spans->len)
    {
      gsize next = g_array_index (spans, VaeSpan, i + 1).start;

      if (x >= next * scale)
        w *= 1.0f - smootherstep ((x - next * scale + 0.5f) / width);
    }

  return w;
}

void
vae_tile_grid_clear (VaeTileGrid *grid)
{
  g_clear_pointer (&grid->xs, g_array_unref);
  g_clear_pointer (&grid->ys, g_array_unref);
}

void
vae_tile_grid_extent (const VaeTileGrid *grid,
                      guint              ix,
                      guint              iy,
                      gsize             *x0,
                      gsize             *y0,
                      gsize             *x1,
                      gsize             *y1)
{
  vae_span_extend (&g_array_index (grid->xs, VaeSpan, ix), grid->margin,
                   grid->w, x0, x1);
  vae_span_extend (&g_array_index (grid->ys, VaeSpan, iy), grid->margin,
                   grid->h, y0, y1);
}

void
vae_tiles_blend (VaeTensor         *out,
                 const VaeTensor   *tile,
                 const VaeTileGrid *grid,
                 guint              ix,
                 guint              iy)
{
  const gsize    scale = VAE_T_W (out) / grid->w;
  const VaeSpan *sx = &g_array_index (grid->xs, VaeSpan, ix);
  const VaeSpan *sy = &g_array_index (grid->ys, VaeSpan, iy);
  const gsize    channels = VAE_T_C (out);
  const gsize    x0 = sx->start * scale, y0 = sy->start * scale;
  const gsize    w = sx->len * scale, h = sy->len * scale;
  gfloat        *wx;
  gsize          lo_x, lo_y, hi_x, hi_y, ox, oy, c, x, y;

  g_return_if_fail (VAE_T_W (out) == grid->w * scale &&
                    VAE_T_H (out) == grid->h * scale);

  wx = g_new (gfloat, w);
  /* The spans start inside the tile past its margin. */
  vae_tile_grid_extent (grid, ix, iy, &lo_x, &lo_y, &hi_x, &hi_y);
  ox = (sx->start - lo_x) * scale;
  oy = (sy->start - lo_y) * scale;

  for (x = 0; x < w; x++)
    wx[x] = vae_tiles_weight (grid->xs, ix, grid->overlap, scale, x0 + x);

  for (y = 0; y < h; y++)
    {
      const gfloat wy = vae_tiles_weight (grid->ys, iy, grid->overlap, scale, y0 + y);

      for (c = 0; c < channels; c++)
        {
          gfloat       *o = out->data + (c * VAE_T_H (out) + y0 + y) * VAE_T_W (out) + x0;
          const gfloat *t = tile->data + (c * VAE_T_H (tile) + oy + y) * VAE_T_W (tile) + ox;

          for (x = 0; x < w; x++)
            o[x] += wx[x] * wy * t[x];
        }
    }

  g_free (wx);
}

void
vae_tiles_crop_into (const VaeTensor *image,
                     VaePadMode       mode,
                     gsize            x,
                     gsize            y,
                     VaeTensor       *out)
{
  const gsize ih = VAE_T_H (image), iw = VAE_T_W (image);
  const gsize h = VAE_T_H (out), w = VAE_T_W (out);
  const gsize inside = x < iw ? MIN (w, iw - x) : 0;
  gsize       c, row, i;

  for (c = 0; c < VAE_T_C (out); c++)
    for (row = 0; row < h; row++)
      {
        const gsize   sy = vae_pad_source_index (y + row, ih, mode);
        const gfloat *s = image->data + (c * ih + sy) * iw;
        gfloat       *d = out->data + (c * h + row) * w;

        if (inside > 0)
          memcpy (d, s + x, inside * sizeof (gfloat));
        for (i = inside; i < w; i++)
          d[i] = s[vae_pad_source_index (x + i, iw, mode)];
      }
}

VaeTensor *
vae_tiles_crop (const VaeTensor  *image,
                VaePadMode        mode,
                gsize             x,
                gsize             y,
                gsize             width,
                gsize             height,
                GError          **error)
{
  VaeTensor *out = vae_tensor_new_3d_uninit (VAE_T_C (image), height, width, error);

  if (out)
    vae_tiles_crop_into (image, mode, x, y, out);

  return out;
}

/* GLib's g_format_size () puts a no-break space before the unit, which
 * a terminal in another encoding garbles. */
static gchar *
format_bytes (gsize bytes)
{
  if (bytes >= (gsize) 1 << 30)
    return g_strdup_printf ("%.2f GiB", bytes / (gdouble) ((gsize) 1 << 30));
  if (bytes >= (gsize) 1 << 20)
    return g_strdup_printf ("%.1f MiB", bytes / (gdouble) ((gsize) 1 << 20));

  return g_strdup_printf ("%.1f KiB", bytes / 1024.0);
}

void
vae_plan_set_error (GError  **error,
                    gboolean  decoder,
                    gsize     width,
                    gsize     height,
                    gsize     need,
                    gsize     budget)
{
  g_autofree gchar *need_text = format_bytes (need);
  g_autofree gchar *budget_text = format_bytes (budget);

  g_set_error (error, VAE_ERROR, VAE_ERROR_NO_MEMORY,
               "%s a %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT " image needs at "
               "least %s of working memory, more than the memory budget of %s",
               decoder ? "decoding" : "encoding", width, height, need_text,
               budget_text);
}

#define BAND_DIVISIONS 16

gsize
vae_band_rows (gsize h)
{
  return MAX (VAE_BAND_MIN_ROWS, (h + BAND_DIVISIONS - 1) / BAND_DIVISIONS);
}

void
vae_band_input (gsize  y0,
                gsize  y1,
                gsize  h,
                gsize  halo,
                gsize *a,
                gsize *b)
{
  *a = y0 > halo ? y0 - halo : 0;
  *b = MIN (y1 + halo, h);
}

VaeTensor *
vae_rows_copy (VaeScratch       *scratch,
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

void
vae_rows_put (VaeTensor        *dst,
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
