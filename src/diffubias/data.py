"""One loader for the LfF / DisEnt family of layouts, decoded once into memory.

Labels live only in file names, ``<name>_<class>_<bias>.<ext>``; folder names are never parsed
(``0.5pct`` has a dot). Supported layouts (METHODS.md §7):

* ``<root>/<ratio>pct/{align,conflict}/[<class>/]*.png``  (CMNIST, Corrupted CIFAR-10, BFFHQ)
* ``<root>/train/align/<class>/*`` + ``<root>/train/conflict/<ratio>pct/<class>/*``  (BAR)
* ``<root>/{valid,val}/[<class>/]*`` and ``<root>/test/[<class>/]*``, flat or with class folders.
* ``<root>/oracle/...``: an unbiased train set of the same size (embedded world only).
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from diffubias.benchmarks import BENCHMARKS, NUM_CLASSES, ratio_dir
from diffubias.config import DataParams
from diffubias.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_LABEL_RE = re.compile(r"_(\d+)_(\d+)$")
SPLITS = ("train", "valid", "test", "oracle")


@dataclass
class ImageSet:
    """Images as a uint8 tensor ``[N, 3, H, W]`` with class and bias labels."""

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


def dataset_root(data: DataParams, benchmark: str) -> Path:
    """Directory holding ``benchmark``: ``<data.root>/<benchmark>`` (embedded or your own data)."""
    root = Path(data.root) / benchmark
    if benchmark not in BENCHMARKS and not root.is_dir():
        raise DataError(
            f"unknown benchmark {benchmark!r}: {root}/ does not exist. Embedded benchmarks are "
            f"{sorted(BENCHMARKS)}; for your own data put (or symlink) it at {root}/ in the LfF layout"
        )
    return root


def load_vocabulary(root: Path, data: DataParams | None = None, benchmark: str = "") -> Vocabulary:
    """Read ``vocab.json`` next to the data, or fall back to numbered names."""
    path = Path(root) / "vocab.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return Vocabulary(tuple(raw["classes"]), tuple(raw["bias_values"]),
                          tuple(raw.get("aligned_bias", range(len(raw["classes"])))),
                          raw.get("bias_kind", "bias"))
    if data is not None and benchmark in data.groups:
        n_cls, n_bias = data.groups[benchmark]
        return Vocabulary(tuple(map(str, range(n_cls))), tuple(map(str, range(n_bias))),
                          tuple(range(n_cls)))
    raise DataError(
        f"{path}: missing. Write a vocab.json with 'classes' and 'bias_values' lists, or set "
        f"data.groups.{benchmark or '<name>'}: [num_classes, num_bias] in params.yaml"
    )


def split_dirs(root: Path, split: str, ratio: str | None = None) -> list[Path]:
    """The directories whose images (searched recursively) form ``split``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found; run `dvc repro make-data` or fix data.root")
    if split == "train":
        if ratio is None:
            raise DataError("the train split needs a conflict ratio (e.g. --ratio 1)")
        lff = root / ratio_dir(ratio)
        if lff.is_dir():
            return [lff]
        bar = [root / "train" / "align", root / "train" / "conflict" / ratio_dir(ratio)]
        if all(d.is_dir() for d in bar):
            return bar
        raise DataError(f"{root}: no train split for ratio {ratio}: looked for {lff}/ and {bar[0]}/ + {bar[1]}/")
    names = {"valid": ["valid", "val"], "test": ["test"], "oracle": ["oracle"]}.get(split)
    if names is None:
        raise DataError(f"unknown split {split!r}; valid splits are {list(SPLITS)}")
    for name in names:
        if (root / name).is_dir():
            return [root / name]
    raise DataError(f"{root}: no {split} split (looked for {', '.join(n + '/' for n in names)})")


def parse_labels(path: Path) -> tuple[int, int]:
    """(class, bias) from a file name ending in ``_<class>_<bias>``."""
    m = _LABEL_RE.search(Path(path).stem)
    if m is None:
        raise DataError(f"{path}: file name does not end in _<class>_<bias> (e.g. 00042_3_7.png)")
    return int(m.group(1)), int(m.group(2))


