# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch reference for AutoencoderKL (SD 1.x/2.x/SDXL, SD3, FLUX.1, FLUX.2).

Written from the description in shared/docs/vae-architectures.md section 1
(not from diffusers or the LDM code): it is the independent reference that
libvae's core/arch/autoencoder-kl.c is judged against, so it is kept plain.

The modules are laid out so that state_dict() gives the original LDM /
CompVis / BFL tensor names ("encoder.down.0.block.1.norm1.weight",
"decoder.up.3.upsample.conv.weight", "encoder.mid.attn_1.q.weight" as a
1x1 conv); to_diffusers() renames a state dict to the diffusers scheme.

Channel lists are parameters, so tests use small models (GroupNorm with 32
groups needs widths that are multiples of 32).  The decoder may be given
its own channel list (FLUX.2's "small decoder").

Also here: the splitmix64 weight generator shared with tests/test-kl.c, so
that a full-size model can be made identically in C and Python without
storing it.
"""

import math
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 32
EPS = 1e-6
BN_EPS = 1e-4       # FLUX.2's latent BatchNorm
PATCH = 2           # FLUX.2 patchifies the latent 2x2 before the BatchNorm


def norm(c):
    return nn.GroupNorm(GROUPS, c, eps=EPS, affine=True)


class ResnetBlock(nn.Module):
    """h = conv1 (silu (norm1 (x))); h = conv2 (silu (norm2 (h)));
    out = shortcut (x) + h, the shortcut a 1x1 conv when widths differ."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.norm1 = norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        if c_in != c_out:
            self.nin_shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        if hasattr(self, 'nin_shortcut'):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all pixels, residual."""

    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.norm(x)
        q = self.q(t).reshape(b, c, h * w).transpose(1, 2)     # [b, n, c]
        k = self.k(t).reshape(b, c, h * w)                      # [b, c, n]
        v = self.v(t).reshape(b, c, h * w).transpose(1, 2)     # [b, n, c]
        weights = torch.softmax(torch.bmm(q, k) / math.sqrt(c), dim=-1)
        out = torch.bmm(weights, v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Zero-pad right and bottom by one, then 3x3 stride 2, no padding."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest 2x, then 3x3 conv."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class Mid(nn.Module):
    def __init__(self, c, attention=True):
        super().__init__()
        self.block_1 = ResnetBlock(c, c)
        if attention:
            self.attn_1 = AttnBlock(c)
        self.block_2 = ResnetBlock(c, c)

    def forward(self, x):
        x = self.block_1(x)
        if hasattr(self, 'attn_1'):
            x = self.attn_1(x)
        return self.block_2(x)


class Encoder(nn.Module):
    """conv_in -> levels of num_res_blocks resnets (downsample after all
    but the last) -> mid -> GN -> SiLU -> conv_out to 2 z channels
    [-> quant_conv when it lives inside the encoder, FLUX.2's BFL layout]."""

    def __init__(self, channels, num_res_blocks, z_channels, inner_quant=False):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        prev = channels[0]
        for i, c in enumerate(channels):
            level = nn.Module()
            level.block = nn.ModuleList()
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(prev, c))
                prev = c
            if i != len(channels) - 1:
                level.downsample = Downsample(c)
            self.down.append(level)
        self.mid = Mid(prev)
        self.norm_out = norm(prev)
        self.conv_out = nn.Conv2d(prev, 2 * z_channels, 3, padding=1)
        if inner_quant:
            self.quant_conv = nn.Conv2d(2 * z_channels, 2 * z_channels, 1)

    def forward(self, x):
        x = self.conv_in(x)
        for level in self.down:
            for block in level.block:
                x = block(x)
            if hasattr(level, 'downsample'):
                x = level.downsample(x)
        x = self.mid(x)
        x = self.conv_out(F.silu(self.norm_out(x)))
        if hasattr(self, 'quant_conv'):
            x = self.quant_conv(x)
        return x


class Decoder(nn.Module):
    """[post_quant_conv inside, FLUX.2 BFL] -> conv_in -> mid -> levels
    from the lowest resolution up, num_res_blocks + 1 resnets each
    (upsample after all but the last) -> GN -> SiLU -> conv_out.  As in
    LDM, up[i] is the level of channels[i], so up[len - 1] runs first."""

    def __init__(self, channels, num_res_blocks, z_channels, inner_quant=False):
        super().__init__()
        if inner_quant:
            self.post_quant_conv = nn.Conv2d(z_channels, z_channels, 1)
        prev = channels[-1]
        self.conv_in = nn.Conv2d(z_channels, prev, 3, padding=1)
        self.mid = Mid(prev)
        levels = [None] * len(channels)
        for i in reversed(range(len(channels))):
            level = nn.Module()
            level.block = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(prev, channels[i]))
                prev = channels[i]
            if i != 0:
                level.upsample = Upsample(prev)
            levels[i] = level
        self.up = nn.ModuleList(levels)
        self.norm_out = norm(prev)
        self.conv_out = nn.Conv2d(prev, 3, 3, padding=1)

    def forward(self, z):
        if hasattr(self, 'post_quant_conv'):
            z = self.post_quant_conv(z)
        x = self.mid(self.conv_in(z))
        for i in reversed(range(len(self.up))):
            level = self.up[i]
            for block in level.block:
                x = block(x)
            if hasattr(level, 'upsample'):
                x = level.upsample(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class AutoencoderKL(nn.Module):
    """quant: None (SD3, FLUX.1), 'outer' (SD: top-level quant_conv and
    post_quant_conv) or 'inner' (FLUX.2: encoder.quant_conv and
    decoder.post_quant_conv); bn: FLUX.2's latent BatchNorm statistics."""

    def __init__(self, channels, num_res_blocks, z_channels, quant='outer',
                 bn=False, decoder_channels=None, encoder=True, decoder=True):
        super().__init__()
        self.z_channels = z_channels
        inner = quant == 'inner'
        if encoder:
            self.encoder = Encoder(channels, num_res_blocks, z_channels, inner)
        if decoder:
            self.decoder = Decoder(decoder_channels or channels,
                                   num_res_blocks, z_channels, inner)
        if quant == 'outer':
            if encoder:
                self.quant_conv = nn.Conv2d(2 * z_channels, 2 * z_channels, 1)
            if decoder:
                self.post_quant_conv = nn.Conv2d(z_channels, z_channels, 1)
        if bn:
            self.bn = nn.BatchNorm2d(PATCH * PATCH * z_channels, eps=BN_EPS,
                                     affine=False, track_running_stats=True)

    def encode(self, image):
        """Image [B, 3, H, W] in [0, 1] -> posterior mean [B, z, H/f, W/f]."""
        moments = self.encoder(image * 2 - 1)
        if hasattr(self, 'quant_conv'):
            moments = self.quant_conv(moments)
        return moments[:, :self.z_channels]

    def decode(self, z):
        """Latent -> image in [0, 1], not clamped."""
        if hasattr(self, 'post_quant_conv'):
            z = self.post_quant_conv(z)
        return (self.decoder(z) + 1) / 2

    def normalize(self, mean):
        """FLUX.2 diffusion-space latent: patchify 2x2 with channel order
        c * 4 + pi * 2 + pj, then the BatchNorm in eval mode."""
        b, c, h, w = mean.shape
        x = mean.reshape(b, c, h // PATCH, PATCH, w // PATCH, PATCH)
        x = x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * PATCH * PATCH,
                                                 h // PATCH, w // PATCH)
        self.bn.eval()
        return self.bn(x)


# --- naming ------------------------------------------------------------------

def to_diffusers(state, n_levels, legacy_attention=False):
    """Rename an LDM state dict to diffusers names; attention 1x1 convs
    become Linear [C, C] weights.  n_levels: decoder levels, whose order
    diffusers reverses.  legacy_attention: 2022-era query/key/value/
    proj_attn names instead of to_q/to_k/to_v/to_out.0."""
    attn = ({'q': 'query', 'k': 'key', 'v': 'value', 'proj_out': 'proj_attn'}
            if legacy_attention else
            {'q': 'to_q', 'k': 'to_k', 'v': 'to_v', 'proj_out': 'to_out.0'})
    out = {}
    for name, t in state.items():
        n = name
        n = re.sub(r'^encoder\.down\.(\d+)\.block\.', r'encoder.down_blocks.\1.resnets.', n)
        n = re.sub(r'^encoder\.down\.(\d+)\.downsample\.', r'encoder.down_blocks.\1.downsamplers.0.', n)
        n = re.sub(r'^decoder\.up\.(\d+)\.block\.',
                   lambda m: f'decoder.up_blocks.{n_levels - 1 - int(m.group(1))}.resnets.', n)
        n = re.sub(r'^decoder\.up\.(\d+)\.upsample\.',
                   lambda m: f'decoder.up_blocks.{n_levels - 1 - int(m.group(1))}.upsamplers.0.', n)
        n = n.replace('.nin_shortcut.', '.conv_shortcut.')
        n = re.sub(r'\.mid\.block_1\.', '.mid_block.resnets.0.', n)
        n = re.sub(r'\.mid\.block_2\.', '.mid_block.resnets.1.', n)
        m = re.match(r'^(.*)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$', n)
        if m:
            part = 'group_norm' if m.group(2) == 'norm' else attn[m.group(2)]
            n = f'{m.group(1)}.mid_block.attentions.0.{part}.{m.group(3)}'
            if m.group(2) != 'norm' and t.dim() == 4:
                t = t[:, :, 0, 0]
        n = re.sub(r'\.norm_out\.', '.conv_norm_out.', n)
        out[n] = t
    return out


# --- deterministic weights (shared with tests/test-kl.c) ---------------------

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode('utf-8'):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def splitmix64(state, n):
    """The n outputs of splitmix64 started at @state (uint64 numpy)."""
    with np.errstate(over='ignore'):
        s = np.uint64(state) + (np.arange(1, n + 1, dtype=np.uint64) *
                                np.uint64(GOLDEN))
        z = s
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed, name, n):
    """n float32 in [0, 1): the top 24 bits of splitmix64 outputs for the
    stream seed ^ fnv1a64(name), exact in float32."""
    bits = splitmix64((seed ^ fnv1a64(name)) & MASK, n) >> np.uint64(40)
    return bits.astype(np.float32) * np.float32(2.0 ** -24)


def generated_tensor(seed, name, shape):
    """The deterministic value of a parameter, by its name and shape:
      1-D '*weight' (GroupNorm gamma): 1 + (2u - 1) / 8
      other 1-D (biases, GroupNorm beta): (2u - 1) / 32
      conv weights: (2u - 1) * float32 (sqrt (3 / fan_in)), variance 1/fan_in
    all in float32; the power-of-two factors keep every product exact, so
    C and numpy round identically."""
    n = int(np.prod(shape))
    x = uniform(seed, name, n) * np.float32(2) - np.float32(1)
    if len(shape) == 1 and name.endswith('weight'):
        v = x * np.float32(0.125) + np.float32(1)
    elif len(shape) == 1:
        v = x * np.float32(0.03125)
    else:
        fan_in = int(np.prod(shape[1:]))
        v = x * np.float32(math.sqrt(3.0 / fan_in))
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def generated_latent(seed, channels, height, width):
    """The decoder input of the full-size test: uniform with unit variance."""
    x = uniform(seed, 'latent', channels * height * width)
    x = (x * np.float32(2) - np.float32(1)) * np.float32(math.sqrt(3.0))
    return torch.from_numpy(x.reshape(channels, height, width))


def sample_indices(seed, count, total):
    """Positions of the sampled output values: splitmix64 mod total."""
    bits = splitmix64((seed ^ fnv1a64('samples')) & MASK, count)
    return (bits % np.uint64(total)).astype(np.int64)
