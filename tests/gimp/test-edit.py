# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Edit Latents: neutral edits equal a plain decode, seeded noise is
# repeatable, a full mix gives the other layer, per-channel arrays are
# checked, and the result carries its edited latents.  Run by
# run-gimp-test.py.

ID = model_id()
image, source, second = kodak_pair(256, 160)

latents, = call("plug-in-vae-encode", image=image, drawables=[source])
other_latents, = call("plug-in-vae-encode", image=image, drawables=[second])
before = digest(latents)
plain, = call("plug-in-vae-decode", image=image, drawables=[latents],
              size="original")

same, = call("plug-in-vae-edit", image=image, drawables=[latents])
check(same.get_name() == "%s (edited, %s)"
      % (latents.get_name().rsplit(" (", 1)[0], ID),
      "edited layer name %r" % same.get_name())
check((same.get_width(), same.get_height()) == (256, 160),
      "edited layer has the encoded size")
check(pixels(same) == pixels(plain), "neutral edit equals a plain decode")
check(parasite_bytes(same, "gimp-vae-latent") is not None,
      "edited layer carries its latents")

noisy1, = call("plug-in-vae-edit", image=image, drawables=[latents],
               noise_seed=7, noise_strength=0.5)
noisy2, = call("plug-in-vae-edit", image=image, drawables=[latents],
               noise_seed=7, noise_strength=0.5)
noisy3, = call("plug-in-vae-edit", image=image, drawables=[latents],
               noise_seed=8, noise_strength=0.5)
check(pixels(noisy1) == pixels(noisy2), "same seed, same noise")
check(pixels(noisy1) != pixels(noisy3), "another seed, other noise")
check(pixels(noisy1) != pixels(plain), "noise changes the picture")

# Decoding the edited layer's latents gives the edited picture back.
again, = call("plug-in-vae-decode", image=image, drawables=[noisy1],
              size="original")
check(pixels(again) == pixels(noisy1), "edited latents decode to the edit")

mixed, = call("plug-in-vae-edit", image=image, drawables=[latents],
              mix_layer=other_latents, mix_amount=1.0)
other_plain, = call("plug-in-vae-decode", image=image,
                    drawables=[other_latents], size="original")
check(pixels(mixed) == pixels(other_plain), "mix amount 1 gives the other layer")

channels = [1.0] * 32
channels[3] = 2.5
tinted, = call("plug-in-vae-edit", image=image, drawables=[latents],
               channel_gains=channels, gain=1.1, offset=0.05)
check(pixels(tinted) != pixels(plain), "gain and per-channel gain change it")
message = expect_error("plug-in-vae-edit", image=image, drawables=[latents],
                       channel_offsets=[0.5, 0.5, 0.5])
check("32" in message, "a wrong per-channel count is refused: %s" % message)

check(digest(latents) == before, "edit leaves the latent layer alone")
done()
