# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes tests/data/pth/: small PyTorch checkpoints for tests/test-pth.c.

Run in the Debian 13 chroot (python3-torch 2.6):
    tools/debian13-env python3 tests/gen-pth-fixtures.py

Good files are written by torch.save itself; each NAME.pth comes with
NAME.expected.safetensors (written by save_safetensors below, not by libvae)
holding every tensor the loader must produce, in order, as contiguous F32,
with the dtype torch stored it in as metadata "dtype:<name>".

Hostile files are real zip archives around pickles made by Python's own
pickler (with stand-in objects that reduce to torch's rebuild functions) or
written opcode by opcode, and damaged copies of a good file.  Each hostile
file is listed in hostile.tsv with the error code and a fragment of the
message test-pth.c expects.
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'pth')

DTYPE_NAMES = {torch.float32: 'F32', torch.float16: 'F16',
               torch.bfloat16: 'BF16', torch.float64: 'F64'}


def save_safetensors(path, tensors, metadata):
    """Contiguous little-endian F32 for every tensor, in the given order."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def flatten(obj, prefix=''):
    """What libvae must produce: tensors of nested dicts with dotted names,
    in dict order; anything inside lists is not named."""
    out = collections.OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            continue
        name = f'{prefix}{key}'
        if isinstance(value, torch.Tensor):
            out[name] = value
        elif isinstance(value, dict):
            out.update(flatten(value, name + '.'))
    return out


def write_good(name, obj, **save_args):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **save_args)
    expected = flatten(obj)
    metadata = {f'dtype:{k}': DTYPE_NAMES[v.dtype] for k, v in expected.items()}
    stem = name.rsplit('.', 1)[0]
    save_safetensors(os.path.join(OUT, stem + '.expected.safetensors'),
                     expected, metadata)
    return path


def from_bits(bits, dtype):
    return torch.tensor(bits, dtype=torch.int16).view(dtype)


def simple_state_dict():
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict()
    sd['conv.weight'] = torch.randn(4, 3, 3, 3, generator=g)
    sd['conv.bias'] = torch.randn(4, generator=g)
    # binary16: smallest and largest subnormal, smallest normal, +-inf, -0,
    # 1, the largest finite, a value that is not a multiple of 2^-10
    sd['half.special'] = from_bits([0x0001, 0x03ff, 0x0400, 0x7c00, -0x0400,
                                    -0x8000, 0x3c00, 0x7bff, 0x3555],
                                   torch.float16)
    sd['half.weight'] = torch.randn(2, 3, 2, 2, generator=g).half()
    # bfloat16: a subnormal (2^-133), -0, -inf, pi rounded
    sd['bf16.special'] = from_bits([0x0001, -0x8000, -0x0080, 0x4049],
                                   torch.bfloat16)
    sd['bf16.weight'] = torch.randn(3, 5, generator=g).bfloat16()
    base = torch.randn(4, 6, generator=g)
    sd['view.strided'] = base[:, 1:5:2]         # stride (6, 2), offset 1
    sd['view.transposed'] = torch.randn(3, 5, generator=g).t()
    sd['view.offset'] = torch.randn(10, generator=g)[3:7]
    tied = torch.randn(2, 3, generator=g)
    sd['tied.a'] = tied
    sd['tied.b'] = tied                          # the same tensor twice
    sd['tied.row'] = tied[1]                     # a view of its storage
    sd['scalar'] = torch.tensor(2.5)
    sd['param'] = torch.nn.Parameter(torch.randn(3, generator=g))
    sd['empty'] = torch.zeros(0, 3)
    sd['double'] = torch.tensor([0.1, -1e300, 3.0], dtype=torch.float64)
    sd['expanded'] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride 0
    return sd


def rezip(src, dst, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(src) as zin, \
         zipfile.ZipFile(dst, 'w', compression=compression) as zout:
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename,
                                  date_time=(2026, 1, 1, 0, 0, 0))
            out.compress_type = compression
            zout.writestr(out, zin.read(info.filename))


def rezip64(src, dst):
    """The same entries with every Zip64 field in use, as a checkpoint over
    4 GiB would have them: zipfile switches on its limits, so lower them."""
    limits = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        rezip(src, dst, zipfile.ZIP_STORED)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limits
    # zipfile still writes the true counts in the classic end record where
    # they fit; a big archive cannot, so saturate them to force the reader
    # through the Zip64 end record.
    data = bytearray(open(dst, 'rb').read())
    end = data.rfind(b'PK\x05\x06')
    assert data.find(b'PK\x06\x06') >= 0
    data[end + 8:end + 20] = struct.pack('<HHII', 0xffff, 0xffff,
                                         0xffffffff, 0xffffffff)
    with open(dst, 'wb') as f:
        f.write(data)
    with zipfile.ZipFile(dst) as z:
        assert z.testzip() is None


# --- hostile pickles -------------------------------------------------------

class Storage:
    def __init__(self, key, numel, kind='FloatStorage'):
        self.key, self.numel, self.kind = key, numel, kind


class View:
    """Pickles as torch's _rebuild_tensor_v2 call with any numbers."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', getattr(torch, obj.kind), obj.key, 'cpu',
                    obj.numel)
        return None


