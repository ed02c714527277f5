# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Shared set-up for the headless GIMP tests, executed in python-fu-eval
# before each test script (see run-gimp-test.py).  A failed check raises,
# which makes gimp-console exit non-zero.

import hashlib
import json
import os
import struct
import subprocess
import time

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio, GObject  # noqa: E402

MODEL = os.environ["VAE_TEST_MODEL"]
KODAK = os.environ["VAE_TEST_KODAK"]
HELPER = os.environ["VAE_TEST_HELPER"]
CLI = os.environ["VAE_TEST_CLI"]
WORK = os.environ["VAE_TEST_WORK"]
DATA = os.environ["VAE_TEST_DATA"]
PDB = Gimp.get_pdb()
SUCCESS = Gimp.PDBStatusType.SUCCESS
EXECUTION_ERROR = Gimp.PDBStatusType.EXECUTION_ERROR
PASSED = []


class ProcedureFailed(Exception):
    def __init__(self, name, status, message):
        super().__init__("%s: %s: %s" % (name, status.value_nick, message))
        self.status = status
        self.message = message


def log(*args):
    print("[test]", *args, flush=True)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    PASSED.append(what)
    log("ok -", what)


def check_close(value, expected, tolerance, what):
    check(abs(value - expected) <= tolerance,
          "%s: %.4f vs %.4f (tolerance %g)" % (what, value, expected, tolerance))


def helper(*args):
    return subprocess.run([HELPER] + list(args), check=True,
                          capture_output=True, text=True).stdout.split()


def model_id():
    return helper("id", MODEL)[0]


def _set(config, name, value):
    if name == "drawables":
        config.set_core_object_array("drawables", value)
    elif isinstance(value, (list, tuple)) and \
            all(isinstance(v, float) for v in value):
        # A Python list does not convert to the GimpDoubleArray boxed type.
        array = GObject.Value(Gimp.DoubleArray)
        Gimp.value_set_double_array(array, value)
        config.set_property(name, array.get_boxed())
    else:
        config.set_property(name, value)


def call(name, **arguments):
    """Runs a procedure non-interactively; returns its values after the
    status, or raises ProcedureFailed."""
    start = time.monotonic()
    procedure = PDB.lookup_procedure(name)
    if procedure is None:
        raise AssertionError("procedure %s is not registered" % name)
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    # The tests run our procedures with the test model (TAEF2, which has
    # independent reference figures) unless they name another model, or ""
    # for the built-in default (test-default-model.py).
    if name.startswith("plug-in-vae-") and "model" not in arguments:
        arguments["model"] = MODEL
    # run_mode=Gimp.RunMode.INTERACTIVE among the arguments overrides this.
    for key, value in arguments.items():
        _set(config, key.replace("_", "-"), value)
    result = procedure.run(config)
    log("%s took %.1f s" % (name, time.monotonic() - start))
    status = result.index(0)
    if status != SUCCESS:
        message = result.index(1) if result.length() > 1 else None
        raise ProcedureFailed(name, status,
                              message or PDB.get_last_error())
    return [result.index(i) for i in range(1, result.length())]


def expect_error(name, status=EXECUTION_ERROR, **arguments):
    """Runs a procedure that must fail; returns its error message."""
    try:
        call(name, **arguments)
    except ProcedureFailed as failure:
        check(failure.status == status,
              "%s fails with %s (got %s: %s)"
              % (name, status.value_nick, failure.status.value_nick,
                 failure.message))
        return failure.message
    raise AssertionError("%s succeeded but should have failed" % name)


def script_fu(code):
    """Evaluates Script-Fu (v3 dialect); items are plain integer ids."""
    call("plug-in-script-fu-eval", script="(script-fu-use-v3)\n" + code)


def load(path):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                          Gio.File.new_for_path(path))


def save_xcf(image, path):
    check(Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                         Gio.File.new_for_path(path), None),
          "saved %s" % os.path.basename(path))


def kodak(name):
    image = load(os.path.join(KODAK, name + ".png"))
    return image, image.get_layers()[0]


def kodak_pair(width, height):
    """kodim23 and, above it, kodim03 as the layers "kodim23" and
    "kodim03" of one image scaled to @width x @height."""
    image, first = kodak("kodim23")
    image.scale(width, height)
    first.set_name("kodim23")
    other = load(os.path.join(KODAK, "kodim03.png"))
    second = Gimp.Layer.new_from_drawable(other.get_layers()[0], image)
    image.insert_layer(second, None, 0)
    second.scale(width, height, False)
    second.set_name("kodim03")
    other.delete()
    return image, first, second


def comfy_latent(blob):
    """Writes our .latent bytes @blob again as ComfyUI's Save Latent
    writes them: the tensor alone, no metadata (no model, no image size),
    to WORK/comfy.latent; returns that path."""
    n, = struct.unpack("<Q", blob[:8])
    entry = json.loads(blob[8:8 + n])["latent_tensor"]
    data = blob[8 + n + entry["data_offsets"][0]:8 + n + entry["data_offsets"][1]]
    header = json.dumps({"latent_tensor": {"dtype": "F32", "shape": entry["shape"],
                                           "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    comfy = os.path.join(WORK, "comfy.latent")
    with open(comfy, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    return comfy


def pixels(drawable, babl_format="R'G'B'A u8"):
    buffer = drawable.get_buffer()
    return bytes(buffer.get(buffer.get_extent(), 1.0, babl_format,
                            Gegl.AbyssPolicy.NONE))


def digest(drawable):
    return hashlib.sha256(pixels(drawable)).hexdigest()


def parasite_bytes(item, name):
    parasite = item.get_parasite(name)
    if parasite is None:
        return None
    # PyGObject hands the guint8 array over as signed chars.
    return bytes(b & 0xff for b in parasite.get_data())


def parasite(name, data):
    """A persistent parasite holding @data (bytes)."""
    # PyGObject takes the guint8 array as signed chars.
    return Gimp.Parasite.new(name, Gimp.PARASITE_PERSISTENT,
                             [b - 256 if b > 127 else b for b in data])


def layer_by_name(image, name):
    for layer in image.get_layers():
        if layer.get_name() == name:
            return layer
    raise AssertionError("no layer named %r among %r"
                         % (name, [l.get_name() for l in image.get_layers()]))


def done():
    log("%d checks passed" % len(PASSED))
