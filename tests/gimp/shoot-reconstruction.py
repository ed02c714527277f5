# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Not a test: the pictures of a reconstruction for the README and
# docs/plugin.md.  Runs in GIMP with its interface (run-gimp-test.py
# --gui), reconstructs a Kodak photo with a heat-map difference layer,
# shows the image and screenshots the screen, then puts original,
# reconstruction and difference side by side, whole and a detail.  Writes
# reconstruction-gimp.png and reconstruction.png into
# $VAE_TEST_SCREENSHOTS.  See docs/screenshots/README.md.

import subprocess

import numpy
from PIL import Image, ImageDraw

shots = os.environ["VAE_TEST_SCREENSHOTS"]
image, source = kodak("kodim23")
source.set_name("kodim23")
layer, difference, psnr, ssim, ms_ssim = call(
    "plug-in-vae-reconstruct", image=image, drawables=[source],
    difference="heatmap", difference_gain=8.0)
log("PSNR %.2f dB, SSIM %.4f, MS-SSIM %.4f" % (psnr, ssim, ms_ssim))

display = Gimp.Display.new(image)
Gimp.displays_flush()
time.sleep(float(os.environ.get("VAE_TEST_SETTLE", "20")))
# No window manager on Xvfb: size GIMP's window ourselves, then capture it.
window = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                         "GIMP$"], capture_output=True,
                        text=True).stdout.split()[-1]
subprocess.run(["xdotool", "windowmove", window, "0", "0"], check=True)
subprocess.run(["xdotool", "windowsize", window, "1280", "760"], check=True)
subprocess.run(["xdotool", "mousemove", "1279", "1023"], check=True)
time.sleep(5)
subprocess.run(["import", "-window", window,
                os.path.join(shots, "reconstruction-gimp.png")], check=True)


def picture(drawable):
    data = numpy.frombuffer(pixels(drawable, "R'G'B' u8"), numpy.uint8)
    return Image.fromarray(data.reshape(drawable.get_height(),
                                        drawable.get_width(), 3))


titles = ["original",
          "reconstructed, %s: %.2f dB PSNR, SSIM %.3f"
          % (model_id(), psnr, ssim),
          "difference (heat map, gain 8)"]
pictures = [picture(d) for d in (source, layer, difference)]
crop = (330, 90, 330 + 192, 90 + 192)      # the parrot's eye, shown 2x
sheet = Image.new("RGB", (3 * 384 + 4 * 8, 22 + 256 + 8 + 384 + 8), "white")
draw = ImageDraw.Draw(sheet)
for i, (title, whole) in enumerate(zip(titles, pictures)):
    x = 8 + i * (384 + 8)
    draw.text((x, 6), title, fill="black")
    sheet.paste(whole.resize((384, 256), Image.LANCZOS), (x, 22))
    sheet.paste(whole.crop(crop).resize((384, 384), Image.NEAREST),
                (x, 22 + 256 + 8))
sheet.save(os.path.join(shots, "reconstruction.png"), optimize=True)
display.delete()
