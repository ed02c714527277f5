"""The training machinery train.py and train_codec.py share: the settings
every run has, the run folder (new, or resumed with its saved settings),
the device, the training crops, AdamW with a warmup + cosine schedule over
a wall-clock budget, the EMA of the weights, checkpoints and the cadence of
log.tsv.  What a script trains (model, loss, statistics) stays in it:

  run = loop.Run(parse_args(), BUDGET_MIN, __file__)
  ... model, crops with run.device ...
  run.start(model, gen, log_columns, meta)
  run.train(crops, loss, account, report)
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

import common


def add_args(ap, budget_min, lr, warmup, big_prob):
    """Adds the settings of every run to @ap; the defaults the scripts
    differ in are the parameters."""
    ap.add_argument("--out", help="run folder (created)")
    ap.add_argument("--resume", help="run folder to resume (uses its saved settings)")
    ap.add_argument("--budget-min", type=float, default=None,
                    help="wall-clock training budget, minutes (default %g)" % budget_min)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    ap.add_argument("--bf16", action="store_true",
                    help="bfloat16 autocast (float32 weights): ~6x faster on CPUs with AMX, whose "
                    "oneDNN kernels it reaches, where Debian's float32 BLAS is generic")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--big-crop", type=int, default=512, help="one crop of this size instead of a batch...")
    ap.add_argument("--big-prob", type=float, default=big_prob, help="...with this probability per step")
    ap.add_argument("--big-batch", type=int, default=1, help="crops per big-crop step")
    ap.add_argument("--scale-min", type=float, default=0.5)
    ap.add_argument("--scale-max", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--lr-pca-mult", type=float, default=0.1, help="lr multiplier of the linear shortcuts")
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--ckpt-min", type=float, default=10.0)
    ap.add_argument("--snapshot-min", type=float, default=30.0)


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
    """AdamW groups: weight decay on the weights only; the PCA shortcuts, and
    a codec's gains and scale tables (parameters "head.*"), at their own lr
    multipliers."""
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
    groups = [
        {"params": decay, "weight_decay": args.wd, "lr_mult": 1.0},
        {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
        {"params": pca, "weight_decay": 0.0, "lr_mult": args.lr_pca_mult},
    ]
    if head:
        groups.append({"params": head, "weight_decay": 0.0, "lr_mult": args.lr_head_mult})
    return groups


def lr_at(args, step, progress):
    warm = min(1.0, (step + 1) / max(1, args.warmup))
    return args.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Run:
    """A run folder and its settings.  With --resume, the settings are the
    ones saved in its ckpt.pt (state: that checkpoint); --budget-min may
    extend the budget, and the settings named in @may_change take the
    command line's value when it gives one, each change recorded in
    args.legs.  A new run's folder is created (it must not exist).
    SIGTERM and SIGINT stop the training after the current step."""

    def __init__(self, args, budget_min, script, may_change=()):
        self.script = os.path.basename(script)
        self.stop = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.state = None
        if args.resume:
            self.out = args.resume
            self.state = torch.load(os.path.join(self.out, "ckpt.pt"), map_location="cpu", weights_only=False)
            given = args
            args = argparse.Namespace(**self.state["args"])
            args.resume = self.out
            if given.budget_min is not None:
                args.budget_min = given.budget_min
            for name in may_change:
                if "--" + name.replace("_", "-") in sys.argv:
                    setattr(args, name, getattr(given, name))
                    args.legs = getattr(args, "legs", []) + [
                        "from step %d: %s = %s" % (self.state["step"], name, getattr(given, name))]
        else:
            if not args.out:
                sys.exit("--out or --resume is required")
            self.out = args.out
            if args.budget_min is None:
                args.budget_min = budget_min
            os.makedirs(self.out, exist_ok=False)
        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        dev_name = getattr(args, "device", "auto")
        if dev_name == "auto":
            dev_name = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(dev_name)
        if self.device.type == "cuda":
            # TF32 keeps float32's range; its 10-bit mantissa is far below the
            # noise of stochastic gradients.
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        hw = torch.cuda.get_device_name(self.device) + ", TF32 matmuls" if self.device.type == "cuda" else \
            "CPU, %d thread(s), float32" % args.threads
        if getattr(args, "bf16", False):
            hw += ", bfloat16 autocast"
        args.hardware = "%s, PyTorch %s" % (hw, torch.__version__)
        self.args = args

    def _on_signal(self, signum, frame):
        self.stop = True

    def start(self, model, gen, log_columns, meta):
        """Moves @model to the device, makes its EMA and AdamW (param_groups);
        on --resume restores them, @gen (the crops' generator), torch's
        generator, the step and the clock from the checkpoint, else writes
        args.json and the header of log.tsv: step, elapsed_s, lr, loss,
        @log_columns, s_per_step.  Each checkpoint and EMA file holds @meta
        besides the weights, step, clock and settings."""
        self.model, self.gen, self.meta = model, gen, meta
        model.to(self.device)
        self.ema = copy.deepcopy(model).requires_grad_(False)
        self.opt = torch.optim.AdamW(param_groups(model, self.args), lr=self.args.lr, betas=(0.9, 0.99))
        self.step, self.elapsed = 0, 0.0
        state = self.state
        if state is not None:
            model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.opt.load_state_dict(state["opt"])    # moves the moments to the parameters' device
            gen.set_state(state["gen"])
            torch.set_rng_state(state["torch_rng"])
            self.step, self.elapsed = state["step"], state["elapsed"]
            print("resumed %s at step %d, %.1f of %.1f min"
                  % (self.out, self.step, self.elapsed / 60, self.args.budget_min), flush=True)
        else:
            with open(os.path.join(self.out, "args.json"), "w") as f:
                json.dump(vars(self.args), f, indent=1, sort_keys=True)
            with open(os.path.join(self.out, "log.tsv"), "w") as f:
                f.write("\t".join(["step", "elapsed_s", "lr", "loss"] + log_columns + ["s_per_step"]) + "\n")

    def progress(self):
        """Of the schedule, from 0 to 1: the larger of the budget's time spent
        and (with --steps) the steps done, so that the schedule always ends
        in time."""
        p = self.elapsed / (self.args.budget_min * 60.0)
        steps = getattr(self.args, "steps", 0)
        if steps:
            p = max(p, self.step / steps)
        return p

    def save_ema(self, name):
        atomic_save(dict({"ema": self.ema.state_dict(), "step": self.step, "elapsed": self.elapsed,
                          "args": vars(self.args)}, **self.meta),
                    os.path.join(self.out, name))

    def save_ckpt(self):
        atomic_save(dict({"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                          "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                          "torch_rng": torch.get_rng_state(), "step": self.step, "elapsed": self.elapsed,
                          "args": vars(self.args)}, **self.meta),
                    os.path.join(self.out, "ckpt.pt"))

    def train(self, crops, loss, account, report, after_ckpt=None):
        """Steps until the budget is spent or a signal comes.  A step draws
        a batch of @crops (or, with probability --big-prob, a batch of big
        ones); @loss(x) gives the loss of batch x and what the statistics
        need of it, parts; after the optimizer and EMA step, without
        gradients, @account(parts, grad_norm) adds to the statistics.
        Every --log-every steps @report() gives the mean loss, the further
        columns of log.tsv (formatted) and the text to print after the loss,
        and starts new statistics.  Writes ckpt.pt every --ckpt-min minutes
        (then calls @after_ckpt), EMA snapshots ema-<step>.pt every
        --snapshot-min, and at the end ckpt.pt and, when the budget is spent,
        final.pt."""
        args, model, opt = self.args, self.model, self.opt
        last_ckpt = last_snap = self.elapsed
        t_log, steps_at_log = time.time(), self.step
        model.train()
        t_prev = time.time()
        while self.progress() < 1.0 and not self.stop:
            lr = lr_at(args, self.step, self.progress())
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_mult"]
            if args.big_prob > 0 and torch.rand((), generator=self.gen).item() < args.big_prob:
                x = crops.batch(getattr(args, "big_batch", 1), args.big_crop)
            else:
                x = crops.batch(args.batch, args.crop)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=getattr(args, "bf16", False)):
                value, parts = loss(x)
            opt.zero_grad(set_to_none=True)
            value.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            with torch.no_grad():
                d = min(args.ema, (1.0 + self.step) / (10.0 + self.step))
                for pe, pm in zip(self.ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1.0 - d)
                account(parts, gn)
            self.step += 1
            now = time.time()
            self.elapsed += now - t_prev    # wall time, including logging and saving
            t_prev = now

            if self.step % args.log_every == 0 or self.progress() >= 1.0 or self.stop:
                sps = (time.time() - t_log) / max(1, self.step - steps_at_log)
                mean_loss, columns, text = report()
                with open(os.path.join(self.out, "log.tsv"), "a") as f:
                    f.write("%d\t%.1f\t%.3g\t%.5f\t%s\t%.3f\n"
                            % (self.step, self.elapsed, lr, mean_loss, "\t".join(columns), sps))
                print("step %6d  %6.1f min  lr %.2e  loss %.5f  %s  %.2f s/step"
                      % (self.step, self.elapsed / 60, lr, mean_loss, text, sps), flush=True)
                t_log, steps_at_log = time.time(), self.step
            if self.elapsed - last_ckpt >= args.ckpt_min * 60:
                self.save_ckpt()
                if after_ckpt:
                    after_ckpt()
                last_ckpt = self.elapsed
            if self.elapsed - last_snap >= args.snapshot_min * 60:
                self.save_ema("ema-%06d.pt" % self.step)
                last_snap = self.elapsed

        self.save_ckpt()
        if after_ckpt:
            after_ckpt()
        if self.progress() >= 1.0:
            self.save_ema("final.pt")
            print("done: %d steps, %.1f min; final EMA weights in %s"
                  % (self.step, self.elapsed / 60, os.path.join(self.out, "final.pt")), flush=True)
        else:
            print("stopped at step %d (%.1f of %.1f min); resume with: tools/debian13-env python3 "
                  "tools/train/%s --resume %s"
                  % (self.step, self.elapsed / 60, args.budget_min, self.script, self.out), flush=True)
