"""Datasets as packed splits, loaded into memory in milliseconds.

A benchmark is a folder ``<data.root>/<name>/`` holding ``vocab.json`` and one packed file per split
(:mod:`diffubias.packed`): ``train_<ratio>pct.npz`` (one per conflict ratio), ``valid.npz``,
``test.npz`` and, for the embedded world, ``oracle.npz``. ``make-data`` writes the embedded
benchmarks; ``import-data`` packs a dataset in the LfF / DisEnt / BAR layout or a metadata CSV
(:mod:`diffubias.layouts`), so training, mining and evaluation never read a PNG folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from diffubias.benchmarks import NUM_CLASSES, ratio_dir
from diffubias.config import DataParams
from diffubias.errors import DataError
from diffubias.packed import SUFFIX, UNKNOWN_BIAS, PackedArrays, read_packed

SPLITS = ("train", "valid", "test", "oracle")
VOCAB_FILE = "vocab.json"


@dataclass
class ImageSet:
    """Images as a uint8 tensor ``[N, 3, H, W]`` with class and bias labels (bias −1: unknown).

    ``paths`` holds each sample's stable id (its packed ``ids`` entry).
    """

    images: torch.Tensor
    labels: torch.Tensor
    bias: torch.Tensor
    paths: list[str]
    num_classes: int
    num_bias: int
    aligned_bias: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def groups(self) -> torch.Tensor:
        """Group id ``class * num_bias + bias`` of every sample."""
        return self.labels * self.num_bias + self.bias

    @property
    def num_groups(self) -> int:
        return self.num_classes * self.num_bias

    @property
    def aligned(self) -> torch.Tensor:
        """Boolean mask: the sample's bias is its class's aligned value."""
        table = torch.tensor(self.aligned_bias or list(range(self.num_classes)))
        return self.bias == table[self.labels]

    def subset(self, index: torch.Tensor | np.ndarray | list[int]) -> "ImageSet":
        """The samples at ``index`` (a view-free copy)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.images[idx], self.labels[idx], self.bias[idx],
                        [self.paths[i] for i in idx.tolist()], self.num_classes, self.num_bias,
                        self.aligned_bias)

    @staticmethod
    def concat(parts: list["ImageSet"]) -> "ImageSet":
        """Concatenate sets with the same class/bias spaces."""
        first = parts[0]
        return ImageSet(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                        torch.cat([p.bias for p in parts]), [q for p in parts for q in p.paths],
                        first.num_classes, first.num_bias, first.aligned_bias)


@dataclass(frozen=True)
class Vocabulary:
    """Names of the classes and bias values (for captions and prompts)."""

    classes: tuple[str, ...]
    bias_values: tuple[str, ...]
    aligned_bias: tuple[int, ...]
    bias_kind: str = "bias"




def split_file(root: Path, split: str, ratio: str | None = None) -> Path:
    """The packed file of ``split`` (``train`` needs the conflict ratio) under the benchmark folder ``root``."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits are {list(SPLITS)}")
    if split == "train":
        if ratio is None:
            raise DataError("the train split needs a conflict ratio (e.g. --ratio 1)")
        return Path(root) / f"train_{ratio_dir(ratio)}{SUFFIX}"
    return Path(root) / f"{split}{SUFFIX}"


def dataset_root(data: DataParams, benchmark: str) -> Path:
    """Folder holding ``benchmark``'s packed splits: ``<data.root>/<benchmark>``."""
    root = Path(data.root) / benchmark
    if not root.is_dir():
        raise DataError(
            f"{root}/: no such benchmark folder. Embedded benchmarks are made by `dvc repro make-data` "
            f"(world.benchmarks); pack your own data with `dvc repro import-data` (data.imports)"
        )
    return root


def load_vocabulary(root: Path, data: DataParams | None = None, benchmark: str = "") -> Vocabulary:
    """Read ``vocab.json`` next to the data, or fall back to numbered names from ``data.groups``."""
    path = Path(root) / VOCAB_FILE
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
            classes, bias_values = tuple(map(str, raw["classes"])), tuple(map(str, raw["bias_values"]))
            aligned = tuple(int(a) for a in raw.get("aligned_bias", range(len(classes))))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: invalid vocabulary ({type(exc).__name__}: {exc}); it needs 'classes' and "
                            "'bias_values' lists (and optionally 'aligned_bias')") from None
        if not classes or not bias_values or len(aligned) != len(classes):
            raise DataError(f"{path}: 'classes' and 'bias_values' must be non-empty and 'aligned_bias' "
                            "needs one entry per class")
        return Vocabulary(classes, bias_values, aligned, str(raw.get("bias_kind", "bias")))
    if data is not None and benchmark in data.groups:
        n_cls, n_bias = data.groups[benchmark]
        return Vocabulary(tuple(map(str, range(n_cls))), tuple(map(str, range(n_bias))), tuple(range(n_cls)))
    raise DataError(
        f"{path}: missing. Write a vocab.json with 'classes' and 'bias_values' lists, or set "
        f"data.groups.{benchmark or '<name>'}: [num_classes, num_bias] in params.yaml"
    )


