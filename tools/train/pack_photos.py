#!/usr/bin/env python3
"""Pack the training photos into a compact folder that can travel with the
working tree to a lent GPU machine (where ../shared does not go).

  tools/debian13-env nice -n 10 python3 tools/train/pack_photos.py            # -> runs/photos-pack
  tools/debian13-env python3 tools/train/pack_photos.py --short-side 768 --quality 80 \
      ../shared/data/train_photos ../shared/data/train_seed

Each photo of the folders given (PNG, JPEG; default: shared/data/train_photos
and shared/data/train_seed) is resized with Lanczos (antialiased) so that its
short side is --short-side, never enlarged, and saved as a baseline JPEG with
4:4:4 chroma at --quality, without metadata.  The defaults (short side 640,
quality 82) keep the 178 photos at 19.2 MB (quality 84: 20.7 MB; short side
768: 24.8 MB at quality 80): with the tracked tree at ~40 MB the whole transfer
stays under the device machine's 64 MiB.  A short side of 640
with train.py's random downscale of 0.5-1.0 shows the model scenes 320-640
pixels high, around Kodak's 512; the JPEG error (~40 dB PSNR) is far below the
model's (~28 dB).  The folder also gets:
  manifest.tsv  per photo: packed file, size, sha256; source folder, file,
                size, sha256; author and license from the source folder's
                README.md table where it has one
  pack.json     the settings, Pillow version and totals
  SHA256SUMS    of the packed photos, for `sha256sum -c` after a transfer
The output depends only on the sources, the settings and Pillow's JPEG
encoder.  The Kodak test images are never packed: the Kodak folder is refused,
and so is any source file with the same bytes as a Kodak image.
"""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys

import PIL
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TRAIN_PHOTOS_DIR = os.path.join(common.SHARED, "data", "train_photos")
OWN_FILES = ("manifest.tsv", "pack.json", "SHA256SUMS")
DEVICE_TREE_LIMIT = 64 << 20


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def kodak_hashes():
    """sha256 of each Kodak image, to refuse copies of the test set."""
    return {sha256(open(p, "rb").read()) for p in common.list_pngs(common.KODAK_DIR)}


def clear_out(out):
    """Empties a previous pack in @out; refuses a folder holding anything
    else, so that a mistyped --out cannot delete someone's files."""
    if not os.path.isdir(out):
        os.makedirs(out)
        return
    names = os.listdir(out)
    foreign = [n for n in names if not (n.endswith(".jpg") or n in OWN_FILES)]
    if foreign:
        sys.exit("%s holds files that are not a pack's (%s); choose another --out" % (out, ", ".join(foreign[:5])))
    for n in names:
        os.remove(os.path.join(out, n))


def travel_size(out):
    """Bytes of what the device tool sends: tracked and untracked-not-ignored
    files of the checkout, plus the pack when it is ignored (then it is
    carried; else it is among the untracked files); None outside git."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    try:
        names = subprocess.run(["git", "-C", root, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                               check=True, capture_output=True).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    paths = [os.path.join(root, n.decode()) for n in names if n]
    total = sum(os.path.getsize(p) for p in paths if os.path.isfile(p) and not os.path.islink(p))
    if subprocess.run(["git", "-C", root, "check-ignore", "-q", os.path.abspath(out)]).returncode == 0:
        total += sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", default=[TRAIN_PHOTOS_DIR, common.TRAIN_DIR])
    ap.add_argument("-o", "--out", default="runs/photos-pack")
    ap.add_argument("--short-side", type=int, default=640)
    ap.add_argument("--quality", type=int, default=82)
    args = ap.parse_args()

    kodak_dir = os.path.realpath(common.KODAK_DIR)
    for d in args.folders:
        if os.path.realpath(d) == kodak_dir or os.path.basename(os.path.normpath(d)) == "kodak":
            sys.exit("refusing %s: Kodak is the test set and is never trained on" % d)
    kodak = kodak_hashes()

    sources = []
    for d in args.folders:
        credits = common.photo_credits(d)
        paths = common.list_images(d)
        if not paths:
            sys.exit("no photos in " + d)
        sources += [(d, p, credits.get(os.path.basename(p), {})) for p in paths]
    names = [os.path.splitext(os.path.basename(p))[0] + ".jpg" for _, p, _ in sources]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        sys.exit("two photos would be packed as %s" % ", ".join(clash))

    clear_out(args.out)
    rows, sums, total = [], [], 0
    for (d, p, credit), name in zip(sources, names):
        raw = open(p, "rb").read()
        src_hash = sha256(raw)
        if src_hash in kodak:
            sys.exit("%s is a Kodak image" % p)
        img = Image.open(io.BytesIO(raw)).convert("RGB")
        W, H = img.size
        k = min(1.0, args.short_side / min(W, H))
        w, h = max(1, round(W * k)), max(1, round(H * k))
        if (w, h) != (W, H):
            img = img.resize((w, h), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        # 4:4:4: chroma subsampling would blur the colour edges the model is
        # trained to reproduce; per byte it also measured better than 4:2:0
        # at a higher quality.  optimize: smaller Huffman tables, same pixels.
        img.save(buf, "JPEG", quality=args.quality, subsampling=0, optimize=True)
        data = buf.getvalue()
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        total += len(data)
        sums.append("%s  %s\n" % (sha256(data), name))
        rows.append((name, "%dx%d" % (w, h), len(data), sha256(data), os.path.basename(os.path.normpath(d)),
                     os.path.basename(p), "%dx%d" % (W, H), src_hash, credit.get("author", ""),
                     credit.get("license", "")))

    common.write_tsv(os.path.join(args.out, "manifest.tsv"),
                     ("file", "size", "bytes", "sha256", "source_folder", "source_file", "source_size",
                      "source_sha256", "author", "license"),
                     ("%s", "%s", "%d", "%s", "%s", "%s", "%s", "%s", "%s", "%s"), rows)
    with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    with open(os.path.join(args.out, "pack.json"), "w") as f:
        json.dump({"tool": "gimp-vae tools/train/pack_photos.py", "photos": len(rows), "bytes": total,
                   "short_side": args.short_side, "quality": args.quality, "subsampling": "4:4:4",
                   "resample": "Lanczos (Pillow, antialiased), never enlarged", "pillow": PIL.__version__,
                   "sources": {os.path.basename(os.path.normpath(d)): len(common.list_images(d))
                               for d in args.folders}},
                  f, indent=1, sort_keys=True)
        f.write("\n")

    print("packed %d photos into %s: %.1f MB (short side %d, JPEG quality %d, 4:4:4)"
          % (len(rows), args.out, total / 1e6, args.short_side, args.quality))
    tree = travel_size(args.out)
    if tree is None:
        print("(no git here to size the transfer: on the host, git ls-files -co --exclude-standard | "
              "xargs du -cb | tail -1, plus the pack, must stay under 64 MiB)")
    else:
        print("working tree + pack: %.1f of %d MiB that the device machine accepts"
              % (tree / 2 ** 20, DEVICE_TREE_LIMIT >> 20))
        if tree > DEVICE_TREE_LIMIT:
            sys.exit("too large to travel: lower --short-side or --quality")


if __name__ == "__main__":
    main()
