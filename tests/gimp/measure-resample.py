# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Not a test: the measurement behind Decode's default "resample" choice.
# For each Kodak photo, decode its latents into a 1024 x 1024 layer with
# "fit" and with "fill", resampling the decoded pixels or the latents, and
# compare the covered area with the original photo resampled the same way
# (PIL bicubic, the filter vae_image_resize implements).  Prints a table
# of PSNR (dB, 8 bit) and wall time per decode.
#
#   tools/debian13-env env VAE_SHARED_DIR=$PWD/../shared \
#     python3 tests/gimp/run-gimp-test.py \
#     --gimp /usr/bin/gimp-console-3.0 --plugin BUILD/plugin/gimp-vae \
#     --po-dir BUILD/po --helper BUILD/tests/gimp/vae-gimp-helper \
#     --vae BUILD/cli/vae --common tests/gimp/gimptest.py \
#     --script tests/gimp/measure-resample.py
#
# VAE_MEASURE_IMAGES (e.g. "kodim01 kodim23") limits the photos.

import numpy
from PIL import Image

names = os.environ.get("VAE_MEASURE_IMAGES", "").split() or \
        ["kodim%02d" % i for i in range(1, 25)]
SIDE = 1024
results = {}

for name in names:
    image, source = kodak(name)
    w, h = source.get_width(), source.get_height()
    latents, = call("plug-in-vae-encode", image=image, drawables=[source])
    photo = Image.open(os.path.join(KODAK, name + ".png")).convert("RGB")
    for aspect in ("fit", "fill"):
        scale = (min if aspect == "fit" else max)(SIDE / w, SIDE / h)
        cw, ch = int(w * scale + 0.5), int(h * scale + 0.5)
        if aspect == "fit":
            cw, ch = min(cw, SIDE), min(ch, SIDE)
        else:
            cw, ch = max(cw, SIDE), max(ch, SIDE)
        x, y = (SIDE - cw) // 2, (SIDE - ch) // 2
        reference = numpy.asarray(photo.resize((cw, ch), Image.BICUBIC),
                                  dtype=float)
        # The part of the content that lands on the layer.
        reference = reference[max(0, -y):max(0, -y) + min(ch, SIDE),
                              max(0, -x):max(0, -x) + min(cw, SIDE)]
        for resample in ("pixels", "latents"):
            start = time.monotonic()
            layer, = call("plug-in-vae-decode", image=image,
                          drawables=[latents], aspect=aspect,
                          resample=resample)
            seconds = time.monotonic() - start
            out = numpy.frombuffer(pixels(layer, "R'G'B' u8"),
                                   numpy.uint8).reshape(SIDE, SIDE, 3)
            out = out[max(0, y):max(0, y) + min(ch, SIDE),
                      max(0, x):max(0, x) + min(cw, SIDE)].astype(float)
            mse = numpy.mean((out - reference) ** 2)
            psnr = 10 * numpy.log10(255.0 ** 2 / mse)
            results[(name, aspect, resample)] = (psnr, seconds)
            log("%s %s %s: %.3f dB, %.1f s" % (name, aspect, resample,
                                                psnr, seconds))
            image.remove_layer(layer)
    image.delete()

print("| photo | fit, pixels | fit, latents | fill, pixels | fill, latents |")
print("| --- | --- | --- | --- | --- |")
for name in names + ["mean"]:
    row = []
    for aspect in ("fit", "fill"):
        for resample in ("pixels", "latents"):
            if name == "mean":
                value = numpy.mean([results[(n, aspect, resample)][0]
                                    for n in names])
                row.append("**%.2f**" % value)
            else:
                row.append("%.2f" % results[(name, aspect, resample)][0])
    print("| %s | %s |" % (name, " | ".join(row)))
for aspect in ("fit", "fill"):
    for resample in ("pixels", "latents"):
        print("mean time %s/%s: %.1f s" % (aspect, resample, numpy.mean(
            [results[(n, aspect, resample)][1] for n in names])))
