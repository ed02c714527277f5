#!/usr/bin/env python3
"""Train seed-f16 on the training photos for a wall-clock budget.

  nohup tools/debian13-env nice -n 15 python3 tools/train/train.py \
      --out runs/main --budget-min 150 > runs/main.log 2>&1 &
  # resume after a stop (same folder, same settings; --budget-min may extend):
  tools/debian13-env python3 tools/train/train.py --resume runs/main

The model starts as the closed-form PCA codec (see seedf16.py); the learning
rate warms up, then follows a cosine to 0 over the budget: progress is
max(elapsed / budget, step / --steps), so the schedule always ends in time.
Writes into --out: ckpt.pt (full state, every --ckpt-min minutes and on
SIGTERM/SIGINT), ema-<step>.pt snapshots, final.pt, log.tsv, loss.png.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import loop  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import SeedF16, SeedF16Config, count_params, load_grown  # noqa: E402


BUDGET_MIN = 150.0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    loop.add_args(ap, BUDGET_MIN, lr=6e-4, warmup=200, big_prob=0.25)
    ap.add_argument("--steps", type=int, default=0, help="optional step budget (0: wall clock only)")
    ap.add_argument("--train", default=common.TRAIN_DIR,
                    help="folders of training photos (PNG, JPEG), comma-separated")
    ap.add_argument("--init-from", help="start a new schedule from these weights (EMA of a ckpt/ema/final .pt)")
    ap.add_argument("--latent-channels", type=int, default=32)
    ap.add_argument("--config", help="JSON overriding SeedF16Config fields")
    ap.add_argument("--l1", type=float, default=1.0)
    ap.add_argument("--mse", type=float, default=0.0)
    ap.add_argument("--ssim", type=float, default=0.1)
    ap.add_argument("--latent-l2", type=float, default=1e-4)
    ap.add_argument("--grad", type=float, default=0.0, help="weight of the image-gradient L1 term (sharpness)")
    return ap.parse_args(argv)


def plot(out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    path = os.path.join(out, "log.tsv")
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    head, rows = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    if len(rows) < 2:
        return
    col = {h: i for i, h in enumerate(head)}
    step = [int(r[col["step"]]) for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].plot(step, [float(r[col["loss"]]) for r in rows], lw=0.8)
    ax[0].set_title("training loss (L1 + w * (1 - SSIM) + latent L2)")
    ax[0].set_yscale("log")
    ax[1].plot(step, [float(r[col["psnr"]]) for r in rows], lw=0.8, label="model")
    ax[1].plot(step, [float(r[col["psnr_pca"]]) for r in rows], lw=0.8, label="PCA shortcut alone")
    ax[1].set_title("training-batch PSNR (dB, float)")
    ax[1].legend()
    ax[2].plot(step, [float(r[col["lr"]]) for r in rows], lw=0.8)
    ax[2].set_title("learning rate")
    for a in ax:
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=80)
    plt.close(fig)


def main():
    run = loop.Run(parse_args(), BUDGET_MIN, __file__)
    args, device = run.args, run.device

    cfg = SeedF16Config(latent_channels=args.latent_channels)
    if args.config:
        d = json.loads(args.config)
        for k, v in d.items():
            setattr(cfg, k, tuple(v) if isinstance(v, list) else v)
    model = SeedF16(cfg)

    paths = common.list_images(args.train)
    if not paths:
        sys.exit("no training photos in " + args.train)
    gen = torch.Generator().manual_seed(args.seed)
    data = loop.Crops(paths, gen, args.scale_min, args.scale_max, device)

    state = run.state
    if state is None and getattr(args, "init_from", None):
        if args.init_from.endswith(".safetensors"):
            # a shipped model: its weights as the EMA of a run of no steps
            tensors, meta = safetensors_io.load(args.init_from)
            init = {"ema": {k: v.float() for k, v in tensors.items()}, "config": meta["vae.config"],
                    "step": 0, "args": json.loads(meta.get("vae.training", "{}")),
                    "pca": None}
            init["args"]["init_note"] = "the shipped %s (%s)" % (os.path.basename(args.init_from),
                                                                 meta.get("vae.training", "")[:200])
        else:
            init = torch.load(args.init_from, map_location="cpu", weights_only=False)
        cfg = SeedF16Config.from_json(init["config"])
        if args.config:
            # only growth in depth keeps the earlier weights meaningful
            for k, v in json.loads(args.config).items():
                if k != "depth" or v < cfg.depth:
                    sys.exit("--config with --init-from can only add decoder blocks (depth)")
                cfg.depth = v
        model = SeedF16(cfg)
        grown = load_grown(model, init["ema"])
        if grown:
            print("grown by %d decoder block(s) that start as the identity" % grown, flush=True)
        pca = init.get("pca")
        prev = init.get("args", {})
        # the whole chain of runs, back to the PCA codec the first one began as
        args.init_note = ("EMA weights of an earlier run (%s steps, %s, lr %g, %g min), which began as: %s"
                          % (init.get("step"), prev.get("hardware", "CPU, %d thread(s), float32" % prev.get("threads", 1)),
                             prev.get("lr", 0), prev.get("budget_min", 0),
                             prev.get("init_note", "the closed-form PCA codec")))
        if grown:
            args.init_note = "grown by %d identity decoder block(s) from the " % grown + args.init_note
        print("initialised from %s (step %s)" % (args.init_from, init.get("step")), flush=True)
    elif state is None:
        t0 = time.time()
        mean, U, evals, n = common.fit_pca(paths)
        C = cfg.latent_channels
        model.set_pca(mean, U[:C], evals[:C])
        pca = {"mean": mean, "components": U[:C], "variances": evals[:C], "patches": n}
        print("PCA fit: %d patches, %.1f s, keeps %.2f%% of the variance"
              % (n, time.time() - t0, 100 * evals[:C].sum().item() / evals.sum().item()), flush=True)
    else:
        pca = state["pca"]

    run.start(model, gen, ["l1", "ssim", "psnr", "psnr_pca", "latent_rms", "grad_norm"],
              {"config": cfg.to_json(), "pca": pca, "train_files": [os.path.basename(p) for p in paths]})

    print("device %s" % device)
    print("seed-f16 %s: %d params (encoder %d, decoder %d); %d training photos; budget %.1f min%s"
          % (cfg.to_json(), count_params(model), count_params(model.encoder), count_params(model.decoder),
             len(paths), args.budget_min, ", %d steps" % args.steps if args.steps else ""), flush=True)

    acc = {"loss": 0.0, "l1": 0.0, "ssim": 0.0, "mse": 0.0, "mse_pca": 0.0, "lat": 0.0, "gn": 0.0, "n": 0}

    def loss(x):
        y, z = model(x)
        l1 = (y - x).abs().mean()
        # edges: L1 of the difference of horizontal and vertical gradients,
        # which a plain L1 lets the decoder smooth away
        gr = ((y.diff(dim=-1) - x.diff(dim=-1)).abs().mean() +
              (y.diff(dim=-2) - x.diff(dim=-2)).abs().mean()) if args.grad > 0 else torch.zeros(())
        mse = (y - x).pow(2).mean()
        ss = common.ssim_loss(y, x) if args.ssim > 0 else torch.zeros(())
        lat = z.pow(2).mean()
        total = args.l1 * l1 + args.mse * mse + args.ssim * ss + args.latent_l2 * lat + args.grad * gr
        return total, (x, total, l1, ss, mse, lat)

    def account(parts, gn):
        x, total, l1, ss, mse, lat = parts
        xp = F.pixel_shuffle(model.decoder.pca(model.encoder.pca(F.pixel_unshuffle(x, 16))), 16)
        acc["mse_pca"] += (xp - x).pow(2).mean()
        # accumulated on the device: .item() every step would stall a GPU
        acc["loss"] += total.detach(); acc["l1"] += l1.detach(); acc["ssim"] += ss.detach()
        acc["mse"] += mse.detach(); acc["lat"] += lat.detach(); acc["gn"] += gn; acc["n"] += 1

    def report():
        n = acc["n"]
        m = {k: float(v) / n for k, v in acc.items()}
        row = (m["l1"], 1 - m["ssim"], -10 * math.log10(m["mse"]), -10 * math.log10(m["mse_pca"]),
               math.sqrt(m["lat"]), m["gn"])
        acc.update(dict.fromkeys(acc, 0.0), n=0)
        return (m["loss"], ["%.5f" % row[0], "%.4f" % row[1]] + ["%.3f" % v for v in row[2:]],
                "l1 %.5f  ssim %.4f  psnr %.2f (pca %.2f)  |z| %.2f  gn %.2f" % row)

    run.train(data, loss, account, report, after_ckpt=lambda: plot(run.out))


if __name__ == "__main__":
    main()
