"""Search spaces as data: declared once per architecture, served to screening, Optuna and
KerasTuner.

A space is a dict from a parameter name to one of the types below. `PerLayer` expands to one
parameter per existing layer (`filters` -> `filters_0 .. filters_{n_layers-1}`), so both engines
only see the layers a trial actually has (define-by-run in Optuna, conditional scopes in KerasTuner)
and hand back identical params dicts:

    SPACE = {"n_layers": IntParam(1, 3, default=3),
             "filters": PerLayer(IntParam(4, 128, log=True), default=(4, 9, 27)),
             "learning_rate": FloatParam(1e-5, 1e-2, log=True, default=1e-3)}
    defaults(SPACE)     -> {"n_layers": 3, "filters_0": 4, "filters_1": 9, "filters_2": 27, ...}
    suggest(trial, SPACE), to_keras_tuner(hp, SPACE)   -> the same keys, sampled

User overrides come from a TOML file (`--space FILE`) and may only narrow a space, so that every
point of a narrowed space still builds:

    [all]                              # every architecture that has the parameter
    filters = {low = 8, high = 64}
    [conv]                             # one architecture; wins over [all]
    kernel = {choices = [3]}
    latent = 32                        # a bare value fixes the parameter
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hpo.errors import ConfigError


@dataclass(frozen=True)
class IntParam:
    """An integer in [low, high] (both included), on a grid of `step` or sampled in log space."""

    low: int
    high: int
    log: bool = False
    step: int = 1
    default: int | None = None  # None: the (geometric) middle of the range

    def __post_init__(self):
        if not (_is_int(self.low) and _is_int(self.high) and _is_int(self.step)):
            raise ConfigError(
                f"low, high and step must be integers, but got {self.low}, {self.high}, {self.step}"
            )
        if self.low > self.high:
            raise ConfigError(f"low must not exceed high, but got low={self.low}, high={self.high}")
        if self.step < 1 or (self.log and self.step != 1):
            raise ConfigError(f"step must be >= 1 (and 1 with log=True), but got {self.step}")
        if self.log and self.low < 1:
            raise ConfigError(f"a log range needs low >= 1, but got low={self.low}")
        if self.default is not None and self.default not in self:
            raise ConfigError(f"default {self.default} is outside {self.describe()}")

    def __contains__(self, value) -> bool:
        return (
            _is_int(value)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def default_value(self) -> int:
        if self.default is not None:
            return self.default
        middle = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return self.low + round((middle - self.low) / self.step) * self.step

    def describe(self) -> str:
        return f"{self.low}..{self.high}" + (" (log)" if self.log else "")


@dataclass(frozen=True)
class FloatParam:
    """A float in [low, high], sampled uniformly or in log space."""

    low: float
    high: float
    log: bool = False
    default: float | None = None  # None: the (geometric) middle of the range

    def __post_init__(self):
        if not (_is_number(self.low) and _is_number(self.high)):
            raise ConfigError(f"low and high must be numbers, but got {self.low!r}, {self.high!r}")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.low > self.high:
            raise ConfigError(f"low must not exceed high, but got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log range needs low > 0, but got low={self.low}")
        if self.default is not None and self.default not in self:
            raise ConfigError(f"default {self.default} is outside {self.describe()}")

    def __contains__(self, value) -> bool:
        return _is_number(value) and self.low <= value <= self.high

    def default_value(self) -> float:
        if self.default is not None:
            return float(self.default)
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2

    def describe(self) -> str:
        return f"{self.low:g}..{self.high:g}" + (" (log)" if self.log else "")


@dataclass(frozen=True)
class Categorical:
    """One of a few choices (ints, floats, strings or bools: what both engines can store)."""

    choices: tuple
    default: Any = None  # None: the first choice

    def __post_init__(self):
        choices = tuple(self.choices)
        if not choices:
            raise ConfigError("choices must not be empty")
        if len({type(c) for c in choices}) > 1 or not isinstance(
            choices[0], (int, float, str, bool)
        ):
            raise ConfigError(
                f"choices must be numbers, strings or bools of one type, but got {list(choices)}"
            )
        object.__setattr__(self, "choices", choices)
        if self.default is not None and self.default not in self:
            raise ConfigError(f"default {self.default!r} is not one of {list(choices)}")

    def __contains__(self, value) -> bool:
        return any(value == c and type(value) is type(c) for c in self.choices)

    def default_value(self):
        return self.choices[0] if self.default is None else self.default

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))


@dataclass(frozen=True)
class Fixed:
    """A constant: part of every params dict, never sampled (e.g. the width multiplier)."""

    value: Any

    def default_value(self):
        return self.value

    def describe(self) -> str:
        return f"fixed at {self.value!r}"


Param = IntParam | FloatParam | Categorical | Fixed


@dataclass(frozen=True)
class PerLayer:
    """One `param` per layer, named `{key}_{i}`, for i below the value of `count` (e.g.
    n_layers)."""

    param: Param
    default: tuple | None = None  # per-layer defaults; the last one repeats; None: param's default
    count: str = "n_layers"

    def __post_init__(self):
        if self.default is not None:
            object.__setattr__(self, "default", tuple(self.default))
            outside = [
                v for v in self.default if not isinstance(self.param, Fixed) and v not in self.param
            ]
            if outside:
                raise ConfigError(
                    f"per-layer defaults {outside!r} are outside {self.param.describe()}"
                )

    def layer(self, i: int) -> Param:
        """The parameter of layer i (the shared range with that layer's default)."""
        if self.default is None or isinstance(self.param, Fixed):
            return self.param
        return replace(self.param, default=self.default[min(i, len(self.default) - 1)])

    def describe(self) -> str:
        return f"per layer: {self.param.describe()}"


Space = Mapping[str, Param | PerLayer]


def defaults(space: Space) -> dict:
    """The space's default point: what screening trains when nothing is searched."""
    return _walk(space, lambda name, param: param.default_value())


def suggest(trial, space: Space) -> dict:
    """Params for an Optuna trial, define-by-run: per-layer params only for the layers that exist.

    Args:
        trial: an `optuna.Trial`.
        space: the architecture's (possibly narrowed) space.

    Returns:
        A complete params dict; `Fixed` entries are included but not suggested to Optuna.
    """

    def pick(name, param):
        if isinstance(param, IntParam):
            return trial.suggest_int(name, param.low, param.high, step=param.step, log=param.log)
        if isinstance(param, FloatParam):
            return trial.suggest_float(name, param.low, param.high, log=param.log)
        if isinstance(param, Categorical):
            return trial.suggest_categorical(name, list(param.choices))
        return param.value

    return _walk(space, pick)


def to_keras_tuner(hp, space: Space) -> dict:
    """Params from a `keras_tuner.HyperParameters`, with the same names and ranges as `suggest`.

    Per-layer params of layers that may be absent are declared inside
    `hp.conditional_scope(count, [values where the layer exists])`, so the oracle only samples the
    layers a trial has, and the returned dict has exactly the keys `suggest` would give.

    Args:
        hp: the `HyperParameters` passed to `HyperModel.build`.
        space: the architecture's (possibly narrowed) space.

    Returns:
        A complete params dict.
    """

    def declare(name, param):
        if isinstance(param, IntParam):
            return hp.Int(
                name,
                param.low,
                param.high,
                step=None if param.log else param.step,
                sampling="log" if param.log else "linear",
                default=param.default_value(),
            )
        if isinstance(param, FloatParam):
            return hp.Float(
                name,
                param.low,
                param.high,
                sampling="log" if param.log else "linear",
                default=param.default_value(),
            )
        if isinstance(param, Categorical):
            value = hp.Choice(name, list(param.choices), default=param.default_value())
            # KerasTuner hands bool choices back as 0/1; Optuna keeps them bools.
            return bool(value) if isinstance(param.choices[0], bool) else value
        return param.value

    params: dict = {}
    for key, entry in space.items():
        if not isinstance(entry, PerLayer):
            params[key] = declare(key, entry)
            continue
        count = space[entry.count]
        n_always = count.value if isinstance(count, Fixed) else count.low
        n_max = count.value if isinstance(count, Fixed) else count.high
        for i in range(n_max):
            name = f"{key}_{i}"
            if i < n_always:
                params[name] = declare(name, entry.layer(i))
                continue
            # Layer i exists when the count is above i.
            with hp.conditional_scope(entry.count, list(range(i + 1, n_max + 1))):
                value = declare(name, entry.layer(i))
            if i < params[entry.count]:
                params[name] = value
    return params


def nearest_inside(space: Space, params: Mapping) -> tuple[dict, list[str]]:
    """`params` moved into the space: each searched value outside its range (or choices) replaced by
    the closest allowed one (a choice by the default); also the names of those moved. Optuna cannot
    hold a value outside a param's distribution in every path (its retry of a failed trial
    re-validates), so a configuration from elsewhere enters a study through this."""
    moved: list[str] = []

    def pick(name, param):
        if isinstance(param, Fixed) or name not in params:
            return params.get(
                name, param.value if isinstance(param, Fixed) else param.default_value()
            )
        value = _clamp(params[name], param)
        if value != params[name]:
            moved.append(f"{name} {params[name]!r} -> {value!r}")
        return value

    return _walk(space, pick), moved


def complete(space: Space, params: Mapping | None) -> dict:
    """`params` with every missing key taken from `defaults(space)`.

    Per-layer keys beyond the number of layers are dropped (a shallower model has no such layer).

    Raises:
        ConfigError: a key that the space does not declare (most often a typo).
    """
    params = dict(params or {})
    known = _known_names(space)
    unknown = [k for k in params if k not in known]
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(_describe_names(space))}"
        )
    return _walk(
        space, lambda name, param: params[name] if name in params else param.default_value()
    )


