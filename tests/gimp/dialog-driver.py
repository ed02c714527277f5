#!/usr/bin/env python3
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plays the user for the dialog smoke test, outside GIMP, on the Xvfb
display: waits for each dialog by title, lets its preview render, takes a
screenshot and presses Return (OK).

    dialog-driver.py OUTDIR SETTLE_SECONDS TITLE=FILE [TITLE=FILE ...]

Exits non-zero when a dialog does not show up or does not close.

test-menus.py and test-canvas.py import it for the same window handling,
for finding GIMP's own image window and for opening Filters > VAE entries
in it with the keyboard.
"""

import re
import subprocess
import sys
import time

APPEAR_TIMEOUT = 180
CLOSE_TIMEOUT = 60
# GIMP's title for its message box, "Plug-in crashed" among others.
MESSAGE_TITLE = "GIMP Message"


def find(title):
    result = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                             "^%s$" % re.escape(title)],
                            capture_output=True, text=True)
    ids = result.stdout.split()
    return ids[-1] if ids else None


def key(*keys):
    subprocess.run(["xdotool", "key", "--clearmodifiers"] + list(keys))


def press(window, name):
    """Presses @name in @window: Return is OK, Escape is Cancel."""
    subprocess.run(["xdotool", "windowfocus", "--sync", window])
    key(name)


def open_vae_menu_entry(window, mnemonic):
    """Opens Filters > VAE > the entry with @mnemonic in GIMP's image
    @window with the keyboard: Alt+R opens Filters, Up wraps round to its
    last entry, VAE (the plug-in's own submenu, last in a throw-away
    config), Right opens it, the mnemonic activates the entry.  Exactly
    what clicking the entry does: GIMP runs the procedure interactively
    with its own arguments."""
    subprocess.run(["xdotool", "windowfocus", "--sync", window])
    for keys in ("alt+r", "Up", "Right", mnemonic):
        key(keys)
        time.sleep(0.4)


def image_window(timeout=120):
    """Waits for GIMP's image window; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                              " – GIMP$"], capture_output=True,
                             text=True).stdout.split()
        if ids:
            return ids[-1]
        time.sleep(0.5)
    raise AssertionError("GIMP's image window did not show up")


def wait_for_dialog(title, timeout=APPEAR_TIMEOUT):
    """Waits for a window called @title; returns (window, None), or
    (None, why) when it did not come or GIMP showed a message instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = find(title)
        if window is not None:
            return window, None
        if find(MESSAGE_TITLE) is not None:
            return None, ("GIMP showed a message box instead of %r "
                          "(the log says which, e.g. a crashed plug-in)"
                          % title)
        time.sleep(0.25)
    return None, "no dialog %r within %d s" % (title, timeout)


def give_up(message):
    """Cancels whatever dialog is open, so GIMP does not wait for ever."""
    print("driver: " + message, flush=True)
    result = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                             "."], capture_output=True, text=True)
    for window in result.stdout.split():
        subprocess.run(["xdotool", "windowfocus", window])
        subprocess.run(["xdotool", "key", "Escape"])
    return 1


def wait_for(title, present, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = find(title)
        if (window is not None) == present:
            return window or True
        time.sleep(0.25)
    return None


def main():
    outdir, settle = sys.argv[1], float(sys.argv[2])
    for spec in sys.argv[3:]:
        title, name = spec.split("=", 1)
        window = wait_for(title, True, APPEAR_TIMEOUT)
        if window is None:
            return give_up("no dialog %r appeared" % title)
        # Previews render in a worker thread; give them time to show.
        time.sleep(settle)
        subprocess.run(["import", "-window", window,
                        "%s/%s.png" % (outdir, name)], check=True)
        press(window, "Return")
        if wait_for(title, False, CLOSE_TIMEOUT) is None:
            return give_up("dialog %r did not close on Return" % title)
        print("driver: %r shown, captured and confirmed" % title, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
