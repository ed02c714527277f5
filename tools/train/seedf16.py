"""seed-f16: a 16x-per-side image autoencoder with a conv encoder and a
transformer decoder.  This module is the training-side definition; the exact
specification (tensor names, shapes, op order) is docs/seed-f16.md, and
reference.py re-implements it from that document with functional ops only.

Both halves are "linear shortcut + learned branch":
    z   = pca_enc(x)  + enc_branch(x)          (latent, C x H/16 x W/16)
    x^  = pca_dec(z)  + dec_branch(z)          (image, 3 x H x W, [0,1] scale)
The shortcuts are exactly linear (unshuffle 16 -> 1x1 conv, 1x1 conv ->
shuffle 16) and are initialised with a whitened PCA fitted in closed form on
the training photos; the last layer of each learned branch is zero at init,
so the untrained model *is* the PCA codec.
"""

import json
import math
from dataclasses import dataclass, asdict, field

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHITECTURE = "seed-f16"
FORMAT_VERSION = 1


@dataclass
class SeedF16Config:
    latent_channels: int = 32      # C
    factor: int = 16               # pixels per latent pixel, per side (fixed)
    # encoder learned branch widths at H/4, H/8, H/16
    enc_channels: tuple = (64, 128, 128)
    # decoder transformer
    dim: int = 256                 # token width D
    depth: int = 4                 # transformer blocks
    heads: int = 4                 # head_dim = dim / heads
    mlp_ratio: int = 4
    rope_base: float = 100.0
    ln_eps: float = 1e-6
    # decoder pixel head widths at H/8, H/4
    head_channels: tuple = (128, 64)

    def to_json(self):
        d = asdict(self)
        d["architecture"] = ARCHITECTURE
        d["format_version"] = FORMAT_VERSION
        d["gelu"] = "erf"
        d["activation"] = "silu"
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(s):
        d = json.loads(s)
        keys = SeedF16Config.__dataclass_fields__.keys()
        d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in keys}
        return SeedF16Config(**d)


class ResBlock(nn.Module):
    """x + conv3x3(silu(conv3x3(silu(x)))), no normalisation."""

    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def linear_fp32(conv, x):
    """@conv of @x in float32 even under bfloat16 autocast: the PCA shortcuts
    carry most of the image, and bfloat16's 8-bit mantissa would round
    their result by about one 8-bit level; the learned branches add small
    corrections, whose rounding is far below the reconstruction error."""
    with torch.autocast(x.device.type, enabled=False):
        return conv(x.float())


class Encoder(nn.Module):
    def __init__(self, cfg: SeedF16Config):
        super().__init__()
        c1, c2, c3 = cfg.enc_channels
        C = cfg.latent_channels
        # linear shortcut: unshuffle 16 -> 1x1 conv 768 -> C (PCA)
        self.pca = nn.Conv2d(3 * 256, C, 1)
        # learned branch
        self.conv_in = nn.Conv2d(3 * 16, c1, 3, padding=1)      # at H/4
        self.res1 = ResBlock(c1)
        self.down2 = nn.Conv2d(c1 * 4, c2, 3, padding=1)        # at H/8
        self.res2 = ResBlock(c2)
        self.down3 = nn.Conv2d(c2 * 4, c3, 3, padding=1)        # at H/16
        self.res3 = ResBlock(c3)
        self.conv_out = nn.Conv2d(c3, C, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x):
        """x: [B, 3, H, W] in [0, 1], H and W multiples of 16."""
        z = linear_fp32(self.pca, F.pixel_unshuffle(x, 16))
        h = F.pixel_unshuffle(x * 2.0 - 1.0, 4)
        h = self.res1(self.conv_in(h))
        h = self.res2(self.down2(F.pixel_unshuffle(h, 2)))
        h = self.res3(self.down3(F.pixel_unshuffle(h, 2)))
        return z + self.conv_out(F.silu(h))


