# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Python tests of the vae command share (test-cli.py,
test-cli-models.py, test-gegl-op.py): where the program and the shared
files are, running it, the assertions on its exit status and stderr, and
a main() that tells meson about skips.

meson counts a test that exits 77 as skipped.  main() exits 77 when any
test case skipped, after listing them with their reasons, so that a run
without VAE_SHARED_DIR's files shows SKIP instead of OK; a failure still
exits 1.
"""

import hashlib
import os
import subprocess
import sys
import unittest

SKIP = 77

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get('VAE_SHARED_DIR', '')
TAEF2 = os.path.join(SHARED, 'models', 'taef2')
KODAK = os.path.join(SHARED, 'data', 'kodak')

VAE = None


def take_program():
    """The vae command under test: the first argument (taken off
    sys.argv before unittest reads it), else $VAE_CLI."""
    global VAE
    VAE = os.environ.get('VAE_CLI')
    if len(sys.argv) > 1 and not sys.argv[1].startswith('-'):
        VAE = sys.argv.pop(1)
    return VAE


def have_taef2():
    return all(os.path.isfile(os.path.join(TAEF2, name))
               for name in ('encoder.safetensors', 'decoder.safetensors'))


def have_kodak():
    return os.path.isfile(os.path.join(KODAK, 'kodim23.png'))


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_vae(*args, env=None, cwd=None, timeout=600):
    return subprocess.run([VAE] + [str(a) for a in args], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)


class VaeAssertions:
    """For unittest.TestCase subclasses."""

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, 'exit %d, stderr %r'
                         % (result.returncode, result.stderr))
        # warnings from GEGL or libvae must not leak through
        self.assertEqual(result.stderr, '')

    def assert_error(self, result, code=1, pattern=None):
        """Exit code `code` and exactly one line `vae: ...` on stderr."""
        self.assertEqual(result.returncode, code, 'exit %d, stderr %r'
                         % (result.returncode, result.stderr))
        self.assertTrue(result.stderr.startswith('vae: '), repr(result.stderr))
        self.assertTrue(result.stderr.endswith('\n'), repr(result.stderr))
        self.assertEqual(result.stderr.count('\n'), 1, repr(result.stderr))
        if pattern is not None:
            self.assertRegex(result.stderr, pattern)


def main(usage):
    """unittest.main, with exit status 77 when anything skipped."""
    if not VAE:
        sys.exit(usage)
    program = unittest.main(verbosity=2, exit=False)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        print('SKIP: %d of %d tests skipped:' % (len(result.skipped),
                                                result.testsRun),
              file=sys.stderr)
        for test, reason in result.skipped:
            print('  %s: %s' % (test.id(), reason), file=sys.stderr)
        sys.exit(SKIP)
    sys.exit(0)
