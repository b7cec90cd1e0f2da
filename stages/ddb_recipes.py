"""Diffusing DeBias step 4: `ddb-recipe1` (GroupDRO on BA pseudo-groups) and `ddb-recipe2` (LfF with the BA).

The run names are ``ddb_recipe1`` / ``ddb_recipe2``: checkpoints land where ``evaluate --run``
and the reports look, like every other run.
"""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import paths
from diffubias.config import Params, as_flat_dict
from diffubias.data import load_benchmark_split
from diffubias.ddb import paths as ddb_paths
from diffubias.ddb import recipes  # noqa: F401  (registers ddb_groupdro and ddb_lff)
from diffubias.tracking import track_stage, write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from

RECIPES: dict[str, tuple[str, str]] = {  # run name -> (registered method, its params section)
    "ddb_recipe1": ("ddb_groupdro", "ddb_recipe1"),
    "ddb_recipe2": ("ddb_lff", "ddb_recipe2"),
}


def train_recipe(run_name: str, benchmark: str, ratio: str, seed: int, params: Params) -> dict:
    """Annotate the real train set with the BA, train the recipe's method, checkpoint and record it."""
    from diffubias.ddb.amplifier import group_match
    from diffubias.ddb.recipes import amplified_set
    from diffubias.devices import resolve_device
    from diffubias.training import fit, load_checkpoint
    from stages.train import record_fit

    method, section = RECIPES[run_name]
    device = resolve_device(params.train.device)
    amplifier, ba_meta = load_checkpoint(ddb_paths.amplifier_checkpoint(benchmark, ratio, seed), device)
    train = load_benchmark_split(params.data, benchmark, "train", ratio)
    valid = load_benchmark_split(params.data, benchmark, "valid")
    annotated = amplified_set(train, amplifier, device)  # true bias labels removed here
    logged = {**as_flat_dict(params.train, "train."), **as_flat_dict(getattr(params, section), f"{section}."),
              "ba_source": ba_meta.get("source", "")}
    with track_stage(f"train-{run_name}", params.tracking, logged, benchmark=benchmark, ratio=ratio, seed=seed,
                     method=method) as run:
        result = fit(method, annotated, valid, params, seed)
        metrics = record_fit(run, result, run_name, benchmark, ratio, seed, params, len(train),
                             {"method": method, "num_classes": train.num_classes, "ba_source": ba_meta.get("source")})
    match = group_match(annotated.conflicting, ~train.aligned)  # evaluation only, after training
    metrics = {**metrics, "ba_source": ba_meta.get("source"), "pseudo_groups": match, "cost": run.cost}
    write_json(paths.train_metrics(run_name, benchmark, ratio, seed), metrics)
    return metrics


def make_command(run_name: str):
    """A Typer command training ``run_name``."""

    def command(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
        m = train_recipe(run_name, benchmark, ratio, seed, params_from(params_file))
        typer.echo(f"{run_name}: valid unbiased {m['valid']['unbiased_acc']:.2f}% worst-group "
                   f"{m['valid']['worst_group_acc']:.2f}% (epoch {m['selected_epoch']}) -> "
                   f"{paths.checkpoint(run_name, benchmark, ratio, seed)}")

    command.__doc__ = {"ddb_recipe1": "DDB Recipe I: GroupDRO over the Bias Amplifier's pseudo-groups (no bias labels).",
                       "ddb_recipe2": "DDB Recipe II: LfF-style reweighting with the fixed Bias Amplifier."}[run_name]
    return command
