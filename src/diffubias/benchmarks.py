"""Embedded biased benchmarks rendered from the world and written in the LfF layout.

``colour``: class = shape, bias = the object's colour, plain dark background (like Colored MNIST).
``background``: class = shape, bias = background texture, random object colour (like BAR/Waterbirds).
In both, the bias value aligned with class *c* is *c* (the LfF convention: aligned ⇔ class == bias).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from diffubias import world
from diffubias.errors import RegistryError


@dataclass(frozen=True)
class BenchmarkSpec:
    """How a benchmark maps (class, bias) onto a world scene."""

    name: str
    bias_kind: str  # "colour" or "background"
    bias_names: tuple[str, ...]
    key: int  # distinguishes the benchmarks' random streams

    def scene(self, label: int, bias: int, rng: np.random.Generator) -> world.Scene:
        """The scene showing class ``label`` with bias value ``bias``."""
        if self.bias_kind == "colour":
            return world.Scene(label, bias, 0)
        return world.Scene(label, int(rng.integers(len(world.COLOURS))), bias)


BENCHMARKS: dict[str, BenchmarkSpec] = {
    "colour": BenchmarkSpec("colour", "colour", world.COLOURS, 1),
    "background": BenchmarkSpec("background", "background", world.BACKGROUNDS, 2),
}

# Random-stream ids of the splits; the foundation corpus uses its own id, so it never
# reproduces a benchmark image.
_SPLIT_KEYS = {"valid": 1, "test": 2, "oracle": 3}
NUM_CLASSES = len(world.SHAPES)


def get_benchmark(name: str) -> BenchmarkSpec:
    """The embedded benchmark called ``name`` (error lists the valid names)."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise RegistryError(
            f"unknown benchmark {name!r}; embedded benchmarks are {sorted(BENCHMARKS)} "
            "(or put your own LfF-layout data at <data.root>/<name>/)"
        ) from None


def ratio_dir(ratio: str) -> str:
    """Folder name of a conflict ratio in the LfF layout: '0.5' -> '0.5pct'."""
    return f"{ratio}pct"


def _ratio_key(ratio: str) -> int:
    return 100 + int(round(float(ratio) * 100))


def biased_groups(n: int, ratio: str, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(class, bias) for a biased train set: classes balanced, ``ratio`` % conflicting."""
    n_conflict = int(round(n * float(ratio) / 100.0))
    labels = np.arange(n) % NUM_CLASSES
    rng.shuffle(labels)
    conflict = np.zeros(n, dtype=bool)
    conflict[rng.permutation(n)[:n_conflict]] = True
    out = []
    for y, is_conflict in zip(labels.tolist(), conflict.tolist()):
        if is_conflict:
            b = int((y + rng.integers(1, NUM_CLASSES)) % NUM_CLASSES)
        else:
            b = y
        out.append((y, b))
    return out


def uniform_groups(per_group: int, n_bias: int) -> list[tuple[int, int]]:
    """(class, bias) with every group appearing ``per_group`` times."""
    return [(y, b) for y in range(NUM_CLASSES) for b in range(n_bias) for _ in range(per_group)]


def _render_job(job: tuple) -> tuple[str, int, int]:
    spec_name, seed, key, label, bias, size, noise, path = job
    spec = BENCHMARKS[spec_name]
    rng = world.image_rng(seed, *key)
    img = world.render(spec.scene(label, bias, rng), size, rng, noise)
    Image.fromarray(img).save(path, optimize=False, compress_level=1)
    return path, label, bias


def write_benchmark(
    spec: BenchmarkSpec,
    out_dir: Path,
    *,
    seed: int,
    image_size: int,
    train_size: int,
    ratios: tuple[str, ...],
    valid_per_group: int,
    test_per_group: int,
    noise_std: float,
    workers: int = 1,
) -> dict[str, int]:
    """Render the benchmark into ``out_dir`` (atomically: temp folder, then rename)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    jobs: list[tuple] = []
    rows: list[dict] = []
    n_bias = len(spec.bias_names)

    def add(split: str, folder: Path, groups, key_prefix: tuple[int, ...], layout: str) -> None:
        for i, (y, b) in enumerate(groups):
            sub = "align" if y == b else "conflict"
            d = folder / sub / str(y) if layout == "train" else folder / str(y)
            name = f"{i:05d}_{y}_{b}.png"
            jobs.append((spec.name, seed, (spec.key, *key_prefix, i), y, b, image_size, noise_std, str(d / name)))
            rows.append({"split": split, "path": str((d / name).relative_to(tmp)), "label": y, "bias": b,
                         "aligned": int(y == b)})

    rng = np.random.default_rng(np.random.SeedSequence([seed, spec.key, 0]))
    for ratio in ratios:
        add(f"train_{ratio}", tmp / ratio_dir(ratio), biased_groups(train_size, ratio, rng), (_ratio_key(ratio),), "train")
    oracle = uniform_groups(-(-train_size // (NUM_CLASSES * n_bias)), n_bias)
    oracle = [oracle[i] for i in rng.permutation(len(oracle))[:train_size]]
    add("oracle", tmp / "oracle", oracle, (_SPLIT_KEYS["oracle"],), "train")
    add("valid", tmp / "valid", uniform_groups(valid_per_group, n_bias), (_SPLIT_KEYS["valid"],), "eval")
    add("test", tmp / "test", uniform_groups(test_per_group, n_bias), (_SPLIT_KEYS["test"],), "eval")

    for d in {Path(j[-1]).parent for j in jobs}:
        d.mkdir(parents=True, exist_ok=True)
    chunks = max(1, len(jobs) // (64 * max(workers, 1)))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(tqdm(pool.map(_render_job, jobs, chunksize=min(chunks, 256)), total=len(jobs),
                      desc=f"render {spec.name}", unit="img", mininterval=2))
    else:
        for job in tqdm(jobs, desc=f"render {spec.name}", unit="img", mininterval=2):
            _render_job(job)

    with open(tmp / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["split", "path", "label", "bias", "aligned"])
        writer.writeheader()
        writer.writerows(rows)
    vocab = {
        "benchmark": spec.name,
        "class_kind": "shape",
        "bias_kind": spec.bias_kind,
        "classes": list(world.SHAPES),
        "bias_values": list(spec.bias_names),
        "aligned_bias": list(range(NUM_CLASSES)),
        "image_size": image_size,
    }
    (tmp / "vocab.json").write_text(json.dumps(vocab, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["split"]] = counts.get(r["split"], 0) + 1
    return counts