def _validate_labels(arrays: PackedArrays, vocab: Vocabulary, where: Path) -> None:
    n_cls, n_bias = len(vocab.classes), len(vocab.bias_values)
    if len(arrays) == 0:
        raise DataError(f"{where}: the split is empty")
    bad = np.flatnonzero((arrays.labels < 0) | (arrays.labels >= n_cls))
    if bad.size:
        raise DataError(f"{where}: sample {arrays.ids[bad[0]]}: class id {arrays.labels[bad[0]]} out of range "
                        f"0..{n_cls - 1} (from vocab.json / data.groups)")
    bad = np.flatnonzero((arrays.bias < UNKNOWN_BIAS) | (arrays.bias >= n_bias))
    if bad.size:
        raise DataError(f"{where}: sample {arrays.ids[bad[0]]}: bias id {arrays.bias[bad[0]]} out of range "
                        f"0..{n_bias - 1} (or -1 for unknown)")


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N, 3, h, w]`` resized to ``size`` × ``size`` (bilinear, antialiased), still uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.empty((len(images), 3, size, size), dtype=torch.uint8)
    for lo in range(0, len(images), 1024):  # bounded float memory for large splits
        chunk = F.interpolate(images[lo:lo + 1024].float(), size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)
        out[lo:lo + 1024] = chunk.round().clamp(0, 255).to(torch.uint8)
    return out


def to_image_set(arrays: PackedArrays, vocab: Vocabulary, image_size: int | None = None) -> ImageSet:
    """An :class:`ImageSet` (``[N, 3, H, W]``, resized to ``image_size`` if given) from packed arrays."""
    images = torch.from_numpy(np.ascontiguousarray(arrays.images)).permute(0, 3, 1, 2).contiguous()
    if image_size:
        images = resize_images(images, image_size)
    return ImageSet(images, torch.from_numpy(arrays.labels.astype(np.int64)),
                    torch.from_numpy(arrays.bias.astype(np.int64)), arrays.ids.tolist(),
                    len(vocab.classes), len(vocab.bias_values), list(vocab.aligned_bias))


def _limit(arrays: PackedArrays, limit: int | None, seed: int) -> PackedArrays:
    if limit is None or limit >= len(arrays):
        return arrays
    keep = np.sort(np.random.default_rng(seed).permutation(len(arrays))[:limit])
    return PackedArrays(arrays.images[keep], arrays.labels[keep], arrays.bias[keep], arrays.ids[keep], arrays.meta)


def load_split(root: Path, split: str, ratio: str | None, image_size: int,
               vocab: Vocabulary | None = None, limit: int | None = None, seed: int = 0) -> ImageSet:
    """Load one packed split of the benchmark folder ``root`` into memory.

    ``limit`` keeps a seeded random subset of that many samples (the oracle's size matching).
    """
    root = Path(root)
    vocab = vocab or load_vocabulary(root)
    path = split_file(root, split, ratio)
    arrays = read_packed(path)
    _validate_labels(arrays, vocab, path)
    return to_image_set(_limit(arrays, limit, seed), vocab, image_size)


def split_table(root: Path, split: str, ratio: str | None, vocab: Vocabulary) -> PackedArrays:
    """Ids, classes and bias of a split without its pixels (validated against ``vocab``)."""
    path = split_file(root, split, ratio)
    arrays = read_packed(path, images=False)
    _validate_labels(arrays, vocab, path)
    return arrays


def benchmark_vocabulary(data: DataParams, benchmark: str) -> Vocabulary:
    """The vocabulary of ``benchmark`` (errors name the missing folder or file)."""
    return load_vocabulary(dataset_root(data, benchmark), data, benchmark)


def load_benchmark_split(data: DataParams, benchmark: str, split: str, ratio: str | None = None,
                         limit: int | None = None, seed: int = 0) -> ImageSet:
    """Load ``split`` of ``benchmark`` as configured in ``data``."""
    root = dataset_root(data, benchmark)
    return load_split(root, split, ratio, data.image_size, benchmark_vocabulary(data, benchmark), limit, seed)


def count_split(data: DataParams, benchmark: str, split: str, ratio: str | None = None) -> int:
    """Number of samples in a split (labels read, pixels not)."""
    return len(split_table(dataset_root(data, benchmark), split, ratio, benchmark_vocabulary(data, benchmark)))


def select_ids(data: ImageSet, ids: list[str], where: str = "") -> ImageSet:
    """The samples of ``data`` with these ids, in this order (error names the first unknown id)."""
    index = {sid: i for i, sid in enumerate(data.paths)}
    missing = next((s for s in ids if s not in index), None)
    if missing is not None:
        raise DataError(f"{where or 'split'}: sample id {missing!r} is not in the split; rerun the stage that "
                        "wrote the ids (e.g. `dvc repro mine`)")
    return data.subset([index[s] for s in ids])


__all__ = ["ImageSet", "Vocabulary", "benchmark_vocabulary", "count_split", "dataset_root", "load_split",
           "load_benchmark_split", "load_vocabulary", "resize_images", "select_ids", "split_file", "split_table",
           "to_image_set", "NUM_CLASSES", "SPLITS", "VOCAB_FILE"]
