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
 * SDXL share one layout, and so do SD3 and FLUX.1.  The registry decides
 * (vae-registry-identify.c): a registered model by its file, another by
 * data/models.json's families, which read the safetensors metadata
 * ("modelspec.architecture" mentioning "xl" or "stable-diffusion-3"/"sd3";
 * "scaling_factor" and "shift_factor" taken as they are) and otherwise
 * call 4 channels SD 1.x (scale 0.18215) and 16 FLUX.1 (0.3611, shift
 * 0.1159).
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
 *
 * The files, each calling only those below it: this one (the class
 * table, whole runs), autoencoder-kl-tiles.c (tiled runs and the plan),
 * autoencoder-kl-bands.c (the whole part: levels, mid block and heads,
 * their ResNet blocks and attention whole or in bands of rows),
 * autoencoder-kl-blocks.c (the blocks run whole) and autoencoder-kl-load.c
 * (the weights).
 */

#include "autoencoder-kl-private.h"

static void
kl_destroy (gpointer self)
{
  g_free (self);
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
  vae_run_begin (run, "encode", vae_kl_half_flops (e, FALSE, VAE_T_H (image),
                                            VAE_T_W (image)));
  vae_scratch_init (&scratch);

  x = vae_kl_encoder_input (&scratch, image, error);
  if (x != NULL &&
      vae_op_conv2d_step (run, &scratch, &e->conv_in, VAE_ACT_NONE, &x, error) &&
      vae_kl_levels_forward (run, &scratch, e, 0, e->n_levels, TRUE, FALSE, &x, error))
    *latent = vae_kl_encoder_tail (run, &scratch, e, FALSE, &x, error);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *latent != NULL;
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

  vae_run_begin (run, "decode", vae_kl_half_flops (d, TRUE, VAE_T_H (latent),
                                            VAE_T_W (latent)));
  vae_scratch_init (&scratch);

  x = vae_kl_decoder_head (run, &scratch, d, FALSE, latent, error);
  if (x != NULL)
    *image = vae_kl_decoder_tail (run, &scratch, d, &x, error);
  if (*image)
    vae_kl_decoder_output (*image);

  if (x)
    vae_tensor_unref (x);
  vae_scratch_clear (&scratch);

  return *image != NULL;
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
           ? vae_kl_half_flops (&kl->decoder, TRUE, height / kl->decoder.factor,
                         width / kl->decoder.factor)
           : 0.0;

  return kl->encoder.present ? vae_kl_half_flops (&kl->encoder, FALSE, height, width)
                             : 0.0;
}

const VaeArchClass vae_arch_autoencoder_kl = {
  .name = "autoencoder-kl",
  .probe = vae_kl_probe,
  .create = vae_kl_create,
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