def _decode(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot decode image ({exc}); delete or replace the file") from None


def load_images(paths: list[Path], size: int, workers: int = 4) -> torch.Tensor:
    """Decode ``paths`` into a uint8 tensor ``[N, 3, size, size]``."""
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = _decode(paths[i], size)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(work, range(len(paths))))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def scan_split(root: Path, split: str, ratio: str | None, vocab: Vocabulary) -> tuple[list[Path], list[int], list[int]]:
    """Image paths of a split with their (validated) class and bias labels, without decoding."""
    paths = sorted(p for d in split_dirs(root, split, ratio) for p in d.rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not paths:
        where = ", ".join(str(d) for d in split_dirs(root, split, ratio))
        raise DataError(f"{where}: no images ({'/'.join(IMAGE_EXTENSIONS)}) found for the {split} split")
    n_cls, n_bias = len(vocab.classes), len(vocab.bias_values)
    labels, bias = [], []
    for p in paths:
        y, b = parse_labels(p)
        if not 0 <= y < n_cls:
            raise DataError(f"{p}: class id {y} out of range 0..{n_cls - 1} (from vocab.json / data.groups)")
        if not 0 <= b < n_bias:
            raise DataError(f"{p}: bias id {b} out of range 0..{n_bias - 1} (from vocab.json / data.groups)")
        labels.append(y)
        bias.append(b)
    return paths, labels, bias


def load_split(root: Path, split: str, ratio: str | None, image_size: int,
               vocab: Vocabulary | None = None, limit: int | None = None, seed: int = 0) -> ImageSet:
    """Load one split of a dataset in the LfF layout into memory.

    ``limit`` keeps a seeded random subset of that many samples (the oracle's size matching).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found; run `dvc repro make-data` or fix data.root")
    vocab = vocab or load_vocabulary(root)
    n_cls, n_bias = len(vocab.classes), len(vocab.bias_values)
    paths, labels, bias = scan_split(root, split, ratio, vocab)
    if limit is not None and limit < len(paths):
        keep = sorted(np.random.default_rng(seed).permutation(len(paths))[:limit].tolist())
        paths, labels, bias = [paths[i] for i in keep], [labels[i] for i in keep], [bias[i] for i in keep]
    images = load_images(paths, image_size)
    rel = [str(p.relative_to(root)) for p in paths]
    return ImageSet(images, torch.tensor(labels), torch.tensor(bias), rel, n_cls, n_bias,
                    list(vocab.aligned_bias))


def benchmark_vocabulary(data: DataParams, benchmark: str) -> Vocabulary:
    """The vocabulary of ``benchmark`` (errors name the missing directory or file)."""
    root = dataset_root(data, benchmark)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found for benchmark {benchmark!r}; run "
                        f"`dvc repro make-data` or put your data at {root}/")
    return load_vocabulary(root, data, benchmark)


def load_benchmark_split(data: DataParams, benchmark: str, split: str, ratio: str | None = None,
                         limit: int | None = None, seed: int = 0) -> ImageSet:
    """Load ``split`` of ``benchmark`` as configured in ``data``."""
    root = dataset_root(data, benchmark)
    return load_split(root, split, ratio, data.image_size, benchmark_vocabulary(data, benchmark), limit, seed)


def count_split(data: DataParams, benchmark: str, split: str, ratio: str | None = None) -> int:
    """Number of images in a split (file names are validated, images are not decoded)."""
    root = dataset_root(data, benchmark)
    return len(scan_split(root, split, ratio, benchmark_vocabulary(data, benchmark))[0])


__all__ = ["ImageSet", "Vocabulary", "benchmark_vocabulary", "count_split", "dataset_root", "load_split",
           "load_benchmark_split", "load_vocabulary", "parse_labels", "scan_split", "split_dirs", "NUM_CLASSES"]
