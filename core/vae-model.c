/* libvae - image autoencoders on the CPU
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "vae-error-private.h"
#include "vae-file-types.h"
#include "vae-image.h"
#include "vae-model.h"
#include "vae-model-private.h"
#include "vae-registry-private.h"
#include "vae-sha256-private.h"
#include "vae-tensor-private.h"
#include "arch/arch.h"

struct _VaeModel
{
  gint                ref_count;
  gchar              *path;
  VaeWeights         *encoder_weights;
  VaeWeights         *decoder_weights;   /* may equal encoder_weights */
  const VaeArchClass *arch;
  gpointer            arch_data;
  VaeModelInfo        info;
  gchar              *license;
  GMutex              hash_mutex;
  gchar              *hash;
  VaeEntropyModel    *entropy_model;     /* codec models only */
};

static const VaeArchClass *const architectures[] = {
  &vae_arch_taesd,
  &vae_arch_seed_f16,
  &vae_arch_autoencoder_kl,
};

static const gchar *const license_keys[] = { "vae.license", "license" };

/* ".safetensors, .pth, .pt or .ckpt" */
static gchar *
suffix_sentence (void)
{
  const gchar * const *suffixes = vae_weight_file_suffixes ();
  GString             *text = g_string_new (NULL);
  guint                i;

  for (i = 0; suffixes[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append (text, suffixes[i + 1] != NULL ? ", " : " or ");
      g_string_append (text, suffixes[i]);
    }

  return g_string_free (text, FALSE);
}

/* Two-file models (TAESD) name their halves "...encoder..." and
 * "...decoder...".  Given one, the other is the same name with the word
 * swapped. */
static gchar *
sibling_half (const gchar *path)
{
  g_autofree gchar   *dir = g_path_get_dirname (path);
  g_autofree gchar   *base = g_path_get_basename (path);
  g_autoptr (GString) other = NULL;
  const gchar        *from, *to;
  gchar              *hit;

  if ((hit = strstr (base, "encoder")))
    from = "encoder", to = "decoder";
  else if ((hit = strstr (base, "decoder")))
    from = "decoder", to = "encoder";
  else
    return NULL;

  other = g_string_new_len (base, hit - base);
  g_string_append (other, to);
  g_string_append (other, hit + strlen (from));

  return g_build_filename (dir, other->str, NULL);
}

/* Resolves @path (a file or a folder) into the weight files to read:
 * either one file for the whole model or an encoder and a decoder file. */
static gboolean
find_weight_files (const gchar  *path,
                   gchar       **encoder,
                   gchar       **decoder,
                   gchar       **single,
                   GError      **error)
{
  *encoder = *decoder = *single = NULL;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = NULL;
      g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
      const gchar *name;
      guint        i;

      dir = g_dir_open (path, 0, error);
      if (dir == NULL)
        {
          g_prefix_error (error, "cannot read model folder: ");
          if (error && *error)
            {
              (*error)->domain = VAE_ERROR;
              (*error)->code = VAE_ERROR_IO;
            }
          return FALSE;
        }
      while ((name = g_dir_read_name (dir)))
        if (vae_is_weight_file_name (name))
          g_ptr_array_add (files, g_strdup (name));
      g_ptr_array_sort (files, (GCompareFunc) g_strcmp0);

      for (i = 0; i < files->len; i++)
        {
          const gchar *f = g_ptr_array_index (files, i);

          if (strstr (f, "encoder") && ! *encoder)
            *encoder = g_build_filename (path, f, NULL);
          else if (strstr (f, "decoder") && ! *decoder)
            *decoder = g_build_filename (path, f, NULL);
        }

      if (*encoder || *decoder)
        return TRUE;

      if (files->len == 1)
        {
          *single = g_build_filename (path, g_ptr_array_index (files, 0), NULL);
          return TRUE;
        }

      if (files->len > 0)
        {
          g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                       "%s holds %u weight files and none is named as an "
                       "encoder or decoder", path, files->len);
        }
      else
        {
          g_autofree gchar *suffixes = suffix_sentence ();

          g_set_error (error, VAE_ERROR, VAE_ERROR_IO,
                       "%s holds no model weights (%s)", path, suffixes);
        }
      return FALSE;
    }

  if (! g_file_test (path, G_FILE_TEST_EXISTS))
    return vae_fail (error, VAE_ERROR_IO, "%s: no such file or folder", path);

  {
    g_autofree gchar *base = g_path_get_basename (path);
    g_autofree gchar *other = sibling_half (path);

    if (other && ! g_file_test (other, G_FILE_TEST_IS_REGULAR))
      g_clear_pointer (&other, g_free);

    if (strstr (base, "encoder"))
      {
        *encoder = g_strdup (path);
        *decoder = g_steal_pointer (&other);
      }
    else if (strstr (base, "decoder"))
      {
        *decoder = g_strdup (path);
        *encoder = g_steal_pointer (&other);
      }
    else
      {
        *single = g_strdup (path);
      }
  }

  return TRUE;
}

