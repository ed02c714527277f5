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

Checkpoints in the layouts real ones have (checkpoint_layouts below), each
holding the same small AutoencoderKL (LDM names, F16), whose plain
safetensors twin is kl-vae.safetensors: test-pth.c decodes both and wants
the same bits.
  sd-v1.ckpt              a Stable Diffusion 1.x checkpoint as
                          latent-diffusion's Lightning saves it: the VAE
                          under state_dict.first_stage_model., the UNet and
                          its LitEma copy (model_ema.), the text encoder with
                          int64 position_ids, schedule buffers, callbacks
                          keyed by Lightning's ModelCheckpoint class, a numpy
                          scalar, optimizer and scheduler states
  vae-ft-ema-pruned.ckpt  a stand-alone VAE as vae-ft-mse-840000-ema-pruned:
                          state_dict (LDM names, LitEma counters) and
                          global_step
  vae-train-ema.ckpt      a VAE training checkpoint before pruning: the
                          trained weights, their LitEma copy (the twin's
                          values), the discriminator, optimizer states; the
                          EMA copy must be the one read
  ddp.pth                 {'model': DataParallel state dict ('module.'),
                          'optimizer': ..., 'epoch': ...}
  legacy-vae.pth          the VAE in torch's legacy (non-zip) format
"""

import collections
import io
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kl_reference as K  # noqa: E402
import taesd_reference as T  # noqa: E402  (safetensors writer)

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
    T.write_safetensors(path, header, blobs)


def flatten(obj, prefix=''):
    """What libvae must produce: floating-point tensors of nested dicts with
    dotted names, in dict order; anything inside lists is not named, and
    integer tensors are read over."""
    out = collections.OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            continue
        name = f'{prefix}{key}'
        if isinstance(value, torch.Tensor):
            if value.is_floating_point():
                out[name] = value
        elif isinstance(value, dict):
            out.update(flatten(value, name + '.'))
    return out


def fix_legacy_keys(path):
    """The legacy format keys storages by their addresses: renumber them
    (same lengths, same order), so that regenerating a file of one storage
    gives the same bytes (with several, their order still follows the
    addresses)."""
    data = open(path, 'rb').read()
    f = io.BytesIO(data)
    for _ in range(4):
        for op, _, _ in pickletools.genops(f):
            if op.name == 'STOP':
                break
    keys = pickle.load(f)
    for i, key in enumerate(keys):
        new = f'{i:0{len(key)}d}'
        assert len(new) == len(key)
        for old_bytes, new_bytes in ((key.encode(), new.encode()),):
            for prefix in (b'X' + struct.pack('<I', len(key)),
                           b'\x8c' + bytes([len(key)])):
                data = data.replace(prefix + old_bytes, prefix + new_bytes)
    with open(path, 'wb') as out:
        out.write(data)


def save(obj, path, **save_args):
    torch.save(obj, path, **save_args)
    if save_args.get('_use_new_zipfile_serialization') is False:
        fix_legacy_keys(path)


def write_good(name, obj, **save_args):
    path = os.path.join(OUT, name)
    save(obj, path, **save_args)
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


# --- checkpoints in the layouts of real ones ----------------------------------

def lightning_checkpoint_class():
    """Lightning 1.4 keyed callback states by the callback's class, so SD
    1.x checkpoints pickle pytorch_lightning...ModelCheckpoint by name; a
    stand-in under that name pickles the same way."""
    names = ['pytorch_lightning', 'pytorch_lightning.callbacks',
             'pytorch_lightning.callbacks.model_checkpoint']
    for name in names:
        sys.modules.setdefault(name, types.ModuleType(name))
    cls = type('ModelCheckpoint', (), {})
    cls.__module__ = names[-1]
    sys.modules[names[-1]].ModelCheckpoint = cls
    return cls


def small_vae(seed):
    """The AutoencoderKL of the layout fixtures: one level of 32 channels,
    LDM names, stored in F16."""
    torch.manual_seed(seed)
    model = K.AutoencoderKL([32], 1, 4, 'outer').eval()
    return collections.OrderedDict(
        (k, v.detach().half()) for k, v in model.state_dict().items())


def lit_ema_name(name):
    return 'model_ema.' + name.replace('.', '')


def checkpoint_layouts(write):
    vae = small_vae(5)
    T.save_safetensors(os.path.join(OUT, 'kl-vae.safetensors'), vae, 'F16')
    g = torch.Generator().manual_seed(6)
    ModelCheckpoint = lightning_checkpoint_class()
    adam = {'lr': 1e-4, 'betas': (0.9, 0.999), 'eps': 1e-08,
            'weight_decay': 0.0, 'amsgrad': False, 'params': [0, 1]}

    # Stable Diffusion 1.x (sd-v1-4.ckpt, v1-5-pruned.ckpt): Lightning's
    # dict around latent-diffusion's state dict
    sd = collections.OrderedDict()
    sd['betas'] = torch.linspace(0.00085, 0.012, 10, dtype=torch.float32)
    sd['alphas_cumprod'] = torch.cumprod(1 - sd['betas'], 0)
    unet = collections.OrderedDict([
        ('diffusion_model.input_blocks.0.0.weight',
         torch.randn(8, 4, 3, 3, generator=g)),
        ('diffusion_model.input_blocks.0.0.bias', torch.randn(8, generator=g)),
        ('diffusion_model.out.2.weight', torch.randn(4, 8, 3, 3, generator=g)),
    ])
    for k, v in unet.items():
        sd['model.' + k] = v
    sd['model_ema.decay'] = torch.tensor(0.9999)
    sd['model_ema.num_updates'] = torch.tensor(470000, dtype=torch.int32)
    for k, v in unet.items():
        sd[lit_ema_name(k)] = v + 0.01
    for k, v in vae.items():
        sd['first_stage_model.' + k] = v
    sd['cond_stage_model.transformer.text_model.embeddings.position_ids'] = \
        torch.arange(77).unsqueeze(0)
    sd['cond_stage_model.transformer.text_model.embeddings.'
       'token_embedding.weight'] = torch.randn(16, 8, generator=g)
    write('sd-v1.ckpt', {
        'epoch': 6,
        'global_step': 470000,
        'pytorch-lightning_version': '1.4.2',
        'state_dict': sd,
        'callbacks': {ModelCheckpoint: {
            'monitor': None, 'best_model_score': np.float64(0.5),
            'best_model_path': '', 'current_score': None,
            'dirpath': '/fsx/stable-diffusion/logs/checkpoints'}},
        'optimizer_states': [{'state': {0: {
            'step': 470000,
            'exp_avg': torch.zeros(8, 4, 3, 3),
            'exp_avg_sq': torch.zeros(8, 4, 3, 3)}}, 'param_groups': [adam]}],
        'lr_schedulers': [{'base_lrs': [0.0001], 'last_epoch': 470000,
                           '_step_count': 470001, '_last_lr': [0.0001]}],
    })

    # vae-ft-mse-840000-ema-pruned.ckpt: the EMA weights under the plain
    # names, LitEma's counters, the step
    ft = collections.OrderedDict(vae)
    ft['model_ema.decay'] = torch.tensor(0.9999)
    ft['model_ema.num_updates'] = torch.tensor(840001, dtype=torch.int32)
    write('vae-ft-ema-pruned.ckpt', {'global_step': 840001,
                                     'state_dict': ft})

    # before pruning: the trained weights and their EMA copy, which is the
    # twin; the discriminator of the loss
    train = collections.OrderedDict()
    for k, v in vae.items():
        train[k] = (v.float() + 0.05 * torch.randn(v.shape, generator=g)).half()
    train['loss.logvar'] = torch.zeros(())
    train['loss.discriminator.main.0.weight'] = torch.randn(8, 3, 4, 4,
                                                            generator=g)
    train['model_ema.decay'] = torch.tensor(0.9999)
    train['model_ema.num_updates'] = torch.tensor(1000, dtype=torch.int32)
    for k, v in vae.items():
        train[lit_ema_name(k)] = v
    write('vae-train-ema.ckpt', {
        'epoch': 3, 'global_step': 1000, 'pytorch-lightning_version': '1.9.4',
        'state_dict': train,
        'optimizer_states': [{'state': {}, 'param_groups': [adam]}],
        'lr_schedulers': [],
    })

    # torch.nn.DataParallel's names inside a training script's own dict
    write('ddp.pth', {
        'model': collections.OrderedDict(('module.' + k, v)
                                         for k, v in vae.items()),
        'optimizer': {'state': {}, 'param_groups': [adam]},
        'epoch': 3,
    })

    write('legacy-vae.pth', vae, _use_new_zipfile_serialization=False)


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

    # integer tensors are read over, as safetensors' are
    write_good('integers.pth', collections.OrderedDict(
        [('w', torch.randn(2, generator=g)), ('ids', torch.arange(3)),
         ('count', torch.tensor(7, dtype=torch.int32)),
         ('mask', torch.tensor([True, False])),
         ('b', torch.randn(3, generator=g).half())]))

    # torch's legacy format (before 1.6), still written on request
    write_good('legacy.pth', small, _use_new_zipfile_serialization=False)
    write_good('legacy-proto4.pth', small, pickle_protocol=4,
               _use_new_zipfile_serialization=False)
    shared = simple_state_dict()
    shared['ids'] = torch.arange(5)
    write_good('legacy-shared.pth', shared,
               _use_new_zipfile_serialization=False)

    # decoded against their twin by test-pth.c: no expected files
    checkpoint_layouts(lambda name, obj, **args:
                       save(obj, os.path.join(OUT, name), **args))

    # --- refused but well formed ---
    legacy = open(os.path.join(OUT, 'legacy-shared.pth'), 'rb').read()

    def damaged_legacy(name, data, code, fragment):
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(data)
        expect(name, code, fragment)

    # where the cut falls depends on the storages' order, which follows
    # their addresses when torch wrote the file
    damaged_legacy('legacy-truncated.pth', legacy[:-100], 'FORMAT',
                   'truncated?')
    f = io.BytesIO(legacy)
    for _ in range(5):      # magic, version, system, object, storage keys
        for op, _, _ in pickletools.genops(f):
            if op.name == 'STOP':
                break
    damaged_legacy('legacy-no-storages.pth', legacy[:f.tell()], 'FORMAT',
                   'the file ends before storage 1 of')
    at = legacy.find(b'little_endianq')
    assert at > 0
    big = bytearray(legacy)
    big[at + len('little_endianq') + 1] = 0x89     # NEWTRUE -> NEWFALSE
    damaged_legacy('legacy-big-endian.pth', bytes(big), 'UNSUPPORTED',
                   'only little-endian checkpoints')

    # what users take for checkpoints: said what it is
    with open(os.path.join(OUT, 'plain-pickle.pth'), 'wb') as f:
        pickle.dump({'w': [1.0, 2.0]}, f, protocol=4)
    expect('plain-pickle.pth', 'UNSUPPORTED',
           'a Python pickle, but not one torch.save wrote')
    with open(os.path.join(OUT, 'model.gguf'), 'wb') as f:
        f.write(b'GGUF\x03\x00\x00\x00' + bytes(24))
    expect('model.gguf', 'UNSUPPORTED', 'a GGUF file')

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
    write_fake('storage-complex.pth',
               fake_pickle({'w': View(Storage('0', 3, 'ComplexFloatStorage'),
                                      0, [3], [1])}), {'0': six})
    expect('storage-complex.pth', 'UNSUPPORTED',
           "global 'torch ComplexFloatStorage'")
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
           "'archive/data.pkl' of 67108867 bytes is over the 16 MiB limit")
    # five million MARKs: the mark stack grew without bound
    write_fake('mark-bomb.pth', b'\x80\x02' + b'(' * 5000000 + b'.', {},
               compression=zipfile.ZIP_DEFLATED)
    expect('mark-bomb.pth', 'FORMAT', 'MARKs nest deeper than 4096')
    # eight million empty dicts, some 300 bytes each
    write_fake('object-bomb.pth', b'\x80\x02' + b'}' * (8 << 20) + b'.', {},
               compression=zipfile.ZIP_DEFLATED)
    expect('object-bomb.pth', 'NO_MEMORY',
           'the pickle would take more than 320 MiB to read')
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
    # a stored entry's CRC is checked when a model reads its tensors
    # (test-pth.c), a deflated one's when it is inflated
    with open(os.path.join(OUT, 'bad-crc.pth'), 'wb') as f:
        f.write(bytes(bad))

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
    bad = bytearray(deflated)
    crc_at = dcd + 16   # the first entry's CRC in the central directory
    bad[crc_at] ^= 0x01
    damaged('deflate-bad-crc.pth', bytes(bad), 'FORMAT', 'CRC mismatch')

    with open(os.path.join(OUT, 'hostile.tsv'), 'w') as f:
        f.write('# file\terror code\tmessage fragment '
                '(written by gen-pth-fixtures.py)\n')
        for row in hostile:
            f.write('\t'.join(row) + '\n')

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'{len(os.listdir(OUT))} files, {total} bytes in {OUT}')


if __name__ == '__main__':
    sys.exit(main())
