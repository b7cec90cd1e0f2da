"""The whole of ``params.yaml`` as one frozen dataclass, and the strict loader that builds it.

Each value is checked against its field's annotation; unknown keys and wrongly typed values fail
with the key's dotted name, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from diffubias.config.core import (BiasedParams, DataParams, DFRParams, GridParams, GroupDROParams, JTTParams,
                                   LfFParams, ResampleParams, TrackingParams, TrainParams, WorldParams)
from diffubias.config.ddb import (DDBAblationParams, DDBAmplifierParams, DDBDiffusionParams, DDBRecipe1Params,
                                  DDBRecipe2Params, DDBSampleParams)
from diffubias.config.diffubias import (CaptionParams, DebiasedParams, GenerateParams, MineParams,
                                        TextFilterParams)
from diffubias.config.ffr import FFRParams
from diffubias.config.foundation import (CaptionerParams, CorpusParams, FoundationEvalParams, ReferenceParams,
                                         T2IParams)
from diffubias.errors import ConfigError

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
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


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it in canonical form."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} matches none of {[_name(a) for a in args]}")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        item_tp = args[0] if args else Any
        return tuple(_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        ktp, vtp = args if args else (Any, Any)
        return {_coerce(k, ktp, key): _coerce(v, vtp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build_section(tp, value, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        # YAML reads `ratios: [1, 0.5]` as numbers; ratios and ids are strings here.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_to_str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")  # pragma: no cover


def _number_to_str(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def build_section(cls: type, raw: Any, key: str) -> Any:
    """Build the dataclass ``cls`` from the mapping ``raw`` (strict: unknown keys fail)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a mapping of options, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    where = key or "params.yaml"
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(_join(key, u) for u in unknown)}; "
            f"valid keys are {sorted(known)}"
        )
    values = {name: _coerce(raw[name], hints[name], _join(key, name)) for name in raw}
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse_params(raw: dict[str, Any], source: str = PARAMS_FILE) -> Params:
    """Build :class:`Params` from an already-parsed YAML mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        return build_section(Params, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


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
