"""`diffubias grid`: the baseline stages over every cell in one process, resumable, same outputs."""
from __future__ import annotations

import json

import pytest
import yaml

from diffubias import paths
from diffubias.errors import ConfigError
from stages.grid import SplitCache, grid, parse_runs, record_path
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


def test_grid_writes_stage_outputs_and_resumes_only_current_runs(tiny_data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = {"grid": {"benchmarks": ["colour"], "ratios": ["5"], "seeds": [0]},
              "data": {"root": str(tiny_data_root), "image_size": 16},
              "train": {"epochs": 1, "batch_size": 32, "eval_batch_size": 256},
              "tracking": {"codecarbon": False}}
    P = tmp_path / "params.yaml"
    P.write_text(yaml.safe_dump(params))

    def run(**kw):
        grid(runs="vanilla,biased", force=False, params_file=P, **kw)
        return capsys.readouterr().out

    assert "2 of 2 runs to train (2 missing; 0 kept)" in run()
    for name in ("vanilla", "biased"):
        assert paths.checkpoint(name, "colour", "5", 0).is_file()
        assert paths.train_metrics(name, "colour", "5", 0).is_file()
        test = json.loads(paths.test_metrics(name, "colour", "5", 0).read_text())
        assert 0 <= test["unbiased_acc"] <= 100 and "worst_group_acc" in test
    before = paths.test_metrics("vanilla", "colour", "5", 0).read_bytes()
    assert "0 of 2 runs to train (none; 2 kept)" in run()
    assert paths.test_metrics("vanilla", "colour", "5", 0).read_bytes() == before

    P.write_text(yaml.safe_dump({**params, "biased": {"q": 0.5}}))  # only the biased run reads `biased`
    assert "1 of 2 runs to train (1 stale; 1 kept)" in run()

    # test metrics rewritten behind the grid's back (e.g. by `dvc repro`), or made before records
    test = paths.test_metrics("vanilla", "colour", "5", 0)
    test.write_text(test.read_text().replace("{", '{"edited": 1, ', 1))
    record_path("biased", "colour", "5", 0).unlink()
    assert "0 of 2 runs to train (none; 2 kept)" in run(reuse_unrecorded=True)
    out = run()
    assert "2 of 2 runs to train (2 unrecorded; 0 kept)" in out and "--reuse-unrecorded" in out
    assert "edited" not in test.read_text()