static void
model_free (VaeModel *model)
{
  if (model->arch && model->arch_data)
    model->arch->destroy (model->arch_data);
  vae_entropy_model_free (model->entropy_model);
  if (model->decoder_weights != model->encoder_weights)
    vae_weights_free (model->decoder_weights);
  vae_weights_free (model->encoder_weights);
  g_free (model->info.id);
  g_free (model->info.name);
  g_free (model->info.architecture);
  g_free (model->license);
  g_free (model->hash);
  g_free (model->path);
  g_mutex_clear (&model->hash_mutex);
  g_free (model);
}

/* The dicts checkpoints wrap a model's tensors in, tried one and two deep
 * after the bare names: Lightning and latent-diffusion (SD 1.x, the VAE
 * releases) save {"state_dict": ..., "global_step": ...}; training scripts
 * {"model": ..., "optimizer": ...}; DataParallel prefixes "module.".  Top-
 * level EMA copies come first: like latent-diffusion's own EMA copies
 * (vae_weights_set_root()), they are the weights meant for use. */
static const gchar *const wrappers[] = {
  "ema", "model_ema", "state_dict_ema", "state_dict", "model_state_dict",
  "model", "module",
};

static const VaeArchClass *
probe (VaeWeights *encoder,
       VaeWeights *decoder)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (architectures); i++)
    if (architectures[i]->probe (encoder, decoder))
      return architectures[i];

  return NULL;
}

/* Sets @root on both halves (a half with nothing under it keeps its bare
 * names) and asks the architectures; FALSE when no tensor lies under
 * @root at all. */
static gboolean
try_root (VaeModel    *model,
          const gchar *root)
{
  VaeWeights *halves[2] = { model->encoder_weights, model->decoder_weights };
  gboolean    any = FALSE;
  guint       i;

  for (i = 0; i < 2; i++)
    if (halves[i] && (i == 0 || halves[1] != halves[0]))
      {
        if (vae_weights_set_root (halves[i], root))
          any = TRUE;
        else
          vae_weights_set_root (halves[i], "");
      }
  if (! any)
    return FALSE;

  model->arch = probe (model->encoder_weights, model->decoder_weights);

  return model->arch != NULL;
}

/* The architecture, found under the first root that holds one. */
static void
find_architecture (VaeModel *model)
{
  guint i, j;

  if (try_root (model, ""))
    return;

  for (i = 0; i < G_N_ELEMENTS (wrappers); i++)
    {
      g_autofree gchar *root = g_strconcat (wrappers[i], ".", NULL);

      if (try_root (model, root))
        return;
    }

  for (i = 0; i < G_N_ELEMENTS (wrappers); i++)
    for (j = 0; j < G_N_ELEMENTS (wrappers); j++)
      {
        g_autofree gchar *root = g_strconcat (wrappers[i], ".", wrappers[j],
                                              ".", NULL);

        if (try_root (model, root))
          return;
      }

  /* none: the message lists the names as they are in the file */
  try_root (model, "");
}

/* What both loaders share once the weights are read: recognise the
 * architecture, build it, take its facts from the registry (@entry's, or
 * those the registry finds for @files or @bytes), read the license.  Frees
 * @model on failure. */
