# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Clear execution errors, never a crash: a layer without latents,
# latents of another model (a layer encoded by another model, a file
# claiming another model), an indexed image, an unknown model, damaged
# latents, a missing second layer.  Run by run-gimp-test.py.

image, source = kodak("kodim23")
image.scale(128, 80)

for procedure in ("plug-in-vae-decode", "plug-in-vae-edit"):
    message = expect_error(procedure, image=image, drawables=[source])
    check("carries no latents" in message, "%s: %s" % (procedure, message))

# Latents of another model: the same latents relabelled by libvae.
latent_path = os.path.join(WORK, "own.latent")
foreign_path = os.path.join(WORK, "foreign.latent")
latents, = call("plug-in-vae-encode", image=image, drawables=[source],
                latent_file=Gio.File.new_for_path(latent_path))
helper("relabel", latent_path, foreign_path, "some-other-vae")

message = expect_error("plug-in-vae-decode", image=image, drawables=[source],
                       latent_file=Gio.File.new_for_path(foreign_path),
                       model=MODEL)
check("some-other-vae" in message and "made by" in message,
      "decoding another model's file with this one: %s" % message)
message = expect_error("plug-in-vae-decode", image=image, drawables=[source],
                       latent_file=Gio.File.new_for_path(foreign_path),
                       model="")
check("some-other-vae" in message and "not installed" in message,
      "another model's file with no model installed for it: %s" % message)

# A layer encoded by a really different model: the small random-weight
# TAESD (4 channels) of the core's tests.
small_model = os.path.join(os.environ["G_TEST_SRCDIR"], "data", "taesd", "taesd")
other_id = helper("id", small_model)[0]
other_latents, = call("plug-in-vae-encode", image=image, drawables=[source],
                      model=small_model)
for procedure in ("plug-in-vae-decode", "plug-in-vae-edit"):
    message = expect_error(procedure, image=image, drawables=[other_latents],
                           model="taef2")
    check("made by the model “%s”" % other_id in message,
          "%s of another model's layer: %s" % (procedure, message))

latents.attach_parasite(parasite("gimp-vae-latent", b"not latents"))
message = expect_error("plug-in-vae-decode", image=image, drawables=[latents])
check("damaged" in message, "damaged latents: %s" % message)

message = expect_error("plug-in-vae-encode", image=image, drawables=[source],
                       model="no-such-model")
check("no-such-model" in message, "unknown model: %s" % message)

message = expect_error("plug-in-vae-interpolate", image=image,
                       drawables=[source])
check("second layer" in message, "interpolation without a second layer: %s"
      % message)

indexed = image.duplicate()
indexed.convert_indexed(Gimp.ConvertDitherType.NONE,
                        Gimp.ConvertPaletteType.GENERATE, 16, False, False, "")
for procedure in ("plug-in-vae-encode", "plug-in-vae-reconstruct"):
    message = expect_error(procedure, image=indexed,
                           drawables=[indexed.get_layers()[0]])
    check("indexed" in message, "%s on an indexed image: %s"
          % (procedure, message))

done()
