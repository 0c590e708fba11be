"""The architectures: one module each, registered by name with the search space it declares.

    from hpo import architectures
    architectures.names()                                  # ['conv', 'conv_dropout', 'vqvae2', ...]
    model = architectures.build("conv", {"latent": 32}, (200, 100, 3))   # missing keys: defaults
    architectures.get("conv").space                        # the declared search space

Adding one: write `hpo/architectures/<name>.py` with a `SPACE` and

    @register("<name>", space=SPACE)
    def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model: ...

and list the module in `_BUILTIN_MODULES`. `params` reaching a module's build are complete.
The modules (and so Keras/TensorFlow) are imported on first use, so a CLI can reject a bad flag
before TensorFlow's import-time log lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hpo.config import MIN_GRID_SIDE
from hpo.errors import ConfigError
from hpo.space import PerLayer, Space, complete, narrow, read_overrides

# The order of every table and report (then any architecture registered from elsewhere).
_BUILTIN_MODULES = ("conv", "conv_dropout", "vqvae2", "depthwise", "dual")

# The original study's Rayleigh-Benard snapshots: (x, z, [temperature, pressure, velocity])
DEFAULT_INPUT_SHAPE = (200, 100, 3)

_REGISTRY: dict[str, Architecture] = {}
_loaded = False


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its name, its declared search space, its build function."""

    name: str
    space: Space
    build: Callable  # (complete params, input_shape) -> keras.Model
    summary: str  # first line of the module's docstring


def register(name: str, space: Space):
    """Register the decorated `build(params, input_shape)` as architecture `name` with search
    `space`."""

    def decorate(build_fn):
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        for key, entry in space.items():
            if (
                isinstance(entry, PerLayer)
                and entry.count not in list(space)[: list(space).index(key)]
            ):
                raise ValueError(
                    f"{name}: {key!r} counts layers by {entry.count!r}, declared after it"
                )
        if "width" not in space or "latent" not in space:
            raise ValueError(f"{name}: every space needs 'width' and 'latent' (they match budgets)")
        module = importlib.import_module(build_fn.__module__)
        summary = (module.__doc__ or name).strip().splitlines()[0]
        _REGISTRY[name] = Architecture(name, space, build_fn, summary)
        return build_fn

    return decorate


def names() -> list[str]:
    """Names of the registered architectures: the built-in ones in their fixed order, then
    others."""
    _load_builtins()
    builtin = [n for n in _BUILTIN_MODULES if n in _REGISTRY]
    return builtin + [n for n in _REGISTRY if n not in builtin]


def get(name: str) -> Architecture:
    """The registered architecture `name`.

    Raises:
        ConfigError: no such architecture (the message lists the valid names).
    """
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"no architecture {name!r}; choose from: {', '.join(names())}")
    return _REGISTRY[name]


def build(name: str, params: Mapping | None = None, input_shape=None):
    """Build architecture `name` for inputs `input_shape` (H, W, C); output shape == input shape.

    Args:
        name: a registered name (see `names()`).
        params: any subset of the architecture's params; missing keys take the space's defaults.
            Training knobs (learning_rate, batch_size) may be present and are ignored.
        input_shape: (H, W, C); defaults to the original study's (200, 100, 3).

    Returns:
        An uncompiled `keras.Model`; its output layer is named "reconstruction" (dual: a dict of
        "reconstruction" and "next_step").

    Raises:
        ConfigError: unknown name, unknown parameter, or an input shape the models cannot take.
    """
    architecture = get(name)
    shape = check_input_shape(input_shape or DEFAULT_INPUT_SHAPE)
    return architecture.build(complete(architecture.space, params), shape)


def check_input_shape(input_shape) -> tuple[int, int, int]:
    """The input shape as a tuple (H, W, C).

    Raises:
        ConfigError: not three positive integers, or a side below `hpo.config.MIN_GRID_SIDE`.
    """
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(n, int) and n > 0 for n in shape):
        raise ConfigError(
            f"input shape must be three positive integers (H, W, C), but got {input_shape}"
        )
    if min(shape[:2]) < MIN_GRID_SIDE:
        raise ConfigError(
            f"grid {shape[0]}x{shape[1]} is too small: both sides must be at least {MIN_GRID_SIDE}"
        )
    return shape


def count_params(name: str, params: Mapping | None = None, input_shape=None) -> int:
    """Trainable parameters of `build(name, params, input_shape)`."""
    return trainable_count(build(name, params, input_shape))


def trainable_count(model) -> int:
    """Trainable parameters of a built model (what budgets and tables count)."""
    return sum(int(_prod(w.shape)) for w in model.trainable_weights)


def load_spaces(path: str | Path | None = None) -> dict[str, dict]:
    """Every architecture's space, narrowed by the `--space` TOML file at `path` (None: as
    declared).

    The file holds a table per architecture and/or an `[all]` table, applied to every architecture
    that has the parameter; an architecture's own table wins over `[all]`.

    Raises:
        ConfigError: an unknown table or parameter, or an override that does not narrow.
    """
    spaces = {name: dict(get(name).space) for name in names()}
    if path is None:
        return spaces
    tables = read_overrides(path)
    unknown = [t for t in tables if t != "all" and t not in spaces]
    if unknown:
        raise ConfigError(
            f"space file {str(path)!r}: no architecture {unknown[0]!r}; "
            f"tables may be: all, {', '.join(spaces)}"
        )
    shared = tables.get("all", {})
    for key in shared:
        if not any(key in space for space in spaces.values()):
            valid = sorted({k for space in spaces.values() for k in space})
            raise ConfigError(
                f"space file {str(path)!r}: [all] has {key!r}, which no architecture "
                f"declares; valid: {', '.join(valid)}"
            )
    for name, space in spaces.items():
        overrides = {k: v for k, v in shared.items() if k in space} | tables.get(name, {})
        spaces[name] = narrow(space, overrides, name=name)
    return spaces


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(f"hpo.architectures.{module}")  # registers it
        _loaded = True


def _prod(shape) -> int:
    total = 1
    for n in shape:
        total *= int(n)
    return total
