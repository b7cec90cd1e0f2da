"""`diffubias-grid`: every DiffuBias step over every cell of `grid`, outside DVC (resumable, split in parts).

For the full benchmark × ratio × seed table of `reports/diffubias.md`. Per cell it runs exactly what the
DVC stages run, in their order and writing their files: train-biased, mine, caption, then per variant
filter, generate, train-debiased and evaluate (and `diagnose-generated` for `diffubias` when
generate.reference is set). Generation dominates (~90 % of a cell on a CPU) and is
resumable image by image, so an interrupted cell resumes where it stopped. A later variant adopts, instead of
rendering again, every batch an earlier variant rendered from the same plan (all of it when both kept the
same captions; `diffubias.adoption`: byte-identical, checked by `generate`). A finished cell records its
config fingerprint and per-step wall times in ``reports/metrics/diffubias-grid/<cell>.json``; a later call
skips it only while that fingerprint matches the current params and models. ``--part K/N`` runs every
N-th cell, so N processes (e.g. ``OMP_NUM_THREADS=1``, one per core) share a grid; `dvc commit` adopts the
outputs, `diffubias report-diffubias` tabulates them.
"""
from __future__ import annotations

import time
from pathlib import Path

import typer

from diffubias import artifacts, paths
from diffubias.adoption import adopt_folder
from diffubias.captioning import read_jsonl
from diffubias.config import Params
from diffubias.errors import ConfigError
from diffubias.generation import model_fingerprint
from diffubias.resume import CONFIG_KEY, fingerprint, status
from diffubias.tracking import write_json
from stages.common import PARAMS, params_from

SECTIONS = ("world", "data", "train", "biased", "mine", "caption", "text_filter", "generate", "debiased")


def record_path(benchmark: str, ratio: str, seed: int) -> Path:
    return paths.REPORTS / "metrics" / "diffubias-grid" / paths.cell(benchmark, ratio, seed).with_suffix(".json")


def cell_fingerprint(params: Params, benchmark: str, ratio: str, seed: int, variants: tuple[str, ...],
                     models: dict[str, str]) -> str:
    """What a cell's results depend on: the params sections its stages declare, the models' content, the cell."""
    return fingerprint(cell=[benchmark, ratio, seed], variants=list(variants), models=models,
                       **{name: getattr(params, name) for name in SECTIONS})


def parse_part(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) -> (K, N)."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--part {text!r}: expected K/N, e.g. 1/2 (the first of two processes)") from None
    if not 1 <= k <= n:
        raise ConfigError(f"--part {text!r}: K must be between 1 and N")
    return k, n


def adopt_earlier(benchmark: str, ratio: str, seed: int, variant: str, earlier: tuple[str, ...],
                  params: Params) -> int:
    """Seed ``variant``'s empty generated folder with the batches an earlier variant rendered from the same plan."""
    from stages.generate import number_of_images

    corpus = read_jsonl(artifacts.filtered_dir(variant, benchmark, ratio, seed) / "kept.jsonl")
    out = artifacts.generated_dir(variant, benchmark, ratio, seed)
    n = number_of_images(params, benchmark, ratio, seed)
    for donor in earlier:
        count = adopt_folder(out, artifacts.generated_dir(donor, benchmark, ratio, seed), corpus, seed, n)
        if count:
            typer.echo(f"diffubias-grid {benchmark} {ratio}% seed {seed}: {variant} adopts {count} of {n} "
                       f"images rendered for {donor} from the same plan")
            return count
    return 0


