# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# With no model argument the procedures use the model built into libvae,
# seed-f16: a 1024 x 1024 photo encodes to 32 x 64 x 64 latents, which
# decode to a new 1024 x 1024 layer with the quality `vae roundtrip` gives
# with no model on the same PNG file.  Run by run-gimp-test.py.

import re

import numpy

DEFAULT = "seed-f16"

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
done()
