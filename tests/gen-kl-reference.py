#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the AutoencoderKL test models and their PyTorch references.

    tools/debian13-env python3 tests/gen-kl-reference.py [--out DIR]
        [--skip-large]

Small random models (tests/kl_reference.py, float32 maths), one per
variant, each in DIR/<variant>/:

  sd     4 latent channels, top-level quant_conv / post_quant_conv; LDM
         names under "first_stage_model." among unrelated tensors, as in a
         full SD checkpoint; F16.  Encoder widths [64, 32] so that both
         halves have 1x1 shortcuts (64 -> 32 and 32 -> 64).
  kl16   16 channels, no quant convs (the SD3 / FLUX.1 layout); diffusers
         names: the encoder with to_q/to_k/to_v/to_out.0, the decoder with
         the legacy query/key/value/proj_attn (Linear [C, C] weights); the
         loader resolves every tensor on its own, so one file covers both
         spellings; F16.
  flux2  32 channels, BFL names (encoder.quant_conv, decoder.post_quant_conv)
         and the latent BatchNorm statistics bn.running_mean/var; a decoder
         narrower than the encoder ([32, 32] against [64, 32], like the
         FLUX.2 small decoder); BF16.

All use 2 levels (factor 2) and 1 res block per level (the decoder 2), to
keep the files small; the full-size test covers 4 levels and 2 blocks.
Each DIR/<variant>/reference.safetensors (F32) holds

    image          [3, 48, 40]  in [0, 1], on 8-bit levels
    latent         [z, 24, 20]  posterior mean of image
    decoder_input  [z, 10, 14]  an independent latent
    decoded        [3, 20, 28]  (decoder (decoder_input) + 1) / 2, NOT clamped
    latent_bn      [4z, 12, 10] (flux2 only) the BatchNorm of the patchified
                                latent: the diffusion-space latent

References are computed from the weights as stored (rounded to F16/BF16),
so only the engine's arithmetic differs from them.

The full-size part (skipped with --skip-large): a random-weight SD decoder
(channels [128, 256, 512, 512], 2 res blocks, 4 latent channels, with
post_quant_conv) whose weights come from the splitmix64 generator of
kl_reference.py, seed LARGE_SEED, decodes a generated 4 x 64 x 64 latent to
512 x 512.  Only a fingerprint is written, DIR/large-fingerprint.txt: the
mean, standard deviation, min and max of the unclamped output and the values
at LARGE_SAMPLES positions; tests/test-kl.c makes the same weights in C.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kl_reference as K  # noqa: E402
import taesd_reference as T  # noqa: E402  (safetensors, weights, image)

SEED = 20261127
LARGE_SEED = 0x5EEDC0DE
LARGE_SAMPLES = 400
LARGE_CHANNELS = [128, 256, 512, 512]

IMAGE_HW = (48, 40)
DECODER_HW = (10, 14)

VARIANTS = {
    'sd': dict(channels=[64, 32], z=4, quant='outer', bn=False,
               dtype='F16', naming='ldm', prefix='first_stage_model.'),
    'kl16': dict(channels=[32, 32], z=16, quant=None, bn=False,
                 dtype='F16', naming='diffusers', prefix=''),
    'flux2': dict(channels=[64, 32], decoder_channels=[32, 32], z=32,
                  quant='inner', bn=True, dtype='BF16', naming='ldm',
                  prefix=''),
}


def conv_gain(parts):
    """The second conv of each resnet and the attention output at half
    gain, so the residual stream stays O(1); q and k at a gain that makes
    the attention weights far from uniform."""
    if parts[-2] in ('conv2', 'proj_out'):
        return 0.5
    if parts[-2] in ('q', 'k'):
        return 2.0
    return 1.0


def init_weights(model, gen):
    T.init_weights(model, gen, conv_gain, lambda parts: 'norm' in parts[-2])


def round_to(model, dtype):
    tdtype = T._DTYPES[dtype][0]
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(tdtype).to(torch.float32))
        for b in model.buffers():
            if b.is_floating_point():
                b.copy_(b.to(tdtype).to(torch.float32))


def mean_layer(model):
    """The last layer that produces the posterior mean."""
    if hasattr(model, 'quant_conv'):
        return model.quant_conv
    if hasattr(model.encoder, 'quant_conv'):
        return model.encoder.quant_conv
    return model.encoder.conv_out


def distractors(gen):
    """Tensors of a full SD checkpoint that are not the VAE's."""
    return {
        'model.diffusion_model.input_blocks.0.0.weight': torch.randn(8, 4, 3, 3, generator=gen),
        'model.diffusion_model.input_blocks.0.0.bias': torch.randn(8, generator=gen),
        'cond_stage_model.transformer.text_model.final_layer_norm.weight': torch.randn(16, generator=gen),
        'model.diffusion_model.out.2.weight': torch.randn(4, 8, 3, 3, generator=gen),
    }


def file_tensors(model, cfg, gen):
    """The state dict as it is written: renamed, prefixed, mixed in."""
    state = {k: v for k, v in model.state_dict().items()
             if not k.endswith('num_batches_tracked')}
    n_levels = len(cfg.get('decoder_channels') or cfg['channels'])
    if cfg['naming'] == 'diffusers':
        enc = {k: v for k, v in state.items() if not k.startswith('decoder.')}
        dec = {k: v for k, v in state.items() if k.startswith('decoder.')}
        state = K.to_diffusers(enc, n_levels)
        state.update(K.to_diffusers(dec, n_levels, legacy_attention=True))
    state = {cfg['prefix'] + k: v for k, v in state.items()}
    if cfg['prefix'] == 'first_stage_model.':
        extra = distractors(gen)
        names = list(extra)
        out = {names[0]: extra[names[0]], names[1]: extra[names[1]]}
        out.update(state)
        out.update({n: extra[n] for n in names[2:]})
        state = out
    return state


