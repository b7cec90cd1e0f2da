"""From Fake to Real with the USB / ASB baselines: ffr-generate, ffr-pretrain, ffr-train, ffr-tsne, ffr-report.

``dvc repro`` trains the runs in ``ffr.runs`` (default: FFR with ERM and GroupDRO); the full grid of
the paper is ``diffubias preset ffr_full`` (see README).
"""
from __future__ import annotations

import time
from pathlib import Path

import typer

from diffubias import paths
from diffubias.config import Params, as_flat_dict
from diffubias.io import write_text_atomic
from diffubias.tracking import track_stage, write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from

RUN = typer.Option(..., "--run", help="FFR run name (see `diffubias ffr-runs`), e.g. ffr-erm, usb-groupdro.")
PRETRAIN_RUN = "ffr-pretrain"


def ffr_generate(benchmark: str = BENCHMARK, params_file: Path = PARAMS) -> None:
    """Render the balanced synthetic pool of a benchmark (every grid ratio's USB/ASB/FFR sets come from it)."""
    from diffubias.data import benchmark_vocabulary, dataset_root
    from diffubias.ffr.cells import generate_metrics, pool_size, synthetic_dir
    from diffubias.ffr.fidelity import pool_fidelity
    from diffubias.ffr.prompts import subgroup_corpus, template_for
    from diffubias.ffr.synthetic import load_pool
    from diffubias.foundation.loading import load_generator
    from diffubias.generation import RenderOptions, model_fingerprint, render

    params = params_from(params_file)
    p = params.ffr
    vocab = benchmark_vocabulary(params.data, benchmark)
    template = template_for(p, vocab, benchmark)
    corpus = subgroup_corpus(vocab, template)
    per_group, n = pool_size(params, benchmark, params.grid.ratios)
    pipe = load_generator(p.model, dtype=p.dtype, device=p.device, scheduler=p.scheduler or None)
    opt = RenderOptions(p.steps, p.guidance_scale, params.data.image_size, p.batch_size, p.resolution, p.negative_prompt)
    settings = {"model": model_fingerprint(p.model), "scheduler": p.scheduler, "dtype": p.dtype,
                "device_type": str(pipe.device).split(":")[0], "steps": p.steps, "guidance_scale": p.guidance_scale,
                "resolution": p.resolution, "negative_prompt": p.negative_prompt,
                "image_size": params.data.image_size, "seed": p.generation_seed, "template": template}
    out = synthetic_dir(benchmark)
    with track_stage("ffr-generate", params.tracking, as_flat_dict(p, "ffr."), benchmark=benchmark) as run:
        stats = render(pipe, corpus, n, p.generation_seed, opt, out, settings)
        del pipe
        pool = load_pool(out, vocab, params.data.image_size)
        fidelity = pool_fidelity(p.reference, pool, dataset_root(params.data, benchmark), vocab)
        run.log_metrics({"images": n, "written": stats.written, "images_per_s": stats.images_per_s}, prefix="ffr.")
        run.log_metrics({k: v for k, v in fidelity.items() if isinstance(v, (int, float))}, prefix="fidelity.")
    write_json(generate_metrics(benchmark), {
        "images": n, "per_subgroup": per_group, "ratios": list(params.grid.ratios), "template": template,
        "example_prompts": [r["text"] for r in corpus[:3]], "already_present": stats.already_present,
        "written": stats.written, "images_per_s": round(stats.images_per_s, 3), "seconds": round(stats.seconds, 2),
        "repaired": stats.repaired, "fidelity": fidelity, "cost": run.cost})
    typer.echo(f"ffr-generate {benchmark}: {n} images ({per_group} per subgroup, {stats.written} new, "
               f"{stats.images_per_s:.2f} images/s) -> {out}; subgroup fidelity {fidelity.get('subgroup_fidelity')}")


def _save(state: dict, params: Params, num_classes: int, meta: dict, path: Path) -> None:
    from diffubias.models import build_model
    from diffubias.training import save_checkpoint

    model = build_model(params.train.arch, num_classes, params.data.image_size)
    model.load_state_dict(state)
    save_checkpoint(model, path, {"arch": params.train.arch, "num_classes": num_classes,
                                  "image_size": params.data.image_size, **meta})


