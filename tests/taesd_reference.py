# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch reference for the TAESD family (TAESD, TAEF1, TAEF2, TAESANA).

Written from the layout in shared/models/taef2/README.md and
shared/docs/vae-architectures.md section 3.  It is the independent reference
that libvae's core/arch/taesd.c is judged against, so it is deliberately
plain: nn.Sequential with the upstream indices, so that state_dict() yields
exactly the tensor names of the real checkpoint files ("1.conv.0.weight",
"11.pool.0.weight", no prefix).

The block width is a parameter (the real models use 64) so that tests can
use tiny models.  Every Block in the family maps n channels to n channels,
so there is never a skip convolution.

Also here, for every fixture generator: a minimal safetensors reader and
writer (struct + json + numpy; the safetensors package is not available in
the build environment), and the random weights and the test image the
fixtures are made from.
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn


# Per variant: latent channels, whether the 3 blocks next to the latent carry
# the GroupNorm pool (FLUX.2), and whether it is the 32x (f32) layout.
VARIANTS = {
    'taesd':   dict(latent_channels=4,  midblock_gn=False, f32=False),
    'taef1':   dict(latent_channels=16, midblock_gn=False, f32=False),
    'taef2':   dict(latent_channels=32, midblock_gn=True,  f32=False),
    'taesana': dict(latent_channels=32, midblock_gn=False, f32=True),
}


def conv(n_in, n_out, stride=1, bias=True):
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class Clamp(nn.Module):
    """Soft clamp of decoder input latents to (-3, 3)."""

    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """n -> n residual block, optionally with the FLUX.2 GroupNorm pool.

    pool: 1x1 conv n -> 4n (no bias), GroupNorm(4 groups, eps 1e-5,
    affine), ReLU, 1x1 conv 4n -> n (no bias); added to the input before
    the three 3x3 convolutions.
    """

    def __init__(self, n, gn=False):
        super().__init__()
        self.conv = nn.Sequential(conv(n, n), nn.ReLU(), conv(n, n), nn.ReLU(),
                                  conv(n, n))
        self.fuse = nn.ReLU()
        self.pool = None
        if gn:
            self.pool = nn.Sequential(
                nn.Conv2d(n, 4 * n, 1, bias=False),
                nn.GroupNorm(4, 4 * n, eps=1e-5, affine=True),
                nn.ReLU(),
                nn.Conv2d(4 * n, n, 1, bias=False))

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def down(w, gn=False):
    """An encoder stage: a bias-free strided conv, then three blocks."""
    return [conv(w, w, 2, False), Block(w, gn), Block(w, gn), Block(w, gn)]


def up(n_in, n_out, n_blocks=3):
    """A decoder stage: nearest x2 upsampling, a bias-free conv, blocks."""
    return ([nn.Upsample(scale_factor=2), conv(n_in, n_out, bias=False)] +
            [Block(n_out) for _ in range(n_blocks)])


def encoder(latent_channels=4, width=64, midblock_gn=False):
    """f8 encoder, indices 0..14; GN pool on blocks 11-13 if midblock_gn."""
    w = width
    return nn.Sequential(
        conv(3, w), Block(w),
        *down(w), *down(w), *down(w, midblock_gn),
        conv(w, latent_channels))


def decoder(latent_channels=4, width=64, midblock_gn=False):
    """f8 decoder, indices 0..19; GN pool on blocks 3-5 if midblock_gn."""
    w = width
    return nn.Sequential(
        Clamp(), conv(latent_channels, w), nn.ReLU(),
        Block(w, midblock_gn), Block(w, midblock_gn), Block(w, midblock_gn),
        *up(w, w), *up(w, w), *up(w, w, 1),
        conv(w, 3))


