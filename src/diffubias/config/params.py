"""The whole of ``params.yaml`` as one frozen pydantic dataclass, and the strict loader that builds it.

Each value is validated against its field's type and bounds; unknown keys and wrongly typed values
fail with the key's dotted name, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError, field_validator

from diffubias.config.core import (BiasedParams, DataParams, DFRParams, GridParams, GroupDROParams, JTTParams,
                                   LfFParams, ResampleParams, TrackingParams, TrainParams, WorldParams)
from diffubias.config.ddb import (DDBAblationParams, DDBAmplifierParams, DDBDiffusionParams, DDBRecipe1Params,
                                  DDBRecipe2Params, DDBSampleParams)
from diffubias.config.diffubias import (CaptionParams, DebiasedParams, GenerateParams, MineParams,
                                        TextFilterParams)
from diffubias.config.ffr import FFRParams
from diffubias.config.foundation import (CaptionerParams, CorpusParams, FoundationEvalParams, ReferenceParams,
                                         T2IParams)
from diffubias.config.schema import describe, section
from diffubias.errors import ConfigError

PARAMS_FILE = "params.yaml"


@section("")
class Params:
    """All sections of params.yaml."""

    grid: GridParams = field(default_factory=GridParams)
    world: WorldParams = field(default_factory=WorldParams)
    data: DataParams = field(default_factory=DataParams)
    train: TrainParams = field(default_factory=TrainParams)
    biased: BiasedParams = field(default_factory=BiasedParams)
    mine: MineParams = field(default_factory=MineParams)
    caption: CaptionParams = field(default_factory=CaptionParams)
    text_filter: TextFilterParams = field(default_factory=TextFilterParams)
    generate: GenerateParams = field(default_factory=GenerateParams)
    debiased: DebiasedParams = field(default_factory=DebiasedParams)
    lff: LfFParams = field(default_factory=LfFParams)
    groupdro: GroupDROParams = field(default_factory=GroupDROParams)
    resample: ResampleParams = field(default_factory=ResampleParams)
    dfr: DFRParams = field(default_factory=DFRParams)
    jtt: JTTParams = field(default_factory=JTTParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    corpus: CorpusParams = field(default_factory=CorpusParams)
    t2i: T2IParams = field(default_factory=T2IParams)
    captioner: CaptionerParams = field(default_factory=CaptionerParams)
    reference: ReferenceParams = field(default_factory=ReferenceParams)
    foundation_eval: FoundationEvalParams = field(default_factory=FoundationEvalParams)
    ffr: FFRParams = field(default_factory=FFRParams)
    ddb_diffusion: DDBDiffusionParams = field(default_factory=DDBDiffusionParams)
    ddb_sample: DDBSampleParams = field(default_factory=DDBSampleParams)
    ddb_ba: DDBAmplifierParams = field(default_factory=DDBAmplifierParams)
    ddb_recipe1: DDBRecipe1Params = field(default_factory=DDBRecipe1Params)
    ddb_recipe2: DDBRecipe2Params = field(default_factory=DDBRecipe2Params)
    ddb_ablation: DDBAblationParams = field(default_factory=DDBAblationParams)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        # A section whose keys are all commented out reads as null in YAML: it means "all defaults".
        return {} if value is None else value


_ADAPTER = TypeAdapter(Params)


def build_section(cls: type, raw: Any, key: str) -> Any:
    """Build the section dataclass ``cls`` from the mapping ``raw`` (strict: unknown keys fail)."""
    try:
        return TypeAdapter(cls).validate_python({} if raw is None else raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc, cls, key)) from None


def parse_params(raw: dict[str, Any], source: str = PARAMS_FILE) -> Params:
    """Build :class:`Params` from an already-parsed YAML mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc, Params)}") from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate ``params.yaml`` (or another file with the same sections)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run from the repository root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_params(raw, str(path))


def as_flat_dict(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a params dataclass into ``{"section.key": value}`` for logging."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(as_flat_dict(value, key + "."))
        else:
            out[key] = value
    return out
