#!/usr/bin/env python3
"""Export a seed-f16-codec checkpoint to one safetensors file.

  tools/debian13-env python3 tools/train/export_codec.py runs/codec/final.pt \
      -o data/models/seed-f16-codec/seed-f16-codec.safetensors

The autoencoder tensors are seed-f16's (F16, names as in docs/seed-f16.md).
The codec tables (docs/compression.md) are F32 holding exact integers where
they are integers, because libvae widens every tensor to f32:

  codec.mean [C], codec.log_gain [K, C]     from training
  codec.cdf [N], codec.cdf_offset [S], codec.cdf_half [S]
      S discretised Laplace distributions with log-spaced scales, each the
      cumulative frequencies (total 2^16, none empty) of the values
      -half..half and an escape symbol
  codec.scale_index [K, C, 8, 4]
      which distribution each context uses at each level: the one that
      codes the training photos' quantised latents in the fewest bits
      (counted, not estimated), falling back to the trained scale for
      contexts the photos never reach
  codec.predict [C]
      1 for the channels that code each value's difference from a median
      edge predictor of its neighbours (with the activity read from those
      differences), where that counts fewer bits over all levels: the
      low-frequency channels, whose neighbouring values are alike

The decoder never computes a probability: these integers are all it uses.
"""

import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codec  # noqa: E402
import common  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import ARCHITECTURE, SeedF16Config  # noqa: E402
from loop import Crops  # noqa: E402
from train_codec import CodecModel  # noqa: E402

PRECISION = 16
TOTAL = 1 << PRECISION
N_SCALES = 64
SCALE_MIN = 0.04
SCALE_MAX = 60.0
TAIL = 12.0          # tables reach half = ceil(TAIL * scale); beyond: escape
ESCAPE_BITS = 1.0    # sign of an escaped value, plus its Exp-Golomb bits


def scales():
    return np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), N_SCALES))


def laplace_cdf(x, b):
    return np.where(x < 0, 0.5 * np.exp(x / b), 1.0 - 0.5 * np.exp(-x / b))


def table(b):
    """Integer cumulative frequencies for Laplace(0, b): values -half..half,
    then the escape symbol (the rest of the mass); every symbol >= 1."""
    half = int(min(max(1, math.ceil(TAIL * b)), 4096))
    v = np.arange(-half, half + 1, dtype=np.float64)
    p = laplace_cdf(v + 0.5, b) - laplace_cdf(v - 0.5, b)
    p = np.append(p, max(0.0, 1.0 - p.sum()))
    n = len(p)
    # largest remainder rounding of p * (TOTAL - n), plus one for each
    spare = TOTAL - n
    raw = p / p.sum() * spare
    freq = np.floor(raw).astype(np.int64)
    left = spare - int(freq.sum())
    order = np.argsort(-(raw - freq))
    freq[order[:left]] += 1
    freq += 1
    assert freq.sum() == TOTAL and freq.min() >= 1
    cdf = np.concatenate([[0], np.cumsum(freq)])
    return half, cdf


def code_lengths(half, cdf, max_mag):
    """Bits to code each magnitude 0..max_mag (sign included) with a table."""
    freq = np.diff(cdf).astype(np.float64)
    bits = np.empty(max_mag + 1)
    for m in range(max_mag + 1):
        if m <= half:
            bits[m] = -math.log2(freq[half + m] / TOTAL)
        else:
            u = m - half
            bits[m] = -math.log2(freq[2 * half + 1] / TOTAL) + ESCAPE_BITS + 2 * math.floor(math.log2(u)) + 1
    return bits


def med_residual(q):
    """q - MED(left, up, up-left) per channel (0 outside the map), as
    vae_codec_predict () computes it."""
    p = F.pad(q, (1, 1, 1, 0))
    a, b, c = p[..., 1:, :-2], p[..., :-1, 1:-1], p[..., :-1, :-2]
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    pred = torch.where(c >= hi, lo, torch.where(c <= lo, hi, a + b - c))
    return q - pred