static VaeModel *
model_finish (VaeModel                *model,
              const gchar * const     *files,
              GBytes                  *bytes,
              const VaeRegistryEntry  *entry,
              GError                 **error)
{
  const gchar *license;
  guint        i;

  find_architecture (model);

  if (model->arch == NULL)
    {
      VaeWeights *w = model->encoder_weights ? model->encoder_weights
                                             : model->decoder_weights;
      g_autoptr (GPtrArray) names = vae_weights_list (w);

      g_set_error (error, VAE_ERROR, VAE_ERROR_UNSUPPORTED,
                   "%s: unknown model architecture (%u tensors, the first "
                   "named '%s')", vae_weights_get_path (w), names->len,
                   names->len ? (const gchar *) g_ptr_array_index (names, 0) : "");
      goto fail;
    }

  model->arch_data = model->arch->create (model->encoder_weights,
                                          model->decoder_weights,
                                          &model->info, error);
  if (model->arch_data == NULL)
    goto fail;
  if (entry)
    vae_registry_entry_apply (entry, &model->info);
  else
    vae_registry_identify (&model->info, model->encoder_weights,
                           model->decoder_weights, files, bytes);

  /* a codec model's entropy model lives beside its decoder's weights */
  if (model->decoder_weights)
    {
      g_autoptr (GError) codec_error = NULL;

      model->entropy_model =
        vae_entropy_model_new (model->decoder_weights,
                               model->info.latent_channels, &codec_error);
      if (codec_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&codec_error));
          goto fail;
        }
    }

  /* The architecture has fetched what it uses; the rest of a full
   * checkpoint (UNet, text encoders) need not stay in memory. */
  if (model->encoder_weights)
    vae_weights_drop_unused (model->encoder_weights);
  if (model->decoder_weights && model->decoder_weights != model->encoder_weights)
    vae_weights_drop_unused (model->decoder_weights);

  /* Our own files say "vae.license"; files converted by others often carry
   * a plain "license" key (the TAESD safetensors do). */
  license = NULL;
  for (i = 0; i < G_N_ELEMENTS (license_keys) && license == NULL; i++)
    {
      if (model->encoder_weights)
        license = vae_weights_get_metadata (model->encoder_weights, license_keys[i]);
      if (license == NULL && model->decoder_weights)
        license = vae_weights_get_metadata (model->decoder_weights, license_keys[i]);
    }
  model->license = g_strdup (license);

  return model;

fail:
  if (error)
    vae_error_tidy (*error);
  model_free (model);

  return NULL;
}

static VaeModel *
model_new (const gchar *path)
{
  VaeModel *model = g_new0 (VaeModel, 1);

  model->ref_count = 1;
  model->path = g_strdup (path);
  g_mutex_init (&model->hash_mutex);

  return model;
}

static VaeModel *
load_bytes (GBytes                  *bytes,
            const gchar             *name,
            const VaeRegistryEntry  *entry,
            GError                 **error)
{
  VaeModel     *model;
  const guint8 *data;
  gsize         size;

  data = g_bytes_get_data (bytes, &size);

  model = model_new (name);
  model->encoder_weights = vae_safetensors_load_from_data (data ? data : (const guint8 *) "",
                                                           size, name, error);
  if (model->encoder_weights == NULL)
    {
      model_free (model);
      return NULL;
    }
  model->decoder_weights = model->encoder_weights;

  return model_finish (model, NULL, bytes, entry, error);
}

/**
 * vae_model_load:
 * @path: a weight file, or a folder holding the model's weight files
 * @error: return location for a #GError
 *
 * Loads a model.  The architecture is recognised from the tensor names and
 * shapes, not from file names; file names only pair the encoder and decoder
 * files of two-file models such as TAESD.
 *
 * Weight files are safetensors or PyTorch checkpoints (zip, or the legacy
 * format before torch 1.6).  Checkpoints that wrap the state dict (under
 * "state_dict", "model", "module." and the like, as Lightning,
 * latent-diffusion and training scripts save them) are looked into until
 * an architecture is found, so a full Stable Diffusion checkpoint loads its
 * VAE.  Where a checkpoint also holds an EMA copy of the weights
 * (latent-diffusion's "model_ema.", or a top-level "ema" dict), the EMA
 * copy is used: it is what latent-diffusion samples and evaluates with and
 * what released VAE weights are.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error set
 *   (%VAE_ERROR_IO, %VAE_ERROR_FORMAT, %VAE_ERROR_SHAPE,
 *   %VAE_ERROR_UNSUPPORTED or %VAE_ERROR_NO_MEMORY).
 */
