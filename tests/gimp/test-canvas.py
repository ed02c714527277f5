# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The GEGL operation vae:reconstruct in GIMP 3 with its interface,
# under Xvfb (run-gimp-test.py --gui --gegl-module): opened from Filters >
# VAE with the keyboard, split view switched on, the canvas zoomed and
# panned, OK pressed.  Passes when the filter dialog came, the model ran
# exactly once (zooming, panning, the split view and committing read the
# cache), the layer keeps the operation as a non-destructive filter, the
# source pixels are untouched, and the filtered pixels equal `vae
# roundtrip`'s (within babl's 8-bit rounding).  Scripts reach the same
# through Gimp.DrawableFilter, checked last.  With VAE_TEST_SCREENSHOTS set,
# the split view lands there as canvas-split-view.png.

import importlib.util
import subprocess
import sys

import numpy
from PIL import Image

sys.dont_write_bytecode = True
spec = importlib.util.spec_from_file_location("dialog_driver",
                                              os.environ["VAE_TEST_DRIVER"])
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)

OPERATION = "vae:reconstruct"
TITLE = "Autoencoder Reconstruction (vae:reconstruct)"
OUTPUT = os.environ["VAE_TEST_GIMP_OUTPUT"]
shots = os.environ.get("VAE_TEST_SCREENSHOTS") or os.path.join(WORK, "shots")
os.makedirs(shots, exist_ok=True)


def model_runs():
    with open(OUTPUT, errors="replace") as f:
        return sum("vae:reconstruct: running" in line for line in f)


def rgb(drawable):
    return numpy.frombuffer(pixels(drawable, "R'G'B' u8"), numpy.uint8) \
        .reshape(drawable.get_height(), drawable.get_width(), 3).astype(int)


def windows():
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                            "."], capture_output=True, text=True).stdout
    return [subprocess.run(["xdotool", "getwindowname", w],
                           capture_output=True, text=True).stdout.strip()
            for w in found.split()]


def fail(why):
    log("windows:", windows())
    driver.give_up(why)
    raise AssertionError(why)


def wait_runs(count, timeout=180):
    deadline = time.monotonic() + timeout
    while model_runs() < count and time.monotonic() < deadline:
        if driver.find(driver.MESSAGE_TITLE) is not None:
            fail("GIMP showed a message box while the filter ran")
        time.sleep(0.5)
    return model_runs()


# File > Open of a .vaez file, as GIMP shows it (the picture for the
# README): a seed-f16 compression of kodim23 through the generic coder.
vaez = os.path.join(WORK, "kodim23.vaez")
subprocess.run([CLI, "compress", "seed-f16", os.path.join(KODAK,
                "kodim23.png"), "-o", vaez], check=True, capture_output=True)
opened = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(vaez))
opened_display = Gimp.Display.new(opened)
Gimp.displays_flush()
window = driver.image_window()
subprocess.run(["xdotool", "windowmove", window, "0", "0"], check=True)
subprocess.run(["xdotool", "windowsize", window, "1280", "1000"], check=True)
time.sleep(float(os.environ.get("VAE_TEST_SETTLE", "5")))
title = subprocess.run(["xdotool", "getwindowname", window],
                       capture_output=True, text=True).stdout.strip()
# Gimp.file_load from a script leaves the image untitled (only GIMP's own
# File > Open names it); the layer is named after the file.
check("768x512" in title and
      opened.get_layers()[0].get_name() == "kodim23.vaez",
      "GIMP shows the opened .vaez file: %r" % title)
subprocess.run(["import", "-window", "root",
                os.path.join(shots, "open-vaez-gimp.png")], check=True)
# The last display of an image takes the image with it.
opened_display.delete()

image, source = kodak("kodim23")
before = digest(source)
display = Gimp.Display.new(image)
Gimp.displays_flush()
window = driver.image_window()
subprocess.run(["xdotool", "windowmove", window, "0", "0"], check=True)
subprocess.run(["xdotool", "windowsize", window, "1280", "1000"], check=True)
time.sleep(2)

# Filters > VAE > Reconstruction on Canvas...: GIMP's filter tool, with
# the default model (seed-f16, built in).
driver.open_vae_menu_entry(window, "c")
dialog, why = driver.wait_for_dialog(TITLE, 120)
if dialog is None:
    fail("Filters > VAE > Reconstruction on Canvas: %s" % why)
check(dialog is not None, "the filter dialog %r opened from the menu" % TITLE)
check(wait_runs(1) == 1, "the on-canvas preview ran the model once")

# Split view: the left half shows the original, the right the result.
driver.press(dialog, "alt+v")
time.sleep(3)
# Zoom and pan the canvas: the cached output serves every view.
subprocess.run(["xdotool", "windowfocus", "--sync", window])
for keys in ("1", "minus", "minus", "plus", "Right", "Down", "2", "Left",
             "shift+ctrl+j"):
    driver.key(keys)
    time.sleep(1.0)
# No window manager: put the dialog beside the photo for the picture.
subprocess.run(["xdotool", "windowmove", dialog, "620", "780"])
subprocess.run(["xdotool", "windowfocus", "--sync", window])
driver.key("1")
time.sleep(1.0)
time.sleep(float(os.environ.get("VAE_TEST_SETTLE", "5")))
subprocess.run(["import", "-window", "root",
                os.path.join(shots, "canvas-split-view.png")], check=True)
