/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A set of named weight tensors read from one file, widened to f32.
 * Architectures look tensors up by their checkpoint names and state the
 * shape they expect; any disagreement becomes a GError that names the
 * tensor, never a crash.
 */
typedef struct _VaeWeights VaeWeights;
typedef struct _VaeWeightCheck VaeWeightCheck;

typedef enum
{
  VAE_DTYPE_F32,
  VAE_DTYPE_F16,
  VAE_DTYPE_BF16,
  VAE_DTYPE_F64           /* narrowed to f32 on load */
} VaeDtype;

/* Most dimensions a weight tensor may have; files with more are refused
 * with VAE_ERROR_UNSUPPORTED. */
#define VAE_WEIGHT_MAX_DIMS 4

/* Largest safetensors JSON header libvae agrees to parse. */
#define VAE_SAFETENSORS_MAX_HEADER ((guint64) 100 * 1000 * 1000)

typedef struct
{
  gchar        *name;
  VaeDtype      dtype;       /* as stored in the file */
  guint         n_dims;
  gsize         shape[VAE_WEIGHT_MAX_DIMS];
  gsize         n_elements;
  gfloat       *data;        /* widened to f32, owned by the VaeWeights;
                              * NULL until looked up for lazy tensors */
  const guint8 *source;      /* lazy tensors: the file bytes */
  gboolean      used;        /* fetched by vae_weights_get*() */
  VaeWeightCheck *check;     /* lazy tensors: the CRC of their bytes */
  gboolean      checked;     /* scanned for NaN and infinities */
  gboolean      finite;      /* ... and found none */
} VaeWeight;

/* Reads safetensors and PyTorch zip checkpoints (.pth, .ckpt, .pt: the
 * tensors of the pickled dict, nested dicts named with dots, e.g.
 * "state_dict.first_stage_model.encoder.conv_in.weight"); the format is
 * told by the content, not the file name. */
VaeWeights      * vae_weights_load          (const gchar  *path,
                                             GError      **error);
VaeWeights      * vae_safetensors_load      (const gchar  *path,
                                             GError      **error);
VaeWeights      * vae_safetensors_load_from_data (const guint8 *data,
                                                  gsize         size,
                                                  const gchar  *display_name,
                                                  GError      **error);
void              vae_weights_free          (VaeWeights   *weights);

/* One printable line of an error about a file's data; every loader passes
 * its errors through it before they leave libvae. */
void              vae_error_tidy            (GError       *error);

/* Opens a file to read, refusing folders, FIFOs and devices without
 * blocking on them; -1 and VAE_ERROR_IO otherwise. */
gint              vae_open_regular          (const gchar  *path,
                                             GError      **error);

const gchar     * vae_weights_get_path      (VaeWeights   *weights);
guint             vae_weights_get_n_tensors (VaeWeights   *weights);
guint64           vae_weights_get_n_params  (VaeWeights   *weights);
/* Names in file order.  (transfer container) */
GPtrArray       * vae_weights_list          (VaeWeights   *weights);
const VaeWeight * vae_weights_lookup        (VaeWeights   *weights,
                                             const gchar  *name);
gboolean          vae_weights_has           (VaeWeights   *weights,
                                             const gchar  *name);
const gchar     * vae_weights_get_metadata  (VaeWeights   *weights,
                                             const gchar  *key);

/* Returns the data of @name if it has exactly @n_dims dimensions of the
 * given sizes and only finite values; otherwise NULL and VAE_ERROR_FORMAT
 * (missing, or holding a NaN or infinity) or VAE_ERROR_SHAPE (present,
 * wrong shape), naming the tensor. */
const gfloat    * vae_weights_get           (VaeWeights   *weights,
                                             const gchar  *name,
                                             guint         n_dims,
                                             const gsize  *shape,
                                             GError      **error);
const gfloat    * vae_weights_get_1d        (VaeWeights   *weights,
                                             const gchar  *name,
                                             gsize         d0,
                                             GError      **error);
const gfloat    * vae_weights_get_4d        (VaeWeights   *weights,
                                             const gchar  *name,
                                             gsize         d0,
                                             gsize         d1,
                                             gsize         d2,
                                             gsize         d3,
                                             GError      **error);