VaeModel *
vae_model_load (const gchar  *path,
                GError      **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  return vae_model_load_for_entry (path, NULL, NULL, error);
}

VaeModel *
vae_model_load_for_entry (const gchar             *path,
                          GBytes                  *bytes,
                          const VaeRegistryEntry  *entry,
                          GError                 **error)
{
  g_autofree gchar *encoder = NULL, *decoder = NULL, *single = NULL;
  const gchar      *files[3] = { NULL, };
  VaeModel         *model;

  if (bytes)
    return load_bytes (bytes, path, entry, error);

  if (! find_weight_files (path, &encoder, &decoder, &single, error))
    return NULL;

  model = model_new (path);

  if (single)
    {
      model->encoder_weights = vae_weights_load (single, error);
      if (model->encoder_weights == NULL)
        goto fail;
      model->decoder_weights = model->encoder_weights;
      files[0] = single;
    }
  else
    {
      if (encoder && ! (model->encoder_weights = vae_weights_load (encoder, error)))
        goto fail;
      if (decoder && ! (model->decoder_weights = vae_weights_load (decoder, error)))
        goto fail;
      files[0] = encoder ? encoder : decoder;
      files[1] = encoder ? decoder : NULL;
    }

  return model_finish (model, files, NULL, entry, error);

fail:
  model_free (model);

  return NULL;
}

/**
 * vae_model_load_from_bytes:
 * @bytes: a whole single-file model in safetensors format
 * @name: what vae_model_get_path() returns and error messages call the
 *   data, e.g. "resource:///org/gimp-vae/models/seed-f16/seed-f16.safetensors"
 * @error: return location for a #GError
 *
 * Loads a model held in memory, such as one compiled into the program.  The
 * weights are copied (widened to f32), so @bytes need not outlive the
 * model.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error set
 *   as for vae_model_load().
 */
VaeModel *
vae_model_load_from_bytes (GBytes       *bytes,
                           const gchar  *name,
                           GError      **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return load_bytes (bytes, name, NULL, error);
}

/**
 * vae_model_ref:
 * @model: a model
 *
 * Returns: (transfer full): @model
 */
VaeModel *
vae_model_ref (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  g_atomic_int_inc (&model->ref_count);

  return model;
}

/**
 * vae_model_unref:
 * @model: (nullable): a model
 *
 * Drops a reference; the last one frees the model and its weights.
 */
void
vae_model_unref (VaeModel *model)
{
  if (model && g_atomic_int_dec_and_test (&model->ref_count))
    model_free (model);
}

/**
 * vae_model_get_path:
 * @model: a model
 *
 * Returns: the path the model was loaded from.
 */
const gchar *
vae_model_get_path (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->path;
}

/**
 * vae_model_get_id:
 * @model: a model
 *
 * Returns: a short identifier of the model variant, such as "taef2".
 */
const gchar *
vae_model_get_id (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->info.id;
}

/**
 * vae_model_get_name:
 * @model: a model
 *
 * Returns: a human-readable, untranslated name of the model variant.
 */
const gchar *
vae_model_get_name (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->info.name;
}

/**
 * vae_model_get_architecture:
 * @model: a model
 *
 * Returns: the architecture family, such as "taesd".
 */
const gchar *
vae_model_get_architecture (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->info.architecture;
}

/**
 * vae_model_get_license:
 * @model: a model
 *
 * Returns: (nullable): the license the weight files declare in their
 *   metadata, if any.
 */
const gchar *
vae_model_get_license (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->license;
}

/**
 * vae_model_get_latent_channels:
 * @model: a model
 *
 * Returns: the number of latent channels.
 */
