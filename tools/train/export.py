#!/usr/bin/env python3
"""Export a trained seed-f16 checkpoint to one safetensors file.

  tools/debian13-env python3 tools/train/export.py runs/main/final.pt \
      -o data/models/seed-f16/seed-f16.safetensors --kodak-eval

Takes the EMA weights of final.pt / ema-*.pt / ckpt.pt (--raw: the raw
weights of ckpt.pt).  Tensor names are the PyTorch state_dict names listed in
docs/seed-f16.md.  Metadata (all strings): vae.architecture, vae.config (JSON),
vae.id, vae.name, vae.latent_channels, vae.factor, vae.latent_scale,
vae.latent_shift, vae.license, vae.training (JSON summary),
vae.training_data (JSON: photos and their licenses), and with --kodak-eval
vae.eval_kodak (JSON: mean PSNR/SSIM of the exported weights, measured with
reference.py after the export).
"""

import argparse
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import safetensors_io  # noqa: E402
from seedf16 import ARCHITECTURE, SeedF16Config  # noqa: E402

WEIGHTS_LICENSE = "CC0-1.0"


def packed_photos(train_dir):
    """name -> {"author", "license", "source"}, and pack.json, of a folder
    written by pack_photos.py (None, None for any other folder)."""
    path = os.path.join(train_dir, "manifest.tsv")
    if not os.path.exists(path):
        return None, None
    rows = [l.rstrip("\n").split("\t") for l in open(path, encoding="utf-8")]
    col = {h: i for i, h in enumerate(rows[0])}
    credits = {r[col["file"]]: {"author": r[col["author"]],
                                "license": r[col["license"]] or "see %s/README.md" % r[col["source_folder"]],
                                "source": "%s/%s" % (r[col["source_folder"]], r[col["source_file"]])}
               for r in rows[1:]}
    return credits, json.load(open(os.path.join(train_dir, "pack.json")))


def photo_table(train):
    """name -> {"author", "license", "source"} of the training photos in
    the folders @train (comma-separated): a pack_photos.py manifest, else
    the tables of each folder's README.md (train_seed, train_photos)."""
    out = {}
    for folder in train.split(","):
        packed, _ = packed_photos(folder)
        out.update(packed if packed is not None else common.photo_credits(folder))
    return out


