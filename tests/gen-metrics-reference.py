#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference PSNR, SSIM and MS-SSIM for tests/test-metrics.c.

Run from the source root inside the build environment:

    tools/debian13-env python3 tests/gen-metrics-reference.py [SHARED_DIR]

Writes tests/data/metrics/reference.txt.  Test images are not stored: both
this script and the C test make them with the integer recipes below
(splitmix64 noise, box filters, shifts), so both see the same 8-bit
values.  The photo case crops shared/data/kodak/kodim23.png (read here
with PIL, in the test with a small PNG reader); it is skipped when the
shared folder is missing.

The metrics are computed independently of libvae's streaming, separable
C code: float64 torch with a full 11x11 2-D Gaussian kernel (sigma 1.5,
normalised to sum 1) applied by conv2d without padding ('valid'),
population covariances, C1 = (0.01)^2, C2 = (0.03)^2, per-channel means
averaged over channels.  MS-SSIM: avg_pool2d(2) between scales (floor),
contrast-structure means of all scales but the last and the full SSIM of
the last, negative values clamped to 0, weights 0.0448 0.2856 0.3001
0.2363 0.1333 restricted to the scales whose size is still >= 11 and
renormalised, per channel, then averaged over channels.
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from splitmix import splitmix64  # noqa: E402
WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
C1 = 0.01 ** 2
C2 = 0.03 ** 2


def splitmix64_bytes(seed, n):
    """Top 8 bits of n successive SplitMix64 outputs from state seed."""
    state = seed
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        state, z = splitmix64(state)
        out[i] = z >> 56
    return out


def box(img, r):
    """Sum over a (2r+1)^2 box, coordinates clamped to the image."""
    c, h, w = img.shape
    p = np.pad(img, ((0, 0), (r, r), (r, r)), mode="edge")
    s = np.zeros_like(img)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            s += p[:, dy:dy + h, dx:dx + w]
    return s


def synthetic(seed, c, h, w):
    """Smoothed noise plus a ramp that wraps (hard edges), in 0..255."""
    n = splitmix64_bytes(seed, c * h * w).reshape(c, h, w)
    smooth = box(n, 2) // 25
    ci, yy, xx = np.mgrid[0:c, 0:h, 0:w]
    ramp = (2 * xx + yy + 37 * ci) % 160
    return np.clip((smooth - 128) * 3 + 48 + ramp, 0, 255)


def distort(img, kind, seed):
    c, h, w = img.shape
    if kind == "identical":
        return img.copy()
    if kind == "noise":
        n = splitmix64_bytes(seed + 1000, c * h * w).reshape(c, h, w)
        return np.clip(img + (n >> 3) - 16, 0, 255)
    if kind == "blur":
        return (box(img, 1) + 4) // 9
    if kind == "shift":
        return img[:, :, np.minimum(np.arange(w) + 2, w - 1)]
    if kind == "contrast":
        return (img + 128) // 2
    if kind == "invert":
        return 255 - img
    raise ValueError(kind)


def to_float(img8):
    """k / 255 as the C test holds it: float32, widened exactly."""
    return torch.from_numpy((img8 / 255.0).astype(np.float32)
                            .astype(np.float64))


def window():
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-x * x / (2 * 1.5 ** 2))
    g /= g.sum()
    return torch.outer(g, g)[None, None]


def ssim_cs(x, y):
    """Per-channel mean SSIM and mean contrast-structure, 'valid' region."""
    win = window()

    def filt(t):
        return F.conv2d(t[:, None], win)[:, 0]

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
    return (lum * cs).mean(dim=(1, 2)), cs.mean(dim=(1, 2))


def metrics(a8, b8):
    x, y = to_float(a8), to_float(b8)
    mse = ((x - y) ** 2).mean().item()
    psnr = math.inf if mse == 0 else 10 * math.log10(1 / mse)

    ssim_c, _ = ssim_cs(x, y)
    h, w = x.shape[1:]
    n = 0
    while n < 5 and min(h, w) >= 11:
        n += 1
        h, w = h // 2, w // 2
    weights = torch.tensor(WEIGHTS[:n], dtype=torch.float64)
    weights /= weights.sum()

    prod = torch.ones(x.shape[0], dtype=torch.float64)
    for i in range(n):
        s, cs = ssim_cs(x, y)
        term = s if i == n - 1 else cs
        prod *= torch.clamp(term, min=0) ** weights[i]
        if i < n - 1:
            x = F.avg_pool2d(x[None], 2)[0]
            y = F.avg_pool2d(y[None], 2)[0]

    return psnr, ssim_c.mean().item(), prod.mean().item(), n


SYNTHETIC = [
    # name, seed, c, h, w
    ("synth-small", 21, 3, 48, 64),
    ("synth-large", 22, 3, 200, 184),
    ("synth-tiny", 23, 1, 11, 13),
    ("synth-odd", 24, 2, 45, 99),
]
DISTORTIONS = ["identical", "noise", "blur", "shift", "contrast", "invert"]
PHOTO = ("kodim23", 256, 128, 256, 256)   # name, x, y, width, height


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    shared = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(root, "..", "..", "shared")
    out_dir = os.path.join(root, "data", "metrics")
    os.makedirs(out_dir, exist_ok=True)

    images = []
    for name, seed, c, h, w in SYNTHETIC:
        images.append((name, seed, synthetic(seed, c, h, w)))

    photo_path = os.path.join(shared, "data", "kodak", PHOTO[0] + ".png")
    if os.path.exists(photo_path):
        from PIL import Image
        name, x0, y0, pw, ph = PHOTO
        rgb = np.asarray(Image.open(photo_path).convert("RGB"), dtype=np.int64)
        crop = rgb[y0:y0 + ph, x0:x0 + pw].transpose(2, 0, 1).copy()
        images.append((name, 31, crop))
    else:
        sys.exit("no %s: give the shared folder as argument" % photo_path)

    lines = ["# generated by tests/gen-metrics-reference.py; do not edit",
             "# image distortion seed channels height width psnr ssim "
             "ms_ssim n_scales"]
    for name, seed, img in images:
        for kind in DISTORTIONS:
            psnr, ssim, ms, n = metrics(img, distort(img, kind, seed))
            c, h, w = img.shape
            lines.append("%s %s %d %d %d %d %.12g %.12g %.12g %d" %
                         (name, kind, seed, c, h, w, psnr, ssim, ms, n))
            print(lines[-1])

    with open(os.path.join(out_dir, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
