"""The pydantic machinery every section shares: strict value types, the section decorator, one-line errors.

Values are validated in pydantic's lax mode (YAML lists become tuples, sections may be mappings) but
every scalar is ``Strict``: ``"10"``, ``1.0`` or ``true`` is not an integer, ``"1e-3"`` is not a number.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from typing import Annotated, Any, Callable, TypeVar

import pydantic.dataclasses
from pydantic import BeforeValidator, ConfigDict, Field, Strict, ValidationError
from pydantic_core import PydanticCustomError

from diffubias.errors import ConfigError

# Torch trains in float32: a larger learning rate becomes inf there and every weight NaN.
FLOAT32_MAX = 3.4028234663852886e38

CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)

Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
PosInt = Annotated[int, Strict(), Field(ge=1)]          # steps, epochs, batch sizes, counts, widths
NonNegInt = Annotated[int, Strict(), Field(ge=0)]       # threads, warm-up steps, sizes where 0 = a default
PosFloat = Annotated[float, Strict(), Field(gt=0)]
NonNegFloat = Annotated[float, Strict(), Field(ge=0)]
LearningRate = Annotated[float, Strict(), Field(gt=0, le=FLOAT32_MAX)]
Probability = Annotated[float, Strict(), Field(ge=0, le=1)]
Fraction = Annotated[float, Strict(), Field(ge=0, lt=1)]     # EMA decays and dropouts: 1 freezes or drops all
PosFraction = Annotated[float, Strict(), Field(gt=0, le=1)]  # GCE q, StepLR gamma, top-p


def _number_to_str(value: Any) -> Any:
    # YAML reads `ratios: [1, 0.5]` as numbers; ratios and ids are folder-name strings ("1", "0.5").
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return value


Name = Annotated[str, BeforeValidator(_number_to_str)]  # ratios and ids: numbers become their folder names


def count_or(word: str) -> Callable[[Any], Any]:
    """A before-validator accepting an integer >= 1 or ``word`` (one error instead of one per union member)."""
    def check(value: Any) -> Any:
        if value == word or (type(value) is int and value >= 1):
            return value
        raise PydanticCustomError("count_or", "expected an integer >= 1 or '{word}', got {value}",
                                  {"word": word, "value": repr(value)})
    return check


C = TypeVar("C", bound=type)


def section(name: str) -> Callable[[C], C]:
    """Make ``cls`` a frozen pydantic dataclass (no unknown keys) raising ConfigErrors that name ``<name>.<key>``."""
    def wrap(cls: C) -> C:
        if hasattr(cls, "validate"):
            cls.__post_init__ = _post_init  # type: ignore[attr-defined]
        cls = pydantic.dataclasses.dataclass(frozen=True, config=CONFIG)(cls)
        init = cls.__init__

        # Sections are also built directly (tests, dataclasses.replace): those errors must read like the YAML's.
        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as exc:
                raise ConfigError(describe(exc, cls, name)) from None

        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls
    return wrap


def _post_init(self: Any) -> None:
    # A ConfigError would escape pydantic mid-validation; as a pydantic error it is reported in order and counted.
    try:
        self.validate()
    except ConfigError as exc:
        raise PydanticCustomError("config", str(exc)) from None


def describe(exc: ValidationError, root: type, prefix: str = "") -> str:
    """One line for a ValidationError: ``<dotted key>: <what is wrong>``, and how many more errors there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    text = _message(first, root, prefix)
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return text


def _message(error: Any, root: type, prefix: str) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "config":  # a section's validate(): the message already names its key
        return error["msg"]
    key = _dotted(prefix, error["loc"])
    if kind == "unexpected_keyword_argument":
        known = sorted(f.name for f in dataclasses.fields(_owner(root, error["loc"][:-1])))
        return f"{key}: unknown key; valid keys are {known}"
    got = f"got {value!r}"
    float32 = " (the largest float32)" if ctx.get("le") == FLOAT32_MAX else ""
    messages = {
        "int_type": f"expected an integer, {got}" + _number_hint(value, integer=True),
        "float_type": f"expected a number, {got}" + _number_hint(value, integer=False),
        "bool_type": f"expected true/false, {got}",
        "string_type": f"expected a string, {got}",
        "finite_number": f"expected a finite number, {got}",
        "tuple_type": f"expected a list, {got}",
        "dict_type": f"expected a mapping, {got}",
        "dataclass_type": f"expected a mapping of options, {got}",
        "literal_error": f"{value!r} is not one of {ctx.get('expected')}",
        "greater_than_equal": f"must be >= {_bound(ctx.get('ge'))}, {got}",
        "greater_than": f"must be > {_bound(ctx.get('gt'))}, {got}",
        "less_than": f"must be < {_bound(ctx.get('lt'))}, {got}",
        "less_than_equal": f"must be <= {_bound(ctx.get('le'))}{float32}, {got}",
        "too_short": "must not be empty" if ctx.get("min_length") == 1 else f"needs {ctx.get('min_length')} items",
        "count_or": error["msg"],
    }
    return f"{key}: {messages.get(kind, error['msg'][0].lower() + error['msg'][1:] + f', {got}')}"


def _bound(value: Any) -> Any:
    # pydantic reports a float field's bound as a float: "must be > 0", not "must be > 0.0".
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else value


def _dotted(prefix: str, loc: tuple[Any, ...]) -> str:
    key = prefix
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part != "[key]":  # a mapping's key: the error is the mapping's
            key = f"{key}.{part}" if key else str(part)
    return key or "params.yaml"


def _owner(root: type, loc: tuple[Any, ...]) -> type:
    cls = root
    for part in loc:
        cls = cls.__pydantic_fields__[part].annotation
    return cls


# PyYAML (YAML 1.1) reads a float only with a dot and a signed exponent: 1e-3 and 1.0e3 stay strings.
_NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number_hint(value: Any, integer: bool) -> str:
    if isinstance(value, float) and integer and value.is_integer():
        return f" (write {int(value)})"
    if not isinstance(value, str) or not _NUMBER_TEXT.fullmatch(value.strip()):
        return ""
    mantissa, _, exponent = value.strip().lower().partition("e")
    if not exponent:
        return " (a quoted number is a string: remove the quotes)"
    if integer:
        return f" (write {int(float(value))}: YAML reads {value} as a string)" if float(value).is_integer() else ""
    mantissa += "" if "." in mantissa else ".0"
    exponent = exponent if exponent[0] in "+-" else "+" + exponent
    return f" (write {mantissa}e{exponent}: YAML reads {value} as a string)"
