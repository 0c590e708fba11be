"""The table: bench.curves' recorded runs, read and checked; every replayed trial reads from it.

curves.csv holds one row per (architecture, configuration, epoch): the knob levels, the validation
and test rel_l2 after that epoch and its seconds; curves.json beside it names the knobs and their
levels, E (every configuration's epochs), the architectures in the screen's order and each one's
screen configuration. A table is replayed only when it is whole: every grid point of every
architecture with epochs 1..E.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parents[1] / "results"
DEFAULT_TABLE = RESULTS / "curves.csv"
# The table's columns besides its knobs (the contract with bench/curves.py).
FIXED_COLUMNS = ("architecture", "config", "epoch", "val_rel_l2", "test_rel_l2", "seconds")
NAN_STRINGS = ["", "NA", "null", "None"]  # NaN spellings that float() does not read


class TableError(Exception):
    """The table cannot be replayed; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Curve:
    """One configuration's recorded run: val and test rel_l2 after epochs 1..E (index epoch - 1)."""

    config: int
    val: np.ndarray  # (E,), NaN from a diverged epoch on
    test: np.ndarray  # (E,)


@dataclass(frozen=True)
class Table:
    """The recorded grid: per architecture, each configuration's curve by its knob levels."""

    path: Path
    epochs: int  # E, every configuration's full budget
    knobs: dict[str, tuple]  # name -> levels, in the table's order
    architectures: tuple[str, ...]  # the screen's order: the first is its winner
    screen_config: dict[str, int]  # architecture -> the screen's config id; {}: no two-stage
    curves: dict[str, dict[tuple, Curve]]  # architecture -> knob levels (in `knobs` order) -> curve

    def curve_of(self, architecture: str, config: int) -> Curve:
        return next(c for c in self.curves[architecture].values() if c.config == config)

    def levels_of(self, architecture: str, config: int) -> dict:
        key = next(k for k, c in self.curves[architecture].items() if c.config == config)
        return dict(zip(self.knobs, key))

    def optimum(self, architectures: tuple[str, ...]) -> dict:
        """The lowest validation value of any configuration at any epoch, and where it is."""
        best = None
        for architecture in architectures:
            for key, curve in self.curves[architecture].items():
                if np.all(np.isnan(curve.val)):
                    continue
                epoch = int(np.nanargmin(curve.val)) + 1
                value = float(curve.val[epoch - 1])
                if best is None or value < best["val_rel_l2"]:
                    best = {
                        "architecture": architecture,
                        "config": curve.config,
                        **dict(zip(self.knobs, key)),
                        "epoch": epoch,
                        "val_rel_l2": value,
                        "test_rel_l2": float(curve.test[epoch - 1]),
                    }
        if best is None:
            raise TableError(
                f"every run of {', '.join(architectures)} in {self.path} diverged "
                "(all val_rel_l2 NaN): nothing to replay"
            )
        return best


