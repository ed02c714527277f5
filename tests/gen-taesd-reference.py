#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the TAESD-family test models and their PyTorch references.

    tools/debian13-env python3 tests/gen-taesd-reference.py [--out DIR]
    tools/debian13-env python3 tests/gen-taesd-reference.py --check-kodak \
        [--model ../shared/models/taef2] [kodim23 kodim13 ...]

For each variant (taesd, taef1, taef2, taesana) writes DIR/<variant>/ with
encoder.safetensors and decoder.safetensors (small random models with the
exact upstream tensor names, stored in the variant's dtype) and
reference.safetensors (float32):

    image          [3, H, W]   in [0, 1], on 8-bit levels
    latent         [C, H/f, W/f]  encoder output for image
    decoder_input  [C, h, w]   independent latent, N(0, 1.5^2), so that the
                               decoder's tanh clamp is exercised
    decoded        [3, h*f, w*f]  raw decoder output for decoder_input,
                               NOT clamped to [0, 1]

The decoder input has the opposite orientation (taller than wide) of the
encoder's latent so that a swapped height/width shows up.  References are
computed in float32 from the weights as stored (already rounded to
F16/BF16), so only the engine's arithmetic differs from them.

--check-kodak runs the real TAEF2 weights through this same reference model
on Kodak images and compares 8-bit PSNRs with taef2-reference.tsv; nothing
is written.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taesd_reference as R  # noqa: E402

SEED = 20261126

# variant: block width, stored dtype, image (W, H), decoder input (h, w).
# Widths differ on purpose: 8 and 16 are vector friendly, 12 is not.
CONFIG = {
    'taesd':   dict(width=8,  dtype='F32',  image=(64, 48), dec_hw=(7, 5)),
    'taef1':   dict(width=12, dtype='BF16', image=(64, 48), dec_hw=(7, 5)),
    'taef2':   dict(width=16, dtype='F16',  image=(64, 48), dec_hw=(7, 5)),
    'taesana': dict(width=8,  dtype='F16',  image=(96, 64), dec_hw=(3, 2)),
}


def init_weights(model, gen):
    """R.init_weights (): the last conv of each residual branch and the
    pool's output conv at half gain so that activations stay O(1) through
    the residual chain; the pool's GroupNorm is its layer 1."""
    R.init_weights(model, gen,
                   lambda parts: 0.5 if parts[-3:-1] in (['conv', '4'], ['pool', '3']) else 1.0,
                   lambda parts: parts[-2] == '1' and 'pool' in parts)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def last_conv(seq):
    return seq[len(seq) - 1]


def round_to(model, dtype):
    """Round every parameter to the stored dtype, keep computing in f32."""
    tdtype = R._DTYPES[dtype][0]
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(tdtype).to(torch.float32))


