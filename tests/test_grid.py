"""`diffubias grid`: the baseline stages over every cell in one process, resumable, same outputs."""
from __future__ import annotations

import json

import pytest
import yaml

from diffubias import paths
from diffubias.errors import ConfigError
from stages.grid import SplitCache, grid, parse_runs
from stages.train import RUNS


def test_parse_runs():
    assert parse_runs("all") == tuple(RUNS)
    assert parse_runs("vanilla, lff") == ("vanilla", "lff")
    with pytest.raises(ConfigError, match="--runs: unknown run"):
        parse_runs("vanilla,nope")
    with pytest.raises(ConfigError, match="--runs"):
        parse_runs(",")


def test_split_cache_reads_each_split_once(tiny_params):
    load = SplitCache()
    a = load(tiny_params.data, "colour", "train", "5")
    assert load(tiny_params.data, "colour", "train", "5") is a
    assert load(tiny_params.data, "colour", "valid") is not a
    b = load(tiny_params.data, "background", "train", "5")
    assert b is not a and load.benchmark == "background" and len(load.splits) == 1


def test_grid_writes_stage_outputs_and_resumes(tiny_data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = {"grid": {"benchmarks": ["colour"], "ratios": ["5"], "seeds": [0]},
              "data": {"root": str(tiny_data_root), "image_size": 16},
              "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256},
              "tracking": {"codecarbon": False}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    grid(runs="vanilla,biased", force=False, params_file=tmp_path / "params.yaml")
    for run in ("vanilla", "biased"):
        assert paths.checkpoint(run, "colour", "5", 0).is_file()
        assert paths.train_metrics(run, "colour", "5", 0).is_file()
        test = json.loads(paths.test_metrics(run, "colour", "5", 0).read_text())
        assert 0 <= test["unbiased_acc"] <= 100 and "worst_group_acc" in test
    assert "2 of 2 runs to train" in capsys.readouterr().out
    grid(runs="vanilla,biased", force=False, params_file=tmp_path / "params.yaml")
    assert "0 of 2 runs to train" in capsys.readouterr().out
