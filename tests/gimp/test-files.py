# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# File > Open and File > Export As for .latent and .vaez files, as scripts
# call them (Gimp.file_load / Gimp.file_save with default settings):
# pixels equal to what `vae decode` and `vae decompress` write (read back
# with PIL), sizes, the latents the layer carries, ComfyUI files without
# metadata, missing models, exports at <= 1 bpp that open again, merged
# layers, the image left alone, Script-Fu, thumbnails, and damaged files
# refused with one line.  Run by run-gimp-test.py.

import json
import struct

import numpy
from PIL import Image

from gi.repository import GLib  # noqa: E402


def vae(*args):
    result = subprocess.run([CLI] + list(args), capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise AssertionError("vae %s: %s" % (" ".join(args), result.stderr))
    return result.stdout


def png_rgb(path):
    return numpy.asarray(Image.open(path).convert("RGB"))


def layer_rgb(layer):
    return numpy.frombuffer(pixels(layer, "R'G'B' u8"), numpy.uint8).reshape(
        layer.get_height(), layer.get_width(), 3)


def work(name):
    return os.path.join(WORK, name)


def gfile(name):
    return Gio.File.new_for_path(work(name))


def open_file(name):
    """Gimp.file_load; returns (image, None) or (None, error message)."""
    try:
        image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, gfile(name))
    except GLib.Error as error:
        return None, error.message
    if image is None:
        return None, PDB.get_last_error()
    return image, None


def expect_open_error(name, *words):
    image, message = open_file(name)
    check(image is None, "opening %s fails" % name)
    check("\n" not in message.strip() and "crashed" not in message,
          "one line, no crash, for %s: %s" % (name, message))
    for word in words:
        check(word in message, "the message for %s names %r: %s"
              % (name, word, message))
    return message


def same_pixels(layer, png, what):
    a = layer_rgb(layer)
    b = png_rgb(png)
    check(a.shape == b.shape, "%s: %r vs %r" % (what, a.shape, b.shape))
    diff = numpy.abs(a.astype(int) - b.astype(int)).max()
    check(diff == 0, "%s: same pixels as the vae command (max diff %d)"
          % (what, diff))


def psnr(a, b):
    mse = numpy.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * numpy.log10(255.0 ** 2 / mse)


