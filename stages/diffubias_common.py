"""Options and helpers shared by the DiffuBias stage commands (mine, caption, filter, generate, train-debiased)."""
from __future__ import annotations

import contextlib
from typing import Any, ContextManager

import typer

from diffubias.config import TrackingParams
from diffubias.sharding import Shard
from diffubias.tracking import StageRun, track_stage

VARIANT = typer.Option("diffubias", "--variant", "-v",
                       help="DiffuBias run: diffubias (filter per text_filter.enabled) or diffubias_nofilter (filter off).")


def main_process_tracking(shard: Shard, stage: str, p: TrackingParams, params: dict[str, Any],
                          **tags: Any) -> ContextManager[StageRun]:
    """MLflow/CodeCarbon tracking on the main process; a throw-away record on the others."""
    if shard.is_main:
        return track_stage(stage, p, params, **tags)
    return contextlib.nullcontext(StageRun(stage, {}))
