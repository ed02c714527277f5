#!/usr/bin/env python3
"""seed-f16 parity reference: loads an exported seed-f16.safetensors and
encodes/decodes an image with plain functional ops, written from
docs/seed-f16.md (not from the training module), in float32 throughout
(F16 weights are widened first).  The C port must match this.

  tools/debian13-env python3 tools/train/reference.py seed-f16.safetensors in.png -o out.png \
      [--latent-out z.safetensors] [--output-out y.safetensors]
  tools/debian13-env python3 tools/train/reference.py seed-f16.safetensors --decode z.safetensors -o out.png

The input is padded to a multiple of 16 by edge replication and the output
cropped back.  --latent-out writes the latent ("latent", F32 [C, h, w]);
--output-out the decoder output before clamping ("image", F32 [3, H, W]).
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def unshuffle(x, r):
    """[B, c, H, W] -> [B, c*r*r, H/r, W/r]; out channel = c*r*r + dy*r + dx."""
    B, c, H, W = x.shape
    x = x.reshape(B, c, H // r, r, W // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(B, c * r * r, H // r, W // r)


def shuffle(x, r):
    """Inverse of unshuffle: in channel c*r*r + dy*r + dx -> pixel (dy, dx) of channel c."""
    B, C, h, w = x.shape
    c = C // (r * r)
    x = x.reshape(B, c, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(B, c, h * r, w * r)


def silu(x):
    return x * torch.sigmoid(x)


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


class SeedF16Reference:
    def __init__(self, path):
        tensors, meta = safetensors_io.load(path)
        if meta.get("vae.architecture") != "seed-f16":
            raise ValueError("%s: vae.architecture is %r, not seed-f16" % (path, meta.get("vae.architecture")))
        self.w = {k: v.float() for k, v in tensors.items()}
        self.meta = meta
        cfg = json.loads(meta["vae.config"])
        self.heads = cfg["heads"]
        self.depth = cfg["depth"]
        self.eps = cfg["ln_eps"]
        self.rope_base = cfg["rope_base"]

    def conv(self, x, name, pad):
        return F.conv2d(x, self.w[name + ".weight"], self.w[name + ".bias"], padding=pad)

    def res(self, x, name):
        return x + self.conv(silu(self.conv(silu(x), name + ".conv1", 1)), name + ".conv2", 1)

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].t() + self.w[name + ".bias"]

    # -- encoder -----------------------------------------------------------------
    def encode(self, x):
        """x: [1, 3, H, W] in [0, 1], H, W multiples of 16 -> [1, C, H/16, W/16]."""
        z = self.conv(unshuffle(x, 16), "encoder.pca", 0)
        h = unshuffle(2.0 * x - 1.0, 4)
        h = self.res(self.conv(h, "encoder.conv_in", 1), "encoder.res1")
        h = self.res(self.conv(unshuffle(h, 2), "encoder.down2", 1), "encoder.res2")
        h = self.res(self.conv(unshuffle(h, 2), "encoder.down3", 1), "encoder.res3")
        return z + self.conv(silu(h), "encoder.conv_out", 0)

    # -- decoder -----------------------------------------------------------------
    def rope(self, t, h, w):
        """t: [heads, N, hd]; token n = (y, x) = (n // w, n % w).  Pair p
        (elements 2p, 2p+1) turns by y * base^(-p/q) for p < q, by
        x * base^(-(p-q)/q) for q <= p < 2q, q = hd/4."""
        hd = t.shape[-1]
        q = hd // 4
        n = torch.arange(h * w, dtype=torch.float64)
        y, x = torch.div(n, w, rounding_mode="floor"), n % w
        p = torch.arange(2 * q, dtype=torch.float64)
        freq = self.rope_base ** (-(p % q) / q)
        pos = torch.where(p < q, y[:, None], x[:, None])
        ang = pos * freq[None, :]
        c, s = ang.cos().float(), ang.sin().float()
        a, b = t[..., 0::2], t[..., 1::2]
        out = torch.empty_like(t)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def attention(self, x, i, h, w):
        N, D = x.shape
        H = self.heads
        hd = D // H
        qkv = self.linear(x, "decoder.blocks.%d.attn.qkv" % i)               # [N, 3D]
        q = qkv[:, 0:D].reshape(N, H, hd).transpose(0, 1)                      # [H, N, hd]
        k = qkv[:, D:2 * D].reshape(N, H, hd).transpose(0, 1)
        v = qkv[:, 2 * D:3 * D].reshape(N, H, hd).transpose(0, 1)
        q, k = self.rope(q, h, w), self.rope(k, h, w)
        out = torch.empty(H, N, hd)
        for s in range(0, N, 1024):                                            # bound memory
            a = (q[:, s:s + 1024] @ k.transpose(1, 2)) / math.sqrt(hd)
            out[:, s:s + 1024] = torch.softmax(a, dim=-1) @ v
        return self.linear(out.transpose(0, 1).reshape(N, D), "decoder.blocks.%d.attn.proj" % i)

    def decode(self, z):
        """z: [1, C, h, w] -> [1, 3, 16h, 16w] (not clamped)."""
        _, C, h, w = z.shape
        base = shuffle(self.conv(z, "decoder.pca", 0), 16)
        t = self.conv(z, "decoder.embed", 1)[0]                                # [D, h, w]
        D = t.shape[0]
        t = t.reshape(D, h * w).t()                                            # [N, D], row-major tokens
        for i in range(self.depth):
            p = "decoder.blocks.%d." % i
            t = t + self.attention(layer_norm(t, self.w[p + "norm1.weight"], self.w[p + "norm1.bias"], self.eps),
                                   i, h, w)
            m = layer_norm(t, self.w[p + "norm2.weight"], self.w[p + "norm2.bias"], self.eps)
            t = t + self.linear(gelu_erf(self.linear(m, p + "fc1")), p + "fc2")
        t = layer_norm(t, self.w["decoder.norm_out.weight"], self.w["decoder.norm_out.bias"], self.eps)
        f = t.t().reshape(1, D, h, w)
        f = self.res(shuffle(self.conv(f, "decoder.up1", 0), 2), "decoder.res1")
        f = shuffle(self.conv(f, "decoder.up2", 1), 2)
        f = f + self.conv(unshuffle(2.0 * base - 1.0, 4), "decoder.skip", 1)
        f = self.res(f, "decoder.res2")
        return base + shuffle(self.conv(silu(f), "decoder.conv_out", 1), 4)


def main():
    from PIL import Image
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("image", nargs="?", help="input PNG/JPEG (RGB)")
    ap.add_argument("-o", "--out", help="write the decoded image (8-bit PNG)")
    ap.add_argument("--decode", help="decode this latent file instead of encoding an image")
    ap.add_argument("--latent-out")
    ap.add_argument("--output-out")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = SeedF16Reference(args.weights)
    with torch.no_grad():
        if args.decode:
            lt, _ = safetensors_io.load(args.decode)
            z = lt["latent"].float()[None]
            H, W = z.shape[2] * 16, z.shape[3] * 16
            ref = None
        else:
            if not args.image:
                sys.exit("give an image or --decode LATENT")
            ref = torch.from_numpy(np.asarray(Image.open(args.image).convert("RGB"), dtype=np.uint8).copy())
            ref = ref.permute(2, 0, 1)
            H, W = ref.shape[1:]
            x = ref.float()[None] / 255.0
            x = F.pad(x, (0, (-W) % 16, 0, (-H) % 16), mode="replicate")
            z = m.encode(x)
            print("latent %s  mean %+.4f  std %.4f  min %.3f  max %.3f"
                  % (list(z.shape[1:]), z.mean(), z.std(), z.min(), z.max()))
            if args.latent_out:
                safetensors_io.save({"latent": z[0].contiguous()}, args.latent_out,
                                    {"vae.architecture": "seed-f16", "image.width": W, "image.height": H})
        y = m.decode(z)[0, :, :H, :W]
    if args.output_out:
        safetensors_io.save({"image": y.contiguous()}, args.output_out, {"vae.architecture": "seed-f16"})
    out = (y.clamp(0, 1) * 255.0).round().to(torch.uint8)
    if ref is not None:
        mse = (out.double() - ref.double()).pow(2).mean().item()
        print("PSNR %.3f dB (8-bit)" % (10 * math.log10(255 ** 2 / mse) if mse else float("inf")))
    if args.out:
        Image.fromarray(out.permute(1, 2, 0).numpy()).save(args.out)


if __name__ == "__main__":
    main()
