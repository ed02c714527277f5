# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Interpolate Between Layers: the frame group and its names, the frame
# count, ends equal to plain round trips of the two layers, the second
# layer chosen by argument, latent-carrying ends, a Script-Fu call.  Small
# layers keep it quick.  Run by run-gimp-test.py.

ID = model_id()
image, a, b = kodak_pair(256, 160)
before_a, before_b = digest(a), digest(b)

group, n = call("plug-in-vae-interpolate", image=image, drawables=[a, b],
                steps=5, method="slerp", frame_delay=120)
frames = group.get_children()
check(n == 5 and len(frames) == 5, "5 frames made (%d)" % len(frames))
check(group.get_name() == "kodim23 → kodim03 (%s)" % ID,
      "group name %r" % group.get_name())
# Playback shows the bottom layer first: frame 1 is at the bottom.
check([f.get_name() for f in frames] ==
      ["frame %d (120ms)" % i for i in (5, 4, 3, 2, 1)],
      "frames named for animation playback, frame 1 at the bottom")
check(all((f.get_width(), f.get_height()) == (256, 160) for f in frames),
      "frames have the first layer's size")

# The ends are the round trips of the two layers.
ra = call("plug-in-vae-reconstruct", image=image, drawables=[a])[0]
rb = call("plug-in-vae-reconstruct", image=image, drawables=[b])[0]
check(pixels(frames[4], "R'G'B' u8") == pixels(ra, "R'G'B' u8"),
      "frame 1 is the first layer's round trip")
check(pixels(frames[0], "R'G'B' u8") == pixels(rb, "R'G'B' u8"),
      "the last frame is the second layer's round trip")
middle = frames[2]
check(pixels(middle) != pixels(frames[4]) and pixels(middle) != pixels(frames[0]),
      "the middle frame differs from both ends")

# One layer selected, the other chosen; a latent-carrying first end.
latent_a, = call("plug-in-vae-encode", image=image, drawables=[a])
group2, n2 = call("plug-in-vae-interpolate", image=image,
                  drawables=[latent_a], second_layer=b, steps=3,
                  method="lerp")
frames2 = group2.get_children()
check(n2 == 3 and len(frames2) == 3, "3 frames with a chosen second layer")
check(pixels(frames2[2], "R'G'B' u8") == pixels(ra, "R'G'B' u8"),
      "latent-carrying end gives the same first frame")

# The same procedure from Script-Fu, with the same named arguments.
script_fu("""
(let* ((result (plug-in-vae-interpolate #:run-mode RUN-NONINTERACTIVE
                                        #:image %d
                                        #:drawables (vector %d %d)
                                        #:steps 4 #:method "lerp")))
  (gimp-item-set-name (car result) "from script-fu"))
""" % (image.get_id(), a.get_id(), b.get_id()))
group3 = layer_by_name(image, "from script-fu")
check(len(group3.get_children()) == 4, "Script-Fu call with named arguments")

check(digest(a) == before_a and digest(b) == before_b,
      "interpolation leaves both layers alone")
done()
