# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Every dialog opened from Filters > VAE in GIMP's image window, with the
# keyboard, the way an artist opens it: GIMP with its interface under Xvfb
# (run-gimp-test.py --gui), dialog-driver.py's window handling.
#
# test-dialogs.py runs the procedures interactively from Python, passing
# every argument.  The menu passes only run-mode, image and drawables;
# libgimp gives the other arguments their defaults, then loads the
# last-used values if a run stored some.  So: first each entry once in a
# fresh config (OK), which stores last-used values; then each again, with
# them: Reset to Factory Defaults and Cancel, then opened again and OK.
# Each OK must add exactly its one item and store last-used values, each
# Cancel add nothing, and no plug-in may crash (GIMP's message box fails
# the test at once).

import glob
import importlib.util
import re
import subprocess
import sys

# The driver is shared with test-dialogs.py; keep the source tree clean.
sys.dont_write_bytecode = True
spec = importlib.util.spec_from_file_location("dialog_driver",
                                              os.environ["VAE_TEST_DRIVER"])
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)

# procedure: mnemonic in Filters > VAE, dialog title, the name of what its
# OK adds
ENTRIES = {
    "encode": ("e", "Encode Layer to Latents",
               r"kodim23 \(latents, [^()]+\)( #\d+)?$"),
    "decode": ("d", "Decode Latents to New Layer", r".* \(decoded, "),
    "reconstruct": ("r", "Reconstruct Layer (Round Trip)",
                    r"kodim23 \(reconstructed, "),
    "interpolate": ("i", "Interpolate Between Layers", r".* → .* \("),
    "edit": ("l", "Edit Latents", r"kodim23 \(edited, "),
}

# Small layers: what is tested is the way in, not the results.
image, source, second = kodak_pair(128, 96)

display = Gimp.Display.new(image)
Gimp.displays_flush()


window = driver.image_window()
# No window manager: make room for the menus ourselves.
subprocess.run(["xdotool", "windowmove", window, "0", "0"], check=True)
subprocess.run(["xdotool", "windowsize", window, "1280", "900"], check=True)


def fail(why):
    windows = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                              "."], capture_output=True, text=True)
    for found in windows.stdout.split():
        log("window:", subprocess.run(["xdotool", "getwindowname", found],
                                      capture_output=True,
                                      text=True).stdout.strip())
    driver.give_up(why)
    raise AssertionError(why)


def wait_layers(count, timeout=120):
    deadline = time.monotonic() + timeout
    while len(image.get_layers()) < count and time.monotonic() < deadline:
        if driver.find(driver.MESSAGE_TITLE) is not None:
            fail("GIMP showed a message box during a run (see the log)")
        time.sleep(0.25)
    return image.get_layers()


SETTINGS = os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-in-settings")


def last_used_stamp(name):
    """When @name's last-used values were stored, None if never."""
    files = glob.glob(os.path.join(SETTINGS, "*plug-in-vae-%s.last" % name))
    return os.stat(files[0]).st_mtime_ns if files else None


def from_menu(name, selected, ok, reset=False):
    """Opens @name's dialog from the menu with @selected layers, if @reset
    resets it to the factory defaults, and answers OK or Cancel; returns
    the new top-level items."""
    mnemonic, title, _ = ENTRIES[name]
    before = image.get_layers()
    stamp = last_used_stamp(name)
    image.set_selected_layers(selected)
    Gimp.displays_flush()
    time.sleep(0.5)
    driver.open_vae_menu_entry(window, mnemonic)
    dialog, why = driver.wait_for_dialog(title, 120)
    if dialog is None:
        fail("Filters > VAE > %s: %s" % (title, why))
    if reset:
        # Reset ▸ Reset to Factory Defaults: every argument back to its
        # default, again NULL for Edit's double arrays.
        driver.press(dialog, "alt+r")
        time.sleep(0.5)
        driver.key("Down")
        driver.key("Return")
        time.sleep(1.5)
        if driver.find(driver.MESSAGE_TITLE) is not None or \
           driver.find(title) is None:
            fail("%s: the dialog did not survive Reset to Factory Defaults"
                 % title)
        log("%s reset to factory defaults" % title)
    driver.press(dialog, "Return" if ok else "Escape")
    if driver.wait_for(title, False, driver.CLOSE_TIMEOUT) is None:
        fail("%r did not close" % title)
    if ok:
        after = wait_layers(len(before) + 1)
        if name == "reconstruct":
            # An interactive run reports PSNR/SSIM in a dialog of its own,
            # with an information icon (GIMP's message box has a warning
            # icon), once the layer is there; the run ends when it closes.
            box = driver.wait_for("Reconstruction Quality", True, 60)
            check(box is not None, "%s reported its quality" % title)
            driver.press(box, "Return")
            if driver.wait_for("Reconstruction Quality", False, 10) is None:
                fail("the quality message did not close")
        # Stored last thing in a run, after the run's own changes to the
        # image (its new layer becomes the selected one): from here on the
        # next step's selection holds.
        deadline = time.monotonic() + 60
        while last_used_stamp(name) == stamp and time.monotonic() < deadline:
            time.sleep(0.1)
        check(last_used_stamp(name) != stamp,
              "%s stored its last-used values" % title)
    else:
        # Cancelled: the plug-in ends without touching the image.  A late
        # layer would also break the next step's exact count.
        time.sleep(1.0)
        after = image.get_layers()
    ids = {layer.get_id() for layer in before}
    added = [layer for layer in after if layer.get_id() not in ids]
    check(len(after) == len(before) + (1 if ok else 0) and
          len(added) == (1 if ok else 0),
          "Filters > VAE > %s, %s: %d item(s) added %r"
          % (title, "OK" if ok else "Cancel", len(added),
             [layer.get_name() for layer in added]))
    return added


def opened(name, added):
    """Checks that the OK run was @name's (its item's name) and returns
    the item."""
    expected = ENTRIES[name][2]
    item = added[0]
    check(re.match(expected, item.get_name()) is not None,
          "%s made %r" % (name, item.get_name()))
    return item


def selection(name):
    return {"encode": [source], "decode": [latents],
            "reconstruct": [source], "interpolate": [source, second],
            "edit": [latents]}[name]


# A fresh config: no last-used values yet, so the arguments the menu does
# not pass keep their defaults (NULL for Edit's double arrays).
latents = opened("encode", from_menu("encode", [source], True))
for name in ("decode", "reconstruct", "interpolate", "edit"):
    opened(name, from_menu(name, selection(name), True))

# Again, with the last-used values: open, reset to the factory defaults,
# Cancel, open again, OK.
for name in ENTRIES:
    from_menu(name, selection(name), False, reset=True)
    opened(name, from_menu(name, selection(name), True))

# Nothing left for GIMP to tear down when it quits.
display.delete()
image.delete()
done()
