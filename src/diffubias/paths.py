"""Where every stage reads and writes: one function per artifact kind.

Large artifacts (images, checkpoints) live under ``data/`` and ``models/`` (DVC-cached);
small metrics, curves and reports under ``reports/`` (``cache: false``, committed to git).
"""
from __future__ import annotations

from pathlib import Path

from diffubias.benchmarks import ratio_dir

MODELS = Path("models")
REPORTS = Path("reports")


def cell(benchmark: str, ratio: str, seed: int) -> Path:
    """The relative folder of one benchmark × ratio × seed cell."""
    return Path(benchmark) / ratio_dir(ratio) / f"seed{seed}"


def run_dir(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    """Folder of a trained model: ``models/<run>/<benchmark>/<ratio>pct/seed<seed>``."""
    return MODELS / run / cell(benchmark, ratio, seed)


def checkpoint(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    return run_dir(run, benchmark, ratio, seed) / "model.safetensors"


def train_metrics(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    return REPORTS / "metrics" / "train" / run / cell(benchmark, ratio, seed).with_suffix(".json")


def test_metrics(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    return REPORTS / "metrics" / "test" / run / cell(benchmark, ratio, seed).with_suffix(".json")


def curve(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    return REPORTS / "plots" / "curves" / run / cell(benchmark, ratio, seed).with_suffix(".csv")
