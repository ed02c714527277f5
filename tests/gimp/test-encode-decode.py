# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Encode Layer to Latents and Decode Latents to New Layer on a Kodak photo:
# names, sizes, offsets, the latent parasite and .latent file, XCF
# save/reload, the 1024 x 1024 default, fit/fill, alpha, selections, and
# that the source layer is left alone.  Run by run-gimp-test.py.

import numpy

ID = model_id()
image, source = kodak("kodim23")
name = source.get_name()
before = digest(source)
latent_path = os.path.join(WORK, "kodim23.latent")

# Encode the whole layer, also to a file.
latent_layer, = call("plug-in-vae-encode", image=image, drawables=[source],
                     latent_file=Gio.File.new_for_path(latent_path))
check(latent_layer.get_name() == "%s (latents, %s)" % (name, ID),
      "latent layer name %r" % latent_layer.get_name())
check((latent_layer.get_width(), latent_layer.get_height()) == (768, 512),
      "latent layer covers the encoded layer")
check(image.get_layers()[0] == latent_layer and image.get_layers()[1] == source,
      "latent layer sits just above the source")
stored = parasite_bytes(latent_layer, "gimp-vae-latent")
check(stored is not None and len(stored) > 32 * 96 * 64 * 4,
      "latent parasite present (%d bytes)" % len(stored or b""))
check(latent_layer.get_parasite("gimp-vae-latent").get_flags() &
      Gimp.PARASITE_PERSISTENT, "latent parasite is persistent")
check(helper("info", latent_path) == ["32", "96", "64", "768", "512", ID],
      ".latent file holds 32 x 96 x 64 latents of a 768 x 512 image")
check(digest(source) == before, "encode leaves the source pixels alone")

# The parasite survives an XCF round trip.
xcf = os.path.join(WORK, "kodim23.xcf")
save_xcf(image, xcf)
reloaded = load(xcf)
reloaded_latent = layer_by_name(reloaded, latent_layer.get_name())
check(parasite_bytes(reloaded_latent, "gimp-vae-latent") == stored,
      "latent parasite identical after XCF save + reload")

# Default decode: a new 1024 x 1024 layer, the 3:2 photo fitted inside.
decoded, = call("plug-in-vae-decode", image=reloaded,
                drawables=[reloaded_latent])
check(decoded.get_name() == "%s (decoded, %s)" % (name, ID),
      "decoded layer name, without the latent layer's suffix")
check((decoded.get_width(), decoded.get_height()) == (1024, 1024),
      "decode makes a 1024 x 1024 layer by default")
alpha = numpy.frombuffer(pixels(decoded, "A u8"), numpy.uint8).reshape(1024, 1024)
# 512 * 1024 / 768 = 682.67 -> 683 rows, centred: rows 170 .. 852.
check(alpha[0].max() == 0 and alpha[1023].max() == 0 and
      alpha[170:853].min() == 255 and alpha[169].max() == 0,
      "fit leaves transparent bands above and below (683 opaque rows)")

filled, = call("plug-in-vae-decode", image=reloaded,
               drawables=[reloaded_latent], aspect="fill", size="custom",
               width=512, height=256, resample="latents")
check((filled.get_width(), filled.get_height()) == (512, 256),
      "custom size 512 x 256")
check(numpy.frombuffer(pixels(filled, "A u8"), numpy.uint8).min() == 255,
      "fill covers the whole layer")

# Decoding at the encoded size from the .latent file reproduces the photo
# as well as TAEF2 can (kodim23: 33.342 dB in taef2-reference.tsv).
from_file, = call("plug-in-vae-decode", image=image, drawables=[source],
                  latent_file=Gio.File.new_for_path(latent_path),
                  size="original")
check((from_file.get_width(), from_file.get_height()) == (768, 512),
      "decode at the encoded size")
ref = numpy.frombuffer(pixels(source, "R'G'B' u8"), numpy.uint8).astype(float)
out = numpy.frombuffer(pixels(from_file, "R'G'B' u8"), numpy.uint8).astype(float)
psnr = 10 * numpy.log10(255.0 ** 2 / numpy.mean((ref - out) ** 2))
check_close(psnr, 33.342, 0.05, "PSNR of encode + decode from file (dB)")

# A selection: only its bounding box is encoded, at its place.
image.select_rectangle(Gimp.ChannelOps.REPLACE, 100, 48, 256, 128)
boxed, = call("plug-in-vae-encode", image=image, drawables=[source])
Gimp.Selection.none(image)
check((boxed.get_width(), boxed.get_height()) == (256, 128) and
      boxed.get_offsets()[1:] == (100, 48),
      "selection bounds encoded at the selection's place")

# Alpha: a layer with a transparent hole gets it back after the round trip.
holed = source.copy()
image.insert_layer(holed, None, 0)
holed.resize(256, 192, -250, -150)
holed.add_alpha()
image.select_rectangle(Gimp.ChannelOps.REPLACE, 300, 200, 80, 60)
holed.edit_clear()
Gimp.Selection.none(image)
holed_latent, = call("plug-in-vae-encode", image=image, drawables=[holed])
check(pixels(holed_latent, "A u8") == pixels(holed, "A u8"),
      "latent layer keeps the encoded layer's alpha")
restored, = call("plug-in-vae-decode", image=image, drawables=[holed_latent],
                 size="original")
check(pixels(restored, "A u8") == pixels(holed, "A u8"),
      "decode at the encoded size restores the alpha exactly")
opaque, = call("plug-in-vae-decode", image=image, drawables=[holed_latent],
               size="original", alpha="opaque")
check(min(pixels(opaque, "A u8")) == 255, "alpha=opaque gives an opaque layer")

check(digest(source) == before, "source pixels unchanged after every run")
done()
