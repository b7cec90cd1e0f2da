"""MLflow + CodeCarbon around every stage execution.

One MLflow run per stage execution: params, metrics (with per-epoch series), artifacts, the git
commit and the stage name as tags. Energy comes from CodeCarbon's offline tracker; its result is
checked (it swallows its own errors) and converted to gCO₂eq at the configured country's
intensity and at the papers' reference intensity (475 g/kWh).

Concurrency: everything is buffered in memory during the stage and written to MLflow in one
short transaction under an exclusive file lock, so ``dvc queue start -j 2`` workers sharing the
SQLite store never hit "database is locked" and never lose a run. Queued experiments run in
``.dvc/tmp/exps/<tmp>/``; the default store resolves to the main repository, not the copy.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from diffubias.config import TrackingParams
from diffubias.io import write_json_atomic

log = logging.getLogger(__name__)

# CodeCarbon CPU modes backed by hardware energy counters; anything else is a model-based estimate.
_COUNTER_MODES = {"intel_rapl", "intel_power_gadget", "apple_powermetrics", "amd_rapl", "nvml"}


def repo_root(cwd: Path | None = None) -> Path:
    """The main repository root, also when running inside a ``dvc exp`` temp workspace."""
    cwd = Path(cwd or Path.cwd()).resolve()
    parts = cwd.parts
    for i in range(len(parts) - 3):
        if parts[i:i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return cwd


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store ``mlflow.db`` at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class StageRun:
    """Buffered tracking data of one stage execution."""

    stage: str
    tags: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    series: list[tuple[str, float, int]] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)

    def log_params(self, params: dict[str, Any]) -> None:
        self.params.update(params)

    def log_metrics(self, metrics: dict[str, Any], prefix: str = "") -> None:
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
                self.metrics[f"{prefix}{k}"] = float(v)

    def log_curve(self, rows: list[dict[str, float]], step_key: str = "epoch") -> None:
        for row in rows:
            for k, v in row.items():
                if k != step_key and isinstance(v, (int, float)) and v == v:
                    self.series.append((k, float(v), int(row[step_key])))

    def log_artifact(self, path: Path) -> None:
        self.artifacts.append(Path(path))

    def log_document(self, name: str, content: Any) -> None:
        self.documents[name] = content


class EnergyMeter:
    """CodeCarbon's offline tracker, with its silent failures turned into explicit fields."""

    def __init__(self, p: TrackingParams) -> None:
        self.p = p
        self.tracker = None
        self.t0 = time.perf_counter()
        if not p.codecarbon:
            return
        try:
            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            self.tracker = OfflineEmissionsTracker(
                country_iso_code=p.country_iso_code, output_methods=[], log_level="error",
                measure_power_secs=5, allow_multiple_runs=True,
            )
            self.tracker.start()
        except Exception as exc:  # CodeCarbon is optional instrumentation; never fail a stage on it
            log.warning("CodeCarbon could not start (%s); energy will be reported as unavailable", exc)
            self.tracker = None

    def stop(self) -> dict[str, Any]:
        duration = time.perf_counter() - self.t0
        out: dict[str, Any] = {"duration_s": round(duration, 3), "energy_kwh": None,
                               "co2_g_local": None, "co2_g_at_475": None, "energy_source": "unavailable"}
        if self.tracker is None:
            out["energy_source"] = "disabled" if not self.p.codecarbon else "unavailable"
            return out
        try:
            self.tracker.stop()
            data = self.tracker.final_emissions_data
        except Exception as exc:
            log.warning("CodeCarbon failed to stop (%s)", exc)
            data = None
        if data is None or data.energy_consumed is None:
            return out
        modes = {getattr(h, "_mode", None) or type(h).__name__ for h in getattr(self.tracker, "_hardware", [])}
        counters = sorted(m for m in modes if m in _COUNTER_MODES)
        energy = float(data.energy_consumed)
        out.update(
            energy_kwh=energy,
            co2_g_local=float(data.emissions) * 1000.0,
            co2_g_at_475=energy * self.p.reference_intensity_g_per_kwh,
            energy_source=("hardware counters: " + ", ".join(counters)) if counters else
            "estimate: CPU TDP x load and RAM size (no hardware energy counters readable)",
            country_iso_code=data.country_iso_code,
            cpu_model=data.cpu_model,
        )
        return out


@contextlib.contextmanager
def _store_lock() -> Iterator[None]:
    lock_path = repo_root() / ".mlflow.lock"
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def flush_to_mlflow(run: StageRun, experiment: str, status: str, start_ms: int, end_ms: int) -> str:
    """Write a buffered run to MLflow in one locked transaction; returns the run id."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    with _store_lock():
        client = MlflowClient(tracking_uri=tracking_uri())
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            artifacts = (repo_root() / "mlartifacts").as_uri()
            exp_id = client.create_experiment(experiment, artifact_location=artifacts)
        else:
            exp_id = exp.experiment_id
        tags = {**run.tags, "stage": run.stage, "mlflow.source.git.commit": git_commit(),
                "mlflow.runName": f"{run.stage}@{run.tags.get('cell', '')}".rstrip("@")}
        if os.environ.get("DVC_EXP_NAME"):
            tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
        created = client.create_run(exp_id, start_time=start_ms, tags=tags, run_name=tags["mlflow.runName"])
        run_id = created.info.run_id
        params = [Param(k, str(v)[:6000]) for k, v in run.params.items()]
        metrics = [Metric(k, v, end_ms, 0) for k, v in run.metrics.items()]
        metrics += [Metric(k, v, end_ms, step) for k, v, step in run.series]
        for part in _chunks(params, 100):
            client.log_batch(run_id, params=part)
        for part in _chunks(metrics, 900):
            client.log_batch(run_id, metrics=part)
        for name, content in run.documents.items():
            client.log_dict(run_id, content, name)
        for path in run.artifacts:
            if Path(path).is_file():
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, status=status, end_time=end_ms)
    return run_id


def environment_tags() -> dict[str, str]:
    """What decides a run's floating-point results besides code, data and params: torch, its CPU kernel
    level and the GPU. Runs are bit-exact on one machine; across machines these tags explain differences
    (measured: the same MLP run gave 22.4 and 23.0 % validation accuracy on two AVX-512 EPYC hosts)."""
    import torch

    tags = {"torch": torch.__version__, "cpu_capability": str(torch.backends.cpu.get_cpu_capability())}
    if torch.cuda.is_available():
        tags["gpu"] = torch.cuda.get_device_name(0)
    return tags


@contextlib.contextmanager
def track_stage(stage: str, p: TrackingParams, params: dict[str, Any] | None = None,
                **tags: Any) -> Iterator[StageRun]:
    """Track one stage execution; ``run.cost`` is filled when the block exits."""
    cell = "-".join(str(tags[k]) for k in ("benchmark", "ratio", "seed") if k in tags)
    run = StageRun(stage, {k: str(v) for k, v in {**tags, "cell": cell, **environment_tags()}.items()})
    if params:
        run.log_params(params)
    start_ms = int(time.time() * 1000)
    meter = EnergyMeter(p)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        run.cost = meter.stop()
        run.log_metrics({k: v for k, v in run.cost.items() if isinstance(v, (int, float))}, prefix="cost.")
        run.tags["energy_source"] = run.cost["energy_source"]
        flush_to_mlflow(run, p.experiment, status, start_ms, int(time.time() * 1000))


def write_json(path: Path, content: Any) -> None:
    """Write JSON atomically (``diffubias.io.write_json_atomic``)."""
    write_json_atomic(path, content)
