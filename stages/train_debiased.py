"""`train-debiased`: a fresh classifier on X_bc + X_ba + X_gen (DiffuBias step 6).

The run name is the variant (``diffubias`` or ``diffubias_nofilter``), so ``evaluate --run
<variant>`` and the reports treat it like every other run.
"""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import artifacts, paths
from diffubias.config import as_flat_dict
from diffubias.data import load_benchmark_split
from diffubias.debiased import check_method, debiased_train_set, load_generated
from diffubias.tracking import track_stage, write_json
from diffubias.training import fit
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from
from stages.diffubias_common import VARIANT
from stages.train import record_fit


def train_debiased(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, variant: str = VARIANT,
                   params_file: Path = PARAMS) -> None:
    """Train debiased.method on the biased train set plus the generated images; select on valid."""
    params = params_from(params_file)
    method = check_method(params.debiased.method)
    artifacts.check_variant(variant)
    data = params.data
    train = load_benchmark_split(data, benchmark, "train", ratio)
    generated = load_generated(artifacts.generated_dir(variant, benchmark, ratio, seed), train, data.image_size)
    full = debiased_train_set(train, generated)
    valid = load_benchmark_split(data, benchmark, "valid")
    logged = {**as_flat_dict(params.train, "train."), **as_flat_dict(params.debiased, "debiased."), "variant": variant}
    with track_stage(f"train-{variant}", params.tracking, logged, benchmark=benchmark, ratio=ratio, seed=seed,
                     method=method, variant=variant) as run:
        result = fit(method, full, valid, params, seed)
        metrics = record_fit(run, result, variant, benchmark, ratio, seed, params, len(full),
                             {"method": method, "num_classes": train.num_classes, "real_samples": len(train),
                              "generated_samples": len(generated)},
                             extra_metrics={"generated_samples": len(generated)})
    write_json(paths.train_metrics(variant, benchmark, ratio, seed), {
        **metrics, "real_samples": len(train), "generated_samples": len(generated), "cost": run.cost})
    typer.echo(f"{variant}: valid unbiased {result.valid_metrics['unbiased_acc']:.2f}% (epoch "
               f"{result.selected_epoch}) on {len(train)} real + {len(generated)} generated images")