@torch.no_grad()
def histograms(model, data, n_batches, batch, size, max_mag):
    """Counts of |q| per (level, channel, b1, b2) over training crops: [0]
    for plain coding, [1] for prediction residuals with their own
    activity."""
    K, C = model.head.K, model.head.C
    H = np.zeros((2, K, C, codec.B1, codec.B2, max_mag + 1), dtype=np.int64)
    ch = torch.arange(C)[None, :, None, None]
    for i in range(n_batches):
        x = data.batch(batch, size)
        z = model.ae.encoder(x)
        for k in range(K):
            g = model.head.log_gain[k].exp()[None, :, None, None]
            q = torch.round((z - model.head.mean[None, :, None, None]) * g)
            b1, b2 = codec.contexts(q)
            r = med_residual(q)
            b1r, _ = codec.contexts(r)
            for j, (vals, act) in enumerate(((q, b1), (r, b1r))):
                m = vals.abs().clamp_max(max_mag).long()
                idx = ((ch * codec.B1 + act) * codec.B2 + b2) * (max_mag + 1) + m
                cnt = torch.bincount(idx.flatten(), minlength=C * codec.B1 * codec.B2 * (max_mag + 1))
                H[j, k] += cnt.view(C, codec.B1, codec.B2, max_mag + 1).numpy()
        print("  histograms: batch %d/%d" % (i + 1, n_batches), flush=True)
    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--raw", action="store_true", help="ckpt.pt: raw weights instead of EMA")
    ap.add_argument("--batches", type=int, default=24, help="batches of training crops counted for the tables")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    st = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = SeedF16Config.from_json(st["config"])
    targs = st.get("args", {})
    K = targs.get("levels", 6)
    model = CodecModel(cfg, K)
    model.load_state_dict(st["model"] if args.raw else st["ema"])
    model.eval()
    C = cfg.latent_channels

    # the distributions
    grid = scales()
    tables = [table(b) for b in grid]
    max_mag = 256
    lengths = np.stack([code_lengths(h, c, max_mag) for h, c in tables])       # [S, max_mag+1]

    # the contexts' choices, counted on training crops
    paths = common.list_images(targs.get("train", common.TRAIN_DIR))
    gen = torch.Generator().manual_seed(args.seed)
    data = Crops(paths, gen, 0.5, 1.0, "cpu")
    H2 = histograms(model, data, args.batches, 4, 512, max_mag)
    cost2 = np.einsum("jkcxym,sm->jkcxys", H2.astype(np.float64), lengths)      # bits per choice
    per_channel = cost2.min(axis=-1).sum(axis=(1, 3, 4))                          # [2, C]
    predict = (per_channel[1] < per_channel[0]).astype(np.int64)
    print("predicted channels: %s (%.1f%% fewer bits in them)"
          % (np.nonzero(predict)[0].tolist(),
             100 * (1 - per_channel[1][predict == 1].sum() / max(1, per_channel[0][predict == 1].sum()))))
    H = np.where(predict[None, :, None, None, None] == 1, H2[1], H2[0])
    cost = np.where(predict[None, :, None, None, None] == 1, cost2[1], cost2[0])
    counted = H.sum(axis=-1)
    best = cost.argmin(axis=-1)
    trained = model.head.log_scale.detach().exp().numpy()                       # [K, C, B1, B2]
    fallback = np.abs(np.log(trained)[..., None] - np.log(grid)).argmin(axis=-1)
    index = np.where(counted >= 32, best, fallback)
    bits = np.take_along_axis(cost, best[..., None], -1)[..., 0].sum(axis=(1, 2, 3))
    n_values = counted.sum(axis=(1, 2, 3))
    for k in range(K):
        print("level %d: %.3f bits per latent value on the counted crops (%.4f bpp)"
              % (k, bits[k] / n_values[k], bits[k] / n_values[k] * C / 256.0))

    offsets, flat = [], []
    for h, c in tables:
        offsets.append(len(flat))
        flat.extend(c.tolist())
    tensors = {k: v.to(torch.float16) for k, v in model.ae.state_dict().items()}
    tensors.update({
        "codec.mean": model.head.mean.detach().float(),
        "codec.log_gain": model.head.log_gain.detach().float(),
        "codec.cdf": torch.tensor(flat, dtype=torch.float32),
        "codec.cdf_offset": torch.tensor(offsets, dtype=torch.float32),
        "codec.cdf_half": torch.tensor([h for h, _ in tables], dtype=torch.float32),
        "codec.scale_index": torch.tensor(index, dtype=torch.float32),
        "codec.predict": torch.tensor(predict, dtype=torch.float32),
    })
    for name in ("codec.cdf", "codec.cdf_offset", "codec.cdf_half", "codec.scale_index", "codec.predict"):
        t = tensors[name]
        assert torch.equal(t, t.round()) and t.max() < 2 ** 24

    files = st.get("train_files", [])
    training = {
        "steps": st.get("step"),
        "wall_minutes": round(st.get("elapsed", 0) / 60, 1),
        "weights": "raw" if args.raw else "EMA %s" % targs.get("ema"),
        "init": targs.get("init_note"),
        "levels": K,
        "lambdas": targs.get("lambdas"),
        "loss": "bits/pixel + lambda_k * (255^2 MSE + %g (1 - MS-SSIM)); uniform noise for the rate, "
                "straight-through rounding for the decoder" % targs.get("ms_ssim_weight", 0),
        "data": "random crops %d^2 x %d (p=%.2f: %d crop(s) of %d^2), scale %.2f-%.2f, h-flip; one level per crop"
                % (targs.get("crop", 0), targs.get("batch", 0), targs.get("big_prob", 0),
                   targs.get("big_batch", 1), targs.get("big_crop", 0), targs.get("scale_min", 0),
                   targs.get("scale_max", 0)),
        "optimizer": "AdamW lr %g (tables x%g, shortcuts x%g), warmup %d, cosine to 0 over %g min, clip %g"
                     % (targs.get("lr", 0), targs.get("lr_head_mult", 0), targs.get("lr_pca_mult", 0),
                        targs.get("warmup", 0), targs.get("budget_min", 0), targs.get("clip", 0)),
        "hardware": targs.get("hardware"),
        "changes": targs.get("legs", []),
        "tool": "gimp-vae tools/train/train_codec.py, tables by tools/train/export_codec.py",
    }
    spec = {
        "format_version": 1,
        "levels": K,
        "quality_max": 1000,
        "contexts": "seed-f16-codec-1: b1 = min(7, bitlen(2(|left|+|up|)+|upleft|+|upright|)) of the "
                    "channel's values (predicted channels: of its residuals), "
                    "b2 = min(3, (bitlen(2|p|+|p left|+|p right|+|p up|+|p down|)+1)/2), p = channel c-1; "
                    "predicted channels code q - MED(left, up, upleft)",
        "distributions": "discretised Laplace, %d scales %g..%g (log-spaced), values -half..half (half = "
                         "ceil(%g scale), at most 4096), escape: sign and Exp-Golomb-0 of |v| - half in "
                         "equiprobable bits" % (N_SCALES, SCALE_MIN, SCALE_MAX, TAIL),
        "precision": PRECISION,
        "quantisation": "q = round((z - mean) * exp(log_gain_k)); z^ = q / exp(log_gain_k) + mean; "
                        "between levels: log gains and scale indices interpolated",
    }
    meta = {
        "vae.architecture": ARCHITECTURE,
        "vae.config": cfg.to_json(),
        "vae.id": "seed-f16-codec",
        "vae.name": "seed-f16-codec (gimp-vae image codec)",
        "vae.latent_channels": str(C),
        "vae.factor": "16",
        "vae.latent_scale": "1.0",
        "vae.latent_shift": "0.0",
        "vae.license": "CC0-1.0",
        "vae.license_note": "The weights and tables were made by the gimp-vae project and are dedicated to the "
                            "public domain under CC0-1.0. They were trained on openly licensed photos "
                            "(docs/compression.md lists them and their licenses); none of them is contained "
                            "in or recoverable from the file.",
        "vae.codec": json.dumps(spec, sort_keys=True),
        "vae.training": json.dumps(training, sort_keys=True),
        "vae.training_data": json.dumps({"photos": files}, sort_keys=True),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_io.save(tensors, args.out, meta)
    h = hashlib.sha256(open(args.out, "rb").read()).hexdigest()
    print("wrote %s: %d tensors, %d bytes, sha256 %s" % (args.out, len(tensors), os.path.getsize(args.out), h))


if __name__ == "__main__":
    main()
