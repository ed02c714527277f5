#!/usr/bin/env python3
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GEGL operation vae:reconstruct through the `gegl` command, as a
user runs it after installing the module into their GEGL plug-in folder:

    test-gegl-op.py MODULE VAE_COMMAND

The reconstruction equals `vae roundtrip`'s (both 8-bit PNGs; babl and
libvae may round a value at .5 differently), so does the heat map (up to
the rounding the gain amplifies), two nodes of the operation on the same
pixels run the model once (the shared cache), and a model that cannot be
loaded leaves the picture as it was with a warning instead of failing.
Exit 77 (skip) without `gegl`, TAEF2 or the Kodak photos.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy
from PIL import Image

from vaetest import KODAK, SKIP, TAEF2


def main():
    module, vae = sys.argv[1], sys.argv[2]
    model = TAEF2
    photo = os.path.join(KODAK, "kodim23.png")
    gegl = shutil.which("gegl")
    if gegl is None or not os.path.isfile(photo) or \
       not os.path.isdir(model):
        print("SKIP: needs the gegl command, TAEF2 and the Kodak photos")
        return SKIP

    failures = []

    def check(ok, what):
        print("%s - %s" % ("ok" if ok else "FAIL", what), flush=True)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="gegl-op-") as tmp:
        plug_ins = os.path.join(tmp, "data", "gegl-0.4", "plug-ins")
        os.makedirs(plug_ins)
        shutil.copy2(module, plug_ins)
        env = dict(os.environ, XDG_DATA_HOME=os.path.join(tmp, "data"),
                   GIMP_VAE_MODEL_PATH=model,
                   G_MESSAGES_DEBUG="gimp-vae-gegl")
        env.pop("G_DEBUG", None)

        def run_gegl(output, *chain):
            result = subprocess.run([gegl, photo, "-o", output, "--"] +
                                    list(chain), env=env,
                                    capture_output=True, text=True)
            log = result.stdout + result.stderr
            check(result.returncode == 0, "gegl %s (exit %d)"
                  % (" ".join(chain), result.returncode))
            return log

        def rgb(path):
            return numpy.asarray(Image.open(path).convert("RGB")).astype(int)

        out = os.path.join(tmp, "reconstruction.png")
        log = run_gegl(out, "vae:reconstruct", "model=taef2")
        check(log.count("vae:reconstruct: running taef2") == 1,
              "the model ran once")
        reference = os.path.join(tmp, "reference.png")
        subprocess.run([vae, "roundtrip", "--quiet", model, photo, "-o",
                        reference], check=True, env=env, capture_output=True)
        diff = numpy.abs(rgb(out) - rgb(reference))
        check(diff.max() <= 1 and diff.mean() < 0.5,
              "equals vae roundtrip (max %d, mean %.3f)"
              % (diff.max(), diff.mean()))

        # The command line maps the 8-bit pictures' difference, the
        # operation the float one, which the gain and the colour ramp
        # amplify: the same map within 32 dB.
        heat = os.path.join(tmp, "heat.png")
        run_gegl(heat, "vae:reconstruct", "model=taef2", "mode=difference",
                 "gain=8")
        heat_reference = os.path.join(tmp, "heat-reference.png")
        subprocess.run([vae, "roundtrip", "--quiet", model, photo, "--diff",
                        heat_reference, "--diff-style", "heatmap", "--gain",
                        "8"], check=True, env=env, capture_output=True)
        diff = rgb(heat) - rgb(heat_reference)
        agreement = 10 * numpy.log10(255.0 ** 2 / numpy.mean(diff ** 2.0))
        check(agreement > 32, "the heat map matches vae roundtrip --diff "
              "(%.1f dB)" % agreement)

        # Two nodes over the same pixels: the reconstruction under the heat
        # map at half opacity; the second node reads the first one's run.
        both = os.path.join(tmp, "both.png")
        log = run_gegl(both, "vae:reconstruct", "model=taef2",
                       "gegl:over", "aux=[", "gegl:load", "path=" + photo,
                       "vae:reconstruct", "model=taef2", "mode=difference",
                       "gegl:opacity", "value=0.5", "]")
        check(log.count("vae:reconstruct: running") == 1,
              "two nodes on the same pixels ran the model once (%d)"
              % log.count("vae:reconstruct: running"))

        kept = os.path.join(tmp, "kept.png")
        log = run_gegl(kept, "vae:reconstruct", "model=no-such-model")
        check("no-such-model" in log and
              numpy.abs(rgb(kept) - rgb(photo)).max() == 0,
              "an unknown model leaves the picture alone, with a warning")

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
