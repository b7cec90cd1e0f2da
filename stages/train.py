"""`train-<run>`: train one classifier of the benchmark × ratio × seed matrix.

Each run name is a DVC stage: ``vanilla`` (ERM), ``biased`` (GCE, the DiffuBias f_B),
``oracle`` (ERM on an unbiased train set of the same size), and the baselines.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import typer

from diffubias import paths
from diffubias.config import Params, as_flat_dict
from diffubias.data import count_split, load_benchmark_split
from diffubias.io import atomic_path
from diffubias.metrics import headline
from diffubias.models import count_parameters
from diffubias.tracking import StageRun, track_stage, write_json
from diffubias.training import FitResult, fit, save_checkpoint
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from


@dataclass(frozen=True)
class RunSpec:
    """A trainable run: which method on which training split, and the params it reads."""

    method: str
    split: str = "train"  # "train" (the biased set at the ratio) or "oracle"
    sections: tuple[str, ...] = ()
    help: str = ""


RUNS: dict[str, RunSpec] = {
    "vanilla": RunSpec("erm", help="ERM with cross entropy on the biased train set (the vanilla baseline)."),
    "biased": RunSpec("gce", sections=("biased",), help="GCE (biased.q) on the biased train set: the biased model f_B."),
    "oracle": RunSpec("erm", split="oracle", help="ERM on an unbiased train set of the same size: the practical ceiling."),
    "lff": RunSpec("lff", sections=("lff",), help="Learning from Failure: GCE-biased net reweights a debiased net (no bias labels)."),
    "groupdro": RunSpec("groupdro", sections=("groupdro",), help="Online GroupDRO over (class, bias) groups (bias-supervised)."),
    "resample": RunSpec("resample", sections=("resample",), help="ERM on a group-balanced sampler (bias-supervised)."),
    "dfr": RunSpec("dfr", sections=("dfr",), help="ERM, then L1 last-layer retraining on the validation split (bias-supervised)."),
    "jtt": RunSpec("jtt", sections=("jtt",), help="Just Train Twice: upweight an ERM model's errors by jtt.upweight (validation-selected)."),
}


def write_curve(rows: list[dict], path: Path) -> None:
    """Per-epoch curve as CSV (a DVC plot), written atomically."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def train_run(run_name: str, benchmark: str, ratio: str, seed: int, params: Params) -> dict:
    """Train, checkpoint and record one run; returns its train metrics."""
    spec = RUNS[run_name]
    data = params.data
    if spec.split == "oracle":
        size = count_split(data, benchmark, "train", ratio)
        train = load_benchmark_split(data, benchmark, "oracle", limit=size, seed=seed)
    else:
        train = load_benchmark_split(data, benchmark, "train", ratio)
    valid = load_benchmark_split(data, benchmark, "valid")
    logged = as_flat_dict(params.train, "train.")
    for name in spec.sections:
        logged.update(as_flat_dict(getattr(params, name), f"{name}."))
    with track_stage(f"train-{run_name}", params.tracking, logged, benchmark=benchmark, ratio=ratio,
                     seed=seed, method=spec.method) as run:
        result = fit(spec.method, train, valid, params, seed)
        metrics = record_fit(run, result, run_name, benchmark, ratio, seed, params, len(train),
                             {"method": spec.method, "num_classes": train.num_classes})
    write_json(paths.train_metrics(run_name, benchmark, ratio, seed), {**metrics, "cost": run.cost})
    return metrics


def record_fit(run: StageRun, result: FitResult, run_name: str, benchmark: str, ratio: str, seed: int,
               params: Params, train_samples: int, meta: dict, extra_metrics: dict | None = None) -> dict:
    """Checkpoint a fitted run (``meta`` added to its metadata), write its curve, log the curve, the
    validation metrics and ``extra_metrics`` to ``run``; returns the train metrics every training stage
    writes (the caller adds its own keys and the cost)."""
    model = result.method.model
    save_checkpoint(model, paths.checkpoint(run_name, benchmark, ratio, seed), {
        "arch": params.train.arch, "image_size": params.data.image_size, "run": run_name, "benchmark": benchmark,
        "ratio": ratio, "seed": seed, "selected_epoch": result.selected_epoch, "select": params.train.select, **meta})
    curve_path = paths.curve(run_name, benchmark, ratio, seed)
    write_curve(result.curve, curve_path)
    run.log_curve(result.curve)
    run.log_metrics(headline(result.valid_metrics), prefix="valid.")
    run.log_metrics({"train_images_per_s": result.images_per_second, "train_s": result.train_seconds,
                     "selected_epoch": result.selected_epoch, **(extra_metrics or {})})
    run.log_artifact(curve_path)
    return {"valid": headline(result.valid_metrics), "selected_epoch": result.selected_epoch,
            "train_samples": train_samples, "parameters": count_parameters(model),
            "train_images_per_s": round(result.images_per_second, 1),
            **({"method_extra": result.extra} if result.extra else {})}


def make_command(run_name: str):
    """A Typer command training ``run_name``."""

    def command(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
        m = train_run(run_name, benchmark, ratio, seed, params_from(params_file))
        typer.echo(f"{run_name}: valid unbiased {m['valid']['unbiased_acc']:.2f}% (epoch {m['selected_epoch']}) "
                   f"-> {paths.checkpoint(run_name, benchmark, ratio, seed)}")

    command.__doc__ = RUNS[run_name].help
    return command
