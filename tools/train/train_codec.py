#!/usr/bin/env python3
"""Train seed-f16-codec: seed-f16 fine-tuned for rate + distortion at K
quality levels at once (codec.py), for a wall-clock budget.

  nohup tools/debian13-env nice -n 10 python3 tools/train/train_codec.py \
      --out runs/codec --budget-min 300 --threads 2 > runs/codec.log 2>&1 &
  tools/debian13-env python3 tools/train/train_codec.py --resume runs/codec   # after a stop

Starts from the shipped seed-f16 weights (--init, a .safetensors) or a codec
checkpoint (--init-from).  Each crop of a batch draws a quality level k; the
loss is bits/pixel + lambda_k * (255^2 MSE + w (1 - MS-SSIM)).  Writes
ckpt.pt (every --ckpt-min and on SIGTERM/SIGINT), ema-<step>.pt snapshots,
final.pt and log.tsv into the run folder, like train.py.
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codec  # noqa: E402
import common  # noqa: E402
import loop  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import SeedF16, SeedF16Config  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INIT = os.path.join(HERE, "..", "..", "data", "models", "seed-f16", "seed-f16.safetensors")
PHOTOS_DIR = os.path.join(common.SHARED, "data", "train_photos")
BUDGET_MIN = 300.0


class CodecModel(torch.nn.Module):
    def __init__(self, cfg, levels):
        super().__init__()
        self.cfg = cfg
        self.ae = SeedF16(cfg)
        self.head = codec.CodecHead(cfg.latent_channels, levels)

    def forward(self, x, level, train=True):
        z = self.ae.encoder(x)
        z_hat, bits, q = self.head(z, level, train)
        return self.ae.decoder(z_hat), bits, z


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loop.add_args(ap, BUDGET_MIN, lr=2e-4, warmup=100, big_prob=0.2)
    ap.add_argument("--init", default=DEFAULT_INIT, help="seed-f16 .safetensors to start from")
    ap.add_argument("--init-from", help="codec checkpoint (.pt) to start a new schedule from")
    ap.add_argument("--train", default=",".join([PHOTOS_DIR, common.TRAIN_DIR]))
    ap.add_argument("--levels", type=int, default=6)
    ap.add_argument("--target-bpp", default="0.04,0.08,0.14,0.24,0.4,0.65",
                    help="initial gains are set so that the rate proxy hits these (one per level)")
    ap.add_argument("--lambdas", default="0.0002,0.0004,0.0008,0.0016,0.0032,0.0064")
    ap.add_argument("--ms-ssim-weight", type=float, default=2000.0)
    ap.add_argument("--lr-head-mult", type=float, default=20.0, help="lr multiplier of gains and scale tables")
    return ap.parse_args(argv)


def load_seed(path):
    tensors, meta = safetensors_io.load(path)
    cfg = SeedF16Config.from_json(meta["vae.config"])
    return cfg, {k: v.float() for k, v in tensors.items()}


@torch.no_grad()
def calibrate(model, data, targets, n=16, size=256):
    """Initial gains: pixel-space steps found by bisection so that the rate
    proxy (no contexts) on n training crops hits each target bpp."""
    x = data.batch(n, size)
    z = model.ae.encoder(x)
    z_std = z.transpose(0, 1).flatten(1).std(dim=1)
    w = model.ae.decoder.pca.weight[:, :, 0, 0].norm(dim=0)
    head = model.head
    steps = []
    for t in targets:
        lo, hi = math.log(1e-4), math.log(10.0)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            d = math.exp(mid)
            g = w / d
            b = (z_std * g / math.sqrt(2.0)).clamp_min(0.05)
            y = torch.round(z * g[None, :, None, None])
            bits = -torch.log2(codec.laplace_likelihood(y, b[None, :, None, None].expand_as(y))).sum()
            bpp = bits.item() / (n * size * size)
            if bpp > t:
                lo = mid
            else:
                hi = mid
        steps.append(math.exp(0.5 * (lo + hi)))
    head.init_from(z_std, w, steps)
    return steps


def main():
    # what may change between the legs of a run: threads (a busy machine),
    # the balance of the distortion terms (recorded per leg)
    run = loop.Run(parse_args(), BUDGET_MIN, __file__, may_change=("threads", "ms_ssim_weight"))
    args, device = run.args, run.device

    lambdas = [float(v) for v in args.lambdas.split(",")]
    targets = [float(v) for v in args.target_bpp.split(",")]
    if len(lambdas) != args.levels or len(targets) != args.levels:
        sys.exit("--lambdas and --target-bpp need one value per level")

    paths = common.list_images(args.train)
    gen = torch.Generator().manual_seed(args.seed)
    data = loop.Crops(paths, gen, args.scale_min, args.scale_max, device)

    if run.state is not None:
        cfg = SeedF16Config.from_json(run.state["config"])
        model = CodecModel(cfg, args.levels)
    elif args.init_from:
        init = torch.load(args.init_from, map_location="cpu", weights_only=False)
        cfg = SeedF16Config.from_json(init["config"])
        model = CodecModel(cfg, args.levels)
        model.load_state_dict(init["ema"])
        args.init_note = "EMA weights of an earlier codec run (%s steps), which began as: %s" % (
            init.get("step"), init.get("args", {}).get("init_note"))
    else:
        cfg, sd = load_seed(args.init)
        model = CodecModel(cfg, args.levels)
        model.ae.load_state_dict(sd)
        steps = calibrate(model, data, targets)
        args.init_note = ("seed-f16 (%s); gains set for the rate proxy to hit %s bpp on training crops "
                          "(pixel steps %s)" % (os.path.basename(args.init), args.target_bpp,
                                                ",".join("%.4g" % s for s in steps)))
        print(args.init_note, flush=True)
    K = args.levels
    run.start(model, gen, [c % k for k in range(K) for c in ("bpp%d", "psnr%d", "msssim%d")],
              {"config": cfg.to_json(), "train_files": [os.path.relpath(p, common.SHARED) for p in paths]})
    print("seed-f16-codec: %d levels, lambdas %s; %d training photos; budget %.1f min on %s"
          % (args.levels, args.lambdas, len(paths), args.budget_min, args.hardware), flush=True)

    lam = torch.tensor(lambdas, device=device)
    acc = torch.zeros(K, 4, dtype=torch.float64)     # n, bpp, mse, ms-ssim per level
    total = {"loss": 0.0, "n": 0}

    def loss(x):
        level = torch.randint(K, (x.shape[0],), generator=gen).to(device)
        y, bits, z = model(x, level)
        px = x.shape[-2] * x.shape[-1]
        bpp = bits / px
        mse = (y - x).pow(2).mean(dim=(1, 2, 3))
        ms = codec.ms_ssim(y.clamp(0, 1), x)
        dist = 255.0 ** 2 * mse + args.ms_ssim_weight * (1.0 - ms)
        value = (bpp + lam[level] * dist).mean()
        return value, (value, level, bpp, mse, ms)

    def account(parts, gn):
        value, level, bpp, mse, ms = parts
        for i in range(level.shape[0]):
            k = int(level[i])
            acc[k] += torch.tensor([1.0, float(bpp[i]), float(mse[i]), float(ms[i])], dtype=torch.float64)
        total["loss"] += float(value)
        total["n"] += 1

    def report():
        cols, show = [], []
        for k in range(K):
            n = max(1.0, float(acc[k, 0]))
            b, m, s = float(acc[k, 1]) / n, float(acc[k, 2]) / n, float(acc[k, 3]) / n
            p = -10 * math.log10(max(m, 1e-12)) if acc[k, 0] > 0 else float("nan")
            cols += ["%.4f" % b, "%.3f" % p, "%.4f" % s]
            show.append("%.3f/%.2f/%.3f" % (b, p, s))
        mean_loss = total["loss"] / max(1, total["n"])
        acc.zero_()
        total.update(loss=0.0, n=0)
        return mean_loss, cols, "| %s |" % " ".join(show)

    run.train(data, loss, account, report)


if __name__ == "__main__":
    main()
