"""`caption`: k sampled captions per mined image (DiffuBias step 3); shards over accelerate processes."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias import artifacts
from diffubias.captioning import caption_mined, load_mined_images
from diffubias.config import as_flat_dict
from diffubias.data import benchmark_vocabulary, dataset_root, load_split
from diffubias.mining import read_table
from diffubias.devices import resolve_device
from diffubias.sharding import current_shard
from diffubias.tracking import write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from
from stages.diffubias_common import main_process_tracking


def caption(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, params_file: Path = PARAMS) -> None:
    """Caption the mined images with caption.model -> captions.jsonl (image, caption_index, text)."""
    from diffubias.foundation.loading import load_captioner

    params = params_from(params_file)
    p = params.caption
    shard = current_shard()
    rows = read_table(artifacts.mined_table(benchmark, ratio, seed))
    # The captioner sees the mined images at the packed resolution, not data.image_size.
    train = load_split(dataset_root(params.data, benchmark), "train", ratio, 0,
                       benchmark_vocabulary(params.data, benchmark))
    images = load_mined_images(train, rows)
    captioner = load_captioner(p.model, dtype=p.dtype, device=resolve_device(p.device, shard))
    out = artifacts.captions_file(benchmark, ratio, seed)
    with main_process_tracking(shard, "caption", params.tracking, as_flat_dict(p, "caption."),
                               benchmark=benchmark, ratio=ratio, seed=seed) as run:
        result = caption_mined(captioner, images, rows, p.captions_per_image, seed, p.batch_size, out, shard)
        if result is not None:
            records, stats = result
            run.log_metrics({"images": stats.images, "captions": stats.captions, "images_per_s": stats.images_per_s},
                            prefix="caption.")
            run.log_artifact(out)
    if result is None:
        return
    write_json(artifacts.stage_metrics("caption", benchmark, ratio, seed),
               {"images": stats.images, "captions": stats.captions, "processes": shard.world,
                "images_per_s": round(stats.images_per_s, 3), "seconds": round(stats.seconds, 2),
                "examples": records[:6], "cost": run.cost})
    typer.echo(f"{stats.captions} captions of {stats.images} images ({stats.images_per_s:.2f} images/s) -> {out}")
