"""seed-f16-codec: seed-f16 trained for rate and distortion together.

The autoencoder is seed-f16 unchanged (docs/seed-f16.md), so libvae's engine
runs it.  What this module adds is the part a codec needs around the latent
z [C, h, w] (docs/compression.md has the full specification):

  quality levels k = 0..K-1, each a per-channel gain g_k:
      y = (z - mean) * g_k            q = round(y)            z^ = q / g_k + mean
  an entropy model: q[c, i, j] ~ discretised Laplace(0, s) where the scale s is
  looked up in a learned table by (k, c, b1, b2):
      b1 = bucket of 2(|q_left| + |q_up|) + |q_upleft| + |q_upright|   (this channel, causal)
      b2 = bucket of 2|p| + |p_left| + |p_right| + |p_up| + |p_down|    (p = channel c-1, all decoded)
  Channels are coded in order, each in raster order.  The contexts use only
  integers, so the decoder derives the same table index on every machine;
  the integer CDFs themselves are exported (export_codec.py), never computed
  by the decoder.  The export also codes some channels (those where it
  counts fewer bits: the low-frequency ones) as residuals of a median edge
  predictor; training's rate proxy leaves that out.

Training uses the standard relaxation: additive uniform noise for the rate,
straight-through rounding for the decoder input.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

B1 = 8      # same-channel context buckets
B2 = 4      # previous-channel context buckets
LOG2 = math.log(2.0)


def bitlength(a):
    """Bit length of non-negative integer-valued float tensors (0 -> 0)."""
    return torch.where(a > 0, torch.floor(torch.log2(a.clamp_min(1.0))) + 1, torch.zeros_like(a))


def contexts(q):
    """q: quantised latents [B, C, h, w] (integer-valued floats).
    Returns b1, b2 as long tensors of the same shape (see module docstring)."""
    a = q.abs()
    left = F.pad(a, (1, 0, 0, 0))[..., :, :-1]
    up = F.pad(a, (0, 0, 1, 0))[..., :-1, :]
    upleft = F.pad(a, (1, 0, 1, 0))[..., :-1, :-1]
    upright = F.pad(a, (0, 1, 1, 0))[..., :-1, 1:]
    act1 = 2 * (left + up) + upleft + upright
    b1 = bitlength(act1).clamp_max(B1 - 1)
    p = F.pad(a, (0, 0, 0, 0, 1, 0))[:, :-1]          # channel c-1; zeros for channel 0
    pl = F.pad(p, (1, 0, 0, 0))[..., :, :-1]
    pr = F.pad(p, (0, 1, 0, 0))[..., :, 1:]
    pu = F.pad(p, (0, 0, 1, 0))[..., :-1, :]
    pd = F.pad(p, (0, 0, 0, 1))[..., 1:, :]
    act2 = 2 * p + pl + pr + pu + pd
    b2 = torch.div(bitlength(act2) + 1, 2, rounding_mode="floor").clamp_max(B2 - 1)
    return b1.long(), b2.long()


def laplace_cdf(x):
    return 0.5 + 0.5 * torch.sign(x) * (1.0 - torch.exp(-x.abs()))


def laplace_likelihood(v, scale):
    """P(v - 1/2 < Y < v + 1/2) for Y ~ Laplace(0, scale), computed on the
    tail side that does not cancel."""
    s = scale.clamp_min(0.01)
    a = v.abs()
    upper = (a + 0.5) / s
    lower = (a - 0.5) / s
    # |v| >= 1/2: both bounds on one side, 0.5 (e^-l - e^-u).  |v| < 1/2: the
    # interval spans 0, 1 - 0.5 (e^-u + e^-(1/2 - |v|)/s).  The clamps keep the
    # branch torch.where discards finite, so its gradient is not NaN.
    same = 0.5 * (torch.exp(-lower.clamp_min(0)) - torch.exp(-upper))
    centre = 1.0 - 0.5 * (torch.exp(-upper) + torch.exp(-(0.5 - a).clamp_min(0) / s))
    p = torch.where(a < 0.5, centre, same)
    return p.clamp_min(1e-9)


class CodecHead(nn.Module):
    """Gains, centre and the context scale table of the codec."""

    def __init__(self, channels, levels):
        super().__init__()
        self.C, self.K = channels, levels
        self.mean = nn.Parameter(torch.zeros(channels))
        self.log_gain = nn.Parameter(torch.zeros(levels, channels))
        self.log_scale = nn.Parameter(torch.zeros(levels, channels, B1, B2))

    @torch.no_grad()
    def init_from(self, z_std, pixel_weight, steps):
        """z_std [C]: latent std per channel on training crops; pixel_weight [C]:
        norm of each channel's column in the decoder's linear shortcut (how much
        a unit error in z_c costs in pixels); steps [K]: pixel-space steps."""
        for k, d in enumerate(steps):
            g = pixel_weight / d
            self.log_gain[k].copy_(g.log())
            b = (z_std * g / math.sqrt(2.0)).clamp_min(0.05)
            self.log_scale[k].copy_(b.log()[:, None, None].expand(-1, B1, B2))

    def forward(self, z, level, train=True):
        """z [B, C, h, w], level [B] long.  Returns (z_hat for the decoder,
        bits per image [B], q)."""
        g = self.log_gain[level].exp()[:, :, None, None]
        y = (z - self.mean[None, :, None, None]) * g
        q = torch.round(y)
        if train:
            y_rate = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_dec = y + (q - y).detach()
        else:
            y_rate = q
            y_dec = q
        b1, b2 = contexts(q.detach())
        ls = self.log_scale[level]                                 # [B, C, B1, B2]
        Bn, C, h, w = z.shape
        idx = (b1 * B2 + b2).flatten(2)                            # [B, C, h*w]
        scale = torch.gather(ls.flatten(2), 2, idx).view(Bn, C, h, w).exp()
        bits = -torch.log(laplace_likelihood(y_rate, scale)).sum(dim=(1, 2, 3)) / LOG2
        z_hat = y_dec / g + self.mean[None, :, None, None]
        return z_hat, bits, q


# ---- MS-SSIM (differentiable, images in [0, 1]) ---------------------------------

_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN = {}


def _gauss(device, dtype):
    key = (device, dtype)
    if key not in _WIN:
        x = torch.arange(11, dtype=torch.float64) - 5.0
        g = torch.exp(-(x * x) / (2 * 1.5 * 1.5))
        _WIN[key] = (g / g.sum()).to(device=device, dtype=dtype)
    return _WIN[key]


def _ssim_cs(a, b):
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ma, mb, saa, sbb, sab = common.local_moments(a, b, _gauss(a.device, a.dtype))
    cs = (2 * sab + c2) / (saa + sbb + c2)
    lum = (2 * ma * mb + c1) / (ma * ma + mb * mb + c1)
    return (lum * cs).mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ms_ssim(a, b):
    """MS-SSIM per image [B] (5 scales, Wang et al. 2003 weights, 2x2 average
    pooling between scales; negative contrast terms clamped to 0)."""
    vals = []
    for i, w in enumerate(_MS_WEIGHTS):
        ssim, cs = _ssim_cs(a, b)
        if i < len(_MS_WEIGHTS) - 1:
            vals.append(cs.clamp_min(1e-6) ** w)
            a = F.avg_pool2d(a, 2)
            b = F.avg_pool2d(b, 2)
        else:
            vals.append(ssim.clamp_min(1e-6) ** w)
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return out
