"""`make-data`: render an embedded biased benchmark as packed splits, with a PNG preview for people."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias.benchmarks import get_benchmark, write_benchmark
from diffubias.config import as_flat_dict
from diffubias.data import load_split
from diffubias.figures import preview_groups
from diffubias.tracking import track_stage
from stages.common import PARAMS, params_from

PREVIEWS = Path("reports") / "figures" / "data"


def make_data(
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="Embedded benchmark to render: colour or background."),
    params_file: Path = PARAMS,
) -> None:
    """Render an embedded benchmark (every conflict ratio, oracle, valid, test) under data.root."""
    params = params_from(params_file)
    spec = get_benchmark(benchmark)
    w = params.world
    out = Path(params.data.root) / benchmark
    with track_stage("make-data", params.tracking, as_flat_dict(w, "world."), benchmark=benchmark) as run:
        counts = write_benchmark(
            spec, out, seed=w.seed, image_size=w.image_size, train_size=w.train_size, ratios=w.ratios,
            valid_per_group=w.valid_per_group, test_per_group=w.test_per_group, noise_std=w.noise_std,
            workers=w.workers,
        )
        preview = preview_groups(load_split(out, "valid", None, 0), PREVIEWS / f"{benchmark}.png",
                                 f"{benchmark}: one validation image per class (rows) × bias value (columns)")
        run.log_metrics({f"images.{k}": v for k, v in counts.items()})
        run.log_artifact(preview)
    typer.echo(f"wrote {sum(counts.values())} images to {out}/ ({', '.join(f'{k}: {v}' for k, v in counts.items())}); "
               f"preview {preview}")
