#!/usr/bin/env python3
"""Self-check: the training module (seedf16.py) and the functional reference
(reference.py, written from docs/seed-f16.md) agree, with every weight random
(so the learned branches are active), at a non-square size, through an F32
export.  Also checks the analytic MAC count against torch's flop counter for
everything except attention (which the counter does not see on CPU).

  tools/debian13-env python3 tools/train/test_reference.py
"""

import os
import sys
import tempfile

try:
    import torch
except ImportError:
    print("skipped: no PyTorch")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import SeedF16, SeedF16Config, load_grown, macs  # noqa: E402


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = SeedF16Config()
    m = SeedF16(cfg).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.normal_(0, 0.05 if p.dim() > 1 else 0.02)
            if "norm" in name and name.endswith("weight"):
                p.add_(1.0)
    x = torch.rand(1, 3, 96, 160)
    with torch.no_grad():
        z = m.encode(x)
        y = m.decode(z)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.safetensors")
        safetensors_io.save(dict(m.state_dict()), path,
                            {"vae.architecture": "seed-f16", "vae.config": cfg.to_json()})
        r = reference.SeedF16Reference(path)
        with torch.no_grad():
            zr = r.encode(x)
            yr = r.decode(z)
    ez = (zr - z).abs().max().item() / z.abs().max().item()
    ey = (yr - y).abs().max().item() / y.abs().max().item()
    print("latent %s max rel diff %.2e; image %s max rel diff %.2e" % (list(z.shape), ez, list(y.shape), ey))
    ok = ez < 1e-5 and ey < 1e-5

    # growth: two appended identity blocks leave every output bit alone
    big = SeedF16(SeedF16Config(depth=cfg.depth + 2)).eval()
    grown = load_grown(big, m.state_dict())
    with torch.no_grad():
        yg = big.decode(z)
    print("grown by %d blocks: image max abs diff %.2e" % (grown, (yg - y).abs().max().item()))
    ok = ok and grown == 2 and torch.equal(yg, y)

    from torch.utils.flop_counter import FlopCounterMode
    H, W = 256, 384
    mc = macs(cfg, H, W)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        zz = m.encode(torch.rand(1, 3, H, W))
    enc = fc.get_total_flops() / 2
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m.decode(zz)
    dec = fc.get_total_flops() / 2
    dec_expect = mc["decoder"]["total"] - mc["decoder"]["blocks_attention"]
    print("MACs encoder %d (analytic %d), decoder w/o attention %d (analytic %d)"
          % (enc, mc["encoder"]["total"], dec, dec_expect))
    ok = ok and enc == mc["encoder"]["total"] and dec == dec_expect
    print("OK" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
