"""Minimal safetensors reader/writer (the format: 8-byte little-endian header
length N, N bytes of JSON header {name: {dtype, shape, data_offsets},
"__metadata__": {str: str}}, then the raw little-endian tensor data).
Written here because Debian has no python3-safetensors."""

import json
import struct

import numpy as np
import torch

_DTYPES = {"F32": (np.float32, torch.float32), "F16": (np.float16, torch.float16),
           "BF16": (None, torch.bfloat16), "I64": (np.int64, torch.int64), "I32": (np.int32, torch.int32)}
_NAMES = {v[1]: k for k, v in _DTYPES.items()}


def save(tensors, path, metadata=None):
    """tensors: dict name -> torch tensor (written in sorted name order)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _NAMES:
            raise ValueError("unsupported dtype %s for %s" % (t.dtype, name))
        b = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> torch tensor in the stored dtype, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        npdt, tdt = _DTYPES[info["dtype"]]
        raw = data[base + a:base + b]
        if tdt == torch.bfloat16:
            t = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy())
        out[name] = t.reshape(info["shape"])
    return out, meta
