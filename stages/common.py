"""Options and helpers shared by the stage commands."""
from __future__ import annotations

from pathlib import Path

import typer

from diffubias.config import Params, load_params

BENCHMARK = typer.Option(..., "--benchmark", "-b", help="Benchmark: a folder under data.root — an embedded one (colour, background) or your own.")
RATIO = typer.Option(..., "--ratio", "-r", help="Conflict ratio in percent as in the folder name, e.g. 1 for 1pct/.")
SEED = typer.Option(0, "--seed", "-s", help="Training seed (model init, batch order, augmentation).")
PARAMS = typer.Option(Path("params.yaml"), "--params", help="Parameter file to read (default params.yaml).")


def params_from(path: Path) -> Params:
    """Load and validate the parameter file."""
    return load_params(path)
