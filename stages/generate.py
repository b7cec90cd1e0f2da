"""`generate`: render X_gen from the kept captions (DiffuBias step 5); resumable, incremental, sharded.

Run it as ``diffubias generate ...`` (one process) or ``accelerate launch [--multi_gpu | --cpu
--num_processes N] -m stages.cli generate ...``: every process renders its share of the batches
and the main process writes the one manifest.
"""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import artifacts
from diffubias.captioning import read_jsonl
from diffubias.config import Params, as_flat_dict
from diffubias.data import benchmark_vocabulary, count_split, dataset_root, load_benchmark_split, select_ids
from diffubias.fidelity_reference import reference_fidelity, source_fidelity
from diffubias.generation import RenderOptions, model_fingerprint, render, requested_images
from diffubias.mining import read_table
from diffubias.devices import resolve_device
from diffubias.sharding import current_shard
from diffubias.tracking import write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from
from stages.diffubias_common import VARIANT, main_process_tracking


def number_of_images(params: Params, benchmark: str, ratio: str, seed: int) -> int:
    """generate.images, or match_aligned: the train set minus X_bc (no bias label is read)."""
    p = params.generate
    mined = len(read_table(artifacts.mined_table(benchmark, ratio, seed)))
    return requested_images(p.images, p.images_ratio, count_split(params.data, benchmark, "train", ratio), mined)


def generate(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, variant: str = VARIANT,
             params_file: Path = PARAMS) -> None:
    """Render the planned images that are missing; write manifest.csv, images/s and fidelity."""
    from diffubias.foundation.loading import load_generator

    params = params_from(params_file)
    p = params.generate
    shard = current_shard()
    corpus = read_jsonl(artifacts.filtered_dir(variant, benchmark, ratio, seed) / "kept.jsonl")
    n = number_of_images(params, benchmark, ratio, seed)
    device = resolve_device(p.device, shard)
    pipe = load_generator(p.model, dtype=p.dtype, device=device, scheduler=p.scheduler or None,
                          attention_slicing=p.attention_slicing, cpu_offload=p.cpu_offload)
    opt = RenderOptions(p.steps, p.guidance_scale, params.data.image_size, p.batch_size, p.resolution, p.negative_prompt)
    settings = {}
    if shard.is_main:  # what every file's bytes depend on; a change re-renders the folder
        settings = {"model": model_fingerprint(p.model), "scheduler": p.scheduler, "dtype": p.dtype,
                    "device_type": device.type, "steps": p.steps, "guidance_scale": p.guidance_scale,
                    "resolution": p.resolution, "negative_prompt": p.negative_prompt,
                    "image_size": params.data.image_size, "seed": seed}
    out = artifacts.generated_dir(variant, benchmark, ratio, seed)
    with main_process_tracking(shard, "generate", params.tracking, {**as_flat_dict(p, "generate."), "variant": variant},
                               benchmark=benchmark, ratio=ratio, seed=seed, variant=variant) as run:
        stats = render(pipe, corpus, n, seed, opt, out, settings, shard)
        if stats is None:
            return
        del pipe
        vocab = benchmark_vocabulary(params.data, benchmark)
        root = dataset_root(params.data, benchmark)
        fidelity = reference_fidelity(p.reference, out, root, vocab, params.data.image_size)
        mined = select_ids(load_benchmark_split(params.data, benchmark, "train", ratio),
                           [r.sample_id for r in read_table(artifacts.mined_table(benchmark, ratio, seed))])
        fidelity["real_mined_images"] = source_fidelity(p.reference, root, mined, vocab)
        run.log_metrics({"images": n, "written": stats.written, "images_per_s": stats.images_per_s},
                        prefix="generate.")
        run.log_metrics({k: v for k, v in fidelity.items() if not isinstance(v, dict)}, prefix="fidelity.")
    write_json(artifacts.stage_metrics("generate", benchmark, ratio, seed, variant),
               {"images": n, "already_present": stats.already_present, "written": stats.written,
                "rendered_with_padding": stats.rendered_with_padding, "processes": shard.world,
                "images_per_s": round(stats.images_per_s, 3), "seconds": round(stats.seconds, 2),
                "repaired": stats.repaired, "fidelity": fidelity, "cost": run.cost})
    if stats.repaired.get("stray"):
        typer.secho(f"warning: removed {stats.repaired['stray']} file(s) from {out}/ that generate never writes",
                    err=True, fg=typer.colors.YELLOW)
    summary = {k: fidelity.get(k) for k in ("class_fidelity", "conflicting_rate", "class_and_conflicting", "skipped")}
    typer.echo(f"{variant}: {n} images ({stats.written} new, {stats.images_per_s:.2f} images/s) -> {out}; "
               f"fidelity {summary}")
