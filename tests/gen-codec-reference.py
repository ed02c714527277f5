#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference data for tests/test-codec.c's learned-codec checks, computed
independently of libvae from docs/compression.md and docs/seed-f16.md:

    tools/debian13-env python3 tests/gen-codec-reference.py

For a 208x144 crop of kodim23 (not a multiple of 16: the encoder pads by
repeating the edge) at qualities 0, 37.5 and 100, with the codec model
data/models/seed-f16-codec/seed-f16-codec.safetensors, run through
tools/train/reference.py (PyTorch, functional) and numpy:
  q-<Q>        the quantised latents [C, h, w] (F32: libvae's loader widens
               floats only; they are small whole numbers)
  bits-<Q>     their ideal code length in bits (-sum log2 of each symbol's
               frequency in its context's integer table, escapes counted at
               their exact Exp-Golomb length; predicted channels coding
               their median-predictor residuals)
  image-375    the decoder's output for the dequantised latents at quality
               37.5, cropped, unclamped [3, H, W] (F16, to keep the file small)
The crop is rows 100..243, columns 250..457 of kodim23 (the test reads it
from ../shared).  Writes tests/data/codec/reference.safetensors and records
the model's file hash.
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tools', 'train'))
import reference  # noqa: E402
import safetensors_io  # noqa: E402

MODEL = os.path.join(ROOT, 'data', 'models', 'seed-f16-codec', 'seed-f16-codec.safetensors')
KODAK = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'kodak'))
OUT = os.path.join(HERE, 'data', 'codec', 'reference.safetensors')
QUALITIES = (0, 375, 1000)          # in tenths, as the file stores them
B1, B2 = 8, 4


def bitlen(a):
    return np.where(a > 0, np.floor(np.log2(np.maximum(a, 1))).astype(np.int64) + 1, 0)


def med(q):
    """LOCO-I's median edge predictor of each value from its left, up and
    up-left neighbours (0 outside the map)."""
    p = np.pad(q, ((0, 0), (1, 0), (1, 0)))
    a, b, c = p[:, 1:, :-1], p[:, :-1, 1:], p[:, :-1, :-1]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def contexts(q, coded):
    """b1 from the activity of what each channel codes (values or
    residuals), b2 from the previous channel's values."""
    C, h, w = q.shape
    pc = np.pad(np.abs(coded), ((0, 0), (1, 1), (1, 1)))
    left, up = pc[:, 1:-1, :-2], pc[:, :-2, 1:-1]
    upleft, upright = pc[:, :-2, :-2], pc[:, :-2, 2:]
    b1 = np.minimum(bitlen(2 * (left + up) + upleft + upright), B1 - 1)
    p = np.pad(np.abs(q), ((0, 0), (1, 1), (1, 1)))
    prev = np.concatenate([np.zeros((1, h + 2, w + 2), np.int64), p[:-1]])
    act2 = (2 * prev[:, 1:-1, 1:-1] + prev[:, 1:-1, :-2] + prev[:, 1:-1, 2:] +
            prev[:, :-2, 1:-1] + prev[:, 2:, 1:-1])
    b2 = np.minimum((bitlen(act2) + 1) // 2, B2 - 1)
    return b1, b2


def main():
    t, _ = safetensors_io.load(MODEL)
    mean = t['codec.mean'].numpy().astype(np.float32)
    log_gain = t['codec.log_gain'].numpy().astype(np.float32)
    cdf = t['codec.cdf'].numpy().astype(np.int64)
    offset = t['codec.cdf_offset'].numpy().astype(np.int64)
    half = t['codec.cdf_half'].numpy().astype(np.int64)
    index = t['codec.scale_index'].numpy().astype(np.int64)
    predict = t['codec.predict'].numpy().astype(np.int64)
    K, C = log_gain.shape
    model = reference.SeedF16Reference(MODEL)

    img = np.asarray(Image.open(os.path.join(KODAK, 'kodim23.png')).convert('RGB'))[100:244, 250:458]
    x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    H, W = x.shape[-2:]
    xp = F.pad(x, (0, (-W) % 16, 0, (-H) % 16), mode='replicate')
    with torch.no_grad():
        z = model.encode(xp)[0].numpy().astype(np.float32)

    out = {}
    for quality in QUALITIES:
        num = quality * (K - 1)
        k, f = num // 1000, num % 1000
        if k == K - 1:
            k, f = K - 2, 1000
        a, b = log_gain[k].astype(np.float64), log_gain[k + 1].astype(np.float64)
        gain = np.exp(a + (b - a) * f / 1000).astype(np.float32)
        q = np.rint((z - mean[:, None, None]) * gain[:, None, None]).astype(np.int64)
        idx = (index[k] * (1000 - f) + index[k + 1] * f + 500) // 1000        # [C, B1, B2]
        coded = np.where(predict[:, None, None] == 1, q - med(q), q)
        b1, b2 = contexts(q, coded)
        s = idx[np.arange(C)[:, None, None], b1, b2]
        bits = 0.0
        for sv, v in zip(s.ravel(), coded.ravel()):
            tab = cdf[offset[sv]:]
            hh = half[sv]
            if abs(v) <= hh:
                bits -= math.log2((tab[v + hh + 1] - tab[v + hh]) / 65536)
            else:
                u = abs(v) - hh
                bits -= math.log2((tab[2 * hh + 2] - tab[2 * hh + 1]) / 65536)
                bits += 1 + 2 * math.floor(math.log2(u)) + 1
        zh = (q.astype(np.float32) / gain[:, None, None] + mean[:, None, None]).astype(np.float32)
        with torch.no_grad():
            y = model.decode(torch.from_numpy(zh)[None])[0, :, :H, :W]
        out['q-%d' % quality] = torch.from_numpy(q.astype(np.float32))
        out['bits-%d' % quality] = torch.tensor([bits], dtype=torch.float32)
        if quality == 375:
            out['image-%d' % quality] = y.contiguous().half()
        print('quality %.1f: %.0f bits (%.4f bpp)' % (quality / 10, bits, bits / (H * W)))

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    digest = hashlib.sha256(open(MODEL, 'rb').read()).hexdigest()
    safetensors_io.save(out, OUT, {'model_sha256': digest, 'qualities': json.dumps(QUALITIES)})
    print('wrote %s' % OUT)


if __name__ == '__main__':
    main()
