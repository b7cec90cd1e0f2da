"""Image-folder layouts in and out of the packed store: import (LfF / DisEnt / BAR) and export (LfF).

Labels live only in file names, ``<name>_<class>_<bias>.<ext>``; folder names are never parsed
(``0.5pct`` has a dot). Layouts read:

* ``<src>/<ratio>pct/{align,conflict}/[<class>/]*.png``  (Colored MNIST, Corrupted CIFAR-10, BFFHQ)
* ``<src>/train/align/<class>/*`` + ``<src>/train/conflict/<ratio>pct/<class>/*``  (BAR)
* ``<src>/{valid,val}/[<class>/]*`` and ``<src>/test/[<class>/]*``, flat or with class folders
* ``<src>/oracle/...``: an unbiased train set (optional)

The PNG tree is hashed by DVC once, in the ``import-data`` stage; everything after reads the pack.
"""
from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from diffubias.benchmarks import ratio_dir
from diffubias.data import VOCAB_FILE, Vocabulary, load_vocabulary, split_file
from diffubias.errors import DataError
from diffubias.io import atomic_path
from diffubias.packed import PackedArrays, read_packed, write_packed

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_LABEL_RE = re.compile(r"_(\d+)_(\d+)$")


def split_dirs(src: Path, split: str, ratio: str | None = None) -> list[Path]:
    """The folders whose images (searched recursively) form ``split`` of the image tree ``src``."""
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: image folder not found; put your dataset there (LfF layout) or fix data.imports")
    if split == "train":
        if ratio is None:
            raise DataError("the train split needs a conflict ratio (e.g. --ratio 1)")
        lff = src / ratio_dir(ratio)
        if lff.is_dir():
            return [lff]
        bar = [src / "train" / "align", src / "train" / "conflict" / ratio_dir(ratio)]
        if all(d.is_dir() for d in bar):
            return bar
        raise DataError(f"{src}: no train split for ratio {ratio}: looked for {lff}/ and {bar[0]}/ + {bar[1]}/")
    names = {"valid": ["valid", "val"], "test": ["test"], "oracle": ["oracle"]}.get(split)
    if names is None:
        raise DataError(f"unknown split {split!r}; valid splits are train, valid, test, oracle")
    for name in names:
        if (src / name).is_dir():
            return [src / name]
    raise DataError(f"{src}: no {split} split (looked for {', '.join(n + '/' for n in names)})")


def parse_labels(path: Path) -> tuple[int, int]:
    """(class, bias) from a file name ending in ``_<class>_<bias>``."""
    m = _LABEL_RE.search(Path(path).stem)
    if m is None:
        raise DataError(f"{path}: file name does not end in _<class>_<bias> (e.g. 00042_3_7.png)")
    return int(m.group(1)), int(m.group(2))


def decode_image(path: Path, size: int) -> np.ndarray:
    """One image file as uint8 ``[size, size, 3]`` RGB (bilinear resize); the error names the file."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot decode image ({exc}); delete or replace the file") from None


def decode_images(paths: list[Path], size: int, workers: int = 4, desc: str = "") -> np.ndarray:
    """Decode ``paths`` into uint8 ``[N, size, size, 3]`` (threads: PIL releases the GIL)."""
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)

    def work(i: int) -> None:
        out[i] = decode_image(paths[i], size)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(tqdm(pool.map(work, range(len(paths))), total=len(paths), desc=desc or "decode", unit="img",
                  mininterval=2, disable=not desc))
    return out


def scan_tree(src: Path, split: str, ratio: str | None, vocab: Vocabulary) -> tuple[list[Path], list[int], list[int]]:
    """Image paths of one split of an image tree with their validated class and bias labels."""
    dirs = split_dirs(src, split, ratio)
    paths = sorted(p for d in dirs for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not paths:
        raise DataError(f"{', '.join(map(str, dirs))}: no images ({'/'.join(IMAGE_EXTENSIONS)}) for the {split} split")
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


_RATIO_DIR = re.compile(r"^(\d+(?:\.\d+)?)pct$")


def tree_ratios(src: Path) -> tuple[str, ...]:
    """The conflict ratios an image tree has train splits for (``<r>pct/`` or ``train/conflict/<r>pct/``)."""
    src = Path(src)
    found = {m.group(1) for d in (src, src / "train" / "conflict") if d.is_dir()
             for p in d.iterdir() if p.is_dir() and (m := _RATIO_DIR.match(p.name))}
    if not found:
        raise DataError(f"{src}: no train split found (expected <ratio>pct/ folders, e.g. 1pct/, or BAR's "
                        "train/align/ + train/conflict/<ratio>pct/)")
    return tuple(sorted(found, key=float))


def pack_tree(src: Path, out: Path, image_size: int, vocab: Vocabulary, workers: int = 2) -> dict[str, int]:
    """Pack an image tree into ``out``: one file per split present (every ratio found), plus ``vocab.json``.

    Ids are the source paths relative to ``src`` without extension, so a re-import keeps them.
    Written atomically: ``out`` is complete or untouched.
    """
    src, out = Path(src), Path(out)
    wanted: list[tuple[str, str | None]] = [("train", r) for r in tree_ratios(src)] + [("valid", None), ("test", None)]
    if (src / "oracle").is_dir():
        wanted.append(("oracle", None))
    counts: dict[str, int] = {}
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        for split, ratio in wanted:
            paths, labels, bias = scan_tree(src, split, ratio, vocab)
            name = split_file(tmp, split, ratio)
            images = decode_images(paths, image_size, workers, desc=f"pack {name.name}")
            ids = [str(p.relative_to(src).with_suffix("")) for p in paths]
            write_packed(name, PackedArrays(images, np.array(labels), np.array(bias), np.array(ids),
                                            {"source": str(src), "split": split, "ratio": ratio or ""}))
            counts[name.stem] = len(paths)
        vocab_src = src / VOCAB_FILE
        if vocab_src.is_file():
            shutil.copyfile(vocab_src, tmp / VOCAB_FILE)
        else:
            (tmp / VOCAB_FILE).write_text(json.dumps({"classes": list(vocab.classes), "bias_values": list(
                vocab.bias_values), "aligned_bias": list(vocab.aligned_bias), "bias_kind": vocab.bias_kind}, indent=2))
    return counts


def export_lff(root: Path, out: Path) -> int:
    """Write the packed benchmark ``root`` as an LfF-layout PNG tree at ``out`` (for people and other tools)."""
    root, out = Path(root), Path(out)
    vocab = load_vocabulary(root)
    written = 0
    with atomic_path(out) as tmp:
        for path in sorted(root.glob("*.npz")):
            arrays = read_packed(path)
            split = path.stem.removeprefix("train_")
            for img, y, b, sid in zip(arrays.images, arrays.labels.tolist(), arrays.bias.tolist(), arrays.ids.tolist()):
                kind = ("align" if b == vocab.aligned_bias[y] else "conflict") if path.stem.startswith("train_") \
                    or path.stem == "oracle" else ""
                stem = Path(sid).name
                stem = stem if _LABEL_RE.search(stem) else f"{stem}_{y}_{max(b, 0)}"
                folder = tmp / split / kind / str(y)
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(folder / f"{stem}.png", compress_level=1)
                written += 1
        shutil.copyfile(root / VOCAB_FILE, tmp / VOCAB_FILE)
    return written
