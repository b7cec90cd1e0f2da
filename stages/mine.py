"""`mine`: X_bc = the biased model's highest-loss training samples (DiffuBias step 2)."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import artifacts, paths
from diffubias.config import as_flat_dict
from diffubias.data import load_benchmark_split
from diffubias.errors import DataError
from diffubias.mining import mined_rows, mining_metrics, per_sample_loss, select_top_k, write_table
from diffubias.tracking import track_stage, write_json
from diffubias.devices import resolve_device
from diffubias.training import load_checkpoint
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from


def mine(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """Score the train set with the biased model's CE; write the top-K table and precision@K / recall."""
    params = params_from(params_file)
    p = params.mine
    device = resolve_device(params.train.device)
    model, meta = load_checkpoint(paths.checkpoint("biased", benchmark, ratio, seed), device)
    if meta.get("image_size") != params.data.image_size:
        raise DataError(f"the biased model was trained at {meta.get('image_size')} px but data.image_size is "
                        f"{params.data.image_size}; rerun train-biased so mining sees the training preprocessing")
    train = load_benchmark_split(params.data, benchmark, "train", ratio)
    with track_stage("mine", params.tracking, as_flat_dict(p, "mine."), benchmark=benchmark, ratio=ratio,
                     seed=seed) as run:
        losses = per_sample_loss(model, train, device, params.train.eval_batch_size)
        selected = select_top_k(losses, train.labels, p.k, p.per_class, train.num_classes)
        table = artifacts.mined_table(benchmark, ratio, seed)
        write_table(mined_rows(train, selected, losses), table)
        # True bias labels are read here for evaluation only; nothing downstream sees them.
        metrics = mining_metrics(selected, ~train.aligned, train.labels, train.num_classes)
        run.log_metrics({k: v for k, v in metrics.items() if not isinstance(v, dict)}, prefix="mine.")
        run.log_artifact(table)
    write_json(artifacts.stage_metrics("mine", benchmark, ratio, seed),
               {"k": p.k, "per_class": p.per_class, **metrics, "cost": run.cost})
    typer.echo(f"mined {metrics['mined']} of {metrics['train_size']}: precision@K {metrics['precision_at_k']:.1f}%  "
               f"recall {metrics['recall']}% -> {table}")
