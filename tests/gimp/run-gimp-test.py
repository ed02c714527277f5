#!/usr/bin/env python3
# gimp-vae - image autoencoders in GIMP 3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs one headless GIMP test script against the freshly built plug-in.

Everything happens in a throw-away folder: the plug-in is copied to
<tmp>/plug-ins/gimp-vae/gimp-vae (GIMP 3 ignores a binary whose folder has
another name) with its locale/ catalogs, GIMP gets a fresh config folder
whose gimprc adds <tmp>/plug-ins to the plug-in path, and the test script
runs in python-fu-eval.  A Python exception in the script makes
gimp-console exit with 64, which fails the test.

Exit 77 (skipped) when the TAEF2 weights are not in $VAE_SHARED_DIR.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def install_plugin(plugin, po_dir, plug_ins):
    folder = os.path.join(plug_ins, "gimp-vae")
    os.makedirs(folder)
    shutil.copy2(plugin, os.path.join(folder, "gimp-vae"))
    for lang in sorted(os.listdir(po_dir)):
        mo = os.path.join(po_dir, lang, "LC_MESSAGES", "gimp-vae.mo")
        if os.path.isfile(mo):
            dest = os.path.join(folder, "locale", lang, "LC_MESSAGES")
            os.makedirs(dest)
            shutil.copy2(mo, dest)


def start_xvfb(tmp):
    """Starts Xvfb on a display number it picks itself (-displayfd).

    xvfb-run -a only looks for lock files in /tmp, which each build
    environment has its own of, while X sockets are shared by the whole
    machine; letting the server try the sockets avoids two tests fighting
    over one display.
    """
    read_end, write_end = os.pipe()
    log = open(os.path.join(tmp, "xvfb.log"), "w")
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end),
                             "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"],
                            pass_fds=[write_end], stdout=log, stderr=log)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        number = f.readline().strip()
    if not number:
        raise RuntimeError("Xvfb did not start")
    return xvfb, ":" + number


def run_copying_output(command, env, cwd, copy):
    """Runs @command with its output (stdout and stderr, where GLib's
    debug messages and warnings go) going both to ours and to @copy, which
    the test script may read while GIMP runs."""
    with open(copy, "wb", buffering=0) as log:
        process = subprocess.Popen(command, env=env, cwd=cwd,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        for line in iter(process.stdout.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            log.write(line)
        return subprocess.CompletedProcess(command, process.wait())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gimp", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--po-dir", required=True)
    parser.add_argument("--helper", required=True)
    parser.add_argument("--vae", required=True, help="the vae command")
    parser.add_argument("--script", required=True)
    parser.add_argument("--common", required=True)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--xvfb", action="store_true",
                        help="run under Xvfb with the dialog driver")
    parser.add_argument("--driver", help="dialog driver script (with --xvfb)")
    parser.add_argument("--screenshots", help="where screenshots go")
    parser.add_argument("--gui", action="store_true",
                        help="run GIMP with its interface (give --gimp "
                             "gimp-3.0), under Xvfb")
    parser.add_argument("--gegl-module",
                        help="install this GEGL module (vae:reconstruct) "
                             "into the throw-away $XDG_DATA_HOME/gegl-0.4/"
                             "plug-ins, where GEGL in GIMP finds it")
    parser.add_argument("--needs", default="taef2,kodak",
                        help="what of VAE_SHARED_DIR the script needs: "
                             "taef2, kodak (comma-separated)")
    args = parser.parse_args()

    shared = os.environ.get("VAE_SHARED_DIR", "")
    model = os.path.join(shared, "models", "taef2")
    kodak = os.path.join(shared, "data", "kodak")
    present = {
        "taef2": os.path.isfile(os.path.join(model, "decoder.safetensors")),
        "kodak": os.path.isdir(kodak),
    }
    missing = [what for what in args.needs.split(",") if not present[what]]
    if missing:
        print("SKIP: no %s under VAE_SHARED_DIR=%r"
              % (" or ".join(missing), shared))
        return SKIP

    with tempfile.TemporaryDirectory(prefix="gimp-vae-test-") as tmp:
        plug_ins = os.path.join(tmp, "plug-ins")
        config = os.path.join(tmp, "config")
        work = os.path.join(tmp, "work")
        os.makedirs(config)
        os.makedirs(work)
        install_plugin(args.plugin, args.po_dir, plug_ins)
        with open(os.path.join(config, "gimprc"), "w") as f:
            f.write('(plug-in-path "${gimp_plug_in_dir}/plug-ins:%s")\n'
                    % plug_ins)

        if args.gegl_module:
            modules = os.path.join(tmp, "data", "gegl-0.4", "plug-ins")
            os.makedirs(modules)
            shutil.copy2(args.gegl_module, modules)

        env = dict(os.environ)
        # GIMP 3.0.4 itself emits a CRITICAL at exit (see
        # gimp3-headless.md); fatal criticals would turn that into a crash.
        env.pop("G_DEBUG", None)
        env.update({
            "GIMP3_DIRECTORY": config,
            "HOME": tmp,
            "XDG_DATA_HOME": os.path.join(tmp, "data"),
            "XDG_CONFIG_HOME": os.path.join(tmp, "xdg-config"),
            "XDG_CACHE_HOME": os.path.join(tmp, "cache"),
            "GIMP_VAE_MODEL_PATH": model,
            "VAE_TEST_MODEL": model,
            "VAE_TEST_KODAK": kodak,
            "VAE_TEST_HELPER": os.path.abspath(args.helper),
            "VAE_TEST_CLI": os.path.abspath(args.vae),
            "VAE_TEST_WORK": work,
            # the repository's test files (tests/data)
            "VAE_TEST_DATA": os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          os.pardir, "data"),
            "NO_AT_BRIDGE": "1",
            # vae:reconstruct says when it runs a model; the test reads
            # the copy of GIMP's output to count the runs.
            "G_MESSAGES_DEBUG": "gimp-vae-gegl",
            "VAE_TEST_GIMP_OUTPUT": os.path.join(work, "gimp-output.log"),
        })
        # The shared set-up comes first so the script can use its helpers.
        code = ("exec(open(%r).read()); exec(open(%r).read())"
                % (os.path.abspath(args.common), os.path.abspath(args.script)))
        command = ["timeout", str(args.timeout), args.gimp] + \
                  ([] if args.gui else ["-i", "-d", "-f"]) + \
                  ["--quit", "--batch-interpreter=python-fu-eval", "-b", code]

        xvfb = None
        if args.xvfb or args.gui:
            xvfb, display = start_xvfb(tmp)
            env["DISPLAY"] = display
            if args.driver:
                env["VAE_TEST_DRIVER"] = os.path.abspath(args.driver)
            if args.screenshots:
                env["VAE_TEST_SCREENSHOTS"] = os.path.abspath(args.screenshots)
            command = ["dbus-run-session", "--"] + command

        print("$ " + " ".join(command), flush=True)
        try:
            result = run_copying_output(command, env, work,
                                        env["VAE_TEST_GIMP_OUTPUT"])
        finally:
            if xvfb is not None:
                xvfb.terminate()
                xvfb.wait()
        print("gimp-console exit status %d" % result.returncode)
        return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
