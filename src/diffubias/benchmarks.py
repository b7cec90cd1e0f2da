"""Embedded biased benchmarks rendered from the world and written as packed splits.

``colour``: class = shape, bias = the object's colour, plain dark background (like Colored MNIST).
``background``: class = shape, bias = background texture, random object colour (like BAR/Waterbirds).
In both, the bias value aligned with class *c* is *c* (the LfF convention: aligned ⇔ class == bias).
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from diffubias import world
from diffubias.errors import RegistryError
from diffubias.io import atomic_path
from diffubias.packed import PackedArrays, write_packed


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


def _render_job(job: tuple) -> np.ndarray:
    spec_name, seed, key, label, bias, size, noise = job
    spec = BENCHMARKS[spec_name]
    rng = world.image_rng(seed, *key)
    return world.render(spec.scene(label, bias, rng), size, rng, noise)


def split_name(split: str, ratio: str | None = None) -> str:
    """Stem of a split's packed file: ``train_1pct``, ``valid``, ``test``, ``oracle``."""
    return f"train_{ratio_dir(ratio)}" if split == "train" else split


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
    """Render the benchmark into ``out_dir`` as packed splits plus ``vocab.json`` (atomically)."""
    n_bias = len(spec.bias_names)
    splits: list[tuple[str, str, list[tuple[int, int]], tuple[int, ...]]] = []
    rng = np.random.default_rng(np.random.SeedSequence([seed, spec.key, 0]))
    for ratio in ratios:
        splits.append((split_name("train", ratio), ratio_dir(ratio), biased_groups(train_size, ratio, rng),
                       (_ratio_key(ratio),)))
    oracle = uniform_groups(-(-train_size // (NUM_CLASSES * n_bias)), n_bias)
    oracle = [oracle[i] for i in rng.permutation(len(oracle))[:train_size]]
    splits.append(("oracle", "oracle", oracle, (_SPLIT_KEYS["oracle"],)))
    splits.append(("valid", "valid", uniform_groups(valid_per_group, n_bias), (_SPLIT_KEYS["valid"],)))
    splits.append(("test", "test", uniform_groups(test_per_group, n_bias), (_SPLIT_KEYS["test"],)))

    counts: dict[str, int] = {}
    with atomic_path(Path(out_dir)) as tmp:
        tmp.mkdir(parents=True)
        for name, id_prefix, groups, key_prefix in splits:
            jobs = [(spec.name, seed, (spec.key, *key_prefix, i), y, b, image_size, noise_std)
                    for i, (y, b) in enumerate(groups)]
            bar = dict(total=len(jobs), desc=f"render {spec.name} {name}", unit="img", mininterval=2)
            if workers > 1:
                with ProcessPoolExecutor(workers) as pool:
                    images = list(tqdm(pool.map(_render_job, jobs, chunksize=256), **bar))
            else:
                images = [_render_job(j) for j in tqdm(jobs, **bar)]
            labels, bias = (np.array(v, dtype=np.int64) for v in zip(*groups))
            ids = np.array([f"{id_prefix}/{i:05d}" for i in range(len(groups))])
            write_packed(tmp / f"{name}.npz", PackedArrays(np.stack(images), labels, bias, ids,
                                                           {"benchmark": spec.name, "split": name}))
            counts[name] = len(groups)
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
    return counts
