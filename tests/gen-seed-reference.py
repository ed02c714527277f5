#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the seed-f16 test model and its PyTorch references.

    tools/debian13-env python3 tests/gen-seed-reference.py [--out DIR]
        [--train-dir tools/train]

Builds a small seed-f16 (tools/train/seedf16.py, the training definition)
with random weights in every parameter, the learned branches' last convs
included (they start at zero in training), so that every path is
exercised.  Writes, by default to tests/data/seed/:

  model.safetensors      the weights as F16, named and annotated
                         (vae.architecture, vae.config, ...) the way
                         tools/train/export.py writes the real file
  reference.safetensors  float32, computed by the PyTorch module from the
                         F16-rounded weights:
      image_a   [3, 48, 64]    inputs on 8-bit levels
      latent_a  [C, 3, 4]      encoder output for image_a
      image_b   [3, 96, 80]
      latent_b  [C, 6, 5]
      dec_a     [C, 4, 3]      independent latents, N(0, 1.5^2), of the
      decoded_a [3, 64, 48]    other orientation, and the decoder's raw
      dec_b     [C, 5, 7]      (not clamped) outputs for them
      decoded_b [3, 80, 112]
      dec_c     [C, 16, 18]    288 tokens: more than one key block of
      decoded_c_tl, decoded_c_br   the attention op; only the top-left
                               and bottom-right 48 x 64 crops of its
                               256 x 288 output are stored (size)

The generator also runs tools/train/reference.py (the functional parity
reference written from docs/seed-f16.md) on the exported file and refuses
to write if the two PyTorch implementations differ by more than 1e-5
relative.
"""

import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SEED = 20261127

# Small, but every width differs, heads split 2 x 32 (RoPE: 8 pairs per
# half-head), and the MLP ratio is not 4 so that the hidden width must be
# read from the shapes.
CONFIG = dict(latent_channels=8, enc_channels=(16, 24, 32), dim=64, depth=2,
              heads=2, mlp_ratio=2, rope_base=100.0, ln_eps=1e-6,
              head_channels=(24, 16))


def init_weights(model, gen):
    """Every parameter random.  Convs and linears: normal with std
    sqrt(2 / fan_in), halved for the second conv of each Res block, the
    attention output and fc2 so that the residual streams stay O(1).
    LayerNorm gains 1 +- 0.2 and biases +- 0.1; other biases small.  The
    PCA shortcuts are set from a random orthonormal basis through the
    module's own set_pca, as training does."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".pca." in name:
                continue
            if "norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                fan_in = p[0].numel()
                std = math.sqrt(2.0 / fan_in)
                if name.endswith(("conv2.weight", "proj.weight", "fc2.weight")):
                    std *= 0.5
                p.copy_(std * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))

        C = model.cfg.latent_channels
        q, _ = torch.linalg.qr(torch.randn(768, C, generator=gen, dtype=torch.float64))
        components = q.t().contiguous()                       # [C, 768], orthonormal rows
        variances = torch.logspace(0.5, -2.0, C, dtype=torch.float64)
        mean = 0.45 + 0.05 * torch.randn(768, generator=gen, dtype=torch.float64)
        model.set_pca(mean.float(), components.float(), variances.float())


