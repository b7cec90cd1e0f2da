"""MLflow + CodeCarbon tracking: one run per stage, cost fields, concurrent writers."""
import multiprocessing as mp
import os
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from diffubias.config import TrackingParams
from diffubias.tracking import repo_root, track_stage, tracking_uri, write_json


def _runs(uri: str, experiment: str):
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def test_one_run_with_params_metrics_tags_and_cost(tmp_path):
    p = TrackingParams(experiment="t", codecarbon=True)
    with track_stage("train-vanilla", p, {"train.lr": 0.001}, benchmark="colour", ratio="1", seed=0) as run:
        run.log_metrics({"valid.unbiased_acc": 42.0, "skipped": float("nan")})
        run.log_curve([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}])
        sum(i * i for i in range(200_000))
    assert run.cost["duration_s"] > 0
    assert run.cost["energy_source"].startswith(("estimate", "hardware", "unavailable"))
    if run.cost["energy_kwh"] is not None:
        assert run.cost["co2_g_at_475"] == pytest.approx(run.cost["energy_kwh"] * 475.0)
    (r,) = _runs(tracking_uri(), "t")
    assert r.info.status == "FINISHED"
    assert r.data.params["train.lr"] == "0.001"
    assert r.data.metrics["valid.unbiased_acc"] == 42.0 and "skipped" not in r.data.metrics
    assert r.data.tags["stage"] == "train-vanilla" and r.data.tags["cell"] == "colour-1-0"
    assert "mlflow.source.git.commit" in r.data.tags and "energy_source" in r.data.tags
    assert r.data.tags["torch"] == torch.__version__ and r.data.tags["cpu_capability"]
    history = MlflowClient(tracking_uri()).get_metric_history(r.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 1.0)]


def test_failed_stage_is_recorded_as_failed():
    p = TrackingParams(experiment="f", codecarbon=False)
    with pytest.raises(RuntimeError):
        with track_stage("mine", p):
            raise RuntimeError("boom")
    (r,) = _runs(tracking_uri(), "f")
    assert r.info.status == "FAILED"


def test_codecarbon_disabled_is_explicit():
    with track_stage("x", TrackingParams(experiment="d", codecarbon=False)) as run:
        pass
    assert run.cost["energy_source"] == "disabled" and run.cost["energy_kwh"] is None


def _writer(uri: str, k: int, n: int) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    p = TrackingParams(experiment="concurrent", codecarbon=False)
    for i in range(n):
        with track_stage("s", p, {"worker": k}, seed=i) as run:
            run.log_metrics({"m": float(i)})


def test_two_processes_share_the_sqlite_store(tmp_path):
    """Two workers writing at once (as `dvc queue start -j 2`) lose no run and never see 'database is locked'."""
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    _writer(uri, -1, 1)  # create the schema first, as the first queued stage would
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(uri, k, 6)) for k in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    assert len(_runs(uri, "concurrent")) == 13


def test_repo_root_inside_dvc_exp_workspace(tmp_path):
    ws = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc"
    assert repo_root(ws) == tmp_path / "repo"
    assert repo_root(tmp_path) == tmp_path.resolve()


def test_write_json_is_atomic(tmp_path):
    write_json(tmp_path / "a" / "m.json", {"x": 1})
    assert (tmp_path / "a" / "m.json").read_text().strip().startswith("{")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["m.json"]
