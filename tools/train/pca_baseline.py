#!/usr/bin/env python3
"""Linear PCA baseline for a 16x-per-side latent: fit a PCA of 16x16x3 patches
on the training photos (closed form), keep C components, and measure the
reconstruction of the Kodak photos (8-bit PSNR and SSIM, see common.py).

  tools/debian13-env python3 tools/train/pca_baseline.py --channels 16,32,64
"""

import argparse
import sys
import time

import torch

import common


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=common.TRAIN_DIR)
    ap.add_argument("--kodak", default=common.KODAK_DIR)
    ap.add_argument("--channels", default="32", help="comma-separated latent sizes")
    ap.add_argument("--scales", default="1.0",
                    help="comma-separated downscale factors of the training photos used for the fit")
    ap.add_argument("--per-image", action="store_true", help="print every image")
    ap.add_argument("--tsv", help="write per-image results here")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    chans = [int(c) for c in args.channels.split(",")]
    scales = tuple(float(s) for s in args.scales.split(","))
    train = common.list_pngs(args.train)
    kodak = common.list_pngs(args.kodak)
    if not train or not kodak:
        sys.exit("no images found (train: %s, kodak: %s)" % (args.train, args.kodak))

    t0 = time.time()
    mean, U, evals, n = common.fit_pca(train, scales=scales)
    print("fit: %d images, scales %s, %d patches (stride-16 grids at offsets 0 and 8), %.1f s"
          % (len(train), ",".join(map(str, scales)), n, time.time() - t0))
    total = evals.sum().item()
    for C in chans:
        print("C=%d keeps %.2f%% of the patch variance" % (C, 100 * evals[:C].sum().item() / total))

    rows = []
    for path in kodak:
        ref = common.load_rgb_u8(path)
        img = ref.float() / 255.0
        for C in chans:
            rec = common.to_u8(common.pca_codec(img, mean, U, C))
            rows.append((path.rsplit("/", 1)[-1], C, common.psnr_u8(ref, rec), common.ssim_u8(ref, rec)))
            if args.per_image:
                print("%s C=%d PSNR %.3f SSIM %.4f" % rows[-1])
    print("Kodak (%d images), PCA fitted on %d training photos:" % (len(kodak), len(train)))
    print("| C | floats per 16x16x3 patch | PSNR dB | SSIM |")
    print("|---|---|---|---|")
    for C in chans:
        r = [x for x in rows if x[1] == C]
        print("| %d | %d (768/%d = %.0fx) | %.2f | %.4f |"
              % (C, C, C, 768 / C, sum(x[2] for x in r) / len(r), sum(x[3] for x in r) / len(r)))
    if args.tsv:
        common.write_tsv(args.tsv, ("image", "C", "psnr", "ssim"), ("%s", "%d", "%.4f", "%.5f"), rows)


if __name__ == "__main__":
    main()
