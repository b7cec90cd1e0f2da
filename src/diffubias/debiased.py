"""The debiased training set X_bc + X_ba + X_gen (DiffuBias step 6).

X_bc and X_ba partition the biased train set, so their union is the train set itself; the
generated images join it with their prompted class and *no* bias label (``bias = -1``): the
method must be one that never reads bias labels (checked here, and by bias-supervised
methods themselves).
"""
from __future__ import annotations

from pathlib import Path

import torch

from diffubias.data import ImageSet
from diffubias.errors import ConfigError, DataError
from diffubias.generation import MANIFEST, load_generated_set
from diffubias.methods import get_method
from diffubias.packed import UNKNOWN_BIAS


def load_generated(out_dir: Path, like: ImageSet, image_size: int) -> ImageSet:
    """The generated images of a finished ``generate`` folder as an ImageSet (bias = -1)."""
    out_dir = Path(out_dir)
    if not (out_dir / MANIFEST).is_file():
        raise DataError(f"{out_dir}/{MANIFEST}: no generated images; run `diffubias generate` "
                        "(`dvc repro generate`) for this cell first")
    rows, images = load_generated_set(out_dir, image_size)
    labels = [int(r["label"]) for r in rows]
    bad = sorted({y for y in labels if not 0 <= y < like.num_classes})
    if bad:
        raise DataError(f"{out_dir}/manifest.csv: labels {bad} out of range 0..{like.num_classes - 1}; "
                        "the generated folder belongs to another benchmark: rerun `diffubias generate`")
    return ImageSet(images, torch.tensor(labels, dtype=torch.long),
                    torch.full((len(rows),), UNKNOWN_BIAS, dtype=torch.long),
                    [f"generated/{r['index']}" for r in rows], like.num_classes, like.num_bias, like.aligned_bias)


def debiased_train_set(train: ImageSet, generated: ImageSet) -> ImageSet:
    """X_bc + X_ba (the whole biased train set) + X_gen."""
    if len(generated) == 0:
        raise DataError("no generated image: the debiased model would train on the unchanged biased set; "
                        "run `diffubias generate` (generate.images >= 1)")
    return ImageSet.concat([train, generated])


def check_method(name: str) -> str:
    """``debiased.method`` must exist and must not need bias labels."""
    cls = get_method(name)
    if cls.bias_supervised:
        raise ConfigError(f"debiased.method: {name!r} needs bias labels ({cls.needs or 'bias-supervised'}), but "
                          "generated images have none; use a method without bias supervision (e.g. erm)")
    return name
