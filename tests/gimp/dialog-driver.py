#!/usr/bin/env python3
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plays the user for the dialog smoke test, outside GIMP, on the Xvfb
display: waits for each dialog by title, lets its preview render, takes a
screenshot and presses Return (OK).

    dialog-driver.py OUTDIR SETTLE_SECONDS TITLE=FILE [TITLE=FILE ...]

Exits non-zero when a dialog does not show up or does not close.
"""

import re
import subprocess
import sys
import time

APPEAR_TIMEOUT = 180
CLOSE_TIMEOUT = 60


def find(title):
    result = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                             "^%s$" % re.escape(title)],
                            capture_output=True, text=True)
    ids = result.stdout.split()
    return ids[-1] if ids else None


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
        subprocess.run(["xdotool", "windowfocus", "--sync", window])
        subprocess.run(["xdotool", "key", "--clearmodifiers", "Return"])
        if wait_for(title, False, CLOSE_TIMEOUT) is None:
            return give_up("dialog %r did not close on Return" % title)
        print("driver: %r shown, captured and confirmed" % title, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