def round_to_f16(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def make_image(width, height, gen):
    """A smooth colour pattern plus noise, on 8-bit levels."""
    y = torch.arange(height, dtype=torch.float64).view(-1, 1) / height
    x = torch.arange(width, dtype=torch.float64).view(1, -1) / width
    chans = []
    for c in range(3):
        v = 0.5 + 0.3 * torch.sin(2 * math.pi * ((1 + c) * x + (2 - 0.5 * c) * y) + 0.7 * c)
        chans.append(v + 0.1 * torch.cos(2 * math.pi * 3 * x * y))
    img = torch.stack(chans) + 0.08 * torch.randn((3, height, width), generator=gen,
                                                  dtype=torch.float64)
    return (torch.round(img.clamp(0, 1) * 255) / 255).float()


def rel_diff(a, b):
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "data", "seed"))
    ap.add_argument("--train-dir", default=os.path.join(ROOT, "tools", "train"))
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.train_dir))
    import reference  # noqa: E402
    import safetensors_io  # noqa: E402
    from seedf16 import ARCHITECTURE, SeedF16, SeedF16Config  # noqa: E402

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    cfg = SeedF16Config(**CONFIG)
    model = SeedF16(cfg).eval()
    init_weights(model, gen)
    round_to_f16(model)

    image_a = make_image(64, 48, gen)
    image_b = make_image(80, 96, gen)
    C = cfg.latent_channels
    dec_a = 1.5 * torch.randn((C, 4, 3), generator=gen)
    dec_b = 1.5 * torch.randn((C, 5, 7), generator=gen)
    dec_c = 1.5 * torch.randn((C, 16, 18), generator=gen)

    with torch.no_grad():
        out = {
            "image_a": image_a,
            "latent_a": model.encode(image_a[None])[0],
            "image_b": image_b,
            "latent_b": model.encode(image_b[None])[0],
            "dec_a": dec_a,
            "decoded_a": model.decode(dec_a[None])[0],
            "dec_b": dec_b,
            "decoded_b": model.decode(dec_b[None])[0],
            "dec_c": dec_c,
        }
        full_c = model.decode(dec_c[None])[0]
    out["decoded_c_tl"] = full_c[:, :48, :64].contiguous()
    out["decoded_c_br"] = full_c[:, -48:, -64:].contiguous()

    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "model.safetensors")
    n_enc = sum(p.numel() for p in model.encoder.parameters())
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    meta = {
        "vae.architecture": ARCHITECTURE,
        "vae.config": cfg.to_json(),
        "vae.id": "seed-f16",
        "vae.name": "seed-f16 test model (random weights)",
        "vae.latent_channels": str(C),
        "vae.factor": "16",
        "vae.latent_scale": "1.0",
        "vae.latent_shift": "0.0",
        "vae.license": "CC0-1.0",
        "vae.training": json.dumps({"note": "random weights, tests/gen-seed-reference.py",
                                    "seed": SEED}, sort_keys=True),
    }
    tensors = {k: v.half() for k, v in model.state_dict().items()}
    safetensors_io.save(tensors, model_path, meta)

    # The second implementation, from the exported file.
    r = reference.SeedF16Reference(model_path)
    with torch.no_grad():
        checks = {
            "latent_a": rel_diff(r.encode(image_a[None])[0], out["latent_a"]),
            "latent_b": rel_diff(r.encode(image_b[None])[0], out["latent_b"]),
            "decoded_a": rel_diff(r.decode(dec_a[None])[0], out["decoded_a"]),
            "decoded_b": rel_diff(r.decode(dec_b[None])[0], out["decoded_b"]),
            "decoded_c": rel_diff(r.decode(dec_c[None])[0], full_c),
        }
    for k, v in checks.items():
        print("reference.py vs seedf16.py %-10s max rel diff %.2e" % (k, v))
    if max(checks.values()) > 1e-5:
        sys.exit("gen-seed-reference: the two PyTorch implementations disagree")

    ref_path = os.path.join(args.out, "reference.safetensors")
    ref_meta = {"encoder_params": str(n_enc), "decoder_params": str(n_dec),
                "generator": "tests/gen-seed-reference.py", "seed": str(SEED)}
    safetensors_io.save({k: v.float().contiguous() for k, v in out.items()}, ref_path, ref_meta)

    for k, v in out.items():
        print("%-13s %-14s max |v| %.3f" % (k, list(v.shape), v.abs().max().item()))
    total = os.path.getsize(model_path) + os.path.getsize(ref_path)
    print("wrote %s (%d + %d parameters) and %s: %d bytes in all"
          % (model_path, n_enc, n_dec, ref_path, total))


if __name__ == "__main__":
    main()