def write_credits(path, model_id, files, table):
    """The training photos' credits as Markdown, for the model's folder:
    CC BY and CC BY-SA ask that authors and licenses be named."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Training photos of %s\n\n" % model_id)
        f.write("The weights were trained on these %d photos, downscaled and re-encoded from the\n"
                "sources named (not distributed with the weights). Per-file evidence of each license\n"
                "is in the README of the shared data folders they came from.\n\n" % len(files))
        f.write("| file | author | license | source |\n|---|---|---|---|\n")
        for name in sorted(files):
            row = table.get(name, {})
            f.write("| %s | %s | %s | %s |\n" % (name, row.get("author", "?"), row.get("license", "?"),
                                                   row.get("source", "?")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--dtype", choices=["f16", "f32"], default="f16")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--train", default=common.TRAIN_DIR,
                    help="the training photos' folders, comma-separated, for their licenses (README.md or "
                    "pack_photos.py manifest)")
    ap.add_argument("--credits", help="also write the training photos' credits (Markdown) to this file")
    ap.add_argument("--id", default="seed-f16", help="vae.id: a model trained further needs its own")
    ap.add_argument("--name", help="vae.name (default: the id's)")
    ap.add_argument("--kodak-eval", action="store_true",
                    help="evaluate the exported file on all Kodak images and store the result in the metadata")
    ap.add_argument("--threads", type=int, default=1, help="threads of the --kodak-eval run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    st = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    sd = st["model"] if args.raw else st["ema"]
    cfg = SeedF16Config.from_json(st["config"])
    dt = torch.float16 if args.dtype == "f16" else torch.float32
    tensors = {k: v.to(dt) for k, v in sd.items()}

    targs = st.get("args", {})
    files = st.get("train_files", [])
    table = photo_table(args.train)
    lic = {f: row["license"] for f, row in table.items()}
    training = {
        "steps": st.get("step"),
        "wall_minutes": round(st.get("elapsed", 0) / 60, 1),
        "weights": "raw" if args.raw else "EMA %s" % targs.get("ema"),
        "seed": targs.get("seed"),
        "init": targs.get("init_note") or
                "whitened PCA of 16x16x3 patches of the training photos (closed form) in the linear shortcuts; "
                "learned branches zero at init",
        "data": "random crops %d^2 x %d (p=%.2f: %d crop(s) of %d^2), scale %.2f-%.2f antialiased bicubic, h-flip"
                % (targs.get("crop", 0), targs.get("batch", 0), targs.get("big_prob", 0), targs.get("big_batch", 1),
                   targs.get("big_crop", 0), targs.get("scale_min", 0), targs.get("scale_max", 0)),
        "loss": "%g*L1 + %g*MSE + %g*(1-SSIM 11x11 gauss 1.5) + %g*mean(z^2) + %g*L1(horizontal and vertical "
                "pixel differences)"
                % (targs.get("l1", 0), targs.get("mse", 0), targs.get("ssim", 0), targs.get("latent_l2", 0),
                   targs.get("grad", 0)),
        "optimizer": "AdamW lr %g (shortcuts x%g), betas (0.9,0.99), wd %g, warmup %d, cosine to 0 over %g min, clip %g"
                     % (targs.get("lr", 0), targs.get("lr_pca_mult", 0), targs.get("wd", 0), targs.get("warmup", 0),
                        targs.get("budget_min", 0), targs.get("clip", 0)),
        "hardware": targs.get("hardware") or "CPU, %d thread(s), float32" % targs.get("threads", 1),
        "tool": "gimp-vae tools/train/train.py",
    }
    training_data = {
        "set": "gimp-vae shared/data/train_seed (21 openly licensed photos, short side 1024; not distributed with the weights)",
        "photos": [{"file": f, "license": lic.get(f, "see train_seed/README.md")} for f in files],
    }
    photo_note = "The training photos are CC0-1.0, Unsplash License, Pexels License or US public domain (NASA)"
    _, pack = packed_photos(args.train)
    if pack:
        training_data["set"] = ("gimp-vae shared/data %s, packed by tools/train/pack_photos.py (%d openly licensed photos, "
                                "short side %d, JPEG quality %d; not distributed with the weights)"
                                % (" + ".join(sorted(pack["sources"])), pack["photos"], pack["short_side"],
                                   pack["quality"]))
    elif "," in args.train:
        training_data["set"] = ("gimp-vae shared/data %s (%d openly licensed photos, short side 1024; not "
                                "distributed with the weights)"
                                % (" + ".join(os.path.basename(os.path.normpath(d)) for d in args.train.split(",")),
                                   len(files)))
    if pack or "," in args.train:
        photo_note = "The training photos' licenses are: " + " / ".join(sorted(set(lic.get(f, "?") for f in files)))
    meta = {
        "vae.architecture": ARCHITECTURE,
        "vae.config": cfg.to_json(),
        "vae.id": args.id,
        "vae.name": args.name or ("seed-f16 (gimp-vae default model)" if args.id == "seed-f16" else args.id),
        "vae.latent_channels": str(cfg.latent_channels),
        "vae.factor": "16",
        "vae.latent_scale": "1.0",
        "vae.latent_shift": "0.0",
        "vae.license": WEIGHTS_LICENSE,
        "vae.license_note": "The weights were trained by the gimp-vae project and are dedicated to the public domain "
                            "under CC0-1.0. %s; none of them is contained in or recoverable from the file." % photo_note,
        "vae.training": json.dumps(training, sort_keys=True),
        "vae.training_data": json.dumps(training_data, sort_keys=True),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    safetensors_io.save(tensors, args.out, meta)

    if args.kodak_eval:
        import reference
        m = reference.SeedF16Reference(args.out)
        ps, ss, per = [], [], {}
        with torch.no_grad():
            for p in common.list_pngs(common.KODAK_DIR):
                ref = common.load_rgb_u8(p)
                y = common.to_u8(m.decode(m.encode(ref.float()[None] / 255.0))[0])
                ps.append(common.psnr_u8(ref, y))
                ss.append(common.ssim_u8(ref, y))
                # per image, so that the C engine's parity test can compare image by image
                per[os.path.basename(p)[:-4]] = {"psnr_db": round(ps[-1], 4), "ssim": round(ss[-1], 5)}
        ev = {"images": len(ps), "psnr_db": round(sum(ps) / len(ps), 3), "ssim": round(sum(ss) / len(ss), 4),
              "per_image": per,
              "metric": "8-bit RGB, clamped+rounded; SSIM 11x11 Gaussian sigma 1.5, valid region, RGB mean",
              "weights": args.dtype.upper()}
        meta["vae.eval_kodak"] = json.dumps(ev, sort_keys=True)
        safetensors_io.save(tensors, args.out, meta)
        print("Kodak: %s" % meta["vae.eval_kodak"])

    if args.credits:
        write_credits(args.credits, args.id, files, table)

    h = hashlib.sha256(open(args.out, "rb").read()).hexdigest()
    n = sum(t.numel() for t in tensors.values())
    print("wrote %s: %d tensors, %d parameters, %s, %d bytes, sha256 %s"
          % (args.out, len(tensors), n, args.dtype.upper(), os.path.getsize(args.out), h))


if __name__ == "__main__":
    main()
