# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What an artist ran into (issue 14, item 4), each where a script can see
# it: Decode on a non-square photo centred with the canvas grown, Encode
# keeping the photo selected and its latent picture locked and refused as
# a photo, names that do not pile up, a second animation's frames, the
# aspect of Interpolate's second end against PIL's crop, messages that
# give the right advice, SSIM on layers under its window.  Run by
# run-gimp-test.py.

import math

import numpy
from PIL import Image

ID = model_id()


def rgb(drawable):
    return numpy.frombuffer(pixels(drawable, "R'G'B' u8"), numpy.uint8) \
        .reshape(drawable.get_height(), drawable.get_width(), 3).astype(float)


def psnr(a, b):
    return 10 * numpy.log10(255.0 ** 2 / numpy.mean((a - b) ** 2))


def roundtrip(path):
    out = path + ".roundtrip.png"
    subprocess.run([CLI, "roundtrip", "--quiet", MODEL, path, "-o", out],
                   check=True, capture_output=True)
    return numpy.asarray(Image.open(out).convert("RGB")).astype(float)


# --- Encode: the photo stays selected, its latent picture is locked and
# is not taken for a photo --------------------------------------------------

image, source = kodak("kodim23")
latents, = call("plug-in-vae-encode", image=image, drawables=[source])
check(image.get_selected_layers() == [source],
      "after Encode the photo is still the selected layer")
check(latents.get_lock_content(),
      "the latent picture is locked: painting on it would change nothing")
for procedure in ("plug-in-vae-reconstruct", "plug-in-vae-encode"):
    message = expect_error(procedure, image=image, drawables=[latents])
    check("shows latents" in message and "encoded from" in message,
          "%s refuses the latent picture: %s" % (procedure, message))

# --- names -------------------------------------------------------------

decoded, = call("plug-in-vae-decode", image=image, drawables=[latents])
NAME = source.get_name()
check(decoded.get_name() == "%s (decoded, %s)" % (NAME, ID),
      "decoded from the latent layer: %r" % decoded.get_name())
edited, = call("plug-in-vae-edit", image=image, drawables=[latents])
again, = call("plug-in-vae-edit", image=image, drawables=[edited])
check(again.get_name() in ("%s (edited, %s)" % (NAME, ID),
                           "%s (edited, %s) #1" % (NAME, ID)),
      "an edit of an edit: %r" % again.get_name())

# --- Decode on a 768 x 512 photo: 1024 x 1024, centred, canvas grown -----

x, y = decoded.get_offsets()[1:]
sx, sy = source.get_offsets()[1:]
check((decoded.get_width(), decoded.get_height()) == (1024, 1024),
      "Decode keeps 1024 x 1024 as its default size")
check(x >= 0 and y >= 0 and x + 1024 <= image.get_width() and
      y + 1024 <= image.get_height(),
      "the canvas grew to show all of the decoded layer (%d x %d)"
      % (image.get_width(), image.get_height()))
check(x + 512 == sx + 384 and y + 512 == sy + 256,
      "the decoded layer is centred on the photo")

# --- a second animation's frames keep "(100ms)" last ---------------------

small, small_layer, second = kodak_pair(96, 64)
for _ in range(2):
    group, n = call("plug-in-vae-interpolate", image=small,
                    drawables=[small_layer, second], steps=2)
names = [layer.get_name() for layer in group.get_children()]
check(names == ["frame 2 [2] (100ms)", "frame 1 [2] (100ms)"],
      "a second animation's frames: %r" % names)

# --- Interpolate: the second end's shape ------------------------------------
# A portrait second end (192 x 288) with a landscape first end (384 x 256):
# "fill" covers 384 x 256 and crops the middle, which PIL does here
# independently; its round trip is the last frame.

portrait_path = os.path.join(WORK, "portrait.png")
crop_path = os.path.join(WORK, "portrait-filled.png")
photo = Image.open(os.path.join(KODAK, "kodim03.png")).convert("RGB")
portrait = photo.crop((200, 0, 200 + 341, 512)).resize((192, 288),
                                                      Image.BICUBIC)
portrait.save(portrait_path)
filled = portrait.resize((384, 576), Image.BICUBIC).crop((0, 160, 384, 416))
filled.save(crop_path)

land, land_layer = kodak("kodim23")
land.scale(384, 256)
tall = Gimp.Layer.new_from_drawable(load(portrait_path).get_layers()[0], land)
land.insert_layer(tall, None, 0)
results = {}
for aspect in ("fill", "stretch"):
    group, n = call("plug-in-vae-interpolate", image=land,
                    drawables=[land_layer, tall], steps=2, aspect=aspect)
    last = group.get_children()[0]
    results[aspect] = psnr(rgb(last), roundtrip(crop_path))
check(results["fill"] > 30 and results["fill"] > results["stretch"] + 3,
      "fill crops the portrait like PIL (%.1f dB), stretch squashes it "
      "(%.1f dB)" % (results["fill"], results["stretch"]))

# --- messages that give the right advice --------------------------------

message = expect_error("plug-in-vae-edit", image=image, drawables=[source])
check("carries no latents" in message and "choose" not in message
      and "File ▸ Open" in message,
      "Edit on a plain layer does not offer a file it cannot take: %s"
      % message)
small_model = os.path.join(os.environ["G_TEST_SRCDIR"], "data", "taesd",
                           "taesd")
foreign, = call("plug-in-vae-encode", image=small, drawables=[second],
                model=small_model)
message = expect_error("plug-in-vae-interpolate", image=small,
                       drawables=[small_layer, foreign])
check("Encode the picture" in message and "Decode them" not in message,
      "Interpolate with latents of two models says to encode again: %s"
      % message)

# --- Decode of a latent file that names no model (ComfyUI's) -------------

latent_path = os.path.join(WORK, "k23.latent")
subprocess.run([CLI, "encode", MODEL, os.path.join(KODAK, "kodim23.png"),
                "-o", latent_path], check=True, capture_output=True)
with open(latent_path, "rb") as f:
    comfy = comfy_latent(f.read())
message = expect_error("plug-in-vae-decode", image=image, drawables=[source],
                       latent_file=Gio.File.new_for_path(comfy), model="")
check("32-channel" in message and "taef2" in message and "seed-f16" in message,
      "Decode does not guess a model for latents that name none: %s"
      % message)
named, = call("plug-in-vae-decode", image=image, drawables=[source],
              latent_file=Gio.File.new_for_path(comfy), size="original")
check((named.get_width(), named.get_height()) == (768, 512),
      "with the model named it decodes them (latent size x 8)")

# --- SSIM on a layer smaller than its window -----------------------------

tiny, tiny_layer = kodak("kodim23")
tiny.scale(7, 5)
layer, difference, quality, ssim, ms_ssim = call(
    "plug-in-vae-reconstruct", image=tiny, drawables=[tiny_layer])
check(math.isfinite(quality) and math.isnan(ssim) and math.isnan(ms_ssim),
      "on 7 x 5 pixels PSNR is %.2f dB and SSIM, MS-SSIM are undefined (NaN)"
      % quality)
text = parasite_bytes(layer, "gimp-vae-quality").decode()
check("ssim=nan" in text and "\0" not in text,
      "the quality parasite says so: %r" % text)

done()