def f32_encoder(latent_channels=32, width=64):
    """f32 (TAESANA) encoder, indices 0..17: two strided convs with bias
    (3 -> width/2 -> width) then the f8 encoder's three stages."""
    w = width
    return nn.Sequential(
        conv(3, w // 2, 2), nn.ReLU(), conv(w // 2, w, 2), nn.ReLU(), Block(w),
        *down(w), *down(w), *down(w),
        conv(w, latent_channels))


def f32_decoder(latent_channels=32, width=64):
    """f32 (TAESANA) decoder, indices 0..29: stages of width 4w, 2w, then
    three of w, each ending in nearest x2 upsampling and a bias-free conv."""
    w = width
    return nn.Sequential(
        Clamp(), conv(latent_channels, 4 * w), nn.ReLU(),
        Block(4 * w), Block(4 * w), Block(4 * w),
        *up(4 * w, 2 * w), *up(2 * w, w), *up(w, w), *up(w, w),
        *up(w, w, 1),
        conv(w, 3))


def build(variant, width=64):
    """(encoder, decoder, factor) of a variant, float32, eval mode."""
    v = VARIANTS[variant]
    if v['f32']:
        enc = f32_encoder(v['latent_channels'], width)
        dec = f32_decoder(v['latent_channels'], width)
        factor = 32
    else:
        enc = encoder(v['latent_channels'], width, v['midblock_gn'])
        dec = decoder(v['latent_channels'], width, v['midblock_gn'])
        factor = 8
    return enc.eval(), dec.eval(), factor


# --- safetensors -----------------------------------------------------------

_DTYPES = {
    'F32': (torch.float32, 4),
    'F16': (torch.float16, 2),
    'BF16': (torch.bfloat16, 2),
}


def init_weights(model, gen, conv_gain, is_norm):
    """The fixtures' random weights: Kaiming-normal convolutions times
    conv_gain(name parts), GroupNorm affines near (1, 0) where
    is_norm(name parts), other parameters (biases) small, so that no
    parameter is trivially 0 or 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            parts = name.split('.')
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                gain = math.sqrt(2.0 / fan_in) * conv_gain(parts)
                p.copy_(torch.randn(p.shape, generator=gen) * gain)
            elif is_norm(parts) and parts[-1] == 'weight':
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif is_norm(parts):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def make_image(width, height, gen):
    """The fixtures' input: a smooth colour pattern plus noise, on 8-bit
    levels."""
    y = torch.arange(height, dtype=torch.float64).view(-1, 1) / height
    x = torch.arange(width, dtype=torch.float64).view(1, -1) / width
    chans = []
    for c in range(3):
        fx, fy, ph = 1.0 + c, 2.0 - 0.5 * c, 0.7 * c
        v = 0.5 + 0.3 * torch.sin(2 * math.pi * (fx * x + fy * y) + ph)
        v = v + 0.1 * torch.cos(2 * math.pi * 3 * x * y)
        chans.append(v)
    img = torch.stack(chans)
    img = img + 0.08 * torch.randn(img.shape, generator=gen,
                                   dtype=torch.float64)
    img = torch.round(img.clamp(0, 1) * 255) / 255
    return img.to(torch.float32)


def save_safetensors(path, tensors, dtype='F32', metadata=None):
    """Write an ordered {name: tensor} as safetensors, every tensor stored
    as @dtype, in the given order, contiguous.  The header is padded with
    spaces to a multiple of 8 like the reference implementation does."""
    tdtype, size = _DTYPES[dtype]
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = torch.as_tensor(t).detach().to(tdtype).contiguous()
        # bfloat16 has no numpy type: move the raw bits as int16.
        raw = t.view(torch.int16).numpy() if size == 2 else t.numpy()
        raw = raw.astype(raw.dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    write_safetensors(path, header, blobs)


def write_safetensors(path, header, blobs):
    """Write @header (its keys in their order, the data offsets of @blobs
    in it) and the @blobs as a safetensors file."""
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path):
    """Read safetensors into ({name: float32 tensor} in file order,
    metadata dict, {name: stored dtype})."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack_from('<Q', data, 0)
    header = json.loads(data[8:8 + n].decode('utf-8'))
    body = memoryview(data)[8 + n:]
    metadata = header.pop('__metadata__', {})
    tensors, dtypes = {}, {}
    for name, info in sorted(header.items(),
                             key=lambda kv: kv[1]['data_offsets'][0]):
        tdtype, size = _DTYPES[info['dtype']]
        begin, end = info['data_offsets']
        npdt = '<i2' if size == 2 else '<f4'
        arr = np.frombuffer(body[begin:end], dtype=npdt).copy()
        t = torch.from_numpy(arr)
        if size == 2:
            t = t.view(tdtype)
        tensors[name] = t.to(torch.float32).reshape(info['shape'])
        dtypes[name] = info['dtype']
    return tensors, metadata, dtypes


def load_model_dir(path, variant='taef2', width=64):
    """The (encoder, decoder) of a model folder holding encoder.safetensors
    and decoder.safetensors, loaded strictly, computing in float32."""
    enc, dec, _ = build(variant, width)
    enc.load_state_dict(load_safetensors(f'{path}/encoder.safetensors')[0],
                        strict=True)
    dec.load_state_dict(load_safetensors(f'{path}/decoder.safetensors')[0],
                        strict=True)
    return enc, dec
