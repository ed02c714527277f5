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
import codec  # noqa: E402
import common  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import SeedF16, SeedF16Config  # noqa: E402
from train import Crops, atomic_save  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INIT = os.path.join(HERE, "..", "..", "data", "models", "seed-f16", "seed-f16.safetensors")
PHOTOS_DIR = os.path.join(common.SHARED, "data", "train_photos")


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
    ap.add_argument("--out")
    ap.add_argument("--resume")
    ap.add_argument("--budget-min", type=float, default=None)
    ap.add_argument("--init", default=DEFAULT_INIT, help="seed-f16 .safetensors to start from")
    ap.add_argument("--init-from", help="codec checkpoint (.pt) to start a new schedule from")
    ap.add_argument("--train", default=",".join([PHOTOS_DIR, common.TRAIN_DIR]))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--levels", type=int, default=6)
    ap.add_argument("--target-bpp", default="0.04,0.08,0.14,0.24,0.4,0.65",
                    help="initial gains are set so that the rate proxy hits these (one per level)")
    ap.add_argument("--lambdas", default="0.0002,0.0004,0.0008,0.0016,0.0032,0.0064")
    ap.add_argument("--ms-ssim-weight", type=float, default=2000.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--big-crop", type=int, default=512)
    ap.add_argument("--big-prob", type=float, default=0.2)
    ap.add_argument("--big-batch", type=int, default=1)
    ap.add_argument("--scale-min", type=float, default=0.5)
    ap.add_argument("--scale-max", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lr-head-mult", type=float, default=20.0, help="lr multiplier of gains and scale tables")
    ap.add_argument("--lr-pca-mult", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--ckpt-min", type=float, default=10.0)
    ap.add_argument("--snapshot-min", type=float, default=30.0)
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


def param_groups(model, args):
    head, pca, decay, no_decay = [], [], [], []
    for name, p in model.named_parameters():
        if name.startswith("head."):
            head.append(p)
        elif ".pca." in name:
            pca.append(p)
        elif p.dim() >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    return [
        {"params": decay, "weight_decay": args.wd, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
        {"params": pca, "weight_decay": 0.0, "lr_mult": args.lr_pca_mult},
        {"params": head, "weight_decay": 0.0, "lr_mult": args.lr_head_mult},
    ]


def main():
    args = parse_args()
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda s, f: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda s, f: stop.update(flag=True))
    state = None
    if args.resume:
        out = args.resume
        state = torch.load(os.path.join(out, "ckpt.pt"), map_location="cpu", weights_only=False)
        given = args
        args = argparse.Namespace(**state["args"])
        args.resume = out
        if given.budget_min is not None:
            args.budget_min = given.budget_min
        # what may change between the legs of a run: threads (a busy
        # machine), the balance of the distortion terms (recorded per leg)
        for name in ("threads", "ms_ssim_weight"):
            if "--" + name.replace("_", "-") in sys.argv:
                setattr(args, name, getattr(given, name))
                args.legs = getattr(args, "legs", []) + [
                    "from step %d: %s = %s" % (state["step"], name, getattr(given, name))]
    else:
        if not args.out:
            sys.exit("--out or --resume is required")
        out = args.out
        if args.budget_min is None:
            args.budget_min = 300.0
        os.makedirs(out, exist_ok=False)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev_name = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        ("cpu" if args.device == "auto" else args.device)
    device = torch.device(dev_name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    hw = torch.cuda.get_device_name(device) + ", TF32 matmuls" if device.type == "cuda" else \
        "CPU, %d thread(s), float32" % args.threads
    args.hardware = "%s, PyTorch %s" % (hw, torch.__version__)

    lambdas = [float(v) for v in args.lambdas.split(",")]
    targets = [float(v) for v in args.target_bpp.split(",")]
    if len(lambdas) != args.levels or len(targets) != args.levels:
        sys.exit("--lambdas and --target-bpp need one value per level")

    paths = common.list_images(args.train)
    gen = torch.Generator().manual_seed(args.seed)
    data = Crops(paths, gen, args.scale_min, args.scale_max, device)

    if state is not None:
        cfg = SeedF16Config.from_json(state["config"])
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
    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, args), lr=args.lr, betas=(0.9, 0.99))
    step, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = state["step"], state["elapsed"]
        print("resumed %s at step %d, %.1f of %.1f min" % (out, step, elapsed / 60, args.budget_min), flush=True)
    else:
        with open(os.path.join(out, "args.json"), "w") as f:
            json.dump(vars(args), f, indent=1, sort_keys=True)
        with open(os.path.join(out, "log.tsv"), "w") as f:
            f.write("step\telapsed_s\tlr\tloss\t" + "\t".join(
                "bpp%d\tpsnr%d\tmsssim%d" % (k, k, k) for k in range(args.levels)) + "\ts_per_step\n")
    print("seed-f16-codec: %d levels, lambdas %s; %d training photos; budget %.1f min on %s"
          % (args.levels, args.lambdas, len(paths), args.budget_min, args.hardware), flush=True)

    lam = torch.tensor(lambdas, device=device)

    def progress():
        return elapsed / (args.budget_min * 60.0)

    def save_ckpt():
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                     "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "step": step,
                     "elapsed": elapsed, "args": vars(args), "config": cfg.to_json(),
                     "train_files": [os.path.relpath(p, common.SHARED) for p in paths]},
                    os.path.join(out, "ckpt.pt"))

    def save_ema(name):
        atomic_save({"ema": ema.state_dict(), "config": cfg.to_json(), "step": step, "elapsed": elapsed,
                     "args": vars(args), "train_files": [os.path.relpath(p, common.SHARED) for p in paths]},
                    os.path.join(out, name))

    last_ckpt = last_snap = elapsed
    K = args.levels
    acc = torch.zeros(K, 4, dtype=torch.float64)     # n, bpp, mse, ms-ssim per level
    acc_loss, acc_n = 0.0, 0
    t_log, steps_at_log = time.time(), step
    t_prev = time.time()
    model.train()
    while progress() < 1.0 and not stop["flag"]:
        warm = min(1.0, (step + 1) / max(1, args.warmup))
        lr = args.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress())))
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_mult"]
        if args.big_prob > 0 and torch.rand((), generator=gen).item() < args.big_prob:
            x = data.batch(args.big_batch, args.big_crop)
        else:
            x = data.batch(args.batch, args.crop)
        level = torch.randint(K, (x.shape[0],), generator=gen).to(device)
        y, bits, z = model(x, level)
        px = x.shape[-2] * x.shape[-1]
        bpp = bits / px
        mse = (y - x).pow(2).mean(dim=(1, 2, 3))
        ms = codec.ms_ssim(y.clamp(0, 1), x)
        dist = 255.0 ** 2 * mse + args.ms_ssim_weight * (1.0 - ms)
        loss = (bpp + lam[level] * dist).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1.0 + step) / (10.0 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - d)
            for i in range(x.shape[0]):
                k = int(level[i])
                acc[k] += torch.tensor([1.0, float(bpp[i]), float(mse[i]), float(ms[i])], dtype=torch.float64)
        acc_loss += float(loss)
        acc_n += 1
        step += 1
        now = time.time()
        elapsed += now - t_prev
        t_prev = now

        if step % args.log_every == 0 or progress() >= 1.0 or stop["flag"]:
            sps = (time.time() - t_log) / max(1, step - steps_at_log)
            cols, show = [], []
            for k in range(K):
                n = max(1.0, float(acc[k, 0]))
                b, m, s = float(acc[k, 1]) / n, float(acc[k, 2]) / n, float(acc[k, 3]) / n
                p = -10 * math.log10(max(m, 1e-12)) if acc[k, 0] > 0 else float("nan")
                cols += ["%.4f" % b, "%.3f" % p, "%.4f" % s]
                show.append("%.3f/%.2f/%.3f" % (b, p, s))
            with open(os.path.join(out, "log.tsv"), "a") as f:
                f.write("%d\t%.1f\t%.3g\t%.5f\t%s\t%.3f\n" % (step, elapsed, lr, acc_loss / max(1, acc_n),
                                                             "\t".join(cols), sps))
            print("step %6d %6.1f min lr %.2e loss %.4f | %s | %.2f s/step"
                  % (step, elapsed / 60, lr, acc_loss / max(1, acc_n), " ".join(show), sps), flush=True)
            acc.zero_()
            acc_loss, acc_n = 0.0, 0
            t_log, steps_at_log = time.time(), step
        if elapsed - last_ckpt >= args.ckpt_min * 60:
            save_ckpt()
            last_ckpt = elapsed
        if elapsed - last_snap >= args.snapshot_min * 60:
            save_ema("ema-%06d.pt" % step)
            last_snap = elapsed

    save_ckpt()
    if progress() >= 1.0:
        save_ema("final.pt")
        print("done: %d steps, %.1f min" % (step, elapsed / 60), flush=True)
    else:
        print("stopped at step %d (%.1f of %.1f min); resume with --resume %s"
              % (step, elapsed / 60, args.budget_min, out), flush=True)


if __name__ == "__main__":
    main()
