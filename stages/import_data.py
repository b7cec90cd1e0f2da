"""`import-data`, `export-lff`: pack your own image tree once; write any packed benchmark back as PNGs."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias.data import dataset_root, load_vocabulary
from diffubias.errors import ConfigError
from diffubias.layouts import export_lff, pack_tree
from diffubias.tracking import track_stage
from stages.common import BENCHMARK, PARAMS, params_from


def import_data(benchmark: str = BENCHMARK, params_file: Path = PARAMS) -> None:
    """Pack <data.raw_root>/<benchmark>/ (LfF / DisEnt / BAR layout) into <data.root>/<benchmark>/."""
    params = params_from(params_file)
    d = params.data
    if benchmark not in d.imports:
        raise ConfigError(f"data.imports: {benchmark!r} is not listed; add it to data.imports in params.yaml")
    src = Path(d.raw_root) / benchmark
    out = Path(d.root) / benchmark
    size = d.import_size or d.image_size
    with track_stage("import-data", params.tracking, {"data.import_size": size}, benchmark=benchmark) as run:
        counts = pack_tree(src, out, size, load_vocabulary(src, d, benchmark))
        run.log_metrics({f"images.{k}": v for k, v in counts.items()})
    typer.echo(f"packed {sum(counts.values())} images of {src}/ at {size} px into {out}/ "
               f"({', '.join(f'{k}: {v}' for k, v in counts.items())})")


def export_lff_command(
    benchmark: str = BENCHMARK,
    out: Path = typer.Option(..., "--out", help="Folder to write the LfF-layout PNG tree into (replaced)."),
    params_file: Path = PARAMS,
) -> None:
    """Write a packed benchmark as an LfF-layout PNG tree (<ratio>pct/{align,conflict}/<class>/, valid/, test/)."""
    root = dataset_root(params_from(params_file).data, benchmark)
    n = export_lff(root, out)
    typer.echo(f"wrote {n} PNGs of {root}/ to {out}/")
