#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference files for tests/test-latent.c.

Run from the source root inside the build environment:

    tools/debian13-env python3 tests/gen-latent-reference.py

Writes into tests/data/latent/:

  *.latent          safetensors files made here with struct + json + numpy
                    (no safetensors library), independently of libvae's
                    writer: one in our layout with our metadata, one laid
                    out as ComfyUI's SaveLatent writes it (sorted keys,
                    "prompt"/"workflow" metadata, no vae.* keys), one 3-D F16
                    file with no metadata, and small hostile variants.
                    Values follow formulas the C test knows (see VALUES).
  hostile.txt       each hostile file and the VaeError code it must give.
  math-reference.txt  slerp (numpy float64) of latents made from splitmix64
                    on both sides, and the noise vae_latent_add_noise must
                    add: xoshiro256** seeded through SplitMix64, Box-Muller,
                    written here from the published algorithms.
"""

import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from splitmix import MASK, splitmix64  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "latent")


# -- values the C test recomputes -------------------------------------------

def values_ours(n):
    """Multiples of 1/8 in [-6, 6.5]: exact in float32."""
    return np.array([((i * 37) % 101) / 8.0 - 6.0 for i in range(n)])


def values_comfy(n):
    return np.array([(i % 7) * 0.5 - 1.5 for i in range(n)])


def values_f16(n):
    """Quarters in [-3, 2.75]: exact in float16."""
    return np.array([(i - 12) / 4.0 for i in range(n)])


# -- a safetensors writer ----------------------------------------------------

DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def safetensors_bytes(tensors, metadata=None, sort_keys=False, pad=True):
    """tensors: list of (name, dtype, shape, values or raw bytes)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, dtype, shape, values in tensors:
        if isinstance(values, (bytes, bytearray)):
            blob = bytes(values)
        else:
            blob = np.asarray(values, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=sort_keys,
                      separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def good_files():
    n = 4 * 3 * 5
    write("python-written.latent", safetensors_bytes(
        [("latent_format_version_0", "F32", [0], b""),
         ("latent_tensor", "F32", [1, 4, 3, 5], values_ours(n))],
        metadata={"vae.image_height": "21", "vae.image_width": "37",
                  "vae.model_hash": "sha256:0123abcd", "vae.model_id": "taef2",
                  "vae.value_convention": "raw", "vae.format_version": "1",
                  "latent_format_version_0": "1"}))

    # As ComfyUI's SaveLatent -> safetensors.torch.save_file: metadata with
    # the prompt and workflow as JSON strings, the empty marker tensor.
    n = 16 * 2 * 3
    prompt = json.dumps({"3": {"class_type": "VAEEncode", "inputs": {}}})
    write("comfy-style.latent", safetensors_bytes(
        [("latent_tensor", "F32", [1, 16, 2, 3], values_comfy(n)),
         ("latent_format_version_0", "F32", [0], b"")],
        metadata={"prompt": prompt, "workflow": "{\"nodes\": []}"},
        sort_keys=True))

    write("f16-3d.latent", safetensors_bytes(
        [("latent_tensor", "F16", [2, 3, 4], values_f16(24))], pad=False))


def hostile_files():
    cases = []

    def add(name, code, data):
        write(name, data)
        cases.append((name, code))

    ok4 = values_ours(8)
    add("no-latent-tensor.latent", "FORMAT", safetensors_bytes(
        [("samples", "F32", [1, 2, 2, 2], ok4)]))
    add("batch-2.latent", "SHAPE", safetensors_bytes(
        [("latent_tensor", "F32", [2, 2, 2, 1], ok4)]))
    add("rank-2.latent", "SHAPE", safetensors_bytes(
        [("latent_tensor", "F32", [2, 4], ok4)]))
    add("rank-1.latent", "SHAPE", safetensors_bytes(
        [("latent_tensor", "F32", [8], ok4)]))
    add("zero-size.latent", "SHAPE", safetensors_bytes(
        [("latent_tensor", "F32", [1, 0, 2, 2], b"")]))
    bad = ok4.copy()
    bad[5] = float("nan")
    add("nan.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], bad)]))
    bad = ok4.copy()
    bad[0] = -float("inf")
    add("inf.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], bad)]))
    bad = np.full(8, 70000.0)     # finite in F32, infinite in F16
    add("f16-overflow.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F16", [1, 2, 2, 2], bad)]))
    add("bad-image-size.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)],
        metadata={"vae.image_width": "abc", "vae.image_height": "16"}))
    add("huge-image-size.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)],
        metadata={"vae.image_width": "99999999999", "vae.image_height": "16"}))
    add("one-size-only.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)],
        metadata={"vae.image_width": "16"}))
    add("newer-version.latent", "UNSUPPORTED", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)],
        metadata={"vae.format_version": "2"}))
    add("other-convention.latent", "UNSUPPORTED", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)],
        metadata={"vae.value_convention": "diffusion"}))
    add("truncated.latent", "FORMAT", safetensors_bytes(
        [("latent_tensor", "F32", [1, 2, 2, 2], ok4)])[:-4])
    add("not-json.latent", "FORMAT",
        struct.pack("<Q", 8) + b"{\"latent" + b"\0" * 32)

    with open(os.path.join(OUT, "hostile.txt"), "w") as f:
        f.write("# generated by tests/gen-latent-reference.py; file code\n")
        for name, code in cases:
            f.write("%s %s\n" % (name, code))


