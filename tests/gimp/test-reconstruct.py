# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Reconstruct Layer (Round Trip): the new layers, the quality figures
# against `vae roundtrip` on the same PNG file, the quality parasite
# through XCF, and a grayscale image.  Run by run-gimp-test.py.

import re

ID = model_id()
image, source = kodak("kodim23")
name = source.get_name()
before = digest(source)

layer, difference, psnr, ssim, ms_ssim = call(
    "plug-in-vae-reconstruct", image=image, drawables=[source],
    difference="heatmap")
check(layer.get_name() == "%s (reconstructed, %s)" % (name, ID),
      "reconstructed layer name %r" % layer.get_name())
check(difference is not None and
      difference.get_name() == "%s (difference, %s)" % (name, ID),
      "difference layer name")
for item in (layer, difference):
    check((item.get_width(), item.get_height()) == (768, 512),
          "%s is 768 x 512" % item.get_name())
check(digest(source) == before, "reconstruct leaves the source pixels alone")

# Independent reference: the command line on the PNG file, GEGL's loader
# instead of GIMP's.  It prints "PSNR 33.34 dB  SSIM 0.9123  MS-SSIM ...".
printed = subprocess.run([CLI, "roundtrip", "--quiet", MODEL,
                          os.path.join(KODAK, "kodim23.png")],
                         check=True, capture_output=True, text=True).stdout
log("vae roundtrip:", printed.strip())
figures = re.search(r"PSNR ([0-9.]+) dB\s+SSIM ([0-9.]+)\s+MS-SSIM ([0-9.]+)",
                    printed)
ref_psnr, ref_ssim, ref_ms_ssim = map(float, figures.groups())
check_close(psnr, ref_psnr, 0.05, "PSNR equals the command line's (dB)")
check_close(ssim, ref_ssim, 0.0005, "SSIM equals the command line's")
check_close(ms_ssim, ref_ms_ssim, 0.0005, "MS-SSIM equals the command line's")
check_close(psnr, 33.342, 0.05, "PSNR matches taef2-reference.tsv (dB)")

# The figures stay with the layer, also through XCF.
raw = parasite_bytes(layer, "gimp-vae-quality")
check(not raw.endswith(b"\0"), "the quality parasite is text without a NUL")
text = raw.decode()
fields = dict(item.split("=") for item in text.split())
check_close(float(fields["psnr"]), psnr, 1e-3, "quality parasite PSNR")
check(fields["model"] == ID, "quality parasite names the model")
xcf = os.path.join(WORK, "reconstructed.xcf")
save_xcf(image, xcf)
reloaded = load(xcf)
check(parasite_bytes(layer_by_name(reloaded, layer.get_name()),
                     "gimp-vae-quality").decode() == text,
      "quality parasite survives XCF save + reload")

# A grayscale image gets a grayscale layer.
gray = image.duplicate()
gray.scale(384, 256)
gray.convert_grayscale()
gray_source = layer_by_name(gray, name)
gray_layer, none, gray_psnr, _, _ = call(
    "plug-in-vae-reconstruct", image=gray, drawables=[gray_source],
    difference="none")
check(none is None, "no difference layer when none is asked for")
check(gray_layer.is_gray(), "grayscale image, grayscale reconstruction")
check(gray_psnr > 25.0, "grayscale round trip is faithful (%.2f dB)" % gray_psnr)

done()