def run_cell(benchmark: str, ratio: str, seed: int, variants: tuple[str, ...], params: Params,
             params_file: Path) -> tuple[dict[str, float], dict[str, int]]:
    """The DVC stages of one cell, in order; returns each step's wall time in seconds and the images adopted."""
    from stages.caption import caption
    from stages.diagnose_generated import diagnose_generated
    from stages.evaluate import evaluate
    from stages.filter_captions import filter_command
    from stages.generate import generate
    from stages.mine import mine
    from stages.train import train_run
    from stages.train_debiased import train_debiased

    steps = [("train-biased", lambda: train_run("biased", benchmark, ratio, seed, params)),
             ("mine", lambda: mine(benchmark, ratio, seed, params_file)),
             ("caption", lambda: caption(benchmark, ratio, seed, params_file))]
    adopted: dict[str, int] = {}

    def generate_step(v: str, earlier: tuple[str, ...]) -> None:
        adopted[v] = adopt_earlier(benchmark, ratio, seed, v, earlier, params)
        generate(benchmark, ratio, seed, v, params_file)

    for i, v in enumerate(variants):
        steps += [(f"filter/{v}", lambda v=v: filter_command(benchmark, ratio, seed, v, params_file)),
                  (f"generate/{v}", lambda v=v, i=i: generate_step(v, variants[:i])),
                  (f"train-debiased/{v}", lambda v=v: train_debiased(benchmark, ratio, seed, v, params_file)),
                  (f"evaluate/{v}", lambda v=v: evaluate(run=v, benchmark=benchmark, ratio=ratio, seed=seed,
                                                         params_file=params_file))]
    if "diffubias" in variants and params.generate.reference:  # the evaluation-only label-noise diagnostic
        steps.append(("diagnose-generated", lambda: diagnose_generated(benchmark, ratio, seed, "diffubias", params_file)))
    seconds = {}
    for name, step in steps:
        typer.echo(f"diffubias-grid {benchmark} {ratio}% seed {seed}: {name}")
        t0 = time.perf_counter()
        step()
        seconds[name] = round(time.perf_counter() - t0, 1)
    return seconds, adopted


def diffubias_grid(
    variants: str = typer.Option("diffubias,diffubias_nofilter", "--variants",
                                 help="Comma-separated DiffuBias variants to run per cell."),
    part: str = typer.Option("1/1", "--part", help="K/N: run every N-th cell starting at the K-th (N processes)."),
    force: bool = typer.Option(False, help="Rerun cells that have a record of the current params."),
    params_file: Path = PARAMS,
) -> None:
    """Outside DVC: the DiffuBias steps on every benchmark × ratio × seed of `grid` (resumable)."""
    params = params_from(params_file)
    names = tuple(v.strip() for v in variants.split(",") if v.strip())
    for v in names:
        artifacts.check_variant(v)
    k, n = parse_part(part)
    g = params.grid
    cells = [(b, r, s) for b in g.benchmarks for r in g.ratios for s in g.seeds][k - 1::n]
    models = {"captioner": model_fingerprint(params.caption.model), "t2i": model_fingerprint(params.generate.model),
              "reference": model_fingerprint(params.generate.reference) if params.generate.reference else ""}
    t_all = time.perf_counter()
    done = 0
    for benchmark, ratio, seed in cells:
        fp = cell_fingerprint(params, benchmark, ratio, seed, names, models)
        record = record_path(benchmark, ratio, seed)
        have = all(paths.test_metrics(v, benchmark, ratio, seed).is_file() for v in names)
        state = status(record, fp)
        if not force and have and state == "current":
            typer.echo(f"diffubias-grid {benchmark} {ratio}% seed {seed}: done with these params, skipped")
            continue
        if state in ("stale", "unrecorded", "unreadable"):
            typer.echo(f"diffubias-grid {benchmark} {ratio}% seed {seed}: record is {state}; rerunning the cell")
        t0 = time.perf_counter()
        seconds, adopted = run_cell(benchmark, ratio, seed, names, params, params_file)
        write_json(record, {CONFIG_KEY: fp, "variants": list(names), "seconds": seconds, "adopted_images": adopted,
                            "wall_s": round(time.perf_counter() - t0, 1)})
        done += 1
    typer.echo(f"diffubias-grid: {done} of {len(cells)} cells run (part {k}/{n}) in "
               f"{time.perf_counter() - t_all:.0f} s; `diffubias report-diffubias` tabulates them")
