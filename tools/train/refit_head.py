#!/usr/bin/env python3
"""Closed-form MSE refit of the decoder's last layer (decoder.conv_out).

Training uses L1 + SSIM. Reconstruction quality is judged by PSNR, which is an MSE
measure. With everything before it frozen, the last layer is a linear map from the
3x3-unfolded silu(f) at H/4 (576 values + 1) to the 48 channels of
unshuffle_4(x - base), so its MSE optimum is a ridge regression. This tool solves that
regression on the training photos (whole images at the given scales, a random subset
of rows) and writes a checkpoint with the new weights (same format as final.pt).

  tools/debian13-env nice -n 15 python3 tools/train/refit_head.py runs/x/final.pt -o runs/x/refit.pt
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from seedf16 import SeedF16, SeedF16Config  # noqa: E402


def head_features(dec, z):
    """silu(f) of Decoder.forward at H/4 and the shortcut image `base`."""
    B, C, h, w = z.shape
    base = F.pixel_shuffle(dec.pca(z), 16)
    t = dec.embed(z)
    D = t.shape[1]
    t = t.flatten(2).transpose(1, 2)
    from seedf16 import rope_tables
    cos, sin = rope_tables(h, w, D // dec.cfg.heads, dec.cfg.rope_base, dtype=z.dtype)
    for blk in dec.blocks:
        t = blk(t, cos, sin)
    t = dec.norm_out(t)
    f = t.transpose(1, 2).reshape(B, D, h, w)
    f = dec.res1(F.pixel_shuffle(dec.up1(f), 2))
    f = F.pixel_shuffle(dec.up2(f), 2)
    f = f + dec.skip(F.pixel_unshuffle(base * 2.0 - 1.0, 4))
    f = dec.res2(f)
    return F.silu(f), base


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--train", default=common.TRAIN_DIR)
    ap.add_argument("--scales", default="1.0,0.5")
    ap.add_argument("--keep", type=float, default=0.125, help="fraction of H/4 positions used")
    ap.add_argument("--ridge", type=float, default=1e-3, help="ridge, relative to the mean diagonal")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)

    st = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = SeedF16Config.from_json(st["config"])
    m = SeedF16(cfg)
    m.load_state_dict(st["ema"])
    m.eval()
    conv = m.decoder.conv_out
    K = conv.in_channels * 9 + 1
    AtA = torch.zeros(K, K, dtype=torch.float64)
    AtR = torch.zeros(K, 48, dtype=torch.float64)
    rows = 0
    sse_old = 0.0
    with torch.no_grad():
        for p in common.list_pngs(args.train):
            img0 = common.load_rgb(p)
            for sc in [float(s) for s in args.scales.split(",")]:
                img = common.downscale(img0, sc)
                H, W = img.shape[1] // 16 * 16, img.shape[2] // 16 * 16
                x = img[None, :, :H, :W].contiguous()
                feat, base = head_features(m.decoder, m.encode(x))
                A = F.unfold(feat, 3, padding=1)[0]                         # [576, N]
                R = F.pixel_unshuffle(x - base, 4)[0].flatten(1)             # [48, N]
                sel = torch.rand(A.shape[1], generator=gen) < args.keep
                A = torch.cat([A[:, sel], torch.ones(1, int(sel.sum()))]).double()
                R = R[:, sel].double()
                AtA += A @ A.t()
                AtR += A @ R.t()
                Wold = torch.cat([conv.weight.flatten(1), conv.bias[:, None]], 1).double()   # [48, K]
                sse_old += (R - Wold @ A).pow(2).sum().item()
                rows += A.shape[1]
        lam = args.ridge * AtA.diagonal().mean()
        Wn = torch.linalg.solve(AtA + lam * torch.eye(K, dtype=torch.float64), AtR).t()       # [48, K]
        conv.weight.copy_(Wn[:, :-1].reshape(conv.weight.shape).float())
        conv.bias.copy_(Wn[:, -1].float())
    print("refit decoder.conv_out on %d rows (%d features): sampled-row RMS error %.5f before"
          % (rows, K, (sse_old / rows / 48) ** 0.5))
    st["ema"] = m.state_dict()
    st["refit"] = {"what": "decoder.conv_out, closed-form ridge (MSE)", "rows": rows, "scales": args.scales,
                   "ridge": args.ridge}
    torch.save(st, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
