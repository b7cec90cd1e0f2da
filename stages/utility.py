"""Helper commands that are not pipeline steps: list registries, apply a preset."""
from __future__ import annotations

from pathlib import Path

import typer
import yaml

from diffubias.config import parse_params
from diffubias.errors import ConfigError
from diffubias.io import write_text_atomic
from diffubias.methods import METHODS
from diffubias.models import ARCHITECTURES
from diffubias.benchmarks import BENCHMARKS


def methods() -> None:
    """List registered methods, architectures and embedded benchmarks."""
    for name in METHODS.names():
        cls = METHODS.get(name)
        flag = "  [bias-supervised]" if cls.bias_supervised else ""
        typer.echo(f"method        {name}{flag}: {(cls.__doc__ or '').strip().splitlines()[0]}")
    typer.echo(f"architectures {', '.join(ARCHITECTURES.names())}")
    typer.echo(f"benchmarks    {', '.join(sorted(BENCHMARKS))}")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def preset(
    name: str = typer.Argument(..., help="Preset file name under presets/ (without .yaml), e.g. tiny."),
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="Parameter file to rewrite."),
) -> None:
    """Deep-merge presets/<name>.yaml into params.yaml (validated before writing; comments are not kept)."""
    src = Path("presets") / f"{name}.yaml"
    if not src.is_file():
        known = sorted(p.stem for p in Path("presets").glob("*.yaml"))
        raise ConfigError(f"{src}: no such preset; available: {known}")
    merged = _merge(yaml.safe_load(params_file.read_text()) or {}, yaml.safe_load(src.read_text()) or {})
    parse_params(merged, str(src))
    write_text_atomic(params_file, yaml.safe_dump(merged, sort_keys=False))
    typer.echo(f"applied {src} to {params_file}")
