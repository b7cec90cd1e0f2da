"""A packed split against the PNG folder it replaces: load time and DVC hash time, side by side in one run.

    python bench/packed_load.py [--train-size 10000] [--out reports/bench/packed_load.json]

Renders one embedded benchmark (packed), exports it as an LfF PNG tree, then times (best of 3):
decoding the 1 % train split from PNGs vs loading its packed file, and DVC's hashing of the PNG tree
vs the packed folder (DVC's own hashing, ``dvc_data.hashfile.build``, into a fresh object store).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from diffubias.benchmarks import BENCHMARKS, write_benchmark
from diffubias.data import load_split, load_vocabulary
from diffubias.layouts import decode_images, export_lff, scan_tree


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _dvc_hash_seconds(path: Path) -> float:
    """Wall time of DVC's own content hashing of ``path`` (no cache reuse: a fresh state each time)."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    def run() -> None:
        with tempfile.TemporaryDirectory() as odb_dir:
            build(HashFileDB(LocalFileSystem(), odb_dir), str(path), LocalFileSystem(), "md5")

    return _best(run)


def main() -> None:
    """Run the comparison and write its JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--out", type=Path, default=Path("reports/bench/packed_load.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        packed, tree = Path(tmp) / "colour", Path(tmp) / "colour_png"
        write_benchmark(BENCHMARKS["colour"], packed, seed=0, image_size=32, train_size=args.train_size,
                        ratios=("1",), valid_per_group=10, test_per_group=30, noise_std=6.0, workers=2)
        export_lff(packed, tree)
        vocab = load_vocabulary(packed)
        paths, _, _ = scan_tree(tree, "train", "1", vocab)
        png_s = _best(lambda: decode_images(scan_tree(tree, "train", "1", vocab)[0], 32, workers=2))
        packed_s = _best(lambda: load_split(packed, "train", "1", 32, vocab))
        result = {
            "train_images": len(paths),
            "load_png_s": round(png_s, 4), "load_packed_s": round(packed_s, 4),
            "load_speedup": round(png_s / packed_s, 1),
            "files_png_tree": sum(1 for p in tree.rglob("*") if p.is_file()),
            "files_packed": sum(1 for p in packed.rglob("*") if p.is_file()),
            "dvc_hash_png_tree_s": round(_dvc_hash_seconds(tree), 4),
            "dvc_hash_packed_s": round(_dvc_hash_seconds(packed), 4),
        }
        result["dvc_hash_speedup"] = round(result["dvc_hash_png_tree_s"] / result["dvc_hash_packed_s"], 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
