"""Shared helpers: image I/O, 8-bit metrics, SSIM loss, PCA fitting."""

import glob
import os
import re

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SHARED = os.environ.get("VAE_SHARED_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared"))
TRAIN_DIR = os.path.join(SHARED, "data", "train_seed")
KODAK_DIR = os.path.join(SHARED, "data", "kodak")


def list_pngs(folder):
    return sorted(glob.glob(os.path.join(folder, "*.png")))


def list_images(folders):
    """PNG and JPEG photos of comma-separated folders."""
    out = []
    for d in folders.split(","):
        for ext in ("*.png", "*.jpg", "*.jpeg"):
            out += glob.glob(os.path.join(d, ext))
    return sorted(out)


def photo_credits(folder):
    """file name -> {"author", "license", "source"} from the tables of
    @folder's README.md (header row "| file | ... | source ... | author |
    license | ..."), as shared/data has them."""
    out = {}
    path = os.path.join(folder, "README.md")
    if not os.path.exists(path):
        return out
    cols = None
    for line in open(path, encoding="utf-8"):
        if not line.startswith("|"):
            cols = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "file":
            cols = {name.split(" ")[0]: i for i, name in enumerate(cells)}
        elif cols and "license" in cols and len(cells) == len(cols) and re.match(r"^[\w-][\w.-]*\.\w+$", cells[0]):
            out[cells[0]] = {key: cells[cols[key]] if key in cols else "" for key in ("author", "license", "source")}
    return out


def write_tsv(path, columns, formats, rows):
    """Writes @rows as a tab-separated table: a header line of @columns,
    then each row's fields printed with @formats (one % format each)."""
    line = "\t".join(formats) + "\n"
    with open(path, "w") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write(line % r)


def load_rgb_u8(path):
    """[3, H, W] uint8 tensor."""
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()


def load_rgb(path):
    """[3, H, W] float32 in [0, 1]."""
    return load_rgb_u8(path).float() / 255.0


def save_rgb(t, path):
    a = to_u8(t).permute(1, 2, 0).numpy()
    Image.fromarray(a).save(path)


def to_u8(t):
    """float [3,H,W] in [0,1] -> uint8 (clamped, rounded half to even)."""
    return (t.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)


# ---- metrics on 8-bit images ------------------------------------------------

def psnr_u8(a, b):
    """PSNR in dB between two uint8 [3,H,W] images (MSE over all samples)."""
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def gaussian_window(size=11, sigma=1.5, dtype=torch.float64):
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2.0
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def local_moments(a, b, win):
    """Local means, variances and covariance (mu_a, mu_b, s_aa, s_bb, s_ab)
    of a, b [B, C, H, W] under the separable Gaussian @win (1-D), on the
    'valid' region (no padding): the terms of SSIM.  Never under bfloat16
    autocast: a variance is a difference of two near-equal blurs."""
    C = a.shape[1]
    k = win.shape[0]
    wy = win.view(1, 1, k, 1).repeat(C, 1, 1, 1).to(a)
    wx = win.view(1, 1, 1, k).repeat(C, 1, 1, 1).to(a)

    def blur(t):
        with torch.autocast(t.device.type, enabled=False):
            return F.conv2d(F.conv2d(t, wy, groups=C), wx, groups=C)

    mu_a, mu_b = blur(a), blur(b)
    return mu_a, mu_b, blur(a * a) - mu_a * mu_a, blur(b * b) - mu_b * mu_b, blur(a * b) - mu_a * mu_b


def _ssim_map(a, b, data_range, win):
    """a, b: [B, C, H, W]; separable Gaussian, 'valid' region (no padding)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_a, mu_b, saa, sbb, sab = local_moments(a, b, win)
    return ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))


def sharpness(img):
    """Detail energy of a uint8 [3,H,W] image: the mean squared response
    of a 3x3 Laplacian on its luma.  A reconstruction's value over the
    original's is 1 when it keeps the original's fine detail and falls
    below 1 as it smooths it."""
    y = (0.299 * img[0].double() + 0.587 * img[1].double() + 0.114 * img[2].double())[None, None]
    k = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float64)[None, None]
    return F.conv2d(y, k).pow(2).mean().item()


def ssim_u8(a, b):
    """SSIM of two uint8 [3,H,W] images: 11x11 Gaussian (sigma 1.5), K1=0.01,
    K2=0.03, L=255, per channel on the valid region, mean over RGB."""
    win = gaussian_window()
    m = _ssim_map(a.double()[None], b.double()[None], 255.0, win)
    return m.mean().item()


_WIN = None


def ssim_loss(x, y):
    """1 - SSIM for float images in [0,1], [B,3,H,W]; differentiable."""
    global _WIN
    if _WIN is None:
        _WIN = gaussian_window(dtype=torch.float32)
    return 1.0 - _ssim_map(x, y, 1.0, _WIN).mean()


# ---- PCA (closed form) --------------------------------------------------------

def patches_768(img, offset=(0, 0)):
    """img [3,H,W] float -> [N, 768] non-overlapping 16x16 patches starting at
    offset, in pixel_unshuffle order (channel c*256 + dy*16 + dx)."""
    oy, ox = offset
    H = (img.shape[1] - oy) // 16 * 16
    W = (img.shape[2] - ox) // 16 * 16
    t = img[:, oy:oy + H, ox:ox + W]
    return F.pixel_unshuffle(t[None], 16)[0].flatten(1).t()


def downscale(img, scale):
    """Antialiased bicubic downscale of a float [3,H,W] image."""
    if scale == 1.0:
        return img
    H, W = img.shape[1:]
    size = (max(16, round(H * scale)), max(16, round(W * scale)))
    return F.interpolate(img[None], size=size, mode="bicubic", antialias=True,
                         align_corners=False)[0].clamp(0, 1)


def fit_pca(paths, scales=(1.0,), offsets=((0, 0), (8, 8))):
    """Mean [768], eigenvectors [768, 768] (rows, descending variance) and
    eigenvalues [768] of 16x16x3 patches of the given images (float64).
    Signs: each component's largest-magnitude entry is positive."""
    n = 0
    s1 = torch.zeros(768, dtype=torch.float64)
    s2 = torch.zeros(768, 768, dtype=torch.float64)
    for p in paths:
        img0 = load_rgb(p)
        for sc in scales:
            img = downscale(img0, sc)
            for off in offsets:
                X = patches_768(img, off).double()
                n += X.shape[0]
                s1 += X.sum(0)
                s2 += X.t() @ X
    mean = s1 / n
    cov = s2 / n - torch.outer(mean, mean)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)
    evals = evals[order].clamp_min(0)
    U = evecs[:, order].t().contiguous()
    idx = U.abs().argmax(dim=1)
    sign = torch.sign(U[torch.arange(768), idx])
    U = U * sign[:, None]
    return mean, U, evals, n


def pca_codec(img, mean, U, C):
    """Encode/decode a float [3,H,W] image (H, W multiples of 16) with the
    top-C components; returns the reconstruction (float, unclamped)."""
    X = F.pixel_unshuffle(img[None].double(), 16)[0]           # [768, h, w]
    h, w = X.shape[1:]
    X = X.flatten(1) - mean[:, None]
    Uc = U[:C]
    Y = Uc.t() @ (Uc @ X) + mean[:, None]
    return F.pixel_shuffle(Y.view(1, 768, h, w), 16)[0].float()