/* Checkpoints wrap their tensors: Lightning and latent-diffusion under
 * "state_dict.", others under "model." or "module." (DataParallel).
 * vae_model_load() tries roots until an architecture recognises what lies
 * under one; from then on every lookup, vae_weights_list() and
 * vae_weights_has() see names relative to @root.  When the tensors under
 * @root include a latent-diffusion EMA copy ("model_ema." followed by the
 * parameter's name without its dots, as LitEma stores it), a parameter
 * with a copy of the same shape is taken from the copy: the EMA weights
 * are what latent-diffusion samples and evaluates with (its ema_scope),
 * and what released VAEs (the "-ema" files) hold.  Returns whether any
 * tensor lies under @root. */
gboolean          vae_weights_set_root      (VaeWeights   *weights,
                                             const gchar  *root);
const gchar     * vae_weights_get_root      (VaeWeights   *weights);
gboolean          vae_weights_uses_ema      (VaeWeights   *weights);

/* Base name of the file (or the display name given for data in memory):
 * every error message about these weights starts with it. */
const gchar     * vae_weights_get_display_name (VaeWeights *weights);

/* For the readers (safetensors.c, pth.c).  @path is kept as the weights'
 * path; its base name prefixes every message. */
VaeWeights      * vae_weights_new           (const gchar  *path);
/* Adds a tensor in file order with room for n_elements floats (not yet
 * filled).  Refuses duplicate names (VAE_ERROR_FORMAT), too many dimensions
 * (VAE_ERROR_UNSUPPORTED) and allocations that fail (VAE_ERROR_NO_MEMORY). */
VaeWeight       * vae_weights_add           (VaeWeights   *weights,
                                             const gchar  *name,
                                             VaeDtype      dtype,
                                             guint         n_dims,
                                             const gsize  *shape,
                                             GError      **error);
void              vae_weights_set_metadata  (VaeWeights   *weights,
                                             const gchar  *key,
                                             const gchar  *value);

/* Element conversions from little-endian file bytes. */
gsize             vae_dtype_size            (VaeDtype      dtype);
const gchar     * vae_dtype_name            (VaeDtype      dtype);
gfloat            vae_half_to_float         (guint16       bits);
gfloat            vae_bfloat16_to_float     (guint16       bits);
gfloat            vae_dtype_load            (VaeDtype      dtype,
                                             const guint8 *src);
void              vae_dtype_widen           (VaeDtype      dtype,
                                             const guint8 *src,
                                             gfloat       *dest,
                                             gsize         n_elements);

/* Parses a whole safetensors file held in memory; @path as for
 * vae_weights_new().  With @keep (the mapping @data lies in), tensors are
 * widened only when first looked up and @keep is held until then;
 * without, everything is widened now and @data may go. */
VaeWeights      * vae_safetensors_parse     (const guint8 *data,
                                             gsize         size,
                                             const gchar  *path,
                                             GMappedFile  *keep,
                                             GError      **error);

/* Any format, told by the content (vae_weights_load() without the file);
 * @keep as for vae_safetensors_parse(). */
VaeWeights      * vae_weights_parse         (const guint8 *data,
                                             gsize         size,
                                             const gchar  *path,
                                             GMappedFile  *keep,
                                             GError      **error);

/* A tensor whose values stay in @source (file bytes of @dtype) until it is
 * first looked up. */
VaeWeight       * vae_weights_add_lazy      (VaeWeights   *weights,
                                             const gchar  *name,
                                             VaeDtype      dtype,
                                             guint         n_dims,
                                             const gsize  *shape,
                                             const guint8 *source,
                                             GError      **error);
void              vae_weights_keep          (VaeWeights   *weights,
                                             GMappedFile  *mapping);
/* Lazy tensors over @bytes get the returned check in their @check: the
 * bytes' CRC is compared when the first of them is widened, and a
 * mismatch is the error of vae_weights_get().  Owned by @weights. */
VaeWeightCheck  * vae_weights_add_check     (VaeWeights   *weights,
                                             const gchar  *what,
                                             const guint8 *bytes,
                                             gsize         size,
                                             guint32       crc);

/* A model has read every tensor it needs through vae_weights_get*():
 * forget the others (a full diffusion checkpoint holds gigabytes of them)
 * and the file mapping. */
void              vae_weights_drop_unused   (VaeWeights   *weights);
/* Parameters of the tensors fetched with vae_weights_get*(). */
guint64           vae_weights_get_n_used_params (VaeWeights *weights);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VaeWeights, vae_weights_free)

G_END_DECLS