guint
vae_model_get_latent_channels (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, 0);

  return model->info.latent_channels;
}

/**
 * vae_model_get_factor:
 * @model: a model
 *
 * Returns: how many image pixels one latent pixel covers, per side (8 for
 *   SD-style models, 16 or 32 for deeper compression).
 */
guint
vae_model_get_factor (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, 0);

  return model->info.factor;
}

/**
 * vae_model_get_n_params:
 * @model: a model
 *
 * Returns: the number of weights (encoder and decoder together).
 */
guint64
vae_model_get_n_params (VaeModel *model)
{
  guint64 n = 0;

  g_return_val_if_fail (model != NULL, 0);

  if (model->encoder_weights)
    n += vae_weights_get_n_params (model->encoder_weights);
  if (model->decoder_weights && model->decoder_weights != model->encoder_weights)
    n += vae_weights_get_n_params (model->decoder_weights);

  return n;
}

/**
 * vae_model_can_encode:
 * @model: a model
 *
 * Returns: whether the model has an encoder.
 */
gboolean
vae_model_can_encode (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, FALSE);

  return model->arch->can_encode (model->arch_data);
}

/**
 * vae_model_can_decode:
 * @model: a model
 *
 * Returns: whether the model has a decoder.
 */
gboolean
vae_model_can_decode (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, FALSE);

  return model->arch->can_decode (model->arch_data);
}

static void
hash_weights (VaeSha256  *sum,
              VaeWeights *weights)
{
  g_autoptr (GPtrArray) names = vae_weights_list (weights);
  guint i;

  for (i = 0; i < names->len; i++)
    {
      const VaeWeight *w = vae_weights_lookup (weights, g_ptr_array_index (names, i));

      vae_sha256_update (sum, w->name, strlen (w->name) + 1);
      vae_sha256_update (sum, w->data, w->n_elements * sizeof (gfloat));
    }
}

const VaeEntropyModel *
vae_model_get_entropy_model (VaeModel *model)
{
  return model->entropy_model;
}

/**
 * vae_model_get_hash:
 * @model: a model
 *
 * A fingerprint of the model's weights, recorded with the latents it makes
 * so that they are not decoded by another model by mistake.  It hashes the
 * tensor names and values (not the files), so the same weights stored as
 * safetensors or as a PyTorch checkpoint, in F16 or widened, hash alike.
 * Computed on first use.
 *
 * Returns: the hash as "sha256:" followed by the first 32 hex digits.
 */
const gchar *
vae_model_get_hash (VaeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  g_mutex_lock (&model->hash_mutex);
  if (model->hash == NULL)
    {
      VaeSha256 sum;
      gchar     hex[VAE_SHA256_HEX_LENGTH + 1];

      vae_sha256_init (&sum, FALSE);
      vae_sha256_update (&sum, model->info.architecture,
                         strlen (model->info.architecture) + 1);
      if (model->encoder_weights)
        hash_weights (&sum, model->encoder_weights);
      if (model->decoder_weights && model->decoder_weights != model->encoder_weights)
        hash_weights (&sum, model->decoder_weights);
      vae_sha256_finish (&sum, hex);

      model->hash = g_strdup_printf ("sha256:%.32s", hex);
    }
  g_mutex_unlock (&model->hash_mutex);

  return model->hash;
}

/**
 * vae_model_get_latent_scaling:
 * @model: a model
 * @scale: (out) (optional): the scaling factor
 * @shift: (out) (optional): the shift
 *
 * How the model's raw latents map to the latent space its diffusion model
 * works in: diffusion = (raw - shift) * scale.  1 and 0 for models whose
 * latents are already in that space (the TAESD family).
 */
void
vae_model_get_latent_scaling (VaeModel *model,
                              gdouble  *scale,
                              gdouble  *shift)
{
  g_return_if_fail (model != NULL);

  if (scale)
    *scale = model->info.scale;
  if (shift)
    *shift = model->info.shift;
}

