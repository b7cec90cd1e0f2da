"""The generated pool as training sets: balanced (ASB, FFR stage 1), USB fill-ins, biased (ablation).

Pool image ``i`` shows subgroup ``i mod G`` (``G`` = classes × bias values), so the first ``m``
images of every subgroup are a balanced set and a larger pool only appends images. Labels come
from the manifest's ``image`` field, ``subgroup_<class>_<bias>``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from diffubias.data import ImageSet, Vocabulary
from diffubias.errors import DataError
from diffubias.generation import load_generated_set
from diffubias.layouts import parse_labels


def load_pool(folder: Path, vocab: Vocabulary, image_size: int) -> ImageSet:
    """The synthetic pool of a finished ``ffr-generate`` folder with its prompted class and bias."""
    folder = Path(folder)
    if not (folder / "manifest.csv").is_file():
        raise DataError(f"{folder}/manifest.csv: no synthetic pool; run `diffubias ffr-generate -b <benchmark>` first")
    rows, images = load_generated_set(folder, image_size)
    labels, bias = zip(*(parse_labels(Path(r["source_image"])) for r in rows))
    n_cls, n_bias = len(vocab.classes), len(vocab.bias_values)
    if max(labels) >= n_cls or max(bias) >= n_bias:
        raise DataError(f"{folder}/manifest.csv: subgroups beyond {n_cls} classes × {n_bias} bias values; "
                        "the pool belongs to another benchmark: rerun `diffubias ffr-generate`")
    return ImageSet(images, torch.tensor(labels), torch.tensor(bias), [f"synthetic/{r['index']}" for r in rows],
                    n_cls, n_bias, list(vocab.aligned_bias))


def take_per_group(pool: ImageSet, per_group: torch.Tensor) -> ImageSet:
    """The first ``per_group[g]`` pool images of every subgroup ``g`` (errors if the pool is too small)."""
    have = torch.bincount(pool.groups, minlength=pool.num_groups)
    short = (have < per_group).nonzero().flatten().tolist()
    if short:
        g = short[0]
        raise DataError(f"the synthetic pool has {int(have[g])} images of subgroup {g // pool.num_bias}/"
                        f"{g % pool.num_bias} but {int(per_group[g])} are needed ({len(short)} subgroups short); "
                        "rerun `diffubias ffr-generate` with the same grid.ratios and ffr.images as this run")
    keep = [(pool.groups == g).nonzero().flatten()[:int(n)] for g, n in enumerate(per_group.tolist())]
    return pool.subset(torch.sort(torch.cat(keep)).values)


def balanced(pool: ImageSet, per_group: int) -> ImageSet:
    """``per_group`` images of every subgroup (ASB, FFR stage 1)."""
    return take_per_group(pool, torch.full((pool.num_groups,), per_group, dtype=torch.long))


def with_source_axis(real: ImageSet, synthetic: ImageSet) -> ImageSet:
    """Real + synthetic with groups (class, bias, source): bias ids of synthetic images shift by ``num_bias``.

    The result has ``2 × num_bias`` bias values, so ``groups`` (used by GroupDRO, resampling) are
    ``class * 2B + bias + B·synthetic``: the paper's (class, bias, real-or-synthetic) groups.
    """
    if real.num_bias != synthetic.num_bias or real.num_classes != synthetic.num_classes:
        raise DataError("real and synthetic sets have different class / bias spaces")
    b = real.num_bias
    return ImageSet(torch.cat([real.images, synthetic.images]), torch.cat([real.labels, synthetic.labels]),
                    torch.cat([real.bias, synthetic.bias + b]), real.paths + synthetic.paths,
                    real.num_classes, 2 * b, real.aligned_bias)