def rope_tables(h, w, head_dim, base, device=None, dtype=torch.float32):
    """cos/sin tables [h*w, head_dim/2] for axial 2-D RoPE.

    Pair p (elements 2p, 2p+1 of a head vector) for p < head_dim/4 rotates by
    y * base^(-p / (head_dim/4)); pair p >= head_dim/4 rotates by
    x * base^(-(p - head_dim/4) / (head_dim/4)).  y, x = integer latent
    row/column, tokens in row-major order."""
    q = head_dim // 4
    freqs = base ** (-torch.arange(q, dtype=torch.float64) / q)
    ys = torch.arange(h, dtype=torch.float64).repeat_interleave(w)
    xs = torch.arange(w, dtype=torch.float64).repeat(h)
    ang = torch.cat([ys[:, None] * freqs[None, :], xs[:, None] * freqs[None, :]], dim=1)
    return ang.cos().to(device=device, dtype=dtype), ang.sin().to(device=device, dtype=dtype)


def apply_rope(t, cos, sin):
    """t: [B, heads, N, head_dim]; rotate interleaved pairs."""
    a = t[..., 0::2]
    b = t[..., 1::2]
    ra = a * cos - b * sin
    rb = a * sin + b * cos
    return torch.stack([ra, rb], dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, cos, sin):
        B, N, D = x.shape
        hd = D // self.heads
        qkv = self.qkv(x).view(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        o = F.scaled_dot_product_attention(q, k, v)
        o = o.transpose(1, 2).reshape(B, N, D)
        return self.proj(o)


class Block(nn.Module):
    def __init__(self, cfg: SeedF16Config):
        super().__init__()
        D = cfg.dim
        self.norm1 = nn.LayerNorm(D, eps=cfg.ln_eps)
        self.attn = Attention(D, cfg.heads)
        self.norm2 = nn.LayerNorm(D, eps=cfg.ln_eps)
        self.fc1 = nn.Linear(D, cfg.mlp_ratio * D)
        self.fc2 = nn.Linear(cfg.mlp_ratio * D, D)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x


class Decoder(nn.Module):
    def __init__(self, cfg: SeedF16Config):
        super().__init__()
        self.cfg = cfg
        C, D = cfg.latent_channels, cfg.dim
        h1, h2 = cfg.head_channels
        # linear shortcut: 1x1 conv C -> 768 -> shuffle 16 (PCA)
        self.pca = nn.Conv2d(C, 3 * 256, 1)
        # learned branch
        self.embed = nn.Conv2d(C, D, 3, padding=1)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.norm_out = nn.LayerNorm(D, eps=cfg.ln_eps)
        self.up1 = nn.Conv2d(D, 4 * h1, 1)                       # -> shuffle 2 -> H/8
        self.res1 = ResBlock(h1)
        self.up2 = nn.Conv2d(h1, 4 * h2, 3, padding=1)           # -> shuffle 2 -> H/4
        self.skip = nn.Conv2d(3 * 16, h2, 3, padding=1)          # shortcut image at H/4
        self.res2 = ResBlock(h2)
        self.conv_out = nn.Conv2d(h2, 3 * 16, 3, padding=1)      # -> shuffle 4 -> H
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, z):
        B, C, h, w = z.shape
        base = F.pixel_shuffle(linear_fp32(self.pca, z), 16)
        t = self.embed(z)                                         # [B, D, h, w]
        D = t.shape[1]
        t = t.flatten(2).transpose(1, 2)                          # [B, h*w, D]
        cos, sin = rope_tables(h, w, D // self.cfg.heads, self.cfg.rope_base,
                               device=z.device, dtype=z.dtype)
        for blk in self.blocks:
            t = blk(t, cos, sin)
        t = self.norm_out(t)
        f = t.transpose(1, 2).reshape(B, D, h, w)
        f = self.res1(F.pixel_shuffle(self.up1(f), 2))
        f = F.pixel_shuffle(self.up2(f), 2)
        f = f + self.skip(F.pixel_unshuffle(base * 2.0 - 1.0, 4))
        f = self.res2(f)
        return base + F.pixel_shuffle(self.conv_out(F.silu(f)), 4)


