"""`ddb-ablate` (guidance, images per class, BA source on one cell) and `ddb-report` (reports/ddb.md + .csv)."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from diffubias.config import as_flat_dict
from diffubias.data import benchmark_vocabulary, dataset_root, load_benchmark_split
from diffubias.ddb import paths as ddb_paths
from diffubias.tracking import track_stage, write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from

REPORT_MD = Path("reports/ddb.md")
REPORT_CSV = Path("reports/ddb.csv")


def ddb_ablate(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """Run the DDB ablations of one cell; writes reports/metrics/ddb/ablation/<cell>.json."""
    from diffubias.ddb import recipes  # noqa: F401  (registers the recipe methods)
    from diffubias.ddb.ablation import run_ablation
    from diffubias.devices import resolve_device

    params = params_from(params_file)
    if params.ddb_sample.threads > 0:
        import torch

        torch.set_num_threads(params.ddb_sample.threads)
    data = params.data
    train = load_benchmark_split(data, benchmark, "train", ratio)
    valid = load_benchmark_split(data, benchmark, "valid")
    test = load_benchmark_split(data, benchmark, "test")
    t0 = time.perf_counter()
    logged = {**as_flat_dict(params.ddb_ablation, "ddb_ablation."), **as_flat_dict(params.ddb_ba, "ddb_ba.")}
    with track_stage("ddb-ablate", params.tracking, logged, benchmark=benchmark, ratio=ratio, seed=seed) as run:
        result = run_ablation(ddb_paths.diffusion_dir(benchmark, ratio, seed), ddb_paths.samples_dir(benchmark, ratio, seed),
                              ddb_paths.ablation_dir(benchmark, ratio, seed), benchmark_vocabulary(data, benchmark),
                              dataset_root(data, benchmark), train, valid, test, params, seed,
                              resolve_device(params.train.device))
        for point in result["guidance"]:
            run.log_metrics({"alignment_rate": point["alignment_rate"], "precision": point["pseudo"]["precision"],
                             "recall": point["pseudo"]["recall"]}, prefix=f"guidance_{point['guidance_scale']:g}.")
    wall = round(time.perf_counter() - t0, 1)
    write_json(ddb_paths.metrics("ablation", benchmark, ratio, seed), {**result, "wall_s": wall, "cost": run.cost})
    for point in result["guidance"]:
        typer.echo(f"guidance {point['guidance_scale']:g}: alignment {point['alignment_rate']}%  pseudo precision "
                   f"{point['pseudo']['precision']}% recall {point['pseudo']['recall']}%")
    typer.echo(f"ddb ablations done in {wall:.0f} s")


def ddb_report() -> None:
    """Write reports/ddb.md and reports/ddb.csv from the DDB and test metrics."""
    from diffubias.ddb.report import write_report

    write_report(REPORT_MD, REPORT_CSV)
    typer.echo(f"wrote {REPORT_MD} and {REPORT_CSV}")
