"""Where the DiffuBias stages (mine → caption → filter → generate → train-debiased) read and write.

Large outputs live under ``data/diffubias/`` (DVC-cached); their diagnostics are small JSON files
under ``reports/metrics/<stage>/`` (``cache: false``). ``variant`` is a DiffuBias run name
(``diffubias``, ``diffubias_nofilter``): it names the filter/generate outputs and the checkpoint.
"""
from __future__ import annotations

from pathlib import Path

from diffubias.errors import ConfigError
from diffubias.paths import REPORTS, cell

ROOT = Path("data") / "diffubias"

# variant -> whether the text filter follows text_filter.enabled (True) or is forced off (False)
VARIANTS: dict[str, bool] = {"diffubias": True, "diffubias_nofilter": False}


def check_variant(variant: str) -> str:
    """``variant`` if it is a known DiffuBias run name."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown DiffuBias variant {variant!r}; valid variants are {sorted(VARIANTS)}")
    return variant


def mined_dir(benchmark: str, ratio: str, seed: int) -> Path:
    return ROOT / "mined" / cell(benchmark, ratio, seed)


def mined_table(benchmark: str, ratio: str, seed: int) -> Path:
    return mined_dir(benchmark, ratio, seed) / "mined.csv"


def captions_dir(benchmark: str, ratio: str, seed: int) -> Path:
    return ROOT / "captions" / cell(benchmark, ratio, seed)


def captions_file(benchmark: str, ratio: str, seed: int) -> Path:
    return captions_dir(benchmark, ratio, seed) / "captions.jsonl"


def filtered_dir(variant: str, benchmark: str, ratio: str, seed: int) -> Path:
    return ROOT / "filtered" / check_variant(variant) / cell(benchmark, ratio, seed)


def generated_dir(variant: str, benchmark: str, ratio: str, seed: int) -> Path:
    return ROOT / "generated" / check_variant(variant) / cell(benchmark, ratio, seed)


def stage_metrics(stage: str, benchmark: str, ratio: str, seed: int, variant: str = "") -> Path:
    """``reports/metrics/<stage>/[<variant>/]<benchmark>/<ratio>pct/seed<s>.json``."""
    base = REPORTS / "metrics" / stage
    if variant:
        base = base / check_variant(variant)
    return base / cell(benchmark, ratio, seed).with_suffix(".json")
