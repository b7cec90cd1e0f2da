"""`evaluate`: the shared metrics of a trained run on the unbiased test split."""
from __future__ import annotations

from pathlib import Path

import torch
import typer

from diffubias import paths
from diffubias.config import Params
from diffubias.data import benchmark_vocabulary, dataset_root, load_benchmark_split, split_table
from diffubias.devices import resolve_device
from diffubias.metrics import headline
from diffubias.tracking import track_stage, write_json
from diffubias.training import evaluate as evaluate_model, load_checkpoint
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from


def evaluate(
    run: str = typer.Option(..., "--run", help="Run to evaluate: vanilla, biased, oracle, or a method's run name."),
    benchmark: str = BENCHMARK,
    ratio: str = RATIO,
    seed: int = SEED,
    params_file: Path = PARAMS,
) -> None:
    """Score a trained run on the unbiased test split; writes reports/metrics/test/<run>/...json."""
    metrics = evaluate_run(run, benchmark, ratio, seed, params_from(params_file))
    typer.echo(f"{run} {benchmark} {ratio}% seed {seed}: unbiased {metrics['unbiased_acc']:.2f}  "
               f"conflicting {metrics['conflicting_acc']:.2f}  worst-group {metrics['worst_group_acc']:.2f}")


def evaluate_run(run: str, benchmark: str, ratio: str, seed: int, params: Params) -> dict:
    """Score one run's checkpoint on the test split, record it, write its test metrics; returns them."""
    device = resolve_device(params.train.device)
    model, meta = load_checkpoint(paths.checkpoint(run, benchmark, ratio, seed), device)
    test = load_benchmark_split(params.data, benchmark, "test")
    vocab = benchmark_vocabulary(params.data, benchmark)
    table = split_table(dataset_root(params.data, benchmark), "train", ratio, vocab)
    known = table.bias >= 0
    counts = torch.bincount(torch.from_numpy(table.labels[known] * test.num_bias + table.bias[known]),
                            minlength=test.num_groups)
    with track_stage("evaluate", params.tracking, {"run": run}, benchmark=benchmark, ratio=ratio, seed=seed,
                     run=run) as tracked:
        metrics = evaluate_model(model, test, device, params.train.eval_batch_size, counts)
        tracked.log_metrics(headline(metrics), prefix="test.")
        tracked.log_document("per_group.json", metrics["per_group"])
    out = {**metrics, "selected_epoch": meta.get("selected_epoch"), "cost": tracked.cost}
    write_json(paths.test_metrics(run, benchmark, ratio, seed), out)
    return metrics
