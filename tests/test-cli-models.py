#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of `vae models`, `vae models verify` and MODEL as a
registry id, a name in the search path, or left out (suite cli).

    test-cli-models.py PATH/TO/vae        (or VAE_CLI=PATH/TO/vae ...)

Every run gets a private HOME, XDG_DATA_HOME, XDG_DATA_DIRS and
GIMP_VAE_MODEL_PATH, so the machine's own models play no part.  The
expected registry contents are read from data/models.json with Python's
json module; the expected SHA-256 sums of the shared TAEF2 files come from
hashlib; the small model is tests/data/taesd/taesd.  Parts that need
shared/models/taef2 skip without it, and the run then exits 77 (meson:
SKIP).
"""

import json
import os
import re
import shutil
import tempfile
import unittest

try:
    from PIL import Image
except ImportError:  # pragma: no cover - the chroot has it
    Image = None

from vaetest import HERE, TAEF2, VaeAssertions, have_taef2, main, run_vae, \
    sha256, take_program

take_program()

REGISTRY = os.path.join(HERE, '..', 'data', 'models.json')
TINY = os.path.join(HERE, 'data', 'taesd', 'taesd')


class ModelsTest(VaeAssertions, unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='test-cli-models-')
        self.models = os.path.join(self.tmp, 'models')
        os.makedirs(self.models)
        for name in ('home', 'data', 'sys'):
            os.makedirs(os.path.join(self.tmp, name))
        with open(REGISTRY, encoding='utf-8') as f:
            self.registry = json.load(f)['models']

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_vae(self, *args, cwd=None):
        env = dict(os.environ)
        env.update(HOME=os.path.join(self.tmp, 'home'),
                   XDG_DATA_HOME=os.path.join(self.tmp, 'data'),
                   XDG_DATA_DIRS=os.path.join(self.tmp, 'sys'),
                   GIMP_VAE_MODEL_PATH=self.models)
        return run_vae(*args, env=env, cwd=cwd)

    def install_tiny(self, folder):
        os.makedirs(folder, exist_ok=True)
        for name in ('encoder.safetensors', 'decoder.safetensors'):
            shutil.copy(os.path.join(TINY, name), os.path.join(folder, name))

    def table(self, stdout):
        """ID -> the rest of its table line."""
        rows = {}
        for line in stdout.splitlines()[1:]:
            if not line.strip():
                break
            rows[line.split()[0]] = line
        return rows

    def default_row(self):
        default = next(m['id'] for m in self.registry if m.get('default'))
        return self.table(self.run_vae('models').stdout)[default]

    def embedded_available(self):
        return 'built in' in self.default_row()

    def default_available(self):
        """Built in, or its weights in the source tree's data/models (a
        build configured before they landed)."""
        return not self.default_row().endswith('not installed')

    # --- listing ---------------------------------------------------------

    def test_list(self):
        r = self.run_vae('models')
        self.assert_ok(r)
        self.assertTrue(r.stdout.startswith('ID '))
        rows = self.table(r.stdout)
        self.assertEqual(list(rows), [m['id'] for m in self.registry])
        for m in self.registry:
            row = rows[m['id']]
            self.assertIn(m['name'], row)
            self.assertIn(m['architecture'], row)
            self.assertRegex(row, r'\s%d\s+%d\s' % (m['latent_channels'], m['factor']))
            # the default is marked
            self.assertEqual(row.split()[1] == '*', bool(m.get('default')))
            # the repository's own models are found in its data/models
            shipped = os.path.join(HERE, '..', 'data', 'models', m['id'])
            if m.get('embedded'):
                pass
            elif os.path.isdir(shipped):
                self.assertTrue(row.endswith(os.path.realpath(shipped)), row)
            else:
                self.assertTrue(row.endswith('not installed'), row)
        # the search path is listed, ours first
        self.assertIn('\n  %s\n' % os.path.realpath(self.models), r.stdout)

    def test_list_installed_and_local(self):
        self.install_tiny(os.path.join(self.models, 'taef2'))
        self.install_tiny(os.path.join(self.models, 'mine'))
        r = self.run_vae('models')
        self.assert_ok(r)
        rows = self.table(r.stdout)
        self.assertTrue(rows['taef2'].endswith(os.path.join(os.path.realpath(self.models), 'taef2')))
        self.assertIn('mine', rows)
        self.assertIn('(not in the registry)', rows['mine'])

    def test_usage(self):
        self.assert_error(self.run_vae('models', 'frob'), code=2, pattern='frob')
        self.assert_error(self.run_vae('models', 'verify', 'a', 'b'), code=2)
        self.assert_error(self.run_vae('models', 'verify', 'no-such-id'), code=2,
                          pattern='no-such-id')
        r = self.run_vae('help')
        self.assertRegex(r.stdout, r'(?m)^  models ')

    # --- verify ----------------------------------------------------------

    @unittest.skipUnless(have_taef2(), 'no TAEF2 weights under VAE_SHARED_DIR')
    def test_verify_ok(self):
        shutil.copytree(TAEF2, os.path.join(self.models, 'taef2'))
        entry = next(m for m in self.registry if m['id'] == 'taef2')
        for name in ('encoder.safetensors', 'decoder.safetensors'):
            listed = next(f for f in entry['files'] if f['name'] == name)
            self.assertEqual(listed['sha256'], sha256(os.path.join(TAEF2, name)))
        for args in (['models', 'verify', 'taef2'], ['models', 'verify']):
            r = self.run_vae(*args)
            self.assert_ok(r)
            lines = [l for l in r.stdout.splitlines() if l.startswith('taef2 ')]
            self.assertEqual(len(lines), 2, r.stdout)
            for line in lines:
                self.assertRegex(line, r'^taef2\s+ok\s')

    def test_verify_damaged(self):
        # the fixture's files under taef2's names: other sizes
        self.install_tiny(os.path.join(self.models, 'taef2'))
        for args in (['models', 'verify', 'taef2'], ['models', 'verify']):
            r = self.run_vae(*args)
            self.assert_error(r, code=1, pattern='taef2')
            self.assertRegex(r.stdout, r'(?m)^taef2\s+WRONG SIZE\s.*encoder\.safetensors')

    @unittest.skipUnless(have_taef2(), 'no TAEF2 weights under VAE_SHARED_DIR')
    def test_verify_flipped_byte(self):
        folder = os.path.join(self.models, 'taef2')
        shutil.copytree(TAEF2, folder)
        path = os.path.join(folder, 'decoder.safetensors')
        with open(path, 'r+b') as f:
            f.seek(-10, os.SEEK_END)
            byte = f.read(1)
            f.seek(-10, os.SEEK_END)
            f.write(bytes([byte[0] ^ 0x80]))
        r = self.run_vae('models', 'verify', 'taef2')
        self.assert_error(r, code=1, pattern='decoder.safetensors')
        self.assertRegex(r.stdout, r'(?m)^taef2\s+CORRUPT\s.*decoder\.safetensors')
        self.assertRegex(r.stdout, r'(?m)^taef2\s+ok\s.*encoder\.safetensors')

    def test_verify_missing_half(self):
        folder = os.path.join(self.models, 'taef2')
        self.install_tiny(folder)
        os.unlink(os.path.join(folder, 'decoder.safetensors'))
        r = self.run_vae('models', 'verify', 'taef2')
        self.assert_error(r, code=1)
        self.assertRegex(r.stdout, r'(?m)^taef2\s+MISSING\s.*decoder\.safetensors')

    def test_verify_not_installed(self):
        r = self.run_vae('models', 'verify', 'sdxl-vae')
        self.assert_error(r, code=1, pattern=re.escape(os.path.realpath(self.models)))

    # --- MODEL as an id, a name, or left out ------------------------------

    @unittest.skipUnless(have_taef2(), 'no TAEF2 weights under VAE_SHARED_DIR')
    def test_info_by_id(self):
        shutil.copytree(TAEF2, os.path.join(self.models, 'taef2'))
        r = self.run_vae('info', 'taef2')
        self.assert_ok(r)
        self.assertRegex(r.stdout, r'(?m)^variant\s+taef2$')

    def test_not_installed_id(self):
        entry = next(m for m in self.registry if m['id'] == 'sdxl-vae')
        r = self.run_vae('info', 'sdxl-vae')
        self.assert_error(r, code=1, pattern=re.escape(entry['files'][0]['url']))
        self.assertIn(os.path.realpath(self.models), r.stderr)

    def test_unknown_name(self):
        r = self.run_vae('info', 'no-such-model')
        self.assert_error(r, code=1, pattern='no-such-model')
        self.assertIn('taef2', r.stderr)
        self.assertIn(os.path.realpath(self.models), r.stderr)

    def test_no_model_at_all(self):
        """With nothing in the search path, MODEL left out is the model
        built into libvae; a build without it says where it looked."""
        r = self.run_vae('info')
        if self.embedded_available():
            self.assert_ok(r)
            default = next(m for m in self.registry if m.get('default'))
            self.assertRegex(r.stdout, r'(?m)^variant\s+%s$' % re.escape(default['id']))
        else:
            self.assert_error(r, code=1, pattern='no MODEL given')
            self.assertIn(os.path.realpath(self.models), r.stderr)

    @unittest.skipUnless(Image is not None, 'needs PIL')
    def test_model_left_out(self):
        """`vae roundtrip IMAGE` and `vae roundtrip MODEL IMAGE`: told apart
        by the number of arguments.  Left out is the registry's default
        when it is available, else the first model in the search path."""
        if self.default_available():
            named = next(m['id'] for m in self.registry if m.get('default'))
        else:
            named = 'mine'
            self.install_tiny(os.path.join(self.models, 'mine'))
        image = os.path.join(self.tmp, 'in.png')
        Image.new('RGB', (40, 24), (200, 120, 40)).save(image)
        a = os.path.join(self.tmp, 'a.png')
        b = os.path.join(self.tmp, 'b.png')
        self.assert_ok(self.run_vae('roundtrip', image, '-o', a, '-q'))
        self.assert_ok(self.run_vae('roundtrip', named, image, '-o', b, '-q'))
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            self.assertEqual(fa.read(), fb.read())
        # one argument too many: the image is taken as the model, and the
        # message says so
        r = self.run_vae('roundtrip', image, image, '-q')
        self.assert_error(r, code=1, pattern='looks like an image')

    def test_default_built_in(self):
        """The default's weights are in the repository (data/models), so
        they are compiled in: commands need no MODEL, and a 64x64 latent
        decodes to 1024x1024."""
        self.assertTrue(self.embedded_available(),
                        'this build has no built-in default model: '
                        'data/models/seed-f16 was not compiled in')
        r = self.run_vae('info')
        self.assert_ok(r)
        self.assertRegex(r.stdout, r'(?m)^factor\s+16$')
        self.assertRegex(r.stdout, r'(?m)^  latent\s+32 x 64 x 64 ')
        for model in ('seed-f16-v2', 'seed-f16'):
            r = self.run_vae('models', 'verify', model)
            self.assert_ok(r)
            self.assertRegex(r.stdout, r'(?m)^%s\s+ok\s+resource://' % model)
        # a 1024x1024 image gives a 64x64 latent, which decodes to 1024x1024
        if Image is None:
            self.skipTest('needs PIL for the 1024x1024 round trip')
        image = os.path.join(self.tmp, 'big.png')
        latent = os.path.join(self.tmp, 'big.latent')
        out = os.path.join(self.tmp, 'out.png')
        Image.new('RGB', (1024, 1024), (90, 140, 200)).save(image)
        self.assert_ok(self.run_vae('encode', image, '-o', latent, '-q'))
        with open(latent, 'rb') as f:
            length = int.from_bytes(f.read(8), 'little')
            header = json.loads(f.read(length))
        self.assertEqual(header['latent_tensor']['shape'][-3:], [32, 64, 64])
        self.assert_ok(self.run_vae('decode', latent, '-o', out, '-q'))
        with Image.open(out) as decoded:
            self.assertEqual(decoded.size, (1024, 1024))

    def test_latent_chooses_model(self):
        """Without MODEL, `vae decode` and `vae interpolate` decode a .latent
        with the model that made it (the hash it records), not with the
        default, so that latents of an earlier default keep decoding."""
        self.install_tiny(os.path.join(self.models, 'tiny'))
        if Image is None:
            self.skipTest('needs PIL to write the image')
        image = os.path.join(self.tmp, 'in.png')
        latent = os.path.join(self.tmp, 'in.latent')
        chosen = os.path.join(self.tmp, 'chosen.png')
        named = os.path.join(self.tmp, 'named.png')
        frames = os.path.join(self.tmp, 'frame-%d.png')
        Image.new('RGB', (64, 48), (30, 160, 90)).save(image)
        self.assert_ok(self.run_vae('encode', 'tiny', image, '-o', latent, '-q'))
        self.assert_ok(self.run_vae('decode', latent, '-o', chosen, '-q'))
        self.assert_ok(self.run_vae('decode', 'tiny', latent, '-o', named, '-q'))
        self.assert_ok(self.run_vae('interpolate', latent, latent, '--steps', '2',
                                    '-o', frames, '-q'))
        with open(chosen, 'rb') as f:
            data = f.read()
        for other in (named, frames % 0):
            with open(other, 'rb') as f:
                self.assertEqual(data, f.read(), other)

    def test_first_default_latent(self):
        """A .latent the first default model wrote (before seed-f16-v2,
        tests/data/latent/seed-f16-first.latent) decodes with that model,
        built in, when no model is named; the new default named refuses
        it."""
        latent = os.path.join(HERE, 'data', 'latent', 'seed-f16-first.latent')
        chosen = os.path.join(self.tmp, 'chosen.png')
        named = os.path.join(self.tmp, 'named.png')
        self.assert_ok(self.run_vae('decode', latent, '-o', chosen, '-q'))
        self.assert_ok(self.run_vae('decode', 'seed-f16', latent, '-o', named, '-q'))
        with open(chosen, 'rb') as fa, open(named, 'rb') as fb:
            self.assertEqual(fa.read(), fb.read())
        r = self.run_vae('decode', 'seed-f16-v2', latent, '-o', named, '-q')
        self.assert_error(r, pattern=r'made by another model \(seed-f16, ')


if __name__ == '__main__':
    main('usage: test-cli-models.py PATH/TO/vae')