def safetensors(path, tensors, metadata=None):
    """Writes a safetensors file by hand (independent of libvae):
    tensors maps names to float32 numpy arrays, in file order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blob = b""
    for name, array in tensors.items():
        data = numpy.ascontiguousarray(array, "<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def read_latent_tensor(path):
    with open(path, "rb") as f:
        data = f.read()
    n, = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    entry = header["latent_tensor"]
    start, end = entry["data_offsets"]
    return numpy.frombuffer(data[8 + n + start:8 + n + end],
                            "<f4").reshape(entry["shape"])


ID = model_id()
KODIM23 = os.path.join(KODAK, "kodim23.png")
original = png_rgb(KODIM23)

# --- .latent files -------------------------------------------------------

vae("encode", MODEL, KODIM23, "-o", work("k23.latent"))
vae("decode", MODEL, work("k23.latent"), "-o", work("k23-decoded.png"))
image, message = open_file("k23.latent")
check(image is not None, "File > Open reads our .latent: %s" % message)
layer = image.get_layers()[0]
check((image.get_width(), image.get_height()) == (768, 512),
      ".latent opens at the recorded image size 768 x 512")
same_pixels(layer, work("k23-decoded.png"), "opened .latent")
with open(work("k23.latent"), "rb") as f:
    check(parasite_bytes(layer, "gimp-vae-latent") == f.read(),
          "the layer carries the file's latents, byte for byte")
decoded, = call("plug-in-vae-decode", image=image, drawables=[layer],
                size="original", model="")
check(layer_rgb(decoded).tobytes() == layer_rgb(layer).tobytes(),
      "Decode of the opened layer's latents gives the opened picture")

# ComfyUI's SaveLatent: [1, C, h, w], the version marker, its prompt as
# metadata, nothing about the model or the size.
tensor = read_latent_tensor(work("k23.latent"))
safetensors(work("comfy.latent"),
            {"latent_format_version_0": numpy.zeros(0, numpy.float32),
             "latent_tensor": tensor},
            {"prompt": "{}"})
message = expect_open_error("comfy.latent", "32-channel", "seed-f16", "taef2",
                            "model")
image, = call("file-vae-latent-load", run_mode=Gimp.RunMode.NONINTERACTIVE,
              file=gfile("comfy.latent"), model=MODEL)
layer = image.get_layers()[0]
check((image.get_width(), image.get_height()) == (768, 512),
      "a ComfyUI latent opens at latent size x factor (96 x 64 x 8)")
vae("decode", MODEL, work("comfy.latent"), "-o", work("comfy-decoded.png"))
same_pixels(layer, work("comfy-decoded.png"), "opened ComfyUI .latent")
with open(work("from-layer.latent"), "wb") as f:
    f.write(parasite_bytes(layer, "gimp-vae-latent"))
check(helper("info", work("from-layer.latent")) ==
      ["32", "96", "64", "768", "512", ID],
      "the layer's latents now name the model and the size")

# An SD-style 4-channel latent: no installed model takes it, and the
# message says so instead of blaming an unknown model.
safetensors(work("sd.latent"),
            {"latent_tensor": numpy.random.default_rng(1).normal(
                size=(1, 4, 16, 16)).astype(numpy.float32)})
expect_open_error("sd.latent", "4-channel", "sd-vae-ft-mse", "https://")

# Latents naming a model that is not installed: where to get it.
helper("relabel", work("k23.latent"), work("flux2.latent"), "flux2-vae")
expect_open_error("flux2.latent", "flux2-vae", "https://", "not installed",
                  "gimp-vae/models")
helper("relabel", work("k23.latent"), work("mine.latent"), "my-own-vae")
expect_open_error("mine.latent", "my-own-vae", "registry")

# --- .vaez files ---------------------------------------------------------

vae("compress", MODEL, KODIM23, "-o", work("k23.vaez"), "--quality", "50")
vae("decompress", work("k23.vaez"), "-o", work("k23-vaez.png"))
image, message = open_file("k23.vaez")
check(image is not None, "File > Open reads a .vaez: %s" % message)
layer = image.get_layers()[0]
same_pixels(layer, work("k23-vaez.png"), "opened .vaez")
check(parasite_bytes(layer, "gimp-vae-latent") is not None,
      "the opened .vaez layer carries its latents")

def thumbnail(name, size):
    """Runs a thumbnail procedure (they take no run mode)."""
    procedure = PDB.lookup_procedure({".vaez": "file-vaez-load-thumb",
                                      ".latent": "file-vae-latent-load-thumb"}
                                     [os.path.splitext(name)[1]])
    config = procedure.create_config()
    file_arg, size_arg = [a.name for a in procedure.get_arguments()][:2]
    config.set_property(file_arg, gfile(name))
    config.set_property(size_arg, size)
    result = procedure.run(config)
    check(result.index(0) == SUCCESS, "thumbnail of %s" % name)
    return [result.index(i) for i in range(1, result.length())]


thumb = thumbnail("k23.vaez", 128)
check(max(thumb[0].get_width(), thumb[0].get_height()) == 128 and
      thumb[1:3] == [768, 512],
      "thumbnail: 128 pixels, full size 768 x 512 (%r)" % thumb[1:])
thumb = thumbnail("k23.latent", 64)
check(thumb[0].get_width() == 64 and thumb[1:3] == [768, 512],
      ".latent thumbnail: 64 pixels wide")

# --- Export As ------------------------------------------------------------

image, source = kodak("kodim23")
before = digest(source)
check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, gfile("out.vaez"),
                     None), "Export As .vaez with default settings")
log(vae("info", work("out.vaez")).strip())
bpp = os.path.getsize(work("out.vaez")) * 8.0 / (768 * 512)
check(bpp <= 1.0, "default export at %.3f bpp (<= 1)" % bpp)
reopened, message = open_file("out.vaez")
check(reopened is not None, "the exported .vaez opens again: %s" % message)
check((reopened.get_width(), reopened.get_height()) == (768, 512),
      "reopened at 768 x 512")
vae("decompress", work("out.vaez"), "-o", work("out-vaez.png"))
same_pixels(reopened.get_layers()[0], work("out-vaez.png"),
            "reopened export")
quality = psnr(layer_rgb(reopened.get_layers()[0]), original)
check(quality > 25.0, "the export looks like the photo (%.2f dB)" % quality)
check(len(image.get_layers()) == 1 and digest(source) == before,
      "export leaves the image alone")

call("file-vaez-export", run_mode=Gimp.RunMode.NONINTERACTIVE, image=image,
     file=gfile("small.vaez"), rate="bpp", bpp=0.25)
small_bpp = os.path.getsize(work("small.vaez")) * 8.0 / (768 * 512)
check(small_bpp <= 0.25 or small_bpp < bpp,
      "a target of 0.25 bpp gives %.3f bpp" % small_bpp)

call("file-vaez-export", run_mode=Gimp.RunMode.NONINTERACTIVE, image=image,
     file=gfile("taef2.vaez"), model=MODEL, quality=60.0)
vae("compress", MODEL, KODIM23, "-o", work("taef2-cli.vaez"), "--quality", "60")
with open(work("taef2.vaez"), "rb") as a, \
        open(work("taef2-cli.vaez"), "rb") as b:
    mine, theirs = a.read(), b.read()
check(abs(len(mine) - len(theirs)) <= len(theirs) // 100,
      "export with a named model and quality ~ vae compress (%d vs %d bytes)"
      % (len(mine), len(theirs)))

# .latent export: the default model's latents of the image, as `vae encode`.
check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, gfile("out.latent"),
                     None), "Export As .latent with default settings")
vae("encode", KODIM23, "-o", work("cli.latent"))
exported = read_latent_tensor(work("out.latent"))
reference = read_latent_tensor(work("cli.latent"))
check(exported.shape == reference.shape and
      numpy.abs(exported - reference).max() < 1e-3,
      "exported latents equal `vae encode` of the PNG (max diff %g)"
      % numpy.abs(exported - reference).max())

# Several layers: the export is the merged, flattened image, and the image
# keeps its layers.
top = Gimp.Layer.new(image, "top", 300, 200, Gimp.ImageType.RGBA_IMAGE, 60.0,
                     Gimp.LayerMode.NORMAL)
image.insert_layer(top, None, 0)
top.set_offsets(100, 80)
Gimp.context_set_foreground(Gegl.Color.new("red"))
top.edit_fill(Gimp.FillType.FOREGROUND)
layered = [digest(l) for l in image.get_layers()]
check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                     gfile("layered.latent"), None), "export of two layers")
flat = image.duplicate()
flat.flatten()
check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, flat, gfile("flat.latent"),
                     None), "export of the flattened copy")
a = read_latent_tensor(work("layered.latent"))
b = read_latent_tensor(work("flat.latent"))
check(numpy.array_equal(a, b), "the export encodes the merged image")
check(numpy.abs(a - exported).max() > 0.01,
      "and not the bottom layer alone")
check([digest(l) for l in image.get_layers()] == layered and
      len(image.get_layers()) == 2, "the layered image is left alone")

# Script-Fu, with default settings.
script_fu('(gimp-file-save RUN-NONINTERACTIVE %d "%s" -1)'
          % (image.get_id(), work("script-fu.vaez")))
check(os.path.getsize(work("script-fu.vaez")) * 8.0 / (768 * 512) <= 1.0,
      "Script-Fu exports a .vaez at <= 1 bpp")

# --- damaged files: one line, no crash ------------------------------------

with open(work("k23.vaez"), "rb") as f:
    good = f.read()
damaged = {
    "empty.vaez": b"",
    "truncated.vaez": good[:len(good) // 2],
    "flipped.vaez": good[:40] + bytes([good[40] ^ 1]) + good[41:],
    "header.vaez": b"VAEZ\x01\x02" + b"\xff" * 64,
    "noise.latent": struct.pack("<Q", 30) + b'{"__metadata__":{"latent_"' +
                    bytes(range(256)),
    "huge.latent": struct.pack("<Q", 1 << 40) + b"{",
    "text.latent": b"this is not a latent file at all",
}
for name, data in damaged.items():
    with open(work(name), "wb") as f:
        f.write(data)
    expect_open_error(name)

image, message = open_file("k23.vaez")
check(image is not None, "the plug-in still opens good files afterwards")
done()
