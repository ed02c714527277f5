#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the fuzz seed corpora, tests/fuzz/corpus/NAME/, from the test
fixtures (small files only) and a few hand-built safetensors files.
Inputs that once found a bug are kept beside them as found-*.

    tools/debian13-env python3 tests/fuzz/gen-seeds.py

The corpora are committed; rerun when the fixtures change.  corpus/vaez/
is not written here: its seeds are .vaez files made by `vae compress` from
a TAEF2 latent of a 32x24 test image at qualities 10, 75 and 100.
"""

import json
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
OUT = os.path.join(HERE, 'corpus')

# good checkpoints of every layout the reader knows, a few KiB each
PTH_SEEDS = ['simple.pth', 'simple-deflate.pth', 'simple-zip64.pth',
             'proto4.pth', 'module.pth', 'lightning.ckpt', 'legacy.pth',
             'sd-v1.ckpt', 'vae-ft-ema-pruned.ckpt', 'vae-train-ema.ckpt',
             'ddp.pth', 'legacy-proto4.pth', 'legacy-shared.pth']
MAX_SEED = 64 << 10


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, bytes)"""
    header = {}
    data = b''
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {'dtype': dtype, 'shape': shape,
                        'data_offsets': [len(data), len(data) + len(blob)]}
        data += blob
    if metadata:
        header['__metadata__'] = metadata
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + data


def folder(name):
    """Emptied of seeds; inputs kept from findings (found-*) stay."""
    path = os.path.join(OUT, name)
    os.makedirs(path, exist_ok=True)
    for f in os.listdir(path):
        if not f.startswith('found-'):
            os.unlink(os.path.join(path, f))
    return path


def main():
    st = folder('safetensors')
    seeds = {
        'hand.safetensors': safetensors({
            'a': ('F32', [2, 3], struct.pack('<6f', 0, -0.0, 1.5, -2.25,
                                              3.4e38, 1e-40)),
            'b': ('F16', [3], struct.pack('<3H', 0x0001, 0x3c00, 0x7bff)),
            'c': ('BF16', [2], struct.pack('<2H', 0x3f80, 0xc049)),
            'd': ('F64', [1], struct.pack('<d', 0.1)),
            's': ('F32', [], struct.pack('<f', 2.5)),
            'e': ('F32', [0, 3], b''),
        }, {'format': 'pt', 'vae.license': 'CC0'}),
        'integer.safetensors': safetensors({
            'w': ('F16', [2], struct.pack('<2H', 0x3c00, 0xc000)),
            'bn.num_batches_tracked': ('I64', [], struct.pack('<q', 7)),
            'ids': ('I32', [1, 3], struct.pack('<3i', 0, 1, 2)),
            'mask': ('BOOL', [2], b'\x01\x00'),
        }),
        'conv.safetensors': safetensors({
            'encoder.conv_in.weight': ('F16', [2, 3, 1, 1],
                                       struct.pack('<6H', *([0x3c00] * 6))),
            'encoder.conv_in.bias': ('F16', [2], struct.pack('<2H', 0, 0)),
        }, {'vae.config': '{"heads": 4, "ln_eps": 1e-06}'}),
        'empty.safetensors': safetensors({}),
    }
    for name, blob in seeds.items():
        with open(os.path.join(st, name), 'wb') as f:
            f.write(blob)

    latent = folder('latent')
    src = os.path.join(TESTS, 'data', 'latent')
    for name in sorted(os.listdir(src)):
        if name.endswith('.latent'):
            shutil.copy(os.path.join(src, name), latent)

    pth = folder('pth')
    pickle = folder('pickle')
    src = os.path.join(TESTS, 'data', 'pth')
    for name in PTH_SEEDS:
        path = os.path.join(src, name)
        if not os.path.exists(path) or os.path.getsize(path) > MAX_SEED:
            continue
        shutil.copy(path, pth)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                pkl = [n for n in z.namelist() if n.endswith('/data.pkl')][0]
                stem = name.rsplit('.', 1)[0]
                with open(os.path.join(pickle, stem + '.pkl'), 'wb') as f:
                    f.write(z.read(pkl))

    registry = folder('registry')
    shutil.copy(os.path.join(ROOT, 'data', 'models.json'), registry)
    shutil.copy(os.path.join(TESTS, 'data', 'registry', 'models.json'),
                os.path.join(registry, 'fixture.json'))

    for name in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, name))
        size = sum(os.path.getsize(os.path.join(OUT, name, f)) for f in files)
        print(f'{name:12s} {len(files):3d} files {size:7d} bytes')


if __name__ == '__main__':
    main()