def fake_pickle(obj):
    f = io.BytesIO()
    Pickler(f, protocol=2).dump(obj)
    return f.getvalue()


def write_zip(name, entries, archive='archive', compression=zipfile.ZIP_STORED):
    """A fixed date, so that regenerating gives the same bytes."""
    with zipfile.ZipFile(os.path.join(OUT, name), 'w') as z:
        for entry, data in entries:
            info = zipfile.ZipInfo(f'{archive}/{entry}',
                                   date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            z.writestr(info, data)


def write_fake(name, pkl, storages, byteorder=b'little',
               compression=zipfile.ZIP_STORED):
    entries = [('data.pkl', pkl), ('byteorder', byteorder)]
    entries += [(f'data/{k}', v) for k, v in storages.items()]
    write_zip(name, entries, compression=compression)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    torch.manual_seed(0)  # the modules' own initialisation
    hostile = []

    def expect(name, code, fragment):
        hostile.append((name, code, fragment))

    # --- good files ---
    simple = write_good('simple.pth', simple_state_dict())
    rezip(simple, os.path.join(OUT, 'simple-deflate.pth'))
    rezip64(simple, os.path.join(OUT, 'simple-zip64.pth'))

    g = torch.Generator().manual_seed(2)
    lightning = {
        'epoch': 3,
        'global_step': 1000,
        'pytorch-lightning_version': '1.9.4',
        'state_dict': collections.OrderedDict([
            ('first_stage_model.encoder.conv_in.weight',
             torch.randn(4, 3, 3, 3, generator=g).half()),
            ('first_stage_model.encoder.conv_in.bias',
             torch.randn(4, generator=g).half()),
            ('model.diffusion_model.time_embed.0.weight',
             torch.randn(2, 2, generator=g)),
        ]),
        'hyper_parameters': {'lr': 1e-4, 'use_ema': True, 'ckpt_path': None,
                             'betas': [0.9, 0.999], 'big': 2 ** 40,
                             'negative': -7},
        'optimizer_states': [{'state': {0: {'exp_avg': torch.ones(2)}}}],
        'ema': {0: torch.randn(2, generator=g)},
    }
    write_good('lightning.ckpt', lightning)

    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                 torch.nn.GroupNorm(2, 4),
                                 torch.nn.Conv2d(4, 2, 1))
    write_good('module.pth', module.state_dict())

    small = collections.OrderedDict(
        [('a', torch.randn(2, 3, generator=g)),
         ('b', torch.randn(4, generator=g).half())])
    write_good('proto4.pth', small, pickle_protocol=4)

    # --- refused but well formed ---
    torch.save(small, os.path.join(OUT, 'legacy.pth'),
               _use_new_zipfile_serialization=False)
    expect('legacy.pth', 'UNSUPPORTED', 'legacy format')

    torch.save(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1)),
               os.path.join(OUT, 'full-model.pth'))
    expect('full-model.pth', 'UNSUPPORTED',
           "global 'torch.nn.modules.container Sequential' is not allowed")

    torch.save(torch.ones(3), os.path.join(OUT, 'bare-tensor.pth'))
    expect('bare-tensor.pth', 'FORMAT', 'holds a tensor, not a dict')

    torch.save({'w': torch.zeros(1, 1, 1, 1, 2)},
               os.path.join(OUT, 'five-dims.pth'))
    expect('five-dims.pth', 'UNSUPPORTED', "tensor 'w' has 5 dimensions")

    # --- code execution attempts ---
    # Hand-written: GLOBAL 'os system', the argument, TUPLE1, REDUCE, STOP.
    cmd = b'echo pwned'
    write_fake('evil-os-system.pth',
               b'\x80\x02cos\nsystem\nq\x00X' + struct.pack('<I', len(cmd)) +
               cmd + b'\x85R.', {})
    expect('evil-os-system.pth', 'UNSUPPORTED', "global 'os system'")
    code = b"__import__('os').system('echo pwned')"
    write_fake('evil-eval.pth',
               b'\x80\x02cbuiltins\neval\nX' + struct.pack('<I', len(code)) +
               code + b'\x85R.', {})
    expect('evil-eval.pth', 'UNSUPPORTED', "global 'builtins eval'")

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))
    write_fake('evil-reduce.pth',
               pickle.dumps(collections.OrderedDict(w=Evil()), protocol=2),
               {})
    expect('evil-reduce.pth', 'UNSUPPORTED', "global 'posix system'")
    # protocol 0 INST: builds an object without REDUCE
    write_fake('evil-inst.pth', b'(S\'echo pwned\'\nios\nsystem\n.', {})
    expect('evil-inst.pth', 'UNSUPPORTED', 'opcode STRING')
    write_fake('evil-inst2.pth', b'\x80\x02(ios\nsystem\n.', {})
    expect('evil-inst2.pth', 'UNSUPPORTED', 'opcode INST')
    # STACK_GLOBAL with a name built on the stack
    write_fake('evil-stack-global.pth',
               b'\x80\x04\x8c\x08builtins\x8c\x04exec\x93.', {})
    expect('evil-stack-global.pth', 'UNSUPPORTED', "global 'builtins exec'")

    # --- hostile sizes ---
    six = struct.pack('<6f', *range(6))
    s = Storage('0', 6)
    write_fake('huge-size.pth',
               fake_pickle({'w': View(s, 0, [2 ** 40, 2 ** 40], [1, 1])}),
               {'0': six})
    expect('huge-size.pth', 'FORMAT',
           "tensor 'w': size [1099511627776, 1099511627776] overflows")
    write_fake('huge-view.pth',
               fake_pickle({'w': View(s, 0, [1000000], [1])}), {'0': six})
    expect('huge-view.pth', 'FORMAT',
           "tensor 'w': view (offset 0, size [1000000], stride [1]) "
           "reaches past the end of its storage '0' of 6 elements")
    write_fake('offset-beyond.pth',
               fake_pickle({'w': View(s, 100, [2], [1])}), {'0': six})
    expect('offset-beyond.pth', 'FORMAT', "tensor 'w': view (offset 100")
    write_fake('stride-beyond.pth',
               fake_pickle({'w': View(s, 0, [2, 3], [4, 1])}), {'0': six})
    expect('stride-beyond.pth', 'FORMAT',
           'size [2, 3], stride [4, 1]) reaches past the end')
    write_fake('stride-bomb.pth',
               fake_pickle({'w': View(s, 0, [1 << 20, 1 << 10], [0, 0])}),
               {'0': six})
    expect('stride-bomb.pth', 'NO_MEMORY', 'refusing to copy')
    write_fake('storage-short.pth',
               fake_pickle({'w': View(Storage('0', 600), 0, [6], [1])}),
               {'0': six})
    expect('storage-short.pth', 'FORMAT', 'holds 24 bytes, too few')
    write_fake('storage-missing.pth',
               fake_pickle({'w': View(Storage('7', 6), 0, [6], [1])}),
               {'0': six})
    expect('storage-missing.pth', 'FORMAT', "storage 'archive/data/7'")
    write_fake('storage-int64.pth',
               fake_pickle({'w': View(Storage('0', 3, 'LongStorage'), 0, [3],
                                      [1])}), {'0': six})
    expect('storage-int64.pth', 'UNSUPPORTED', "global 'torch LongStorage'")
    write_fake('big-endian.pth',
               fake_pickle({'w': View(s, 0, [6], [1])}), {'0': six},
               byteorder=b'big')
    expect('big-endian.pth', 'UNSUPPORTED', 'little-endian')
    write_fake('no-stop.pth', fake_pickle({'w': View(s, 0, [6], [1])})[:-1],
               {'0': six})
    expect('no-stop.pth', 'FORMAT', 'without STOP')
    # --- small files that would take gigabytes (each checked before any
    # allocation; the numbers are those of the hostile files found) ---
    # 8 GiB of floats from a stride-0 view, allowed by a decoy storage that
    # claims 2^31 elements and holds 4 bytes
    write_fake('decoy-storage.pth',
               fake_pickle(collections.OrderedDict([
                   ('big', View(s, 0, [1 << 31], [0])),
                   ('decoy', View(Storage('1', 1 << 31), 0, [1], [1]))])),
               {'0': six, '1': struct.pack('<f', 1.0)})
    expect('decoy-storage.pth', 'FORMAT',
           "storage '1' holds 4 bytes, too few for 2147483648 F32 elements")
    # a pickle inflating to 64 MiB (the finding: 1 GiB from 1 MiB)
    write_fake('pickle-bomb.pth', b'\x80\x02' + b'(' * (64 << 20) + b'.',
               {}, compression=zipfile.ZIP_DEFLATED)
    expect('pickle-bomb.pth', 'NO_MEMORY',
           "'archive/data.pkl' of 67108867 bytes is over the 32 MiB limit")
    # five million MARKs: the mark stack grew without bound
    write_fake('mark-bomb.pth', b'\x80\x02' + b'(' * 5000000 + b'.', {},
               compression=zipfile.ZIP_DEFLATED)
    expect('mark-bomb.pth', 'FORMAT', 'MARKs nest deeper than 4096')
    # eight million empty dicts, some 300 bytes each
    write_fake('object-bomb.pth', b'\x80\x02' + b'}' * (8 << 20) + b'.', {},
               compression=zipfile.ZIP_DEFLATED)
    expect('object-bomb.pth', 'NO_MEMORY',
           'the pickle would take more than 256 MiB to read')
    # two million pushes of one memoised object: no objects, a long stack
    write_fake('stack-bomb.pth',
               b'\x80\x02Nq\x00' + b'h\x00' * 2000000 + b'.', {},
               compression=zipfile.ZIP_DEFLATED)
    expect('stack-bomb.pth', 'NO_MEMORY',
           'the pickle stack grows past 1048576 entries')

    write_zip('not-a-checkpoint.zip', [('hello.txt', b'hello')], archive='x')
    expect('not-a-checkpoint.zip', 'FORMAT', 'not a PyTorch checkpoint')

    # --- damaged archives ---
    good = open(simple, 'rb').read()
    end = good.rfind(b'PK\x05\x06')
    cd_offset = struct.unpack('<I', good[end + 16:end + 20])[0]

    def damaged(name, data, code, fragment):
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(data)
        expect(name, code, fragment)

    damaged('truncated.pth', good[:len(good) * 3 // 5], 'FORMAT',
            'no zip end of central directory')
    damaged('truncated-tail.pth', good[:-1], 'FORMAT',
            'no zip end of central directory')
    bad = bytearray(good)
    bad[end + 16:end + 20] = struct.pack('<I', len(good))
    damaged('bad-cd-offset.pth', bytes(bad), 'FORMAT',
            'central directory')
    bad = bytearray(good)
    bad[cd_offset + 28:cd_offset + 30] = struct.pack('<H', 60000)
    damaged('bad-cd-entry.pth', bytes(bad), 'FORMAT', 'runs past the directory')
    bad = bytearray(good)
    bad[cd_offset + 42:cd_offset + 46] = struct.pack('<I', cd_offset - 40)
    damaged('bad-local-offset.pth', bytes(bad), 'FORMAT', 'no local header')
    bad = bytearray(good)
    bad[cd_offset + 8:cd_offset + 10] = struct.pack('<H', 0x0809)
    damaged('encrypted.pth', bytes(bad), 'UNSUPPORTED', 'encrypted')
    bad = bytearray(good)
    bad[cd_offset + 10:cd_offset + 12] = struct.pack('<H', 12)
    damaged('bzip2.pth', bytes(bad), 'UNSUPPORTED', 'compression method 12')
    # a byte of the first storage: only the CRC can tell
    with zipfile.ZipFile(simple) as z:
        info = [i for i in z.infolist() if i.filename.endswith('/data/0')][0]
    local = info.header_offset
    name_len, extra_len = struct.unpack('<HH', good[local + 26:local + 30])
    bad = bytearray(good)
    bad[local + 30 + name_len + extra_len + 5] ^= 0x40
    damaged('bad-crc.pth', bytes(bad), 'FORMAT', 'CRC mismatch')

    deflated = open(os.path.join(OUT, 'simple-deflate.pth'), 'rb').read()
    dend = deflated.rfind(b'PK\x05\x06')
    dcd = struct.unpack('<I', deflated[dend + 16:dend + 20])[0]
    bad = bytearray(deflated)
    bad[dcd + 24:dcd + 28] = struct.pack('<I', 0x7fffffff)
    damaged('deflate-bomb.pth', bytes(bad), 'FORMAT', 'claims 2147483647')
    bad = bytearray(deflated)
    bad[dcd + 24:dcd + 28] = struct.pack(
        '<I', struct.unpack('<I', deflated[dcd + 24:dcd + 28])[0] + 1)
    damaged('deflate-short.pth', bytes(bad), 'FORMAT', 'does not inflate')

    with open(os.path.join(OUT, 'hostile.tsv'), 'w') as f:
        f.write('# file\terror code\tmessage fragment '
                '(written by gen-pth-fixtures.py)\n')
        for row in hostile:
            f.write('\t'.join(row) + '\n')

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'{len(os.listdir(OUT))} files, {total} bytes in {OUT}')


if __name__ == '__main__':
    sys.exit(main())
