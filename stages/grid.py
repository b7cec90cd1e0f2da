"""`grid`: the train + evaluate stages of the baseline runs over every cell of `grid`, in one process.

Outside DVC, for the full benchmark × ratio × seed matrix: it runs exactly what the `train-<run>` and
`evaluate` stages run and writes the same files (checkpoints, curves, train and test metrics, MLflow
runs), but reads each data split once per process instead of once per stage, and pays neither Python's
start-up nor DVC's per-stage hashing of the benchmark folder (together ~2/3 of a small MLP stage's time
on a 2-core CPU). `dvc commit` then records the outputs in dvc.lock; `dvc repro` would rebuild them.
"""
from __future__ import annotations

import time
from pathlib import Path

import typer
from tqdm import tqdm

from diffubias import paths
from diffubias.data import ImageSet, load_benchmark_split
from diffubias.errors import ConfigError
from stages.common import PARAMS, params_from
from stages.evaluate import evaluate_run
from stages.train import RUNS, train_run


class SplitCache:
    """``load_benchmark_split`` with its results kept for the benchmark being run (one benchmark at a time)."""

    def __init__(self) -> None:
        self.benchmark: str | None = None
        self.splits: dict[tuple, ImageSet] = {}

    def __call__(self, data, benchmark: str, split: str, ratio: str | None = None, **kw) -> ImageSet:
        if benchmark != self.benchmark:
            self.benchmark, self.splits = benchmark, {}
        key = (split, ratio, tuple(sorted(kw.items())))
        if key not in self.splits:
            self.splits[key] = load_benchmark_split(data, benchmark, split, ratio, **kw)
        return self.splits[key]


def parse_runs(text: str) -> tuple[str, ...]:
    """Comma-separated run names (``all`` = every registered run), checked against the registry."""
    names = tuple(RUNS) if text == "all" else tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in names if r not in RUNS]
    if unknown or not names:
        raise ConfigError(f"--runs: unknown run(s) {unknown or [text]}; valid: {', '.join(RUNS)} or 'all'")
    return names


def grid(
    runs: str = typer.Option("all", "--runs", help="Comma-separated runs (vanilla, biased, oracle, lff, ...) or 'all'."),
    force: bool = typer.Option(False, help="Retrain runs whose test metrics already exist (default: resume)."),
    params_file: Path = PARAMS,
) -> None:
    """Outside DVC: train and evaluate the runs on every benchmark × ratio × seed of `grid` (resumable)."""
    params = params_from(params_file)
    names = parse_runs(runs)
    g = params.grid
    jobs = [(b, r, s, n) for b in g.benchmarks for r in g.ratios for s in g.seeds for n in names]
    todo = [j for j in jobs if force or not paths.test_metrics(j[3], j[0], j[1], j[2]).is_file()]
    typer.echo(f"grid: {len(todo)} of {len(jobs)} runs to train ({len(jobs) - len(todo)} have test metrics)")
    load, t0 = SplitCache(), time.perf_counter()
    bar = tqdm(todo, desc="grid", unit="run")
    for benchmark, ratio, seed, name in bar:
        bar.set_postfix_str(f"{name} {benchmark} {ratio}% seed {seed}")
        train_run(name, benchmark, ratio, seed, params, load=load)
        m = evaluate_run(name, benchmark, ratio, seed, params, load=load)
        tqdm.write(f"{name} {benchmark} {ratio}% seed {seed}: unbiased {m['unbiased_acc']:.2f}  "
                   f"conflicting {m['conflicting_acc']:.2f}  worst-group {m['worst_group_acc']:.2f}")
    typer.echo(f"grid: {len(todo)} runs in {time.perf_counter() - t0:.0f} s; `diffubias report` tabulates them")
