"""Datasets described by a ``metadata.csv`` (CelebA-HQ, UTK-Face, SpuCo Animals, Waterbirds) as LfF-layout benchmarks.

A row names an image (``path_column``), its class (``y``), its bias attribute and its split. The
importer links every image into ``<out>/<ratio>pct/{align,conflict}/<class>/<stem>_<class>_<bias><ext>``,
``valid/`` and ``test/`` (symlinks, nothing copied) and writes ``vocab.json`` with the class and bias
names the prompts use. As in the FFR paper, a bias ratio is reached by keeping every bias-aligned
training image and a seeded sample of the conflicting ones: conflicting = aligned × r / (100 − r).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffubias.errors import ConfigError, DataError
from diffubias.io import atomic_path
from diffubias.benchmarks import ratio_dir


@dataclass(frozen=True)
class MetadataSpec:
    """How to read one metadata-CSV dataset and how its prompts name classes and bias values."""

    classes: tuple[str, ...]
    bias_values: tuple[str, ...]
    aligned_bias: tuple[int, ...]  # the majority bias value of each class in the biased train splits
    template: str  # the paper's prompt wording
    bias_column: str
    y_column: str = "y"
    path_column: str = "filename"
    split_column: str = "split"
    splits: tuple[tuple[str, str], ...] = (("0", "train"), ("1", "valid"), ("2", "test"))
    bias_kind: str = "bias"


METADATA_DATASETS: dict[str, MetadataSpec] = {
    # CelebA-HQ: target Smiling, bias Male (most women are not smiling in the biased splits).
    "celebahq": MetadataSpec(("non-smiling", "smiling"), ("woman", "man"), (0, 1), "A photo of a {class} {bias}",
                             bias_column="male", bias_kind="gender"),
    # UTK-Face: target gender, bias age.
    "utkface": MetadataSpec(("man", "woman"), ("young", "old"), (0, 1), "A photo of a {bias} {class}",
                            bias_column="age", bias_kind="age"),
    # SpuCo Animals: {small dog, big dog, landbird, waterbird} × {indoors, outdoors, land, water}.
    "spuco_animals": MetadataSpec(("small dog", "big dog", "landbird", "waterbird"),
                                  ("indoors", "outdoors", "on land", "on water"), (0, 1, 2, 3),
                                  "A photo of a {class} {bias}", bias_column="place", bias_kind="background"),
    # Waterbirds (Sagawa et al.; DDB's benchmark): its own metadata.csv (img_filename, y, split, place).
    "waterbirds": MetadataSpec(("landbird", "waterbird"), ("land", "water"), (0, 1), "A photo of a {class} on {bias}",
                               bias_column="place", path_column="img_filename", bias_kind="background"),
}


def get_spec(name: str) -> MetadataSpec:
    """The metadata spec called ``name``."""
    if name not in METADATA_DATASETS:
        raise ConfigError(f"unknown metadata dataset {name!r}; valid: {sorted(METADATA_DATASETS)}")
    return METADATA_DATASETS[name]


def read_metadata(csv_path: Path, spec: MetadataSpec) -> list[tuple[str, int, int, str]]:
    """(image path, class, bias, split) of every row; errors name the file, row and column."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: metadata file not found (expected columns {spec.path_column}, {spec.y_column}, "
                        f"{spec.bias_column}, {spec.split_column})")
    split_names = dict(spec.splits)
    rows = []
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {spec.path_column, spec.y_column, spec.bias_column, spec.split_column} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{csv_path}: missing column(s) {sorted(missing)}; has {reader.fieldnames}")
        for i, r in enumerate(reader, start=2):
            try:
                y, b = int(float(r[spec.y_column])), int(float(r[spec.bias_column]))
            except ValueError:
                raise DataError(f"{csv_path}:{i}: {spec.y_column}/{spec.bias_column} must be integers") from None
            split = split_names.get(r[spec.split_column].strip(), r[spec.split_column].strip())
            if not (0 <= y < len(spec.classes) and 0 <= b < len(spec.bias_values)):
                raise DataError(f"{csv_path}:{i}: class {y} or bias {b} out of range "
                                f"({len(spec.classes)} classes, {len(spec.bias_values)} bias values)")
            if split not in ("train", "valid", "test"):
                raise DataError(f"{csv_path}:{i}: split {r[spec.split_column]!r} is not one of {dict(spec.splits)}")
            rows.append((r[spec.path_column], y, b, split))
    return rows


def subsample_train(train: list[tuple[str, int, int, str]], spec: MetadataSpec, ratio: float,
                    seed: int) -> tuple[list[tuple[str, int, int, str]], float]:
    """All aligned training rows + a seeded sample of conflicting rows at ``ratio`` % (achieved % returned)."""
    if not 0 < ratio < 100:
        raise ConfigError(f"conflict ratio must be in (0, 100) %, got {ratio}")
    rng = np.random.default_rng(seed)
    keep = []
    for y in range(len(spec.classes)):
        aligned = [r for r in train if r[1] == y and r[2] == spec.aligned_bias[y]]
        conflict = [r for r in train if r[1] == y and r[2] != spec.aligned_bias[y]]
        want = min(len(conflict), round(len(aligned) * ratio / (100 - ratio)))
        keep += aligned + [conflict[i] for i in sorted(rng.permutation(len(conflict))[:want].tolist())]
    n_conflict = sum(r[2] != spec.aligned_bias[r[1]] for r in keep)
    return keep, 100.0 * n_conflict / max(len(keep), 1)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.abspath(src), dst)


def import_metadata(name: str, csv_path: Path, image_root: Path, out: Path, ratios: tuple[str, ...],
                    seed: int = 0) -> dict[str, float]:
    """Write the LfF-layout view of a metadata dataset into ``out`` (atomically); returns achieved ratios."""
    spec = get_spec(name)
    rows = read_metadata(csv_path, spec)
    achieved: dict[str, float] = {}

    def place(row: tuple[str, int, int, str], folder: Path, i: int) -> None:
        src = Path(image_root) / row[0]
        if not src.is_file():
            raise DataError(f"{src}: listed in {csv_path} but missing; fix image_root or the {spec.path_column} column")
        _link(src, folder / str(row[1]) / f"{i:06d}_{row[1]}_{row[2]}{src.suffix.lower()}")

    train = [r for r in rows if r[3] == "train"]
    with atomic_path(Path(out)) as tmp:
        tmp.mkdir()
        for ratio in ratios:
            kept, achieved[ratio] = subsample_train(train, spec, float(ratio), seed)
            for i, r in enumerate(kept):
                place(r, tmp / ratio_dir(ratio) / ("align" if r[2] == spec.aligned_bias[r[1]] else "conflict"), i)
        for split in ("valid", "test"):
            for i, r in enumerate(x for x in rows if x[3] == split):
                place(r, tmp / split, i)
        (tmp / "vocab.json").write_text(json.dumps({
            "benchmark": name, "classes": list(spec.classes), "bias_values": list(spec.bias_values),
            "aligned_bias": list(spec.aligned_bias), "bias_kind": spec.bias_kind, "ffr_template": spec.template,
            "achieved_conflict_percent": achieved}, indent=2) + "\n")
    return achieved