class SeedF16(nn.Module):
    def __init__(self, cfg: SeedF16Config = None):
        super().__init__()
        self.cfg = cfg or SeedF16Config()
        self.encoder = Encoder(self.cfg)
        self.decoder = Decoder(self.cfg)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z

    @torch.no_grad()
    def set_pca(self, mean, components, variances):
        """mean [768], components [C, 768] (rows orthonormal), variances [C].
        Whitened: z = diag(var^-1/2) U (p - mean); p = U^T diag(var^1/2) z + mean."""
        U = components.double()
        s = variances.double().clamp_min(1e-12).sqrt()
        We = U / s[:, None]                                       # [C, 768]
        self.encoder.pca.weight.copy_(We[:, :, None, None].float())
        self.encoder.pca.bias.copy_((-(We @ mean.double())).float())
        Wd = (U * s[:, None]).t()                                 # [768, C]
        self.decoder.pca.weight.copy_(Wd[:, :, None, None].float())
        self.decoder.pca.bias.copy_(mean.float())


def load_grown(model, state):
    """Load @state, the weights of a model with fewer decoder blocks, into
    @model: the blocks it lacks are appended with their output projections
    (attn.proj, fc2) zeroed, so each adds nothing and the grown model decodes
    exactly as the smaller one did; training then gives them work.  Any
    other missing or mismatched tensor is an error."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    have = {k.split(".")[2] for k in state if k.startswith("decoder.blocks.")}
    bad = [k for k in missing if not (k.startswith("decoder.blocks.") and k.split(".")[2] not in have)]
    if bad or unexpected:
        raise ValueError("cannot grow: missing %s, unexpected %s" % (bad[:4], unexpected[:4]))
    with torch.no_grad():
        for i, blk in enumerate(model.decoder.blocks):
            if str(i) not in have:
                for lin in (blk.attn.proj, blk.fc2):
                    lin.weight.zero_()
                    lin.bias.zero_()
    return len(model.decoder.blocks) - len(have)


def count_params(module):
    return sum(p.numel() for p in module.parameters())


def macs(cfg: SeedF16Config, H, W):
    """Multiply-accumulates of one encode and one decode of an H x W image,
    counted analytically (convolutions, linears, attention matmuls; not
    element-wise ops, norms, softmax or RoPE).  Returns a dict."""
    C, D = cfg.latent_channels, cfg.dim
    c1, c2, c3 = cfg.enc_channels
    h1, h2 = cfg.head_channels
    P = H * W
    p4, p8, p16 = P // 16, P // 64, P // 256
    N = p16
    conv = lambda cin, cout, k, px: cin * cout * k * k * px
    enc = {
        "pca": conv(768, C, 1, p16),
        "branch": conv(48, c1, 3, p4) + 2 * conv(c1, c1, 3, p4)
        + conv(4 * c1, c2, 3, p8) + 2 * conv(c2, c2, 3, p8)
        + conv(4 * c2, c3, 3, p16) + 2 * conv(c3, c3, 3, p16)
        + conv(c3, C, 1, p16),
    }
    hd = cfg.mlp_ratio * D
    dec = {
        "pca": conv(C, 768, 1, p16),
        "embed": conv(C, D, 3, p16),
        "blocks_linear": cfg.depth * N * (3 * D * D + D * D + 2 * D * hd),
        "blocks_attention": cfg.depth * 2 * N * N * D,
        "head": conv(D, 4 * h1, 1, p16) + 2 * conv(h1, h1, 3, p8)
        + conv(h1, 4 * h2, 3, p8) + conv(48, h2, 3, p4) + 2 * conv(h2, h2, 3, p4)
        + conv(h2, 48, 3, p4),
    }
    enc["total"] = sum(enc.values())
    dec["total"] = sum(dec.values())
    return {"encoder": enc, "decoder": dec, "tokens": N}
