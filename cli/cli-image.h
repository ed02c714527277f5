/* vae - command-line front end of libvae
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "vae.h"
#include "vae-cli.h"

G_BEGIN_DECLS

/* An image file as libvae sees it: colour as a [3, H, W] R'G'B' tensor in
 * [0, 1], and the alpha channel, if the file has one, kept aside as a
 * [1, H, W] tensor (the models do not encode alpha).
 */
typedef struct
{
  VaeTensor *rgb;
  VaeTensor *alpha;
  guint      width;
  guint      height;
  guint      bits;      /* bits per channel in the file: 8, 16, 32, ... */
  gboolean   gray;      /* the file had a single colour channel */
  gchar     *format;    /* babl name of the file's pixel format */
  gchar     *warning;   /* what the loader complained about, or NULL */
} CliImage;

CliImage * cli_image_load         (CliContext       *ctx,
                                   const gchar      *path,
                                   GError          **error);
void       cli_image_free         (CliImage         *image);

gboolean   cli_check_depth        (gint              depth,
                                   GError          **error);
gboolean   cli_image_check_output (const gchar      *path,
                                   guint             depth,
                                   GError          **error);
gboolean   cli_image_save         (const gchar      *path,
                                   const VaeTensor  *rgb,
                                   const VaeTensor  *alpha,
                                   guint             depth,
                                   GError          **error);

gboolean   cli_png_write          (const gchar      *path,
                                   const guint8     *pixels,
                                   gsize             width,
                                   gsize             height,
                                   gboolean          alpha,
                                   guint             depth,
                                   GError          **error);

gboolean   cli_is_compressed_file (const gchar      *path);
gboolean   cli_is_latent_file     (const gchar      *path);

void       cli_image_shutdown     (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliImage, cli_image_free)

G_END_DECLS
