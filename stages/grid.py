"""`grid`: the train + evaluate stages of the baseline runs over every cell of `grid`, in one process.

Outside DVC, for the full benchmark × ratio × seed matrix: it runs exactly what the `train-<run>` and
`evaluate` stages run and writes the same files (checkpoints, curves, train and test metrics, MLflow
runs), but reads each data split once per process instead of once per stage, and pays neither Python's
start-up nor DVC's per-stage hashing of the benchmark folder (together ~2/3 of a small MLP stage's time
on a 2-core CPU). `dvc commit` then records the outputs in dvc.lock; `dvc repro` would rebuild them.

Resumable, from the current params only: each run it trains gets a record
``reports/metrics/grid/<run>/<cell>.json`` with a config fingerprint (the params sections its DVC stage
declares, and the run and cell) and a digest of the test metrics it wrote. A later call keeps a run only
while that fingerprint matches the current params and the test metrics are still those; a stale or
unreadable record retrains it. Results with no record, or test metrics rewritten since (by a DVC stage,
or before records existed), are retrained too unless ``--reuse-unrecorded`` keeps them.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from diffubias import paths
from diffubias.data import ImageSet, load_benchmark_split
from diffubias.config import Params
from diffubias.errors import ConfigError
from diffubias.resume import CONFIG_KEY, files_digest, fingerprint, status
from diffubias.tracking import write_json
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


TEST_KEY = "test_metrics_digest"


def record_path(run: str, benchmark: str, ratio: str, seed: int) -> Path:
    return paths.REPORTS / "metrics" / "grid" / run / paths.cell(benchmark, ratio, seed).with_suffix(".json")


def run_fingerprint(params: Params, run: str, benchmark: str, ratio: str, seed: int) -> str:
    """What a run's result depends on: the params sections its `train-<run>` stage declares, the run and cell."""
    sections = ("data", "train", *RUNS[run].sections)
    return fingerprint(run=run, cell=[benchmark, ratio, seed], **{s: getattr(params, s) for s in sections})


def run_state(params: Params, run: str, benchmark: str, ratio: str, seed: int) -> str:
    """``missing`` (no test metrics), ``done`` (recorded with the current params), ``stale`` (other params),
    ``unreadable``, or ``unrecorded`` (no record, or test metrics rewritten since, e.g. by a DVC stage)."""
    test = paths.test_metrics(run, benchmark, ratio, seed)
    if not test.is_file():
        return "missing"
    record = record_path(run, benchmark, ratio, seed)
    state = status(record, run_fingerprint(params, run, benchmark, ratio, seed))
    if state == "missing":
        return "unrecorded"
    if state in ("current", "stale") and json.loads(record.read_text()).get(TEST_KEY) != files_digest([test]):
        return "unrecorded"  # the test metrics are not the ones this record was written for
    return "done" if state == "current" else state


def grid(
    runs: str = typer.Option("all", "--runs", help="Comma-separated runs (vanilla, biased, oracle, lff, ...) or 'all'."),
    force: bool = typer.Option(False, help="Retrain runs that have a result made with the current params."),
    reuse_unrecorded: Annotated[bool, typer.Option(
        help="Keep results that have test metrics but no grid record of their params (made by DVC stages or "
             "older code); use only if you know their params.")] = False,
    params_file: Path = PARAMS,
) -> None:
    """Outside DVC: train and evaluate the runs on every benchmark × ratio × seed of `grid` (resumable)."""
    params = params_from(params_file)
    names = parse_runs(runs)
    g = params.grid
    jobs = [(b, r, s, n) for b in g.benchmarks for r in g.ratios for s in g.seeds for n in names]
    keep = ("done", "unrecorded") if reuse_unrecorded else ("done",)
    states = {j: run_state(params, j[3], j[0], j[1], j[2]) for j in jobs}
    todo = [j for j in jobs if force or states[j] not in keep]
    counts = {k: sum(1 for j in todo if states[j] == k) for k in ("missing", "stale", "unrecorded", "unreadable")}
    detail = [f"{v} {k}" for k, v in counts.items() if v] + (["--force"] if force else [])
    typer.echo(f"grid: {len(todo)} of {len(jobs)} runs to train ({', '.join(detail) or 'none'}; "
               f"{len(jobs) - len(todo)} kept)")
    if counts["unrecorded"]:
        typer.echo("grid: unrecorded = test metrics with no grid record of their params (made by DVC stages or "
                   "older code); they are retrained, --reuse-unrecorded keeps them")
    load, t0 = SplitCache(), time.perf_counter()
    bar = tqdm(todo, desc="grid", unit="run")
    for benchmark, ratio, seed, name in bar:
        bar.set_postfix_str(f"{name} {benchmark} {ratio}% seed {seed}")
        t_run = time.perf_counter()
        train_run(name, benchmark, ratio, seed, params, load=load)
        m = evaluate_run(name, benchmark, ratio, seed, params, load=load)
        write_json(record_path(name, benchmark, ratio, seed),
                   {CONFIG_KEY: run_fingerprint(params, name, benchmark, ratio, seed),
                    TEST_KEY: files_digest([paths.test_metrics(name, benchmark, ratio, seed)]),
                    "wall_s": round(time.perf_counter() - t_run, 1)})
        tqdm.write(f"{name} {benchmark} {ratio}% seed {seed}: unbiased {m['unbiased_acc']:.2f}  "
                   f"conflicting {m['conflicting_acc']:.2f}  worst-group {m['worst_group_acc']:.2f}")
    typer.echo(f"grid: {len(todo)} runs in {time.perf_counter() - t0:.0f} s; `diffubias report` tabulates them")