/**
 * vae_model_get_gflops:
 * @model: a model
 * @decoder: %TRUE for the decoder, %FALSE for the encoder
 * @width: image width in pixels
 * @height: image height in pixels
 *
 * Returns: the billions of floating-point operations (multiply and add
 *   counted apart) that encoding or decoding an image of this size takes,
 *   or 0 when the model lacks that half.
 */
gdouble
vae_model_get_gflops (VaeModel *model,
                      gboolean  decoder,
                      gsize     width,
                      gsize     height)
{
  guint f;

  g_return_val_if_fail (model != NULL, 0.0);

  f = model->info.factor;
  width = (width + f - 1) / f * f;
  height = (height + f - 1) / f * f;

  return model->arch->flops (model->arch_data, decoder, width, height) / 1e9;
}

/* The tile side in image pixels, 0 to run untiled; FALSE when the run
 * cannot fit the memory budget.  @copy: the run holds a copy of the
 * image (the padded input of an untiled encode, a cropped output). */
static gboolean
choose_tile (VaeModel          *model,
             gboolean           decoder,
             gsize              width,
             gsize              height,
             gboolean           copy,
             const VaeOptions  *options,
             gsize             *tile,
             GError           **error)
{
  const VaeArchClass *arch = model->arch;
  VaePlan             plan;

  *tile = 0;
  if (arch->plan == NULL)
    return TRUE;
  if (! arch->plan (model->arch_data, decoder, width, height, copy,
                    options->memory_budget ? options->memory_budget
                                           : VAE_DEFAULT_MEMORY_BUDGET,
                    options->tile_size > 0 ? (gsize) options->tile_size : 0,
                    &plan, error))
    return FALSE;
  if ((decoder ? arch->decode_tiled : arch->encode_tiled) != NULL)
    *tile = plan.tile;
  g_debug ("%s %s %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT " plan: tiles of %"
           G_GSIZE_FORMAT " (0: whole), %.2f TFLOP, %" G_GSIZE_FORMAT
           " MiB of working memory", model->info.id, decoder ? "decode" : "encode",
           width, height, *tile, plan.flops / 1e12, plan.memory >> 20);

  return TRUE;
}

static gboolean
check_image (VaeModel         *model,
             const VaeTensor  *image,
             GError          **error)
{
  if (image->n_dims != 3 || VAE_T_C (image) != 3)
    {
      g_autofree gchar *shape = vae_tensor_shape_to_string (image);

      g_set_error (error, VAE_ERROR, VAE_ERROR_SHAPE,
                   "an image to encode has shape [3, height, width], not %s",
                   shape);
      return FALSE;
    }

  return TRUE;
}

/**
 * vae_model_encode:
 * @model: a model that can encode
 * @image: a [3, height, width] image, R'G'B' in [0, 1]
 * @latent: (out) (transfer full): the latents
 * @options: (nullable): options, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @progress: (nullable) (scope call): called as the work advances
 * @progress_data: data for @progress
 * @error: return location for a #GError
 *
 * Encodes @image.  Sizes that are not multiples of the model's factor are
 * padded as @options says; the latents record the model and the original
 * size, so that decoding gives back an image of that size.
 *
 * Returns: %TRUE on success; %FALSE with @error set, e.g.
 *   %VAE_ERROR_CANCELLED when @cancellable was cancelled,
 *   %VAE_ERROR_NO_MEMORY (before anything is allocated) when @image cannot
 *   be encoded within the memory budget of @options.
 */
