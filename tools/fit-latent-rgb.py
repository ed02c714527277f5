#!/usr/bin/env python3
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fits a model's latent -> RGB preview projection on photos and prints it
as C for core/vae-latent-rgb.c.

Each latent pixel stands for a factor x factor block of the image; the fit
is the ridge-regularised least-squares linear map (plus bias) from latent
vectors to the mean R'G'B' of their blocks, over every block of every
photo.  Leave-one-photo-out PSNR of the projected picture against the
block means is printed as a comment, so the table says how good it is.

    tools/debian13-env python3 tools/fit-latent-rgb.py BUILD/cli/vae \\
        ../shared/models/taef2 ../shared/data/kodak/kodim*.png
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy
from PIL import Image

RIDGE = 1e-3


def read_latent(path):
    data = open(path, "rb").read()
    size = struct.unpack("<Q", data[:8])[0]
    entry = json.loads(data[8:8 + size])["latent_tensor"]
    start, end = entry["data_offsets"]
    tensor = numpy.frombuffer(data[8 + size + start:8 + size + end],
                              numpy.float32)
    return tensor.reshape(entry["shape"][-3:])


def design(latent):
    flat = latent.reshape(latent.shape[0], -1).T.astype(numpy.float64)
    return numpy.hstack([flat, numpy.ones((flat.shape[0], 1))])


def block_means(path, factor, height, width):
    pixels = numpy.asarray(Image.open(path).convert("RGB"), numpy.float64)
    pixels = pixels[:height * factor, :width * factor] / 255.0
    return pixels.reshape(height, factor, width, factor, 3).mean(axis=(1, 3))


def solve(rows, targets):
    a = rows.T @ rows
    channels = a.shape[0] - 1
    a[:channels, :channels] += RIDGE * numpy.trace(a[:channels, :channels]) \
        / channels * numpy.eye(channels)
    return numpy.linalg.solve(a, rows.T @ targets)


def main():
    vae, model, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
    info = subprocess.run([vae, "info", model], check=True,
                          capture_output=True, text=True).stdout
    field = dict(re.findall(r"^(\w[\w ]*?)\s{2,}(.*)$", info, re.M))
    factor = int(field["factor"])

    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo in photos:
            out = os.path.join(tmp, os.path.basename(photo) + ".latent")
            subprocess.run([vae, "encode", "--quiet", model, photo, "-o", out],
                           check=True)
            latent = read_latent(out)
            means = block_means(photo, factor, *latent.shape[1:])
            samples.append((design(latent), means.reshape(-1, 3)))

    psnrs = []
    for i in range(len(samples)):
        rows = numpy.concatenate([s[0] for j, s in enumerate(samples) if j != i])
        targets = numpy.concatenate([s[1] for j, s in enumerate(samples)
                                     if j != i])
        weights = solve(rows, targets)
        picture = numpy.clip(samples[i][0] @ weights, 0.0, 1.0)
        psnrs.append(10 * numpy.log10(1.0 / numpy.mean((picture - samples[i][1]) ** 2)))

    weights = solve(numpy.concatenate([s[0] for s in samples]),
                    numpy.concatenate([s[1] for s in samples]))
    channels = weights.shape[0] - 1
    name = re.sub(r"\W", "_", field["variant"])
    print("/* %s: fitted on %d photos by tools/fit-latent-rgb.py;"
          % (field["variant"], len(photos)))
    print(" * leave-one-photo-out PSNR against the block means %.2f dB. */"
          % numpy.mean(psnrs))
    print("static const gdouble %s_rgb[3 * %d] =\n{" % (name, channels + 1))
    for colour in range(3):
        values = ["%.6g" % v for v in weights[:, colour]]
        lines = [", ".join(values[k:k + 6]) for k in range(0, len(values), 6)]
        print("  /* %s */\n  %s," % ("RGB"[colour], ",\n  ".join(lines)))
    print("};")
    print('/* table entry: { "%s", "%s", %d, %s_rgb }, */'
          % (field["variant"], field["content hash"], channels, name))


if __name__ == "__main__":
    main()
