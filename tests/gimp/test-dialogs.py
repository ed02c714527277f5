# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Dialog smoke test, under Xvfb: runs every procedure interactively while
# dialog-driver.py waits for each dialog, screenshots it and presses
# Return.  Passes when every dialog appeared, was captured, closed on OK
# and the run made its layer.  Run by run-gimp-test.py --xvfb; with
# VAE_TEST_SCREENSHOTS set, the PNGs land there (docs/screenshots/).

import subprocess

image, source, second = kodak_pair(384, 256)
latents, = call("plug-in-vae-encode", image=image, drawables=[source])

shots = os.environ.get("VAE_TEST_SCREENSHOTS") or os.path.join(WORK, "shots")
os.makedirs(shots, exist_ok=True)
settle = os.environ.get("VAE_TEST_SETTLE", "8")

runs = [
    ("Encode Layer to Latents", "dialog-encode",
     "plug-in-vae-encode", dict(drawables=[source])),
    ("Decode Latents to New Layer", "dialog-decode",
     "plug-in-vae-decode", dict(drawables=[latents])),
    ("Reconstruct Layer (Round Trip)", "dialog-reconstruct",
     "plug-in-vae-reconstruct", dict(drawables=[source])),
    # After an interactive run, the figures in a dialog of its own.
    ("Reconstruction Quality", "dialog-reconstruct-quality", None, None),
    ("Interpolate Between Layers", "dialog-interpolate",
     "plug-in-vae-interpolate", dict(drawables=[source, second])),
    ("Edit Latents", "dialog-edit",
     "plug-in-vae-edit", dict(drawables=[latents])),
]

# File > Export As and File > Open: the .vaez export dialog with its size
# and PSNR estimate, the .latent export dialog, and the question a
# ComfyUI latent without a model name asks.
comfy = comfy_latent(parasite_bytes(latents, "gimp-vae-latent"))

files = [
    ("Export Image as VAEZ", "dialog-export-vaez", "file-vaez-export",
     dict(file=Gio.File.new_for_path(os.path.join(WORK, "out.vaez")))),
    ("Export Image as Latent", "dialog-export-latent", "file-vae-latent-export",
     dict(file=Gio.File.new_for_path(os.path.join(WORK, "out.latent")))),
]
runs += files
runs.append(("Which Model Made These Latents?", "dialog-open-latent",
             "file-vae-latent-load", dict(file=Gio.File.new_for_path(comfy))))

driver = subprocess.Popen(
    ["python3", os.environ["VAE_TEST_DRIVER"], shots, settle] +
    ["%s=%s" % (title, shot) for title, shot, _, _ in runs])

for title, shot, procedure, arguments in runs:
    if procedure is None:
        continue
    if procedure == "file-vae-latent-load":
        opened, = call(procedure, run_mode=Gimp.RunMode.INTERACTIVE,
                       **arguments)
        check(opened.get_width() == 384 // 8 * 16 or
              opened.get_width() == 384,
              "%s: OK opened the file with the first model offered (%d px)"
              % (title, opened.get_width()))
        continue
    if procedure.startswith("file-"):
        before = digest(source)
        call(procedure, image=image, run_mode=Gimp.RunMode.INTERACTIVE,
             **arguments)
        path = arguments["file"].get_path()
        check(os.path.getsize(path) > 0 and digest(source) == before,
              "%s: OK wrote %s and left the image alone"
              % (title, os.path.basename(path)))
        continue
    before = len(image.get_layers())
    values = call(procedure, image=image, run_mode=Gimp.RunMode.INTERACTIVE,
                  **arguments)
    check(values[0] is not None and len(image.get_layers()) == before + 1,
          "%s: OK ran the procedure and added its layer" % title)

check(driver.wait(timeout=120) == 0, "the driver saw every dialog close")
for title, shot, procedure, _ in runs:
    size = subprocess.run(["identify", "-format", "%w %h",
                           os.path.join(shots, shot + ".png")],
                          capture_output=True, text=True).stdout.split()
    # The quality message is a small box; the others hold a form.
    least = (250, 80) if procedure is None else (250, 150)
    check(len(size) == 2 and int(size[0]) > least[0] and
          int(size[1]) > least[1],
          "screenshot of %s (%s)" % (title, " x ".join(size)))
done()