gboolean
vae_model_encode (VaeModel          *model,
                  const VaeTensor   *image,
                  VaeLatent        **latent,
                  const VaeOptions  *options,
                  GCancellable      *cancellable,
                  VaeProgressFunc    progress,
                  gpointer           progress_data,
                  GError           **error)
{
  VaeOptions           defaults;
  VaeRun               run;
  g_autoptr (VaeTensor) padded = NULL;
  g_autoptr (VaeTensor) z = NULL;
  gsize                f, width, height, tile;
  gboolean             ok;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (image != NULL, FALSE);
  g_return_val_if_fail (latent != NULL, FALSE);

  *latent = NULL;

  if (options == NULL)
    {
      vae_options_init (&defaults);
      options = &defaults;
    }

  if (! vae_model_can_encode (model))
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s has no encoder", model->path);
  if (! check_image (model, image, error))
    return FALSE;

  /* Planned before anything is allocated.  Tiles read the image as
   * padded; only an untiled run of an image off the factor needs a padded
   * copy. */
  f = model->info.factor;
  width = (VAE_T_W (image) + f - 1) / f * f;
  height = (VAE_T_H (image) + f - 1) / f * f;
  if (! choose_tile (model, FALSE, width, height,
                     width != VAE_T_W (image) || height != VAE_T_H (image),
                     options, &tile, error))
    return FALSE;
  if (tile == 0 && (width != VAE_T_W (image) || height != VAE_T_H (image)))
    padded = vae_image_pad (image, f, options->pad_mode, error);
  else
    padded = vae_tensor_ref ((VaeTensor *) image);
  if (padded == NULL)
    return FALSE;

  vae_run_init (&run, options, cancellable, progress, progress_data);
  ok = vae_run_check (&run, error) &&
       (tile ? model->arch->encode_tiled (model->arch_data, padded, &z, tile, &run, error)
             : model->arch->encode (model->arch_data, padded, &z, &run, error));
  vae_run_clear (&run);
  if (! ok)
    return FALSE;

  *latent = vae_latent_new (z, error);
  if (*latent == NULL)
    return FALSE;
  vae_latent_set_model (*latent, model->info.id, vae_model_get_hash (model));
  vae_latent_set_image_size (*latent, VAE_T_W (image), VAE_T_H (image));

  return TRUE;
}

/* The content hash decides when one is given, else the id; neither given
 * (latents from ComfyUI) passes.  A hash without "sha256:" is the first
 * hex digits of one, as a .vaez header keeps it. */
gboolean
vae_model_made (VaeModel    *model,
                const gchar *model_id,
                const gchar *model_hash)
{
  const gchar *own = vae_model_get_hash (model);

  if (model_hash != NULL && model_hash[0] != '\0')
    {
      if (g_str_has_prefix (model_hash, "sha256:"))
        return g_strcmp0 (model_hash, own) == 0;

      return g_str_has_prefix (own, "sha256:") &&
             g_str_has_prefix (own + strlen ("sha256:"), model_hash);
    }
  if (model_id != NULL && model_id[0] != '\0')
    return g_strcmp0 (model_id, model->info.id) == 0;

  return TRUE;
}

static gboolean
check_latent (VaeModel         *model,
              const VaeLatent  *latent,
              gboolean          check_origin,
              GError          **error)
{
  if (! vae_model_can_decode (model))
    return vae_fail (error, VAE_ERROR_UNSUPPORTED,
                     "%s has no decoder", model->path);

  /* Before the channels: latents of another model with another channel
   * count are best explained by their origin. */
  if (check_origin &&
      ! vae_model_made (model, vae_latent_get_model_id (latent),
                        vae_latent_get_model_hash (latent)))
    {
      const gchar *id = vae_latent_get_model_id (latent);

      g_set_error (error, VAE_ERROR, VAE_ERROR_MODEL_MISMATCH,
                   "the latents were made by another model (%s) than %s; "
                   "decoding them anyway needs force",
                   id != NULL && id[0] != '\0' ? id : "unknown",
                   model->info.id);
      return FALSE;
    }

  if (vae_latent_get_channels (latent) != model->info.latent_channels)
    return vae_fail (error, VAE_ERROR_SHAPE,
                     "the latents have %u channels, but %s decodes %u",
                     vae_latent_get_channels (latent), model->info.id,
                     model->info.latent_channels);

  return TRUE;
}

/**
 * vae_model_check_latent:
 * @model: a model
 * @latent: latents to decode with it
 * @error: return location for a #GError
 *
 * Tells whether @model can decode @latent, the check vae_model_decode()
 * makes first, for front ends that want to refuse before any work or word
 * the refusal their own way (the error codes say which rule failed).
 * Latents mean nothing to another model's decoder, even one with as many
 * channels, so the model that made them must be @model: the content hash
 * decides when @latent records one (a hash without "sha256:" is taken for
 * the first hex digits of one), else the model id; latents that record
 * neither (made elsewhere, e.g. by ComfyUI) are taken as @model's.
 *
 * Returns: %TRUE when @model may decode @latent; %FALSE with
 *   %VAE_ERROR_UNSUPPORTED when @model has no decoder,
 *   %VAE_ERROR_MODEL_MISMATCH when another model made @latent,
 *   %VAE_ERROR_SHAPE when the channel counts differ.
 */