def generate(variant, out_dir, gen):
    cfg = VARIANTS[variant]
    z = cfg['z']
    model = K.AutoencoderKL(cfg['channels'], 1, z, cfg['quant'], cfg['bn'],
                            cfg.get('decoder_channels')).eval()
    init_weights(model, gen)
    image = T.make_image(IMAGE_HW[1], IMAGE_HW[0], gen)
    decoder_input = torch.randn((z,) + DECODER_HW, generator=gen)

    with torch.no_grad():
        # Latents of unit spread; decoded values centred on 0.5 with
        # spread 0.35, so that some fall outside [0, 1].
        mean = model.encode(image[None])[0]
        layer = mean_layer(model)
        s = 1.0 / mean.std()
        layer.weight[:z].mul_(s)
        layer.bias[:z].mul_(s)
        y = model.decode(decoder_input[None])[0] * 2 - 1
        conv = model.decoder.conv_out
        mu, sigma = y.mean(dim=(1, 2)), y.std(dim=(1, 2))
        s = 0.7 / sigma
        conv.weight.mul_(s.view(3, 1, 1, 1))
        conv.bias.copy_(0.1 * torch.randn(3, generator=gen) - s * (mu - conv.bias))
        if cfg['bn']:
            c4 = 4 * z
            model.bn.running_mean.copy_(0.3 * torch.randn(c4, generator=gen))
            model.bn.running_var.copy_(0.5 + 1.5 * torch.rand(c4, generator=gen))

    round_to(model, cfg['dtype'])
    with torch.inference_mode():
        latent = model.encode(image[None])[0]
        decoded = model.decode(decoder_input[None])[0]
        ref = {'image': image, 'latent': latent, 'decoder_input': decoder_input,
               'decoded': decoded}
        if cfg['bn']:
            ref['latent_bn'] = model.normalize(latent[None])[0]

    d = os.path.join(out_dir, variant)
    os.makedirs(d, exist_ok=True)
    tensors = file_tensors(model, cfg, gen)
    meta = {'format': 'pt',
            'description': f'gimp-vae test model (AutoencoderKL {variant} '
                           f'layout, random weights, seed {SEED}); not a '
                           f'trained model'}
    path = os.path.join(d, 'model.safetensors')
    T.save_safetensors(path, tensors, cfg['dtype'], meta)
    n_params = sum(p.numel() for p in model.parameters())
    T.save_safetensors(os.path.join(d, 'reference.safetensors'), ref, 'F32',
                       {'variant': variant, 'latent_channels': z,
                        'weights_dtype': cfg['dtype'], 'seed': SEED,
                        'n_params': n_params})

    # Read back with the independent reader: the stored values must be the
    # ones the reference used.
    back, _, dtypes = T.load_safetensors(path)
    assert list(back) == list(tensors), f'{variant}: name order'
    assert set(dtypes.values()) == {cfg['dtype']}
    for k, v in tensors.items():
        stored = v.to(T._DTYPES[cfg['dtype']][0]).to(torch.float32)
        assert torch.equal(back[k], stored), f'{variant}: {k}'

    out = ((decoded < 0) | (decoded > 1)).float().mean().item()
    print(f'{variant:6s} {cfg["dtype"]:4s} {n_params} params, {len(tensors)} '
          f'tensors; latent {tuple(latent.shape)} std {latent.std():.3f}; '
          f'decoded {tuple(decoded.shape)} [{decoded.min():.3f}, '
          f'{decoded.max():.3f}], {100 * out:.1f} % outside [0, 1]')


def generate_large(out_dir):
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = K.AutoencoderKL(LARGE_CHANNELS, 2, 4, 'outer', encoder=False).eval()
    state = model.state_dict()
    with torch.no_grad():
        for name, t in state.items():
            t.copy_(K.generated_tensor(LARGE_SEED, name, tuple(t.shape)))
    z = K.generated_latent(LARGE_SEED, 4, 64, 64)
    with torch.inference_mode():
        y = model.decode(z[None])[0].to(torch.float64)
    flat = y.flatten()
    idx = K.sample_indices(LARGE_SEED, LARGE_SAMPLES, flat.numel())
    path = os.path.join(out_dir, 'large-fingerprint.txt')
    with open(path, 'w') as f:
        f.write('# tests/gen-kl-reference.py: full-size SD decoder, random '
                f'weights seed {LARGE_SEED:#x}, latent 4x64x64 -> 3x512x512\n')
        f.write(f'params {sum(t.numel() for t in state.values())}\n')
        f.write(f'mean {flat.mean().item():.9g}\n')
        f.write(f'std {flat.std(unbiased=False).item():.9g}\n')
        f.write(f'min {flat.min().item():.9g}\n')
        f.write(f'max {flat.max().item():.9g}\n')
        for i in idx:
            f.write(f'{int(i)} {flat[int(i)].item():.9g}\n')
    print(f'large: output mean {flat.mean():.4f} std {flat.std():.4f} range '
          f'[{flat.min():.3f}, {flat.max():.3f}] -> {path}')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(here, 'data', 'kl'))
    ap.add_argument('--skip-large', action='store_true')
    args = ap.parse_args()

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    for variant in VARIANTS:
        generate(variant, args.out, gen)
    if not args.skip_large:
        generate_large(args.out)


if __name__ == '__main__':
    main()