def ffr_pretrain(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """FFR stage 1: ERM on the balanced synthetic set of this cell (lr picked on validation)."""
    from diffubias.ffr.cells import load_cell
    from diffubias.ffr.runs import training_set
    from diffubias.ffr.train import fit_lr_grid, state_of

    params = params_from(params_file)
    cell = load_cell(params, benchmark, ratio)
    train = training_set("balanced", cell.real, cell.pool, cell.plan)
    with track_stage("ffr-pretrain", params.tracking, {**as_flat_dict(params.train, "train."),
                     **as_flat_dict(params.ffr, "ffr.")}, benchmark=benchmark, ratio=ratio, seed=seed) as run:
        res = fit_lr_grid("erm", train, cell.valid, params, seed, epochs=params.ffr.stage1_epochs)
        run.log_metrics({"lr": res.lr, "selected_epoch": res.fit.selected_epoch})
    meta = {"method": "erm", "run": PRETRAIN_RUN, "benchmark": benchmark, "ratio": ratio, "seed": seed,
            "selected_epoch": res.fit.selected_epoch, "lr": res.lr}
    _save(state_of(res.fit.method.model), params, cell.real.num_classes, meta,
          paths.checkpoint(PRETRAIN_RUN, benchmark, ratio, seed))
    write_json(paths.train_metrics(PRETRAIN_RUN, benchmark, ratio, seed), {
        "valid": {k: res.fit.valid_metrics[k] for k in ("unbiased_acc", "worst_group_acc", "balanced_acc")},
        "lr": res.lr, "lr_scores": {str(k): v for k, v in res.scores.items()}, "train_samples": len(train),
        **cell.plan.summary(), "cost": run.cost})
    typer.echo(f"ffr-pretrain {benchmark} {ratio}% seed {seed}: {len(train)} synthetic images, lr {res.lr}, "
               f"valid balanced {res.fit.valid_metrics['balanced_acc']:.2f}")


def train_ffr_run(run_name: str, benchmark: str, ratio: str, seed: int, params: Params, params_file: Path) -> dict:
    """Train one run's phases, checkpoint it, and score it on the test split (the shared evaluate command)."""
    from diffubias.ffr.cells import load_cell
    from diffubias.ffr.runs import get_run, training_set
    from diffubias.ffr.train import run_phases
    from diffubias.training import load_checkpoint
    from stages.evaluate import evaluate

    spec = get_run(run_name)
    kinds = {ph.data for ph in spec.phases}
    cell = load_cell(params, benchmark, ratio, with_pool=bool(kinds - {"real"}))
    sets = {k: training_set(k, cell.real, cell.pool, cell.plan) for k in kinds}
    pretrained = None
    if spec.pretrained:
        model, _ = load_checkpoint(paths.checkpoint(PRETRAIN_RUN, benchmark, ratio, seed))
        pretrained = model.state_dict()
    t0 = time.perf_counter()
    with track_stage(f"ffr-train-{run_name}", params.tracking, {**as_flat_dict(params.train, "train."),
                     **as_flat_dict(params.ffr, "ffr.")}, benchmark=benchmark, ratio=ratio, seed=seed,
                     method=run_name) as run:
        state, phases = run_phases(spec, sets, cell.valid, params, seed, pretrained)
        run.log_metrics({f"phase{i}.lr": ph["lr"] for i, ph in enumerate(phases)})
    meta = {"method": run_name, "run": run_name, "benchmark": benchmark, "ratio": ratio, "seed": seed,
            "selected_epoch": phases[-1]["selected_epoch"] if phases else None}
    _save(state, params, cell.real.num_classes, meta, paths.checkpoint(run_name, benchmark, ratio, seed))
    metrics = {"run": run_name, "pretrained": spec.pretrained, "phases": phases, **cell.plan.summary(),
               "seconds": round(time.perf_counter() - t0, 2), "cost": run.cost}
    write_json(paths.train_metrics(run_name, benchmark, ratio, seed), metrics)
    evaluate(run=run_name, benchmark=benchmark, ratio=ratio, seed=seed, params_file=params_file)
    return metrics


def ffr_train(run: str = RUN, benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED,
              params_file: Path = PARAMS) -> None:
    """Train one None / USB / ASB / FFR run (or an ablation) and score it on the unbiased test split."""
    train_ffr_run(run, benchmark, ratio, seed, params_from(params_file), params_file)


def ffr_runs() -> None:
    """List the FFR runs (names for ffr.runs and --run)."""
    from diffubias.ffr.runs import FFR_RUNS

    for name in FFR_RUNS:
        spec = FFR_RUNS.get(name)
        typer.echo(f"{name:16s} [{spec.table}] {spec.help}")


TSNE_RUNS = ("usb-erm", "asb-erm", "ffr-erm")


def ffr_tsne(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """t-SNE of real vs synthetic training embeddings under USB, ASB and FFR (ERM), with a k-NN separability score."""
    import numpy as np

    from diffubias.ffr.cells import load_cell
    from diffubias.ffr.embeddings import sample, source_separability, tsne_panels
    from diffubias.ffr.runs import training_set
    from diffubias.methods.dfr import extract_features
    from diffubias.training import load_checkpoint

    params = params_from(params_file)
    cell = load_cell(params, benchmark, ratio)
    n = params.ffr.tsne_samples
    synthetic_of = {"usb-erm": "usb", "asb-erm": "asb", "ffr-erm": "balanced"}
    real = sample(cell.real, n, seed)
    panels, scores = {}, {}
    for run in TSNE_RUNS:
        model, _ = load_checkpoint(paths.checkpoint(run, benchmark, ratio, seed))
        syn = training_set(synthetic_of[run], cell.real, cell.pool, cell.plan)
        syn = sample(syn.subset([i for i, p in enumerate(syn.paths) if p.startswith("synthetic/")]), n, seed)
        feats = np.concatenate([extract_features(model, real, "cpu"), extract_features(model, syn, "cpu")])
        flags = np.array([False] * len(real) + [True] * len(syn))
        panels[run] = (feats, flags)
        scores[run] = round(source_separability(feats, flags, seed), 2)
    out = paths.REPORTS / "figures" / "ffr" / f"tsne_{benchmark}_{ratio}pct_seed{seed}.png"
    tsne_panels(panels, out, seed, f"{benchmark} {ratio}% seed {seed}: real vs synthetic penultimate features")
    write_json(paths.REPORTS / "metrics" / "ffr-tsne" / paths.cell(benchmark, ratio, seed).with_suffix(".json"),
               {"figure": str(out), "samples_per_source": len(real), "knn_source_accuracy": scores})
    typer.echo(f"ffr-tsne -> {out}; 5-NN real/synthetic accuracy {scores}")


def ffr_report(out: Path = typer.Option(paths.REPORTS / "ffr.md", "--out", help="Markdown report to write."),
               source: Path = typer.Option(paths.REPORTS, help="Folder holding metrics/ (test, ffr-generate, ffr-tsne)."),
               note: str = typer.Option("", help="A paragraph on how the numbers were produced (setup, wall time)."),
               ) -> None:
    """Write reports/ffr.md: the None/USB/ASB/FFR × method grid, the stage and pretraining ablations, fidelity, t-SNE."""
    from diffubias.ffr.report import render_ffr_report

    write_text_atomic(out, render_ffr_report(source, note, out.parent))
    typer.echo(f"wrote {out}")


def ffr_import(
    name: str = typer.Argument(..., help="Metadata dataset: celebahq, utkface or spuco_animals."),
    csv_path: Path = typer.Option(..., "--csv", help="metadata.csv with the image path, y, bias attribute and split columns."),
    images: Path = typer.Option(..., "--images", help="Folder the CSV's image paths are relative to."),
    ratios: str = typer.Option("", help="Comma-separated conflict ratios in % (default: grid.ratios)."),
    seed: int = typer.Option(0, help="Seed of the conflicting-sample subsampling."),
    params_file: Path = PARAMS,
) -> None:
    """Link a metadata-CSV dataset into data.raw_root/<name> in the LfF layout (one train split per bias ratio)."""
    from diffubias.ffr.metadata import import_metadata

    params = params_from(params_file)
    chosen = tuple(r for r in ratios.split(",") if r) or params.grid.ratios
    out = Path(params.data.raw_root) / name
    achieved = import_metadata(name, csv_path, images, out, chosen, seed)
    typer.echo(f"wrote {out}/ (symlinks); achieved conflict %: " +
               ", ".join(f"{r}: {a:.2f}" for r, a in achieved.items()) +
               f". Next: add {name!r} to data.imports and run `dvc repro import-data` to pack it")