# -- latent math -------------------------------------------------------------

def test_latent(seed, shape):
    """Values k / 2^22 - 2 in [-2, 2): exact in float32."""
    state = seed
    out = []
    for _ in range(int(np.prod(shape))):
        state, z = splitmix64(state)
        out.append((z >> 40) / float(1 << 22) - 2.0)
    return np.array(out).reshape(shape)


def slerp(a, b, t):
    fa, fb = a.ravel(), b.ravel()
    na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
    cos = np.dot(fa, fb) / (na * nb) if na > 0 and nb > 0 else 1.0
    if abs(cos) > 0.9995:
        return (1 - t) * a + t * b
    theta = np.arccos(cos)
    return (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro256StarStar:
    def __init__(self, seed):
        state = seed
        self.s = []
        for _ in range(4):
            state, z = splitmix64(state)
            self.s.append(z)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def gaussian_noise(seed, n):
    rng = Xoshiro256StarStar(seed)
    out = []
    while len(out) < n:
        u1 = ((rng.next() >> 11) + 1) * 2.0 ** -53
        u2 = (rng.next() >> 11) * 2.0 ** -53
        r = math.sqrt(-2.0 * math.log(u1))
        out += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
    return np.array(out[:n])


def fmt(values):
    return " ".join("%.9e" % v for v in np.ravel(values))


def math_reference():
    lines = ["# generated by tests/gen-latent-reference.py; do not edit"]
    shape = (3, 4, 5)
    a = test_latent(101, shape)
    b = test_latent(202, shape)
    for t in (0.0, 0.25, 0.5, 0.8, 1.0, 1.3, -0.2):
        lines.append("slerp 101 202 %r" % t)
        lines.append(fmt(slerp(a, b, t)))

    # Nearly parallel: b = 1.5 a + small; slerp must fall back to lerp.
    near = 1.5 * a + 0.01 * test_latent(303, shape)
    near = near.astype(np.float32).astype(np.float64)
    cos = np.dot(a.ravel(), near.ravel()) / (np.linalg.norm(a) *
                                              np.linalg.norm(near))
    assert cos > 0.9995, cos
    lines.append("slerp-near 101 303 0.3 %s" % fmt(near))
    lines.append(fmt(slerp(a, near, 0.3)))

    seed, strength, nshape = 12345, 0.7, (3, 5, 7)   # odd count on purpose
    base = test_latent(404, nshape)
    noise = gaussian_noise(seed, base.size).reshape(nshape)
    lines.append("noise 404 %d %r %d %d %d" % ((seed, strength) + nshape))
    lines.append(fmt(base + strength * noise))

    with open(os.path.join(OUT, "math-reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    good_files()
    hostile_files()
    math_reference()


if __name__ == "__main__":
    main()
