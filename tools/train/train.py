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
import copy
import json
import math
import os
import signal
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import SeedF16, SeedF16Config, count_params  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="run folder (created)")
    ap.add_argument("--resume", help="run folder to resume (uses its saved settings)")
    ap.add_argument("--budget-min", type=float, default=None, help="wall-clock training budget, minutes (default 150)")
    ap.add_argument("--steps", type=int, default=0, help="optional step budget (0: wall clock only)")
    ap.add_argument("--train", default=common.TRAIN_DIR,
                    help="folders of training photos (PNG, JPEG), comma-separated")
    ap.add_argument("--init-from", help="start a new schedule from these weights (EMA of a ckpt/ema/final .pt)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    ap.add_argument("--latent-channels", type=int, default=32)
    ap.add_argument("--config", help="JSON overriding SeedF16Config fields")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--big-crop", type=int, default=512, help="one crop of this size instead of a batch...")
    ap.add_argument("--big-prob", type=float, default=0.25, help="...with this probability per step")
    ap.add_argument("--big-batch", type=int, default=1, help="crops per big-crop step")
    ap.add_argument("--scale-min", type=float, default=0.5)
    ap.add_argument("--scale-max", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--lr-pca-mult", type=float, default=0.1, help="lr multiplier of the linear shortcuts")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--l1", type=float, default=1.0)
    ap.add_argument("--mse", type=float, default=0.0)
    ap.add_argument("--ssim", type=float, default=0.1)
    ap.add_argument("--latent-l2", type=float, default=1e-4)
    ap.add_argument("--grad", type=float, default=0.0, help="weight of the image-gradient L1 term (sharpness)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--ckpt-min", type=float, default=10.0)
    ap.add_argument("--snapshot-min", type=float, default=30.0)
    return ap.parse_args(argv)


class Crops:
    """Random crops of the training photos: uniform photo, random scale in
    [scale_min, scale_max] (antialiased bicubic downscale), random position,
    horizontal flip with p = 0.5.  All randomness from one CPU torch.Generator,
    so a run draws the same crops on any device; the photos live on the
    training device so that a GPU is not starved by CPU-side resampling."""

    def __init__(self, paths, gen, scale_min, scale_max, device):
        self.images = [common.load_rgb_u8(p).to(device) for p in paths]
        self.gen = gen
        self.smin, self.smax = scale_min, scale_max

    def _u(self):
        return torch.rand((), generator=self.gen).item()

    def crop(self, size):
        img = self.images[int(torch.randint(len(self.images), (), generator=self.gen))]
        H, W = img.shape[1:]
        s = self.smin + (self.smax - self.smin) * self._u()
        r = min(round(size / s), H, W)
        y = int(torch.randint(H - r + 1, (), generator=self.gen))
        x = int(torch.randint(W - r + 1, (), generator=self.gen))
        t = img[:, y:y + r, x:x + r].float() / 255.0
        if r != size:
            t = F.interpolate(t[None], size=(size, size), mode="bicubic", antialias=True,
                              align_corners=False)[0].clamp(0, 1)
        if self._u() < 0.5:
            t = t.flip(-1)
        return t

    def batch(self, n, size):
        return torch.stack([self.crop(size) for _ in range(n)])


def param_groups(model, args):
    pca, decay, no_decay = [], [], []
    for name, p in model.named_parameters():
        if ".pca." in name:
            pca.append(p)
        elif p.dim() >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    return [
        {"params": decay, "weight_decay": args.wd, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
        {"params": pca, "weight_decay": 0.0, "lr_mult": args.lr_pca_mult},
    ]


def lr_at(args, step, progress):
    warm = min(1.0, (step + 1) / max(1, args.warmup))
    return args.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


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


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    args = parse_args()
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state = None
    if args.resume:
        out = args.resume
        state = torch.load(os.path.join(out, "ckpt.pt"), map_location="cpu", weights_only=False)
        budget = args.budget_min
        saved = argparse.Namespace(**state["args"])
        saved.resume = out
        if budget is not None:
            saved.budget_min = budget
        args = saved
    else:
        if not args.out:
            sys.exit("--out or --resume is required")
        out = args.out
        if args.budget_min is None:
            args.budget_min = 150.0
        os.makedirs(out, exist_ok=False)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev_name = getattr(args, "device", "auto")
    if dev_name == "auto":
        dev_name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev_name)
    if device.type == "cuda":
        # TF32 keeps float32's range; its 10-bit mantissa is far below the
        # noise of stochastic gradients.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    hw = torch.cuda.get_device_name(device) + ", TF32 matmuls" if device.type == "cuda" else \
        "CPU, %d thread(s), float32" % args.threads
    args.hardware = "%s, PyTorch %s" % (hw, torch.__version__)

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
    data = Crops(paths, gen, args.scale_min, args.scale_max, device)

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
        model = SeedF16(cfg)
        model.load_state_dict(init["ema"])
        pca = init.get("pca")
        prev = init.get("args", {})
        # the whole chain of runs, back to the PCA codec the first one began as
        args.init_note = ("EMA weights of an earlier run (%s steps, %s, lr %g, %g min), which began as: %s"
                          % (init.get("step"), prev.get("hardware", "CPU, %d thread(s), float32" % prev.get("threads", 1)),
                             prev.get("lr", 0), prev.get("budget_min", 0),
                             prev.get("init_note", "the closed-form PCA codec")))
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

    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, args), lr=args.lr, betas=(0.9, 0.99))
    step, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])    # moves the moments to the parameters' device
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = state["step"], state["elapsed"]
        print("resumed %s at step %d, %.1f of %.1f min" % (out, step, elapsed / 60, args.budget_min), flush=True)
    else:
        with open(os.path.join(out, "args.json"), "w") as f:
            json.dump(vars(args), f, indent=1, sort_keys=True)
        with open(os.path.join(out, "log.tsv"), "w") as f:
            f.write("step\telapsed_s\tlr\tloss\tl1\tssim\tpsnr\tpsnr_pca\tlatent_rms\tgrad_norm\ts_per_step\n")

    print("device %s" % device)
    print("seed-f16 %s: %d params (encoder %d, decoder %d); %d training photos; budget %.1f min%s"
          % (cfg.to_json(), count_params(model), count_params(model.encoder), count_params(model.decoder),
             len(paths), args.budget_min, ", %d steps" % args.steps if args.steps else ""), flush=True)

    def progress():
        p = elapsed / (args.budget_min * 60.0)
        if args.steps:
            p = max(p, step / args.steps)
        return p

    def save_ckpt():
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                     "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "step": step,
                     "elapsed": elapsed, "args": vars(args), "config": cfg.to_json(), "pca": pca,
                     "train_files": [os.path.basename(p) for p in paths]},
                    os.path.join(out, "ckpt.pt"))
        plot(out)

    def save_ema(name):
        atomic_save({"ema": ema.state_dict(), "config": cfg.to_json(), "step": step, "elapsed": elapsed, "pca": pca,
                     "args": vars(args), "train_files": [os.path.basename(p) for p in paths]},
                    os.path.join(out, name))

    last_ckpt = last_snap = elapsed
    acc = {"loss": 0.0, "l1": 0.0, "ssim": 0.0, "mse": 0.0, "mse_pca": 0.0, "lat": 0.0, "gn": 0.0, "n": 0}
    t_log = time.time()
    steps_at_log = step
    model.train()
    t_prev = time.time()
    while progress() < 1.0 and not stop["flag"]:
        lr = lr_at(args, step, progress())
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        if args.big_prob > 0 and torch.rand((), generator=gen).item() < args.big_prob:
            x = data.batch(getattr(args, "big_batch", 1), args.big_crop)
        else:
            x = data.batch(args.batch, args.crop)
        y, z = model(x)
        l1 = (y - x).abs().mean()
        # edges: L1 of the difference of horizontal and vertical gradients,
        # which a plain L1 lets the decoder smooth away
        gr = ((y.diff(dim=-1) - x.diff(dim=-1)).abs().mean() +
              (y.diff(dim=-2) - x.diff(dim=-2)).abs().mean()) if args.grad > 0 else torch.zeros(())
        mse = (y - x).pow(2).mean()
        ss = common.ssim_loss(y, x) if args.ssim > 0 else torch.zeros(())
        lat = z.pow(2).mean()
        loss = args.l1 * l1 + args.mse * mse + args.ssim * ss + args.latent_l2 * lat + args.grad * gr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1.0 + step) / (10.0 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - d)
            xp = F.pixel_shuffle(model.decoder.pca(model.encoder.pca(F.pixel_unshuffle(x, 16))), 16)
            acc["mse_pca"] += (xp - x).pow(2).mean()
        step += 1
        now = time.time()
        elapsed += now - t_prev    # wall time, including logging and saving
        t_prev = now
        # accumulated on the device: .item() every step would stall a GPU
        acc["loss"] += loss.detach(); acc["l1"] += l1.detach(); acc["ssim"] += ss.detach()
        acc["mse"] += mse.detach(); acc["lat"] += lat.detach(); acc["gn"] += gn; acc["n"] += 1

        if step % args.log_every == 0 or progress() >= 1.0 or stop["flag"]:
            n = acc["n"]
            acc = {k: float(v) for k, v in acc.items()}
            sps = (time.time() - t_log) / max(1, step - steps_at_log)
            row = (step, elapsed, lr, acc["loss"] / n, acc["l1"] / n, 1 - acc["ssim"] / n,
                   -10 * math.log10(acc["mse"] / n), -10 * math.log10(acc["mse_pca"] / n),
                   math.sqrt(acc["lat"] / n), acc["gn"] / n, sps)
            with open(os.path.join(out, "log.tsv"), "a") as f:
                f.write("%d\t%.1f\t%.3g\t%.5f\t%.5f\t%.4f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n" % row)
            print("step %6d  %6.1f min  lr %.2e  loss %.5f  l1 %.5f  ssim %.4f  psnr %.2f (pca %.2f)  "
                  "|z| %.2f  gn %.2f  %.2f s/step" % (row[0], row[1] / 60, *row[2:]), flush=True)
            acc = dict.fromkeys(acc, 0.0); acc["n"] = 0
            t_log, steps_at_log = time.time(), step
        if elapsed - last_ckpt >= args.ckpt_min * 60:
            save_ckpt(); last_ckpt = elapsed
        if elapsed - last_snap >= args.snapshot_min * 60:
            save_ema("ema-%06d.pt" % step); last_snap = elapsed

    save_ckpt()
    if progress() >= 1.0:
        save_ema("final.pt")
        print("done: %d steps, %.1f min; final EMA weights in %s" % (step, elapsed / 60, os.path.join(out, "final.pt")),
              flush=True)
    else:
        print("stopped at step %d (%.1f of %.1f min); resume with: tools/debian13-env python3 "
              "tools/train/train.py --resume %s" % (step, elapsed / 60, args.budget_min, out), flush=True)


if __name__ == "__main__":
    main()