gboolean
vae_model_check_latent (VaeModel         *model,
                        const VaeLatent  *latent,
                        GError          **error)
{
  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (latent != NULL, FALSE);

  return check_latent (model, latent, TRUE, error);
}

/**
 * vae_model_decode:
 * @model: a model that can decode
 * @latent: latents, made by this model unless @options->force is set
 * @image: (out) (transfer full): the decoded [3, height, width] image,
 *   clamped to [0, 1]
 * @options: (nullable): options, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @progress: (nullable) (scope call): called as the work advances
 * @progress_data: data for @progress
 * @error: return location for a #GError
 *
 * Decodes @latent.  When the latents record the size of the image they
 * were made from, the result is cropped to it; otherwise it is the latent
 * size times the model's factor.
 *
 * Returns: %TRUE on success; %FALSE with @error set:
 *   %VAE_ERROR_MODEL_MISMATCH for latents of another model,
 *   %VAE_ERROR_SHAPE for the wrong number of channels,
 *   %VAE_ERROR_NO_MEMORY (before anything is allocated) when the image
 *   cannot be decoded within the memory budget of @options,
 *   %VAE_ERROR_CANCELLED, ...
 */
gboolean
vae_model_decode (VaeModel          *model,
                  const VaeLatent   *latent,
                  VaeTensor        **image,
                  const VaeOptions  *options,
                  GCancellable      *cancellable,
                  VaeProgressFunc    progress,
                  gpointer           progress_data,
                  GError           **error)
{
  VaeOptions           defaults;
  VaeRun               run;
  const VaeTensor     *z;
  g_autoptr (VaeTensor) out = NULL;
  guint                width, height;
  gboolean             ok;
  gsize                i, tile;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (latent != NULL, FALSE);
  g_return_val_if_fail (image != NULL, FALSE);

  *image = NULL;

  if (options == NULL)
    {
      vae_options_init (&defaults);
      options = &defaults;
    }

  if (! check_latent (model, latent, ! options->force, error))
    return FALSE;
  z = vae_latent_get_tensor (latent);

  /* An image smaller than the latents' is cropped into a copy. */
  if (! choose_tile (model, TRUE, VAE_T_W (z) * model->info.factor,
                     VAE_T_H (z) * model->info.factor,
                     vae_latent_get_image_size (latent, &width, &height) &&
                     width <= VAE_T_W (z) * model->info.factor &&
                     height <= VAE_T_H (z) * model->info.factor &&
                     (width != VAE_T_W (z) * model->info.factor ||
                      height != VAE_T_H (z) * model->info.factor),
                     options, &tile, error))
    return FALSE;

  vae_run_init (&run, options, cancellable, progress, progress_data);
  ok = vae_run_check (&run, error) &&
       (tile ? model->arch->decode_tiled (model->arch_data, z, &out, tile, &run, error)
             : model->arch->decode (model->arch_data, z, &out, &run, error));
  vae_run_clear (&run);
  if (! ok)
    return FALSE;

  for (i = 0; i < out->n_elements; i++)
    {
      gfloat v = out->data[i];

      /* NaN never leaves the decoder: it would become garbage pixels. */
      out->data[i] = v >= 0.0f ? (v <= 1.0f ? v : 1.0f) : 0.0f;
    }

  if (vae_latent_get_image_size (latent, &width, &height) &&
      width <= VAE_T_W (out) && height <= VAE_T_H (out) &&
      (width != VAE_T_W (out) || height != VAE_T_H (out)))
    {
      *image = vae_image_crop (out, 0, 0, width, height, error);
      return *image != NULL;
    }

  *image = g_steal_pointer (&out);

  return TRUE;
}