check(model_runs() == 1,
      "split view, zoom and pan did not run the model again (%d runs)"
      % model_runs())

driver.press(dialog, "Return")
if driver.wait_for(TITLE, False, driver.CLOSE_TIMEOUT) is None:
    fail("the filter dialog did not close on Return")
time.sleep(3)
filters = source.get_filters()
check(len(filters) == 1 and filters[0].get_operation_name() == OPERATION,
      "OK left %s on the layer as a non-destructive filter (%r)"
      % (OPERATION, [f.get_operation_name() for f in filters]))
check(model_runs() == 1, "committing the filter read the cache (%d runs)"
      % model_runs())
check(digest(source) == before, "the layer's own pixels are untouched")

# The filtered pixels: merge the filter in a copy and compare with the
# command line's round trip of the same photo.
copy = image.duplicate()
merged = copy.get_layers()[0]
merged.merge_filters()
reference = os.path.join(WORK, "roundtrip.png")
subprocess.run([CLI, "roundtrip", "--quiet", os.path.join(KODAK,
                "kodim23.png"), "-o", reference], check=True,
               capture_output=True)
diff = numpy.abs(rgb(merged) - numpy.asarray(Image.open(reference)
                                              .convert("RGB")).astype(int))
check(diff.max() <= 1 and diff.mean() < 0.5,
      "the filtered layer equals `vae roundtrip` (max diff %d, mean %.3f)"
      % (diff.max(), diff.mean()))
check(model_runs() == 1, "merging the filter read the cache (%d runs)"
      % model_runs())
copy.delete()

# The way in for scripts: Gimp.DrawableFilter, here the heat map of the
# differences with TAEF2, against the command line's heat map.
script_image, layer = kodak("kodim23")
heat = Gimp.DrawableFilter.new(layer, OPERATION, "VAE difference")
config = heat.get_config()
config.set_property("model", MODEL)
config.set_property("mode", "difference")
heat.update()
layer.append_filter(heat)
appended = [f.get_operation_name() for f in layer.get_filters()]
check(appended == [OPERATION],
      "a script appends the operation as a non-destructive filter (%r)"
      % appended)
layer.merge_filters()
check(model_runs() == 2, "TAEF2 ran once for the script's filter")
heat_reference = os.path.join(WORK, "heatmap.png")
subprocess.run([CLI, "roundtrip", "--quiet", MODEL,
                os.path.join(KODAK, "kodim23.png"), "--diff", heat_reference,
                "--diff-style", "heatmap", "--gain", "8"], check=True,
               capture_output=True)
diff = numpy.abs(rgb(layer) - numpy.asarray(Image.open(heat_reference)
                                             .convert("RGB")).astype(int))
# The command line maps the 8-bit pictures' difference, the operation the
# float one: the gain of 8 turns half a level of rounding into 4, and the
# colour ramp steepens that.  Same map within that: 32 dB or better.
agreement = 10 * numpy.log10(255.0 ** 2 / numpy.mean(diff.astype(float) ** 2))
check(agreement > 32 and diff.mean() < 3,
      "the script's heat map matches `vae roundtrip --diff` (%.1f dB, mean "
      "difference %.3f)" % (agreement, diff.mean()))
script_image.delete()

# A damaged file through GIMP's own File > Open: GIMP's error box with our
# one line (the screenshot shows it), and GIMP goes on.
damaged = os.path.join(WORK, "damaged.vaez")
with open(vaez, "rb") as f:
    good = f.read()
with open(damaged, "wb") as f:
    f.write(good[:len(good) // 2])
if driver.find(driver.MESSAGE_TITLE) is not None:
    fail("a message box was open before File > Open")
subprocess.run(["xdotool", "windowfocus", "--sync", window])
driver.key("ctrl+o")
chooser, why = driver.wait_for_dialog("Open Image", 60)
if chooser is None:
    fail("File > Open: %s" % why)
time.sleep(1.0)
# No window manager: focus the chooser, open its location entry, type.
subprocess.run(["xdotool", "windowfocus", "--sync", chooser])
driver.key("ctrl+l")
time.sleep(0.5)
subprocess.run(["xdotool", "type", "--delay", "20", damaged])
time.sleep(0.5)
driver.key("Return")
box = driver.wait_for(driver.MESSAGE_TITLE, True, 60)
if box is None:
    subprocess.run(["import", "-window", "root",
                    os.path.join(shots, "open-error-debug.png")])
    log("windows:", windows())
check(box is not None, "File > Open of a damaged .vaez shows GIMP's error box")
time.sleep(1.0)
subprocess.run(["import", "-window", box, os.path.join(shots,
                "open-error.png")], check=True)
driver.press(box, "Return")
# Looked up once: the chooser may close between two look-ups.
chooser = driver.find("Open Image")
if chooser is not None:
    driver.press(chooser, "Escape")
check(driver.wait_for(driver.MESSAGE_TITLE, False, 10) is not None and
      "crashed" not in open(OUTPUT, errors="replace").read(),
      "the box closes and no plug-in crashed")

display.delete()
done()
