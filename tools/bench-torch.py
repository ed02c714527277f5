#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""One PyTorch measurement for tools/bench: TAEF2 encode or decode.

    python3 tools/bench-torch.py MODEL_DIR --size N --op encode|decode
                                 [--threads 2] [--warmup 1] [--repeat 1]

Runs the reference model of tests/taesd_reference.py with the given
weights, float32, under torch.inference_mode, on a random N x N image (or
the matching 32 x N/8 x N/8 latent), and prints `<op> <median seconds>`.
It is run as a subprocess of its own per measurement so that tools/bench
can read this process's peak RSS alone.
"""

import argparse
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))
import taesd_reference as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--size', type=int, required=True)
    ap.add_argument('--op', choices=('encode', 'decode'), required=True)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--repeat', type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    enc, dec = R.load_model_dir(args.model, 'taef2', 64)
    n = args.size
    if args.op == 'encode':
        model = enc
        x = torch.rand((1, 3, n, n), generator=gen)
        del dec
    else:
        model = dec
        x = torch.randn((1, 32, n // 8, n // 8), generator=gen)
        del enc

    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.repeat):
            t0 = time.perf_counter()
            y = model(x)
            t1 = time.perf_counter()
            del y
            if i >= args.warmup:
                times.append(t1 - t0)
    print(f'{args.op} {statistics.median(times):.6f}', flush=True)


if __name__ == '__main__':
    main()