def generate(variant, out_dir, gen):
    cfg = CONFIG[variant]
    enc, dec, factor = R.build(variant, cfg['width'])
    init_weights(enc, gen)
    init_weights(dec, gen)
    latent_channels = R.VARIANTS[variant]['latent_channels']
    W, H = cfg['image']
    image = R.make_image(W, H, gen)
    h, w = cfg['dec_hw']
    decoder_input = 1.5 * torch.randn((latent_channels, h, w), generator=gen)

    with torch.no_grad():
        # Data-dependent scaling of the output layers: latents of unit
        # spread, decoded values centred on 0.5 with about 10 % of them
        # outside [0, 1] so that the clamp matters.
        z = enc(image[None])[0]
        lc = last_conv(enc)
        lc.weight.mul_(1.0 / z.std())
        lc.bias.mul_(1.0 / z.std())
        y = dec(decoder_input[None])[0]
        lc = last_conv(dec)
        s = 0.35 / y.std(dim=(1, 2))
        lc.weight.mul_(s.view(3, 1, 1, 1))
        lc.bias.copy_(0.5 - (y.mean(dim=(1, 2)) - lc.bias) * s
                      + 0.05 * torch.randn(3, generator=gen))

    round_to(enc, cfg['dtype'])
    round_to(dec, cfg['dtype'])
    with torch.inference_mode():
        latent = enc(image[None])[0]
        decoded = dec(decoder_input[None])[0]

    d = os.path.join(out_dir, variant)
    os.makedirs(d, exist_ok=True)
    meta = {'format': 'pt',
            'description': f'gimp-vae test model ({variant} layout, block '
                           f'width {cfg["width"]}, random weights, seed '
                           f'{SEED}); not a trained model'}
    R.save_safetensors(os.path.join(d, 'encoder.safetensors'),
                       enc.state_dict(), cfg['dtype'], meta)
    R.save_safetensors(os.path.join(d, 'decoder.safetensors'),
                       dec.state_dict(), cfg['dtype'], meta)
    R.save_safetensors(os.path.join(d, 'reference.safetensors'),
                       {'image': image, 'latent': latent,
                        'decoder_input': decoder_input, 'decoded': decoded},
                       'F32',
                       {'variant': variant, 'width': cfg['width'],
                        'factor': factor, 'latent_channels': latent_channels,
                        'weights_dtype': cfg['dtype'], 'seed': SEED,
                        'encoder_params': n_params(enc),
                        'decoder_params': n_params(dec)})

    # Read back with the independent reader: names, order and values must
    # survive the write (weights are exact in their stored dtype).
    for half, model in (('encoder', enc), ('decoder', dec)):
        t, _, dtypes = R.load_safetensors(os.path.join(d, half +
                                                       '.safetensors'))
        sd = model.state_dict()
        assert list(t) == list(sd), f'{variant} {half}: name order'
        assert set(dtypes.values()) == {cfg['dtype']}
        for k in sd:
            assert torch.equal(t[k], sd[k]), f'{variant} {half}: {k}'

    frac_out = ((decoded < 0) | (decoded > 1)).float().mean().item()
    print(f'{variant:8s} width {cfg["width"]:2d} {cfg["dtype"]:4s} '
          f'image {tuple(image.shape)} latent {tuple(latent.shape)} '
          f'std {latent.std():.3f} max|.| {latent.abs().max():.3f}; '
          f'decoder_input {tuple(decoder_input.shape)} -> '
          f'{tuple(decoded.shape)} range [{decoded.min():.3f}, '
          f'{decoded.max():.3f}], {100 * frac_out:.1f} % outside [0,1]')


def read_png(path):
    from PIL import Image
    im = np.asarray(Image.open(path).convert('RGB'), dtype=np.uint8)
    return torch.from_numpy(im.copy()).permute(2, 0, 1)


def check_kodak(model_dir, kodak_dir, names):
    torch.set_num_threads(2)
    enc, dec = R.load_model_dir(model_dir, 'taef2', 64)
    ref = {}
    with open(os.path.join(kodak_dir, 'taef2-reference.tsv')) as f:
        next(f)
        for line in f:
            k, v = line.split()
            ref[k] = float(v)
    worst = 0.0
    for name in names:
        orig = read_png(os.path.join(kodak_dir, name + '.png'))
        with torch.inference_mode():
            x = orig.to(torch.float32)[None] / 255
            y = dec(enc(x))[0]
        q = torch.round(y.clamp(0, 1) * 255)
        mse = ((q.double() - orig.double()) ** 2).mean().item()
        psnr = 10 * math.log10(255.0 ** 2 / mse)
        diff = psnr - ref[name]
        worst = max(worst, abs(diff))
        print(f'{name}  {tuple(orig.shape)}  PSNR {psnr:.3f} dB  '
              f'reference {ref[name]:.3f}  diff {diff:+.4f}')
    print(f'max |diff| {worst:.4f} dB (bar 0.01)')
    return worst <= 0.01


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get('VAE_SHARED_DIR',
                            os.path.join(here, '..', '..', 'shared'))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(here, 'data', 'taesd'))
    ap.add_argument('--check-kodak', action='store_true')
    ap.add_argument('--model', default=os.path.join(shared, 'models',
                                                    'taef2'))
    ap.add_argument('--kodak', default=os.path.join(shared, 'data', 'kodak'))
    ap.add_argument('images', nargs='*',
                    default=['kodim23', 'kodim13', 'kodim04', 'kodim08'])
    args = ap.parse_args()

    if args.check_kodak:
        sys.exit(0 if check_kodak(args.model, args.kodak, args.images) else 1)

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    for variant in CONFIG:
        generate(variant, args.out, gen)


if __name__ == '__main__':
    main()
