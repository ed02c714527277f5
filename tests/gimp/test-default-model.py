# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# With no model argument the procedures use the default model built into
# libvae, seed-f16-v2: a 1024 x 1024 photo encodes to 32 x 64 x 64 latents,
# which decode to a new 1024 x 1024 layer with the quality `vae roundtrip`
# gives with no model on the same PNG file.  Latents the first default
# model (seed-f16, built in beside it) made still open and decode with it.
# Run by run-gimp-test.py.

import re

import numpy
from PIL import Image

DEFAULT = "seed-f16-v2"

# A 1024 x 1024 photo: kodim23 scaled to 1536 x 1024, centre cropped.
image, source = kodak("kodim23")
image.scale(1536, 1024)
image.crop(1024, 1024, 256, 0)
name = source.get_name()
png = os.path.join(WORK, "kodim23-1024.png")
check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                     Gio.File.new_for_path(png), None),
      "saved the 1024 x 1024 photo as PNG")
before = digest(source)

latent_path = os.path.join(WORK, "default.latent")
latents, = call("plug-in-vae-encode", image=image, drawables=[source],
                model="", latent_file=Gio.File.new_for_path(latent_path))
check(latents.get_name() == "%s (latents, %s)" % (name, DEFAULT),
      "latent layer name %r names the default model" % latents.get_name())
check(helper("info", latent_path) == ["32", "64", "64", "1024", "1024",
                                      DEFAULT],
      ".latent file holds 32 x 64 x 64 latents of a 1024 x 1024 image")

decoded, = call("plug-in-vae-decode", image=image, drawables=[latents],
                model="")
check(decoded.get_name() == "%s (decoded, %s)" % (name, DEFAULT),
      "decoded layer name, without the latent layer's suffix")
check((decoded.get_width(), decoded.get_height()) == (1024, 1024),
      "a 64 x 64 latent decodes to a 1024 x 1024 layer")

# Independent reference: the command line on the PNG file (GEGL's loader,
# not GIMP's), also with no model.
printed = subprocess.run([CLI, "roundtrip", "--quiet", png],
                         check=True, capture_output=True, text=True).stdout
log("vae roundtrip:", printed.strip())
ref_psnr = float(re.search(r"PSNR ([0-9.]+) dB", printed).group(1))

ref = numpy.frombuffer(pixels(source, "R'G'B' u8"), numpy.uint8).astype(float)
out = numpy.frombuffer(pixels(decoded, "R'G'B' u8"), numpy.uint8).astype(float)
psnr = 10 * numpy.log10(255.0 ** 2 / numpy.mean((ref - out) ** 2))
check_close(psnr, ref_psnr, 0.05,
            "encode + decode PSNR equals the command line's (dB)")

layer, _, rec_psnr, _, _ = call("plug-in-vae-reconstruct", image=image,
                                drawables=[source], model="")
check(layer.get_name() == "%s (reconstructed, %s)" % (name, DEFAULT),
      "reconstructed layer name")
check_close(rec_psnr, ref_psnr, 0.05,
            "Reconstruct's PSNR equals the command line's (dB)")

check(digest(source) == before, "the source pixels are left alone")

# A .latent the first default model wrote before seed-f16-v2 existed (a crop
# of kodim23): File > Open and Decode with no model choose that model by the
# hash the file records, and give the pixels `vae decode seed-f16` writes.
first = os.path.join(DATA, "latent", "seed-f16-first.latent")
first_png = os.path.join(WORK, "first.png")
subprocess.run([CLI, "decode", "seed-f16", first, "-o", first_png],
               check=True, capture_output=True)
expected = numpy.asarray(Image.open(first_png).convert("RGB"))
opened = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                        Gio.File.new_for_path(first))
layer = opened.get_layers()[0]
check((opened.get_width(), opened.get_height()) == (384, 256),
      "the first model's .latent opens at its recorded size 384 x 256")
got = numpy.frombuffer(pixels(layer, "R'G'B' u8"), numpy.uint8)
check(got.tobytes() == expected.tobytes(),
      "it opens as `vae decode seed-f16` decodes it")
decoded, = call("plug-in-vae-decode", image=opened, drawables=[layer],
                size="original", model="")
check(decoded.get_name().endswith("(decoded, seed-f16)"),
      "Decode with no model names the first model: %r" % decoded.get_name())
check(numpy.frombuffer(pixels(decoded, "R'G'B' u8"), numpy.uint8).tobytes()
      == expected.tobytes(), "and gives the same pixels")
done()
