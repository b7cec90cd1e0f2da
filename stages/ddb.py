"""Diffusing DeBias steps 1-3: `ddb-train-diffusion`, `ddb-sample`, `ddb-train-ba` (METHODS.md §3)."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias.config import as_flat_dict
from diffubias.data import benchmark_vocabulary, dataset_root, load_benchmark_split
from diffubias.ddb import paths as ddb_paths
from diffubias.metrics import headline
from diffubias.tracking import track_stage, write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from


def ddb_train_diffusion(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED,
                        params_file: Path = PARAMS) -> None:
    """Train the class-conditional diffusion model on the biased train split (resumes from its checkpoint)."""
    from diffubias.ddb.diffusion import train_diffusion

    params = params_from(params_file)
    p = params.ddb_diffusion
    train = load_benchmark_split(params.data, benchmark, "train", ratio)
    out = ddb_paths.diffusion_dir(benchmark, ratio, seed)
    with track_stage("ddb-train-diffusion", params.tracking, as_flat_dict(p, "ddb_diffusion."),
                     benchmark=benchmark, ratio=ratio, seed=seed) as run:
        result = train_diffusion(train.images, train.labels, train.num_classes, p, params.data.image_size, seed, out)
        summary = {"steps": result.steps_total, "steps_run": result.steps_run, "resumed_from": result.resumed_from,
                   "final_loss": round(result.final_loss, 5), "steps_per_s": round(result.steps_per_s, 3),
                   "train_s": round(result.seconds, 1)}
        run.log_metrics(summary)
    write_json(ddb_paths.metrics("diffusion", benchmark, ratio, seed),
               {**summary, "train_images": len(train), "cost": run.cost})
    typer.echo(f"ddb diffusion: {result.steps_total} steps (ran {result.steps_run}), loss {result.final_loss:.4f}, "
               f"{result.steps_per_s:.2f} steps/s -> {out}")


def ddb_sample(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """Sample ddb_sample.images_per_class synthetic images per class; measure their alignment rate."""
    import torch

    from diffubias.ddb.sampling import alignment_metrics, load_synthetic, sample_grid, synthesize
    from diffubias.devices import resolve_device

    params = params_from(params_file)
    p = params.ddb_sample
    if p.threads > 0:
        torch.set_num_threads(p.threads)
    vocab = benchmark_vocabulary(params.data, benchmark)
    out = ddb_paths.samples_dir(benchmark, ratio, seed)
    with track_stage("ddb-sample", params.tracking, as_flat_dict(p, "ddb_sample."),
                     benchmark=benchmark, ratio=ratio, seed=seed) as run:
        stats = synthesize(ddb_paths.diffusion_dir(benchmark, ratio, seed), vocab, p.images_per_class,
                           p.guidance_scale, p.steps, p.scheduler, p.batch_size, params.data.image_size, seed, out,
                           str(resolve_device(params.train.device)))
        train = load_benchmark_split(params.data, benchmark, "train", ratio)
        synthetic = load_synthetic(out, train, params.data.image_size)
        root = dataset_root(params.data, benchmark)
        synth_align = alignment_metrics(p.reference, synthetic.images, synthetic.labels, root, vocab)
        real_align = alignment_metrics(p.reference, train.images, train.labels, root, vocab)
        sample_grid(synthetic.images, synthetic.labels, train.num_classes, 8,
                    ddb_paths.sample_grid(benchmark, ratio, seed))
        metrics = {"images": stats.requested, "written": stats.written, "already_present": stats.already_present,
                   "images_per_s": round(stats.images_per_s, 2), "seconds": round(stats.seconds, 1),
                   "guidance_scale": p.guidance_scale, "alignment_rate": synth_align.get("alignment_rate"),
                   "class_fidelity": synth_align.get("class_fidelity"),
                   "real_train_alignment_rate": real_align.get("alignment_rate"),
                   "synthetic": synth_align, "real_train": {k: v for k, v in real_align.items()
                                                            if k != "bias_distribution"}}
        run.log_metrics({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    write_json(ddb_paths.metrics("sample", benchmark, ratio, seed), {**metrics, "cost": run.cost})
    typer.echo(f"ddb sample: {stats.requested} images ({stats.written} new, {stats.images_per_s:.1f} img/s); "
               f"alignment {metrics['alignment_rate']}% (real train set: {metrics['real_train_alignment_rate']}%)")


def ddb_train_ba(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """Train the Bias Amplifier on the synthetic images (or, ddb_ba.source: real, on the biased train set)."""
    from diffubias.ddb.amplifier import (amplifier_method, amplifier_resolution, cue_following, group_match,
                                         pseudo_conflicting, train_amplifier)
    from diffubias.ddb.sampling import load_synthetic
    from diffubias.devices import resolve_device
    from diffubias.training import evaluate, save_checkpoint

    params = params_from(params_file)
    p = params.ddb_ba
    train = load_benchmark_split(params.data, benchmark, "train", ratio)
    valid = load_benchmark_split(params.data, benchmark, "valid")
    source = (load_synthetic(ddb_paths.samples_dir(benchmark, ratio, seed), train, params.data.image_size)
              if p.source == "synthetic" else train)
    device = resolve_device(params.train.device)
    with track_stage("ddb-train-ba", params.tracking, as_flat_dict(p, "ddb_ba."),
                     benchmark=benchmark, ratio=ratio, seed=seed) as run:
        result = train_amplifier(source, valid, params, seed)
        ba = result.method.model
        mask = pseudo_conflicting(ba, train.images, train.labels, device)
        match = group_match(mask, ~train.aligned)  # evaluation only: true groups never reach training
        on_train = headline(evaluate(ba, train, device))
        cues = cue_following(ba, valid, device)  # evaluation only: what the BA reads on conflicting samples
        run.log_metrics(match, prefix="pseudo.")
        run.log_metrics(cues, prefix="valid_conflicting.")
    meta = {"arch": p.arch or params.train.arch, "num_classes": train.num_classes,
            "image_size": amplifier_resolution(params), "method": amplifier_method(params), "run": "ddb_ba",
            "source": p.source, "benchmark": benchmark, "ratio": ratio, "seed": seed}
    save_checkpoint(ba, ddb_paths.amplifier_checkpoint(benchmark, ratio, seed), meta)
    write_json(ddb_paths.metrics("ba", benchmark, ratio, seed),
               {"source": p.source, "source_images": len(source), "pseudo_groups": match,
                "ba_on_real_train": on_train, "ba_on_valid": headline(result.valid_metrics),
                "ba_on_valid_conflicting": cues, "cost": run.cost})
    typer.echo(f"ddb BA ({p.source}, {len(source)} images): pseudo-conflicting precision {match['precision']}% "
               f"recall {match['recall']}% ({match['pseudo_conflicting']} flagged); on conflicting validation "
               f"samples it predicts the class {cues['follows_class']}%, the bias's class {cues['follows_bias']}%")


__all__ = ["ddb_train_diffusion", "ddb_sample", "ddb_train_ba"]