def load_table(path: Path) -> Table:
    """Read curves.csv and, beside it, its .json (knobs, epochs, architectures, screen_config).

    Raises:
        TableError: a missing file, missing columns, an incomplete grid, an architecture or a screen
            configuration that the table lacks.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TableError(
            f"no table at {path}: build it with `python -m bench.curves` (or pass "
            "--table PATH to a curves.csv)"
        )
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    # Everything as text first: levels then parse as Python parses them (0.001 exactly as the .json
    # spells it, "none" stays a string), and only the metrics may be NaN.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in FIXED_COLUMNS if c not in frame.columns]
    if missing:
        raise TableError(
            f"{path} lacks the column(s) {', '.join(missing)}; a table has "
            f"{', '.join(FIXED_COLUMNS)} and one column per knob: build it with "
            "`python -m bench.curves`"
        )
    _parse_columns(frame, path)
    knobs = _knob_levels(frame, meta.get("knobs"), path)
    architectures = _architectures(frame, meta.get("architectures"), path)
    epochs = int(meta.get("epochs", frame["epoch"].max()))
    curves = {
        a: _curves(frame[frame["architecture"] == a], a, knobs, epochs, path) for a in architectures
    }
    screen_config = _screen_config(meta, architectures, curves, path)
    table = Table(path, epochs, knobs, architectures, screen_config, curves)
    table.optimum(architectures[:1])  # raises now if every run of the first diverged
    return table


def _parse_columns(frame, path: Path) -> None:
    """The fixed columns as numbers, the knob columns as ints, floats or strings (in place)."""
    try:
        for column in ("config", "epoch"):
            frame[column] = frame[column].astype(int)
        for column in ("val_rel_l2", "test_rel_l2", "seconds"):
            frame[column] = frame[column].replace(NAN_STRINGS, "nan").astype(float)
    except ValueError as exc:
        raise TableError(f"{path}: {column} holds a value that is not a number ({exc})") from None
    for column in frame.columns:
        if column not in FIXED_COLUMNS:
            frame[column] = frame[column].map(_parse_level)


def _parse_level(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _native(value):
    """A Python int, float or str for a numpy scalar (as Optuna's and KerasTuner's choices are)."""
    return value.item() if isinstance(value, np.generic) else value


def _knob_levels(frame, declared: dict | None, path: Path) -> dict[str, tuple]:
    """The knobs and their levels: the .json's, in its order, when present, else every column that
    is not a fixed one with the levels it holds; the values as the CSV holds them."""
    names = list(declared) if declared else [c for c in frame.columns if c not in FIXED_COLUMNS]
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise TableError(
            f"{path.with_suffix('.json').name} declares the knob(s) "
            f"{', '.join(absent)} but {path.name} has no such column(s); "
            "rebuild the table with `python -m bench.curves`"
        )
    if not names:
        raise TableError(f"{path} has no knob columns besides {', '.join(FIXED_COLUMNS)}")
    knobs = {}
    for name in names:
        found = {_native(v) for v in frame[name].unique()}
        levels = list(declared[name]) if declared else _sorted(found)
        if found != set(levels):
            raise TableError(
                f"{path.name}'s {name} levels {_sorted(found)} differ from those "
                f"declared in {path.with_suffix('.json').name}, {levels} (a partial "
                "table lacks some): finish it with `python -m bench.curves`"
            )
        knobs[name] = tuple(next(v for v in found if v == level) for level in levels)  # CSV's types
    return knobs


def _sorted(levels) -> list:
    try:
        return sorted(levels)
    except TypeError:  # mixed types
        return sorted(levels, key=str)


def _architectures(frame, declared: list | None, path: Path) -> tuple[str, ...]:
    present = [str(a) for a in dict.fromkeys(frame["architecture"])]
    if declared:
        absent = [a for a in declared if a not in present]
        if absent:
            raise TableError(
                f"{path.with_suffix('.json').name} lists the architecture(s) "
                f"{', '.join(absent)} but {path.name} has no rows for them (found: "
                f"{', '.join(present) or 'none'}); finish the table with "
                "`python -m bench.curves` (it resumes)"
            )
        present = list(declared) + [a for a in present if a not in declared]
    if len(present) < 2:
        raise TableError(
            f"{path} holds {len(present)} architecture(s) ({', '.join(present)}); the "
            "top2 scope and two-stage need the screen's top two: build the table with "
            "`python -m bench.curves`"
        )
    return tuple(present)


def _curves(rows, architecture: str, knobs: dict, epochs: int, path: Path) -> dict[tuple, Curve]:
    """One architecture's curves by knob levels; every grid point present with epochs 1..E."""
    curves = {}
    for config, group in rows.groupby("config", sort=True):
        group = group.sort_values("epoch")
        keys = {
            tuple(_native(v) for v in row) for row in group[list(knobs)].itertuples(index=False)
        }
        if len(keys) != 1:
            raise TableError(
                f"{path}: config {config} of {architecture!r} has rows with different "
                "knob levels; each config id must name one grid point"
            )
        if group["epoch"].tolist() != list(range(1, epochs + 1)):
            raise TableError(
                f"{path}: config {config} of {architecture!r} has epochs "
                f"{_span(group['epoch'].tolist())}, not 1..{epochs}; the table needs "
                "every epoch of the full budget (rebuild it with "
                "`python -m bench.curves`)"
            )
        curves[keys.pop()] = Curve(
            int(config), group["val_rel_l2"].to_numpy(float), group["test_rel_l2"].to_numpy(float)
        )
    size = math.prod(len(levels) for levels in knobs.values())
    if len(curves) < size:
        raise TableError(
            f"{path} holds {len(curves)} of the {size} configurations of "
            f"{architecture!r} (a partial table): finish it with "
            "`python -m bench.curves` (it resumes) before replaying it"
        )
    return curves


def _span(epochs: list[int]) -> str:
    return f"{min(epochs)}..{max(epochs)} ({len(epochs)} rows)" if epochs else "none"


def _screen_config(meta: dict, architectures: tuple, curves: dict, path: Path) -> dict[str, int]:
    screen = meta.get("screen_config") or {}
    if not screen:
        return {}  # no two-stage (main says so)
    absent = [a for a in architectures[:2] if a not in screen]
    if absent:
        raise TableError(
            f"{path.with_suffix('.json')} names no screen_config for "
            f"{', '.join(absent)} (two-stage starts from it); write curves.json with "
            "`python -m bench.curves`"
        )
    for architecture in architectures[:2]:
        ids = {c.config for c in curves[architecture].values()}
        if int(screen[architecture]) not in ids:
            raise TableError(
                f"the screen_config {screen[architecture]} of {architecture!r} is not "
                f"in {path.name} (its configs: {min(ids)}..{max(ids)})"
            )
    return {a: int(screen[a]) for a in architectures[:2]}
