"""Shared fixtures: a tiny rendered world, params pointing at it, an isolated MLflow store."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from diffubias.benchmarks import BENCHMARKS, write_benchmark
from diffubias.config import Params, parse_params

TINY_WORLD = dict(seed=0, image_size=16, train_size=400, ratios=("5",), valid_per_group=1,
                  test_per_group=2, noise_std=4.0, workers=1)


@pytest.fixture(autouse=True)
def _isolated_tracking(tmp_path, monkeypatch):
    """Every test logs to its own SQLite MLflow store, never to the repository's."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory) -> Path:
    """Both embedded benchmarks rendered at 16 px with 400 training images (5 % conflicting)."""
    root = tmp_path_factory.mktemp("world")
    for name in BENCHMARKS:
        write_benchmark(BENCHMARKS[name], root / name, **TINY_WORLD)
    return root


@pytest.fixture
def tiny_params(tiny_data_root) -> Params:
    """Params reading the tiny world: 16 px, 2 epochs, small batches, no CodeCarbon."""
    return parse_params({
        "data": {"root": str(tiny_data_root), "image_size": 16},
        "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256, "lr_decay_step": 1},
        "tracking": {"codecarbon": False},
    })


def replace(params: Params, section: str, **changes) -> Params:
    """A copy of ``params`` with ``section`` fields changed."""
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **changes)})
