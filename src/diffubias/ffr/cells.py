"""Where FFR reads and writes, and the data of one benchmark × ratio cell (real, valid, pool, plan)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from diffubias.config import Params
from diffubias.data import ImageSet, benchmark_vocabulary, dataset_root, load_benchmark_split, split_table
from diffubias.ffr.counts import pool_per_group
from diffubias.ffr.runs import SyntheticPlan, plan_cell
from diffubias.ffr.synthetic import load_pool
from diffubias.paths import REPORTS

SYNTHETIC_ROOT = Path("data") / "ffr" / "synthetic"


def synthetic_dir(benchmark: str) -> Path:
    """The synthetic pool of a benchmark (shared by every ratio and seed)."""
    return SYNTHETIC_ROOT / benchmark


def generate_metrics(benchmark: str) -> Path:
    return REPORTS / "metrics" / "ffr-generate" / f"{benchmark}.json"


def real_counts(params: Params, benchmark: str, ratio: str) -> torch.Tensor:
    """Subgroup counts of the real train split at ``ratio`` (labels only, no pixels read)."""
    vocab = benchmark_vocabulary(params.data, benchmark)
    table = split_table(dataset_root(params.data, benchmark), "train", ratio, vocab)
    n_bias = len(vocab.bias_values)
    groups = torch.from_numpy(table.labels * n_bias + table.bias)
    return torch.bincount(groups, minlength=len(vocab.classes) * n_bias)


def pool_size(params: Params, benchmark: str, ratios: tuple[str, ...]) -> tuple[int, int]:
    """(images per subgroup, total) of the pool that serves every ratio in ``ratios``."""
    counts = [real_counts(params, benchmark, r) for r in ratios]
    per_group = pool_per_group(counts, params.ffr.images, params.ffr.images_ratio, params.ffr.max_images)
    return per_group, per_group * len(counts[0])


@dataclass
class Cell:
    """Everything an FFR run of one benchmark × ratio trains and selects on."""

    real: ImageSet
    valid: ImageSet
    pool: ImageSet | None
    plan: SyntheticPlan


def load_cell(params: Params, benchmark: str, ratio: str, with_pool: bool = True) -> Cell:
    """The real train split, the validation split, the synthetic pool and the amounts to take from it."""
    real = load_benchmark_split(params.data, benchmark, "train", ratio)
    valid = load_benchmark_split(params.data, benchmark, "valid")
    vocab = benchmark_vocabulary(params.data, benchmark)
    pool = load_pool(synthetic_dir(benchmark), vocab, params.data.image_size) if with_pool else None
    return Cell(real, valid, pool, plan_cell(real, params.ffr.images, params.ffr.images_ratio, params.ffr.max_images))
