#!/usr/bin/env python3
"""Kodak reconstruction quality of a seed-f16 checkpoint or exported file.

  tools/debian13-env nice -n 15 python3 tools/train/evaluate.py runs/main/ema-001234.pt --images 4
  tools/debian13-env python3 tools/train/evaluate.py data/models/seed-f16/seed-f16.safetensors

Accepts ckpt.pt (uses the EMA weights unless --raw), ema-*.pt, final.pt, or a
.safetensors file (run through reference.py, the functional re-implementation
the C port follows).  Full images, no tiling; sizes that are not multiples of
16 are padded (edge replicate) and cropped back.  PSNR/SSIM as in common.py:
8-bit output (clamped, rounded) against the 8-bit original.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def load_codec(path, raw=False):
    """Returns (encode, decode) callables on [1,3,H,W] float tensors."""
    if path.endswith(".safetensors"):
        import reference
        model = reference.SeedF16Reference(path)
        return model.encode, model.decode, "safetensors (reference.py)"
    from seedf16 import SeedF16, SeedF16Config
    st = torch.load(path, map_location="cpu", weights_only=False)
    cfg = SeedF16Config.from_json(st["config"])
    m = SeedF16(cfg)
    key = "model" if raw else "ema"
    m.load_state_dict(st[key])
    m.eval()
    return m.encode, m.decode, "%s weights, step %d" % (key, st.get("step", -1))


def pad16(x):
    H, W = x.shape[-2:]
    ph, pw = (-H) % 16, (-W) % 16
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, H, W


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--kodak", default=common.KODAK_DIR)
    ap.add_argument("--images", type=int, default=0, help="evaluate only every (24/N)-th image (0: all)")
    ap.add_argument("--raw", action="store_true", help="ckpt.pt: raw weights instead of EMA")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tsv", help="write per-image results here")
    ap.add_argument("--save", help="folder to write reconstructions into")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    enc, dec, what = load_codec(args.weights, args.raw)
    paths = common.list_pngs(args.kodak)
    if args.images:
        stride = max(1, len(paths) // args.images)
        paths = paths[::stride][:args.images]
    rows = []
    t0 = time.time()
    with torch.no_grad():
        for p in paths:
            ref = common.load_rgb_u8(p)
            x, H, W = pad16(ref.float()[None] / 255.0)
            z = enc(x)
            y = dec(z)[0, :, :H, :W]
            out = common.to_u8(y)
            name = os.path.basename(p)
            rows.append((name, common.psnr_u8(ref, out), common.ssim_u8(ref, out),
                         common.sharpness(out) / common.sharpness(ref), z.mean().item(), z.std().item()))
            if not args.quiet:
                print("%s  PSNR %.3f  SSIM %.4f  sharpness %.3f  latent mean %+.3f std %.3f" % rows[-1],
                      flush=True)
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                common.save_rgb(y, os.path.join(args.save, name))
    n = len(rows)
    print("%s [%s]: Kodak %d images: PSNR %.3f dB, SSIM %.4f, sharpness %.3f (%.1f s)"
          % (args.weights, what, n, sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n,
             sum(r[3] for r in rows) / n, time.time() - t0))
    if args.tsv:
        common.write_tsv(args.tsv, ("image", "psnr", "ssim", "sharpness", "latent_mean", "latent_std"),
                         ("%s", "%.4f", "%.5f", "%.4f", "%.4f", "%.4f"), rows)


if __name__ == "__main__":
    main()
