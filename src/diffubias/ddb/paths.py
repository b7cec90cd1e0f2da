"""Where the DDB stages read and write (large artifacts under data/ and models/, metrics under reports/)."""
from __future__ import annotations

from pathlib import Path

from diffubias.paths import MODELS, REPORTS, cell

DATA = Path("data") / "ddb"
METRICS = REPORTS / "metrics" / "ddb"
FIGURES = REPORTS / "figures" / "ddb"
RECIPE_RUNS = ("ddb_recipe1", "ddb_recipe2")


def diffusion_dir(benchmark: str, ratio: str, seed: int) -> Path:
    """The diffusers-format model (unet/, scheduler/, ddb_diffusion.json) and its checkpoint/."""
    return MODELS / "ddb" / "diffusion" / cell(benchmark, ratio, seed)


def samples_dir(benchmark: str, ratio: str, seed: int) -> Path:
    """Synthetic images as packed batch shards + manifest.csv + generation.json."""
    return DATA / "synthetic" / cell(benchmark, ratio, seed)


def amplifier_checkpoint(benchmark: str, ratio: str, seed: int) -> Path:
    """The Bias Amplifier's weights (safetensors with metadata)."""
    return MODELS / "ddb" / "ba" / cell(benchmark, ratio, seed) / "model.safetensors"


def ablation_dir(benchmark: str, ratio: str, seed: int) -> Path:
    """Scratch samples of the guidance-scale ablation."""
    return DATA / "ablation" / cell(benchmark, ratio, seed)


def metrics(kind: str, benchmark: str, ratio: str, seed: int) -> Path:
    """``reports/metrics/ddb/<kind>/<benchmark>/<ratio>pct/seed<seed>.json``."""
    return METRICS / kind / cell(benchmark, ratio, seed).with_suffix(".json")


def sample_grid(benchmark: str, ratio: str, seed: int) -> Path:
    """PNG grid of synthetic images, one row per class."""
    return FIGURES / "samples" / cell(benchmark, ratio, seed).with_suffix(".png")