def narrow(space: Space, overrides: Mapping[str, Any], *, name: str = "space") -> dict:
    """A copy of `space` with user overrides applied: each narrows or widens its parameter.

    Args:
        space: the declared space.
        overrides: parameter name -> a table (`{low, high}` for ranges, `{choices}` for
        categoricals,
            `{value}` for either) or a bare value, which fixes the parameter.
        name: what the messages call the space (the architecture's name).

    Returns:
        The narrowed space (a new dict; `space` is not changed).

    Raises:
        ConfigError: an unknown key, a malformed table, an empty or inverted range, a non-positive
            bound of a log-scale range.
    """
    narrowed = dict(space)
    for key, override in overrides.items():
        if key not in space:
            raise ConfigError(
                f"{name}: no parameter {key!r} to override; valid: {', '.join(space)}"
            )
        entry = space[key]
        try:
            if isinstance(entry, PerLayer):
                param = _narrow_param(entry.param, override)
                narrowed[key] = replace(
                    entry, param=param, default=_fit_defaults(entry.default, param)
                )
            else:
                narrowed[key] = _narrow_param(entry, override)
        except ConfigError as exc:
            raise ConfigError(f"{name}.{key}: {exc}") from None
    return narrowed


def read_overrides(path: str | Path) -> dict[str, dict]:
    """The tables of a `--space` TOML file: `{"all": {...}, "conv": {...}, ...}`.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or holds a non-table at the top level.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            tables = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"space file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"space file {str(path)!r} is not valid TOML: {exc}") from None
    for table, content in tables.items():
        if not isinstance(content, dict):
            raise ConfigError(
                f"space file {str(path)!r}: {table!r} must be a table such as "
                f"[{table}] or [all], but got {content!r}"
            )
    return tables


# ------------------------------------------------------------------------------------------------


def _walk(space: Space, pick) -> dict:
    """Visit the space in order, expanding per-layer entries by the count already picked."""
    params: dict = {}
    for key, entry in space.items():
        if isinstance(entry, PerLayer):
            n_layers = params[entry.count]
            for i in range(n_layers):
                params[f"{key}_{i}"] = pick(f"{key}_{i}", entry.layer(i))
        else:
            params[key] = pick(key, entry)
    return params


def _known_names(space: Space) -> set[str]:
    names = set()
    for key, entry in space.items():
        if isinstance(entry, PerLayer):
            count = space[entry.count]
            n_max = count.value if isinstance(count, Fixed) else count.high
            names.update(f"{key}_{i}" for i in range(n_max))
        else:
            names.add(key)
    return names


def _describe_names(space: Space) -> list[str]:
    return [f"{k}_<i>" if isinstance(v, PerLayer) else k for k, v in space.items()]


def _narrow_param(param: Param, override) -> Param:
    if not isinstance(override, dict):
        override = {"value": override}
    allowed = {
        IntParam: ("low", "high", "value"),
        FloatParam: ("low", "high", "value"),
        Categorical: ("choices", "value"),
        Fixed: ("value",),
    }[type(param)]
    if not override or set(override) - set(allowed):
        raise ConfigError(
            f"expected a table with keys among {', '.join(allowed)} (declared: "
            f"{param.describe()}), but got {override!r}"
        )
    if "value" in override:
        if len(override) > 1:
            raise ConfigError(f"give either value or a range, not both; got {override!r}")
        value = override["value"]
        if isinstance(param, FloatParam) and _is_number(value):
            value = float(value)
        if isinstance(param, Fixed):
            if _is_number(param.value) and _is_number(value):
                value = type(param.value)(value)
            if type(value) is not type(param.value):
                raise ConfigError(
                    f"value must be a {type(param.value).__name__} like {param.value!r}, "
                    f"but got {value!r}"
                )
        elif isinstance(param, (IntParam, FloatParam)) and not _is_number(value):
            raise ConfigError(f"value must be a number, but got {value!r}")
        return Fixed(value)
    if isinstance(param, Categorical):
        choices = override["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"choices must be a non-empty list, but got {choices!r}")
        # New choices widen the space: the builder receives them as they are (a value Keras does
        # not know fails that trial alone).
        default = param.default_value() if param.default_value() in choices else choices[0]
        return Categorical(tuple(choices), default=default)
    low, high = override.get("low", param.low), override.get("high", param.high)
    if isinstance(param, IntParam) and not (_is_int(low) and _is_int(high)):
        raise ConfigError(f"low and high must be integers, but got low={low!r}, high={high!r}")
    if not (_is_number(low) and _is_number(high)):
        raise ConfigError(f"low and high must be numbers, but got low={low!r}, high={high!r}")
    if low > high:
        raise ConfigError(f"low={low} must not exceed high={high}")
    if param.log and low <= 0:
        raise ConfigError(f"low={low} must be positive: the range is sampled on a log scale")
    narrowed = replace(param, low=low, high=high, default=None)
    if isinstance(param, IntParam) and not any(v in narrowed for v in range(low, high + 1)):
        raise ConfigError(f"no value between {low} and {high} lies on the step {param.step}")
    return replace(narrowed, default=_clamp(param.default_value(), narrowed))


def _fit_defaults(per_layer: tuple | None, param: Param) -> tuple | None:
    if per_layer is None or isinstance(param, Fixed):
        return None
    return tuple(_clamp(v, param) for v in per_layer)


def _clamp(value, param: Param):
    """The value itself if the (narrowed) param allows it, else the closest allowed value."""
    if value in param:
        return value
    if isinstance(param, Categorical):
        return param.default_value()
    clamped = min(max(value, param.low), param.high)
    if isinstance(param, IntParam):
        clamped = param.low + round((clamped - param.low) / param.step) * param.step
        clamped = clamped if clamped <= param.high else clamped - param.step
    return clamped


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
