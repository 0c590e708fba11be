"""Benchmark: search methods replayed against a table of recorded learning curves, many seeds each.

    python -m bench.replay [--table bench/results/curves.csv] [--seeds 50] [--quick] [--out DIR]

A tabular benchmark, as LCBench, HPOBench or YAHPO Gym: bench/curves.py trained every configuration
of a grid once for the full epoch budget E, recording validation and test rel_l2 after every epoch.
Here each search method runs against that table instead of training: seconds per method, so it can
be repeated over enough seeds to tell methods apart from seed noise.

A replayed trial reads its configuration's curve epoch by epoch, as a live trial would see it:
- Optuna methods report each epoch's validation value (`trial.report` at step epoch - 1, as
  optuna_integration's KerasPruningCallback does) and ask `trial.should_prune()`, with the live
  run's sampler and pruner (`hpo.optimize.settings.make_sampler`, `make_pruner`);
- early stopping as hpo.training's: after max(3, ceil(E / 4)) epochs without a strict improvement
  the trial ends; its value is its best epoch's validation value (the best weights are restored),
  its test value that epoch's test rel_l2;
- a NaN validation value fails the trial (it diverged), charged the epochs up to and including it;
  after 3 failures in a row a study stops (StudySettings.max_failures), as a live run does.
A trial costs the epochs it ran (a pruned one, those before it was pruned). A configuration an
Optuna study has already finished is answered from its stored trial without training, by
hpo.optimize's own code (hpo.optimize.duplicates): it costs no epoch (a DUPLICATE record), and a
study whose space is exhausted stops short of its budget. Reported per method: the share of its
epochs spent training a configuration already finished (`retrained_share`, which those answers hold
at 0; before them, TPE's re-proposals took a median 65% of the default search's epochs).

Budget: each study gets B epochs (B = 20 E; --quick 8 E) and asks for no trial once they are spent.
The trial that crosses B is cut there: charged only the epochs within B, and its value does not
count (it never finished), so no method ever spends more than B. The methods:
random, tpe, tpe+median, tpe+sha, tpe+hyperband, random+hyperband (Optuna: sampler + pruner);
kerastuner-hyperband (KerasTuner's Hyperband, max_epochs E, factor 3, brackets iterated until B is
spent or its space is exhausted); two-stage (the pipeline: each architecture's screen configuration
trained for E epochs, the better one searched with tpe+median on the rest of the budget, its study
starting from the screen's configuration as hpo.optimize queues it; the screen runs count both in
cost and in the anytime best). Without a screen_config in curves.json, two-stage is left out.

KerasTuner's Hyperband continues a promoted trial ("tuner/trial_id") from its parent's weights, from
epoch "tuner/initial_epoch" to "tuner/epochs": here it reads the table's epochs initial_epoch + 1 ..
epochs (the curve of an uninterrupted run), is charged only those, and early stopping counts from
its own first epoch, as in a fresh Keras fit. KerasTuner takes seed 0 for "no seed" (`seed or
random.randint(...)`), so its oracle gets seed s + 1 for seed s.

Two scopes: top1, one architecture (the table's first: the screen's winner), budget B; top2, both,
budget 2 B: one study per architecture with B each, one after the other (as `hpo.optimize --top 2`;
the first is top1's study), and two-stage with its 2 B as above. Seed s is every method's sampler
seed (a paired comparison). Reported per method and scope, as the median over seeds with a 95%
percentile-bootstrap interval: the epochs needed to reach random search's final best of the same
seed, as a share of the budget (never: infinite); the best validation value of trials that ended
within 25, 50 and 100% of the budget, and its regret (minus the table's optimum in the scope: the
lowest validation value of any configuration at any epoch); the test rel_l2 of the best-on-
validation configuration. In top1 a two-stage run may pick the other architecture; its regret is
still against the first's optimum.

Defaults from evidence (record["defaults"]): candidates for hpo.optimize's defaults, replayed on
top1 with the same seeds: TPE with pruner none, median, sha or hyperband x 3, 5 or 10 random
start-up trials x at most 10, 20 or E epochs per trial (a third, two thirds and all of E; --quick:
none or median x 3 or 10 x E/3 or E), and the current default (median, start-up trials as
make_sampler derives them from n_trials = B // E, E epochs) beside them. A trial of M < E epochs
reads only the table's first M epochs, with early stopping's patience max(3, ceil(M / 4)); the
table's cosine schedule was laid out over E epochs, so a truncated curve is not exactly a cosine
run over M epochs (the JSON's note says so). Per candidate: the median regret at 100% of the budget
and the median share of the budget to reach random search's final best (the `random` method at E
epochs, same seed), each with its 95% bootstrap interval. The best: the lowest median regret; ties
broken by the lower median share, then fewer epochs per trial, then the current default.

Prints a table; writes <out>/replay[-quick].json (the summary and every seed's trials; for the
defaults, every seed's regret and share) and .html (anytime regret curves), and for a full run
replay.png.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpo.adapters.keras_tuner_internals import failed_trials_untraced

RESULTS = Path(__file__).parent / "results"
DEFAULT_TABLE = RESULTS / "curves.csv"
# The table's columns besides its knobs (the contract with bench/curves.py).
FIXED_COLUMNS = ("architecture", "config", "epoch", "val_rel_l2", "test_rel_l2", "seconds")
NAN_STRINGS = ["", "NA", "null", "None"]  # NaN spellings that float() does not read

# Optuna methods: (sampler, pruner) by name, as hpo.registry names them.
OPTUNA_METHODS = {
    "random": ("random", "none"),
    "tpe": ("tpe", "none"),
    "tpe+median": ("tpe", "median"),
    "tpe+sha": ("tpe", "sha"),
    "tpe+hyperband": ("tpe", "hyperband"),
    "random+hyperband": ("random", "hyperband"),
}
KERASTUNER = "kerastuner-hyperband"
TWO_STAGE = "two-stage"
METHODS = (*OPTUNA_METHODS, KERASTUNER, TWO_STAGE)
BASELINE = "random"  # what a user would do without this tool
# The method nearest the project's default search: hpo.optimize's sampler and pruner (its TPE
# start-up trials as make_sampler derives them; the defaults grid replays the exact default).
DEFAULT_METHOD = "tpe+sha"
SCOPES = ("top1", "top2")

FULL_TRIALS, QUICK_TRIALS = 20, 8  # the budget B per architecture, in full trials' worth (B / E)
FULL_SEEDS, QUICK_SEEDS = 50, 5
FRACTIONS = (0.25, 0.5, 1.0)  # of the budget, where the best value and regret are read
TARGET_SHARE = 0.40  # the issue's: the default reaches random's final best within 40% of its budget
N_RESAMPLES, BOOTSTRAP_SEED = 2000, 0  # percentile bootstrap over seeds, reproducible
N_GRID = 100  # points of the anytime curves' common epoch grid
# Early stopping, as hpo.training.scaled_patience (not imported: hpo.training imports TensorFlow).
PATIENCE_SHARE, MIN_PATIENCE = 0.25, 3
OBJECTIVE = "val_rel_l2"
# Defaults from evidence: candidates for hpo.optimize's pruner, TPE's start-up trials and epochs per
# trial, replayed on top1 (--quick: fewer). Epochs as shares of E: 10, 20 and 30 for E = 30.
GRID_PRUNERS, QUICK_GRID_PRUNERS = ("none", "median", "sha", "hyperband"), ("none", "median")
GRID_STARTUP, QUICK_GRID_STARTUP = (3, 5, 10), (3, 10)
GRID_EPOCH_SHARES, QUICK_GRID_EPOCH_SHARES = (1 / 3, 2 / 3, 1.0), (1 / 3, 1.0)
DEFAULTS_RULE = (
    "lowest median regret at 100% of the budget; ties: the lower median share of the "
    "budget to reach random's final best, then fewer epochs per trial, then the current "
    "default (a change needs evidence)"
)
TRUNCATION_NOTE = (
    "A trial of M < E epochs reads the first M epochs of runs trained for E: their "
    "cosine schedule was laid out over E epochs, so a truncated cosine curve is not a "
    "cosine run over M epochs (whose rate would have decayed by epoch M; it would "
    "likely end lower). Regret is against the table's optimum at any epoch up to E."
)

# A trial's end: COMPLETE (early stopping or all epochs), PRUNED, FAIL (NaN), CUT (at the budget);
# DUPLICATE: a configuration already finished, answered from its stored trial, not trained.
COMPLETE, PRUNED, FAIL, CUT = "COMPLETE", "PRUNED", "FAIL", "CUT"
DUPLICATE = "DUPLICATE"


class TableError(Exception):
    """The table cannot be replayed; the message says what is wrong and how to fix it."""


# --- the table ----------------------------------------------------------------------------------


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


# --- one replayed trial -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialRecord:
    """One replayed trial. `value`: the best validation value over the epochs it ran (None if it ran
    none with a finite value); only a COMPLETE trial's counts as a result."""

    architecture: str
    config: int
    state: str  # COMPLETE, PRUNED, FAIL, CUT
    epochs: int  # charged: the epochs it ran
    value: float | None
    test: float | None  # test rel_l2 at its best epoch
    first_epoch: int = 0  # > 0: a KerasTuner trial continuing its parent's run from this epoch

    def counts(self) -> bool:
        return self.state == COMPLETE

    def to_row(self) -> list:
        return [
            self.architecture,
            self.config,
            self.state,
            self.epochs,
            self.value,
            self.test,
            self.first_epoch,
        ]


TRIAL_COLUMNS = ["architecture", "config", "state", "epochs", "value", "test_rel_l2", "first_epoch"]


def patience_for(epochs: int) -> int:
    """Epochs without improvement before early stopping ends a run of `epochs` (hpo.training's)."""
    return max(MIN_PATIENCE, math.ceil(PATIENCE_SHARE * epochs))


def replay_trial(
    architecture: str,
    curve: Curve,
    patience: int,
    epochs_left: int,
    first_epoch: int = 0,
    last_epoch: int | None = None,
    prune: Callable[[int, float], bool] | None = None,
) -> TrialRecord:
    """Run `curve` from epoch first_epoch + 1 to last_epoch (default E) as a live trial would.

    Args:
        patience: early stopping's; counted from first_epoch + 1 (a fresh fit's callback).
        epochs_left: the study's budget left; the trial is CUT when it would run more.
        prune: called after each epoch with (epoch, val); True prunes the trial there.
    """
    last_epoch = len(curve.val) if last_epoch is None else last_epoch
    best, best_epoch, since_best, ran = math.inf, 0, 0, 0
    state = COMPLETE
    for epoch in range(first_epoch + 1, last_epoch + 1):
        if ran == epochs_left:
            state = CUT
            break
        ran += 1
        val = float(curve.val[epoch - 1])
        if not math.isfinite(val):
            state = FAIL
            break
        if val < best:  # Keras' EarlyStopping: a strict improvement (min_delta 0)
            best, best_epoch, since_best = val, epoch, 0
        else:
            since_best += 1
        # The pruning callback runs after EarlyStopping's in the same epoch, and its exception wins.
        if prune is not None and prune(epoch, val):
            state = PRUNED
            break
        if since_best >= patience:
            break
    found = best_epoch > 0
    return TrialRecord(
        architecture,
        curve.config,
        state,
        ran,
        best if found else None,
        float(curve.test[best_epoch - 1]) if found else None,
        first_epoch,
    )


# --- searches -----------------------------------------------------------------------------------


def _max_failures() -> int:
    from hpo.optimize.settings import StudySettings

    return StudySettings().max_failures


def _expected_trials(epochs: int, budget: int) -> int:
    """What hpo.optimize hands the sampler as n_trials for this budget (TPE's start-up share)."""
    from hpo.optimize.settings import StudySettings

    # bench/campaign.py's live runs: n_trials unbounded, the epoch budget decides.
    return StudySettings(n_trials=10_000, epochs=epochs, epoch_budget=budget).expected_trials()


def optuna_search(
    table: Table,
    architecture: str,
    method: str,
    seed: int,
    budget: int,
    first_params: dict | None = None,
) -> list[TrialRecord]:
    """One Optuna study of `method` (OPTUNA_METHODS) on one architecture with seed `seed`, replayed
    until `budget` epochs are spent. `first_params`: knob levels queued as its trial 0."""
    study = make_study(method, seed, table.epochs, budget, name=f"replay-{architecture}-seed{seed}")
    return run_study(study, table, architecture, budget, first_params)


def make_study(method: str, seed: int, epochs: int, budget: int, name: str = "replay"):
    """An in-memory study with the live run's sampler and pruner for `method`.

    Args:
        name: the study's name, which Optuna's HyperbandPruner hashes with the trial number to
            pick each trial's bracket: a fixed name keeps a replay reproducible (Optuna's default
            name is random).
    """
    from hpo.optimize.settings import make_pruner, make_sampler

    sampler, pruner = OPTUNA_METHODS[method]
    n_trials = _expected_trials(epochs, budget)
    return create_study(make_sampler(sampler, seed, n_trials), make_pruner(pruner, epochs), name)


def create_study(sampler, pruner, name: str):
    import optuna

    from hpo.backend import quiet_optuna

    quiet_optuna()
    return optuna.create_study(
        study_name=name, direction="minimize", sampler=sampler, pruner=pruner
    )


def run_study(
    study,
    table: Table,
    architecture: str,
    budget: int,
    first_params: dict | None = None,
    epochs: int | None = None,
) -> list[TrialRecord]:
    """Ask `study` for trials and replay them from the table until `budget` epochs are spent (or
    max_failures trials fail in a row, or the space is exhausted); each trial reports every epoch
    and may be pruned. A configuration already finished is answered from its stored trial without
    training, as hpo.optimize answers it (hpo.optimize.duplicates, the same code): a DUPLICATE
    record, no epoch.

    Args:
        epochs: the most epochs per trial (default E): a trial reads only the table's first
            `epochs` epochs, with early stopping's patience for a run of that many.
    """
    from optuna.trial import TrialState

    from hpo.optimize.duplicates import answer, exhaustion_message, find_original

    if first_params is not None:
        study.enqueue_trial(first_params)
    epochs = table.epochs if epochs is None else epochs
    curves, patience, max_failures = (
        table.curves[architecture],
        patience_for(epochs),
        _max_failures(),
    )
    records: list[TrialRecord] = []
    spent = failures = 0
    while spent < budget and failures < max_failures:
        trials = study.get_trials(deepcopy=False)
        if exhaustion_message(study.study_name, trials, len(curves)):
            break
        trial = study.ask()
        key = tuple(trial.suggest_categorical(name, levels) for name, levels in table.knobs.items())
        original = find_original(trial.params, trials)
        if original is not None and answer(study, trial, original) is not None:
            records.append(TrialRecord(architecture, curves[key].config, DUPLICATE, 0, None, None))
            continue
        # A PRUNED original the pruner now lets through: its steps are reported and judged already.
        replayed = 0 if original is None else len(original.intermediate_values)

        def prune(epoch: int, val: float, trial=trial, replayed=replayed) -> bool:
            if epoch <= replayed:
                return False
            trial.report(val, step=epoch - 1)  # KerasPruningCallback's step: Keras' 0-based epoch
            return trial.should_prune()

        record = replay_trial(
            architecture, curves[key], patience, budget - spent, last_epoch=epochs, prune=prune
        )
        if record.state == COMPLETE:
            study.tell(trial, record.value)
        else:  # a CUT trial was stopped from outside, as a pruned one
            study.tell(trial, state=TrialState.FAIL if record.state == FAIL else TrialState.PRUNED)
        records.append(record)
        spent += record.epochs
        failures = failures + 1 if record.state == FAIL else 0
    return records


def kerastuner_search(
    table: Table, architecture: str, seed: int, budget: int, directory: Path
) -> list[TrialRecord]:
    """KerasTuner's Hyperband (max_epochs E, factor 3, iterated) on one architecture, its trials
    read from the table, until `budget` epochs are spent (or its space is exhausted, or it fails
    max_failures trials in a row). Its files go to a folder under `directory`, removed after."""
    keras_tuner = _import_keras_tuner()
    tuner_class = _table_hyperband_class(keras_tuner)
    space = keras_tuner.HyperParameters()
    for name, levels in table.knobs.items():
        space.Choice(name, list(levels))
    project = f"{architecture}-seed{seed}"
    tuner = tuner_class(
        table=table,
        architecture=architecture,
        budget=budget,
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        max_epochs=table.epochs,
        factor=3,
        hyperband_iterations=None,  # iterate the brackets until the budget is spent
        seed=seed + 1,  # KerasTuner reads seed 0 as "no seed": see the docstring
        hyperparameters=space,
        max_consecutive_failed_trials=_max_failures(),
        directory=str(directory),
        project_name=project,
        overwrite=True,
    )
    try:
        with failed_trials_untraced():
            tuner.search(verbose=0)
    except RuntimeError:
        # KerasTuner ends a search by raising after max_consecutive_failed_trials failures in a
        # row; the live engine's run ends there too. Anything else is a bug of ours: raise it.
        if not _failed_in_a_row(tuner.records, _max_failures()):
            raise
    finally:
        shutil.rmtree(directory / project, ignore_errors=True)
    return tuner.records


def _failed_in_a_row(records: list[TrialRecord], n: int) -> bool:
    return len(records) >= n and all(r.state == FAIL for r in records[-n:])


def _import_keras_tuner():
    from hpo.backend import import_keras_quietly

    import_keras_quietly()  # TensorFlow's start-up lines would otherwise precede ours
    import keras_tuner

    return keras_tuner


@functools.cache
def _table_hyperband_class(keras_tuner):
    """keras_tuner.Hyperband whose trials read the table (defined once keras_tuner is imported)."""

    class TableHyperband(keras_tuner.Hyperband):
        """Hyperband with no model: run_trial replays the table (no hypermodel, nothing trained)."""

        def __init__(self, table: Table, architecture: str, budget: int, **kwargs):
            super().__init__(hypermodel=None, **kwargs)
            self.table, self.architecture, self.budget = table, architecture, budget
            self.records: list[TrialRecord] = []
            self.spent = 0

        def run_trial(self, trial, *args, **kwargs) -> dict:
            values = trial.hyperparameters.values
            key = tuple(values[name] for name in self.table.knobs)
            record = replay_trial(
                self.architecture,
                self.table.curves[self.architecture][key],
                patience_for(self.table.epochs),
                self.budget - self.spent,
                first_epoch=values["tuner/initial_epoch"],
                last_epoch=values["tuner/epochs"],
            )
            self.records.append(record)
            self.spent += record.epochs
            if self.spent >= self.budget:
                # As hpo.optimize.tuner_engine: cap the oracle at the trials it has, so it starts no
                # more.
                self.oracle.max_trials = len(self.oracle.trials)
            if record.state == FAIL:
                raise keras_tuner.errors.FailedTrialError("diverged: NaN val_rel_l2")
            # A CUT trial reports what it saw (Hyperband ranks by it); it does not count for us.
            return {OBJECTIVE: record.value}

    return TableHyperband


def two_stage(
    table: Table, architectures: tuple[str, ...], seed: int, budget: int
) -> tuple[str, list[TrialRecord]]:
    """The pipeline: screen each architecture's screen configuration (E epochs, early stopping),
    then search the better one with the default method on what is left of `budget`.

    Returns:
        The chosen architecture, and the trials: the screen runs first, then the study's.
    """
    screens, spent = [], 0
    for architecture in architectures:
        curve = table.curve_of(architecture, table.screen_config[architecture])
        patience = patience_for(table.epochs)
        screens.append(replay_trial(architecture, curve, patience, budget - spent))
        spent += screens[-1].epochs
    # The lower screen value wins (a screen run that failed or was cut: worse than any); ties: the
    # earlier architecture, the screen's order.
    chosen = min(screens, key=lambda r: r.value if r.counts() else math.inf).architecture
    if spent >= budget:
        return chosen, screens
    first = table.levels_of(chosen, table.screen_config[chosen])  # hpo.optimize's queued trial 0
    return chosen, screens + optuna_search(
        table, chosen, DEFAULT_METHOD, seed, budget - spent, first_params=first
    )


# --- anytime curves and statistics --------------------------------------------------------------


def _trained(trials: list[TrialRecord]) -> int:
    """The trials that trained (not answered as duplicates)."""
    return sum(t.state != DUPLICATE for t in trials)


def retrained_share(trials: list[TrialRecord]) -> float:
    """The share of a study's epochs spent training a configuration that an earlier trial of the
    same study had already finished: COMPLETE, or PRUNED after as many epochs or more (a trial that
    takes a pruned configuration further, because the pruner now lets it through, is not counted).
    A KerasTuner trial continuing its parent's run (first_epoch > 0) is no repeat."""
    finished: dict[tuple[str, int], float] = {}  # (architecture, config) -> epochs it finished at
    repeated = total = 0
    for trial in trials:
        key = (trial.architecture, trial.config)
        total += trial.epochs
        if trial.first_epoch == 0 and trial.epochs and finished.get(key, 0) >= trial.epochs:
            repeated += trial.epochs
        if trial.state == COMPLETE:
            finished[key] = math.inf
        elif trial.state == PRUNED:
            finished[key] = max(finished.get(key, 0), trial.epochs)
    return repeated / total if total else 0.0


def anytime(trials: list[TrialRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After each trial: cumulative epochs, best counted value so far (inf before the first) and the
    test value of that best trial; index 0 is the start (0 epochs)."""
    epochs, best, test = [0], [math.inf], [math.nan]
    for trial in trials:
        epochs.append(epochs[-1] + trial.epochs)
        improved = trial.counts() and trial.value < best[-1]
        best.append(trial.value if improved else best[-1])
        test.append(trial.test if improved else test[-1])
    return np.array(epochs), np.array(best), np.array(test, dtype=float)


def best_at(curve: tuple[np.ndarray, ...], epochs: float) -> float:
    """The best value of trials that ended within `epochs` (inf if none did)."""
    spent, best = curve[0], curve[1]
    return float(best[np.searchsorted(spent, epochs, side="right") - 1])


def epochs_to_reach(curve: tuple[np.ndarray, ...], target: float) -> float:
    """Cumulative epochs when the best value first reached `target` (inf if it never did)."""
    spent, best = curve[0], curve[1]
    reached = np.nonzero(np.isfinite(best) & (best <= target))[0]
    return float(spent[reached[0]]) if len(reached) else math.inf


def on_grid(curve: tuple[np.ndarray, ...], grid: np.ndarray) -> np.ndarray:
    """The step curve of best values sampled at `grid` epochs."""
    spent, best = curve[0], curve[1]
    return best[np.searchsorted(spent, grid, side="right") - 1]


def quantile(values: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """numpy's linear-interpolation quantile, where infinite values ("never") stay infinite instead
    of becoming NaN (numpy computes inf - inf between two of them)."""
    ordered = np.sort(np.asarray(values, dtype=float), axis=axis)
    position = q * (ordered.shape[axis] - 1)
    low = np.take(ordered, math.floor(position), axis=axis)
    high = np.take(ordered, math.ceil(position), axis=axis)
    fraction = position - math.floor(position)
    if fraction == 0:
        return low
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(high), np.inf, low + (high - low) * fraction)


def bootstrap_median(
    values, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """The median of `values` and its 95% percentile-bootstrap interval (inf allowed: "never")."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    picks = np.random.default_rng(seed).integers(0, len(values), size=(n_resamples, len(values)))
    medians = np.median(values[picks], axis=1)
    return (
        float(np.median(values)),
        float(quantile(medians, 0.025)),
        float(quantile(medians, 0.975)),
    )


def _stat(values) -> dict:
    """{"median", "low", "high", "n"} for the JSON; None stands for infinite ("never")."""
    median, low, high = bootstrap_median(values)
    return {"median": _finite(median), "low": _finite(low), "high": _finite(high), "n": len(values)}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _rounded(value: float) -> float | None:
    """For the chart: 5 significant digits are plenty, and keep the page small."""
    return float(f"{value:.5g}") if math.isfinite(value) else None


# --- the benchmark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """One replay: the budget per architecture, the seeds, quick or full."""

    budget: int  # B, epochs per architecture (top2: 2 B)
    seeds: tuple[int, ...]
    quick: bool
    grid: tuple[Combination, ...] = ()  # the candidate defaults (summarize_defaults)

    @classmethod
    def make(cls, epochs: int, quick: bool, n_seeds: int | None = None) -> Settings:
        trials = QUICK_TRIALS if quick else FULL_TRIALS
        n_seeds = (QUICK_SEEDS if quick else FULL_SEEDS) if n_seeds is None else n_seeds
        return cls(trials * epochs, tuple(range(n_seeds)), quick, defaults_grid(epochs, quick))


def scope_architectures(table: Table, scope: str) -> tuple[str, ...]:
    """top1: the screen's winner (the table's first architecture); top2: its first two."""
    return table.architectures[: 1 if scope == "top1" else 2]


@dataclass
class Runs:
    """What the methods ran: one study per method, seed and architecture for the one-architecture
    methods (top1 is the first architecture's, top2 both, one after the other); two-stage's per
    scope and seed, with the architecture it chose."""

    studies: dict  # method -> seed -> architecture -> [TrialRecord]
    two_stage: dict  # scope -> seed -> (chosen architecture, [TrialRecord])

    def trials(
        self, scope: str, method: str, seed: int, architectures: tuple[str, ...]
    ) -> list[TrialRecord]:
        if method == TWO_STAGE:
            return self.two_stage[scope][seed][1]
        return [t for a in architectures for t in self.studies[method][seed][a]]


def run_methods(
    table: Table,
    settings: Settings,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[str], None] | None = print,
) -> Runs:
    """Run every method for every seed in both scopes; one progress line per method and scope
    (top2's wall time: its second architecture's studies, the first's are top1's)."""
    runs = Runs(
        {m: {s: {} for s in settings.seeds} for m in methods if m != TWO_STAGE},
        {scope: {} for scope in SCOPES},
    )
    with tempfile.TemporaryDirectory(prefix="replay-kerastuner-") as folder:
        for method in methods:
            for scope in SCOPES:
                started = time.perf_counter()
                architectures = scope_architectures(table, scope)
                for seed in settings.seeds:
                    if method == TWO_STAGE:
                        budget = settings.budget * len(architectures)
                        runs.two_stage[scope][seed] = two_stage(
                            table, table.architectures[:2], seed, budget
                        )
                    else:  # top2 adds the second architecture's study to top1's first
                        architecture = architectures[-1]
                        runs.studies[method][seed][architecture] = _search(
                            table, method, architecture, seed, settings.budget, Path(folder)
                        )
                if progress is not None:
                    counts = [
                        _trained(runs.trials(scope, method, s, architectures))
                        for s in settings.seeds
                    ]
                    progress(
                        f"{method:<22}{scope}: {len(settings.seeds)} seeds, "
                        f"{np.median(counts):.0f} trials trained per seed (median), "
                        f"{time.perf_counter() - started:.1f} s"
                    )
    return runs


def _search(
    table: Table, method: str, architecture: str, seed: int, budget: int, folder: Path
) -> list[TrialRecord]:
    if method == KERASTUNER:
        return kerastuner_search(table, architecture, seed, budget, folder)
    return optuna_search(table, architecture, method, seed, budget)


def summarize_scope(
    table: Table,
    scope: str,
    runs: Runs,
    methods: tuple[str, ...],
    budget: int,
    seeds: tuple[int, ...],
) -> dict:
    """Per method: share of the budget to reach random's final best, best value and regret at 25,
    50 and 100% of the budget, test rel_l2 of the best; the targets; the anytime regret bands."""
    architectures = scope_architectures(table, scope)
    optimum = table.optimum(architectures)
    trials_of = {m: {s: runs.trials(scope, m, s, architectures) for s in seeds} for m in methods}
    curves = {
        m: {s: anytime(trials) for s, trials in by_seed.items()} for m, by_seed in trials_of.items()
    }
    # Paired by seed: a method's seed s against random search's seed s.
    targets = (
        {s: best_at(c, budget) for s, c in curves[BASELINE].items()} if BASELINE in curves else {}
    )
    rows = {}
    for method, by_seed in curves.items():
        shares = (
            [epochs_to_reach(by_seed[s], targets[s]) / budget for s in seeds] if targets else []
        )
        best = {f"{f:.0%}": [best_at(by_seed[s], f * budget) for s in seeds] for f in FRACTIONS}
        tests = [by_seed[s][2][-1] for s in seeds if math.isfinite(by_seed[s][2][-1])]
        trials = [t for s in seeds for t in trials_of[method][s]]
        rows[method] = {
            "share_to_random_best": _stat(shares),
            "seeds_reaching_random_best": sum(math.isfinite(x) for x in shares),
            "best_val": {k: _stat(v) for k, v in best.items()},
            "regret": {k: _stat([x - optimum["val_rel_l2"] for x in v]) for k, v in best.items()},
            "test_rel_l2": _stat(tests),
            "epochs_spent": _stat([float(by_seed[s][0][-1]) for s in seeds]),
            # Seeds that stopped short: max_failures failures in a row, or out of new points.
            "seeds_under_budget": sum(int(by_seed[s][0][-1]) < budget for s in seeds),
            "trials_per_seed": float(np.median([_trained(trials_of[method][s]) for s in seeds])),
            "duplicates_per_seed": float(
                np.median([len(t) - _trained(t) for t in trials_of[method].values()])
            ),
            # The epochs spent training again a configuration already finished (the 61%).
            "retrained_share": _stat([retrained_share(trials_of[method][s]) for s in seeds]),
            "states": {
                state: sum(t.state == state for t in trials)
                for state in (COMPLETE, PRUNED, FAIL, CUT, DUPLICATE)
            },
        }
    return {
        "architectures": list(architectures),
        "budget_epochs": budget,
        "optimum": optimum,
        "random_final_best": {str(s): _finite(v) for s, v in targets.items()},
        "methods": rows,
        "targets": _targets(rows),
        "best_method": _best_method(rows),
        "anytime": _anytime_bands(curves, budget, optimum["val_rel_l2"], seeds),
    }


def _targets(rows: dict, default: str = DEFAULT_METHOD, ours: dict | None = None) -> dict:
    """The issue's two targets for the default search, with the numbers behind them.

    Args:
        rows: the scope's methods (random's and KerasTuner Hyperband's rows are read).
        default: the name the targets give the default search.
        ours: its row (`share_to_random_best`, `regret` by budget share); default: rows[default].
    """
    targets = {}
    ours = rows.get(default) if ours is None else ours
    if ours is not None and BASELINE in rows:
        share = ours["share_to_random_best"]
        targets["default_reaches_random_best_within_40pct"] = {
            "met": share["median"] is not None and share["median"] <= TARGET_SHARE,
            "threshold": TARGET_SHARE,
            "method": default,
            "share": share,
        }
    if ours is not None and KERASTUNER in rows:
        regret, theirs = ours["regret"]["100%"], rows[KERASTUNER]["regret"]["100%"]
        targets["default_beats_kerastuner"] = {
            "met": regret["median"] is not None
            and (theirs["median"] is None or regret["median"] < theirs["median"]),
            "method": default,
            "regret_at_100pct": regret,
            "kerastuner_regret_at_100pct": theirs,
            "intervals_overlap": _overlap(regret, theirs),
        }
    return targets


def _best_method(rows: dict) -> dict:
    """The method with the lowest median regret at 100% of the budget (ties: all of them)."""
    regrets = {m: row["regret"]["100%"]["median"] for m, row in rows.items()}
    finite = {m: r for m, r in regrets.items() if r is not None}
    if not finite:
        return {"methods": [], "regret_at_100pct": None}
    lowest = min(finite.values())
    return {"methods": [m for m, r in finite.items() if r == lowest], "regret_at_100pct": lowest}


def _anytime_bands(curves: dict, budget: int, optimum: float, seeds: tuple[int, ...]) -> dict:
    """Per method, regret on a common epoch grid: median and 25-75% band over seeds (None: no
    completed trial yet in at least that share of seeds)."""
    grid = np.unique(np.linspace(0, budget, N_GRID + 1).round().astype(int))
    bands = {"grid": grid.tolist()}
    for method, by_seed in curves.items():
        stack = np.array([on_grid(by_seed[s], grid) for s in seeds]) - optimum  # (seeds, grid)
        bands[method] = {
            name: [_rounded(v) for v in quantile(stack, q)]
            for name, q in (("median", 0.5), ("q25", 0.25), ("q75", 0.75))
        }
    return bands


# --- defaults from evidence ---------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """A candidate for hpo.optimize's defaults: TPE with `startup` random start-up trials, the
    pruner `pruner` (hpo.registry.PRUNERS' names), at most `epochs` epochs per trial."""

    pruner: str
    startup: int
    epochs: int

    def to_dict(self) -> dict:
        return {"pruner": self.pruner, "startup": self.startup, "epochs": self.epochs}


def defaults_grid(epochs: int, quick: bool) -> tuple[Combination, ...]:
    """Every candidate for a table of E = `epochs`: pruner x start-up trials x epochs per trial."""
    pruners, startups, shares = (
        (QUICK_GRID_PRUNERS, QUICK_GRID_STARTUP, QUICK_GRID_EPOCH_SHARES)
        if quick
        else (GRID_PRUNERS, GRID_STARTUP, GRID_EPOCH_SHARES)
    )
    levels = sorted({max(1, round(share * epochs)) for share in shares})
    return tuple(Combination(p, n, m) for p in pruners for n in startups for m in levels)


def current_default(epochs: int, budget: int) -> Combination:
    """hpo.optimize's defaults today for a study of `budget` epochs on a table of E = `epochs`:
    StudySettings' pruner, its TPE start-up trials (when unset, as make_sampler derives them from
    the trials the budget holds) and its epochs per trial (at most E: the table's length)."""
    from hpo.optimize.settings import StudySettings

    live = StudySettings()
    per_trial = min(live.epochs, epochs)
    startup = live.n_startup_trials
    if startup is None:
        startup = _live_startup_trials(_expected_trials(per_trial, budget))
    return Combination(live.pruner, startup, per_trial)


def _live_startup_trials(n_trials: int) -> int:
    """The start-up trials of the live TPE for `n_trials` (hpo.optimize.settings' rule)."""
    from hpo.optimize.settings import startup_trials

    return startup_trials(n_trials)


def combination_search(
    table: Table, combination: Combination, seed: int, budget: int
) -> list[TrialRecord]:
    """One TPE study of `combination` on the table's first architecture with seed `seed`, replayed
    until `budget` epochs are spent; a trial reads only the table's first combination.epochs epochs
    (early stopping's patience for that many)."""

    from hpo.optimize.settings import make_pruner, make_sampler

    architecture = table.architectures[0]
    sampler = make_sampler(
        "tpe",
        seed,
        _expected_trials(combination.epochs, budget),
        n_startup_trials=combination.startup,
    )
    # The pruner as a live run with --epochs M builds it (Hyperband's max_resource M); the name as
    # optuna_search's, so the current default replays tpe+median's top1 studies exactly.
    study = create_study(
        sampler,
        make_pruner(combination.pruner, combination.epochs),
        name=f"replay-{architecture}-seed{seed}",
    )
    return run_study(study, table, architecture, budget, epochs=combination.epochs)


def summarize_defaults(
    table: Table, settings: Settings, runs: Runs, progress: Callable[[str], None] | None = print
) -> dict:
    """Replay every candidate of settings.grid, and the current default, on top1 for every seed.

    Per candidate, over seeds: the median regret at 100% of the budget and the median share of the
    budget to reach random search's final best of the same seed (the `random` method at E epochs),
    each with its 95% bootstrap interval. The best candidate by DEFAULTS_RULE, among the grid and
    the current default, is set beside the current default.
    """
    architecture, budget, seeds = table.architectures[0], settings.budget, settings.seeds
    optimum = table.optimum((architecture,))["val_rel_l2"]
    targets = {
        s: best_at(anytime(trials), budget)
        for s, trials in _random_trials(table, runs, seeds, budget).items()
    }
    current = current_default(table.epochs, budget)
    candidates = list(settings.grid) + ([] if current in settings.grid else [current])
    rows = []
    for combination in candidates:
        started = time.perf_counter()
        trials = {s: combination_search(table, combination, s, budget) for s in seeds}
        curves = {s: anytime(t) for s, t in trials.items()}
        regrets = [best_at(curves[s], budget) - optimum for s in seeds]
        shares = [epochs_to_reach(curves[s], targets[s]) / budget for s in seeds]
        rows.append(
            {
                **combination.to_dict(),
                "regret_at_100pct": _stat(regrets),
                "share_to_random_best": _stat(shares),
                "seeds_reaching_random_best": sum(math.isfinite(x) for x in shares),
                "trials_per_seed": float(np.median([_trained(t) for t in trials.values()])),
                "duplicates_per_seed": float(
                    np.median([len(t) - _trained(t) for t in trials.values()])
                ),
                "retrained_share": _stat([retrained_share(t) for t in trials.values()]),
                "per_seed": {
                    "regret_at_100pct": [_rounded(x) for x in regrets],
                    "share_to_random_best": [_rounded(x) for x in shares],
                },
            }
        )
        if progress is not None:
            progress(
                f"{_label(combination):<22}top1: {len(seeds)} seeds, "
                f"{rows[-1]['trials_per_seed']:.0f} trials trained per seed (median), "
                f"{time.perf_counter() - started:.1f} s"
            )
    order = rank_defaults(rows, candidates.index(current))
    for rank, i in enumerate(order, start=1):
        rows[i]["rank"] = rank
    best, now = rows[order[0]], rows[candidates.index(current)]
    current_is_best = order[0] == candidates.index(current)
    lower_by = (
        None
        if current_is_best
        else _finite(
            _or_inf(now["regret_at_100pct"]["median"]) - _or_inf(best["regret_at_100pct"]["median"])
        )
    )
    return {
        "scope": "top1",
        "architecture": architecture,
        "budget_epochs": budget,
        "sampler": "tpe",
        "levels": {
            "pruner": sorted({c.pruner for c in settings.grid}, key=GRID_PRUNERS.index),
            "startup": sorted({c.startup for c in settings.grid}),
            "epochs": sorted({c.epochs for c in settings.grid}),
        },
        "rule": DEFAULTS_RULE,
        "grid": rows[: len(settings.grid)],
        "best": best,
        "current": {**now, "in_grid": current in settings.grid},
        "current_default_is_best": current_is_best,
        "regret_lower_by": lower_by,
        "intervals_overlap": None
        if current_is_best
        else _overlap(best["regret_at_100pct"], now["regret_at_100pct"]),
        "note": TRUNCATION_NOTE,
    }


def _random_trials(
    table: Table, runs: Runs, seeds: tuple[int, ...], budget: int
) -> dict[int, list[TrialRecord]]:
    """Random search's top1 trials per seed: the methods' own, or run here if they left it out."""
    architecture = table.architectures[0]
    studies = runs.studies.get(BASELINE)
    if studies is not None:
        return {s: studies[s][architecture] for s in seeds}
    return {s: optuna_search(table, architecture, BASELINE, s, budget) for s in seeds}


def rank_defaults(rows: list[dict], current: int) -> list[int]:
    """The candidates' indices, best first by DEFAULTS_RULE (a None median, "never", ranks last).

    Args:
        rows: per candidate, its "regret_at_100pct" and "share_to_random_best" statistics and its
            "epochs" per trial.
        current: the index of the current default, which wins a tie on all three.
    """

    def key(i: int) -> tuple:
        row = rows[i]
        return (
            _or_inf(row["regret_at_100pct"]["median"]),
            _or_inf(row["share_to_random_best"]["median"]),
            row["epochs"],
            i != current,
            i,
        )

    return sorted(range(len(rows)), key=key)


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def _overlap(a: dict, b: dict) -> bool:
    """Whether two statistics' 95% intervals overlap (None: an infinite bound)."""
    return (_or_inf(a["high"]) >= _or_inf(b["low"])) and (_or_inf(b["high"]) >= _or_inf(a["low"]))


def _label(combination: Combination | dict) -> str:
    c = combination.to_dict() if isinstance(combination, Combination) else combination
    return f"tpe+{c['pruner']} s{c['startup']} e{c['epochs']}"


# --- the record ---------------------------------------------------------------------------------


def raw_trials(runs: Runs) -> dict:
    """Every seed's trials as rows of TRIAL_COLUMNS, enough to recompute every figure: "studies"
    per method, seed and architecture (top1: the first architecture's; top2: both, in the table's
    order) and "two-stage" per scope and seed, with the architecture it chose."""

    def rows(trials: list[TrialRecord]) -> list[list]:
        return [t.to_row() for t in trials]

    return {
        "columns": TRIAL_COLUMNS,
        "studies": {
            m: {str(s): {a: rows(t) for a, t in by_arch.items()} for s, by_arch in by_seed.items()}
            for m, by_seed in runs.studies.items()
        },
        TWO_STAGE: {
            scope: {
                str(s): {"chosen": chosen, "trials": rows(t)} for s, (chosen, t) in by_seed.items()
            }
            for scope, by_seed in runs.two_stage.items()
        },
    }


def replay(
    table: Table,
    settings: Settings,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[str], None] | None = print,
) -> dict:
    """Run every method, summarize both scopes; the record written as replay[-quick].json."""
    runs = run_methods(table, settings, methods, progress)
    scopes = {
        scope: summarize_scope(
            table,
            scope,
            runs,
            methods,
            settings.budget * len(scope_architectures(table, scope)),
            settings.seeds,
        )
        for scope in SCOPES
    }
    defaults = summarize_defaults(table, settings, runs, progress)
    # The targets for hpo.optimize's default as it is now (its pruner, start-up trials and epochs
    # per trial), on top1 against random search and KerasTuner Hyperband at the same budget.
    current = defaults["current"]
    defaults["targets"] = _targets(
        scopes["top1"]["methods"],
        default=_label(current),
        ours={
            "share_to_random_best": current["share_to_random_best"],
            "regret": {"100%": current["regret_at_100pct"]},
        },
    )
    return {
        "table": str(table.path),
        "epochs": table.epochs,
        "budget_per_architecture": settings.budget,
        "budget_in_full_trials": settings.budget // table.epochs,
        "quick": settings.quick,
        "seeds": list(settings.seeds),
        "methods": list(methods),
        "knobs": {k: list(v) for k, v in table.knobs.items()},
        "architectures": list(table.architectures),
        "screen_config": table.screen_config,
        "patience": patience_for(table.epochs),
        "bootstrap": {"resamples": N_RESAMPLES, "seed": BOOTSTRAP_SEED, "interval": 0.95},
        "scopes": scopes,
        "defaults": defaults,
        "trials": raw_trials(runs),
    }


# --- output -------------------------------------------------------------------------------------


def show_interval(stat: dict, digits: int = 4, share: bool = False) -> str:
    """ "median [low, high]" of a statistic; None (a median of infinities) as "never"."""

    def one(value):
        if value is None:
            return "never"
        return f"{value:.0%}" if share else f"{value:.{digits}f}"

    return f"{one(stat['median'])} [{one(stat['low'])}, {one(stat['high'])}]"


def format_table(record: dict) -> str:
    lines = [
        f"table {record['table']}: E = {record['epochs']} epochs, budget B = "
        f"{record['budget_per_architecture']} epochs per architecture "
        f"({record['budget_in_full_trials']} full trials), {len(record['seeds'])} seeds; "
        "median [95% bootstrap interval] over seeds"
    ]
    for scope, result in record["scopes"].items():
        optimum = result["optimum"]
        lines += [
            "",
            f"{scope}: {', '.join(result['architectures'])}; budget "
            f"{result['budget_epochs']} epochs; optimum val {optimum['val_rel_l2']:.4f} "
            f"({optimum['architecture']} config {optimum['config']}, epoch "
            f"{optimum['epoch']})",
            f"{'method':<22}{'share to random best':>26}{'reached':>9}"
            + "".join(f"{'regret @' + k:>26}" for k in ("25%", "50%", "100%"))
            + f"{'test rel_l2':>26}{'trials':>8}{'dups':>6}{'re-trained':>12}",
        ]
        for method, row in result["methods"].items():
            reached = f"{row['seeds_reaching_random_best']}/{row['share_to_random_best']['n']}"
            lines.append(
                f"{method:<22}{show_interval(row['share_to_random_best'], share=True):>26}"
                f"{reached:>9}"
                + "".join(f"{show_interval(row['regret'][k]):>26}" for k in ("25%", "50%", "100%"))
                + f"{show_interval(row['test_rel_l2']):>26}{row['trials_per_seed']:>8.0f}"
                + f"{row.get('duplicates_per_seed', 0):>6.0f}"
                + f"{_share(row.get('retrained_share')):>12}"
            )
        short = [
            f"{m} {row['seeds_under_budget']}"
            for m, row in result["methods"].items()
            if row["seeds_under_budget"]
        ]
        if short:
            lines.append(
                f"seeds that stopped short of the budget (3 failed trials in a row, or out of "
                f"new points: the space exhausted, KerasTuner's or ours): {', '.join(short)}"
            )
        lines.append(
            "trials: trained, per seed (median); dups: configurations already finished, "
            "answered without training (hpo.optimize.duplicates); re-trained: median share of "
            "the epochs spent training a configuration already finished"
        )
        lines += _target_lines(result)
    if "defaults" in record:
        lines += ["", *format_defaults(record["defaults"])]
    return "\n".join(lines)


def _share(stat: dict | None) -> str:
    """A statistic's median as a share ("-" when absent: a record from before it was measured)."""
    return "-" if stat is None or stat["median"] is None else f"{stat['median']:.0%}"


def format_defaults(defaults: dict) -> list[str]:
    """The candidates by rank (best first), the current default marked, and the verdict."""
    rows = defaults["grid"] + ([] if defaults["current"]["in_grid"] else [defaults["current"]])
    lines = [
        (
            f"defaults ({defaults['scope']}: {defaults['architecture']}, budget "
            f"{defaults['budget_epochs']} epochs; TPE, pruner x start-up trials x epochs per "
            f"trial); rank: {defaults['rule']}"
        ),
        (
            f"{'rank':>4}  {'pruner':<10}{'startup':>8}{'epochs':>7}{'regret @100%':>26}"
            f"{'share to random best':>26}{'reached':>9}{'trials':>8}{'re-trained':>12}"
        ),
    ]
    current = defaults["current"]["rank"]
    for row in sorted(rows, key=lambda r: r["rank"]):
        reached = f"{row['seeds_reaching_random_best']}/{row['share_to_random_best']['n']}"
        mark = "  <- current default" if row["rank"] == current else ""
        lines.append(
            f"{row['rank']:>4}  {row['pruner']:<10}{row['startup']:>8}{row['epochs']:>7}"
            f"{show_interval(row['regret_at_100pct']):>26}"
            f"{show_interval(row['share_to_random_best'], share=True):>26}{reached:>9}"
            f"{row['trials_per_seed']:>8.0f}{_share(row.get('retrained_share')):>12}{mark}"
        )
    best = defaults["best"]
    if defaults["current_default_is_best"]:
        lines.append(
            f"best: the current default, {_label(best)} (median regret "
            f"{show_interval(best['regret_at_100pct'])})"
        )
    else:
        overlap = "overlap" if defaults["intervals_overlap"] else "do not overlap"
        lower = defaults["regret_lower_by"]
        lines.append(
            f"best: {_label(best)}, median regret {show_interval(best['regret_at_100pct'])}, "
            f"{'never' if lower is None else f'{lower:.4f}'} lower than the current "
            f"default {_label(defaults['current'])}'s "
            f"{show_interval(defaults['current']['regret_at_100pct'])}; "
            f"the intervals {overlap}"
        )
    retrained = defaults["current"].get("retrained_share")
    if retrained is not None:
        lines.append(
            f"the current default re-trains configurations already finished with "
            f"{show_interval(retrained, share=True)} of its epochs (target: 0; "
            "hpo.optimize.duplicates answers them from the stored trial)"
        )
    lines.append(f"note: {defaults['note']}")
    return lines


def _target_lines(result: dict) -> list[str]:
    targets, lines = result["targets"], []
    reach = targets.get("default_reaches_random_best_within_40pct")
    if reach:
        lines.append(
            f"target: {reach['method']} reaches random's final best within "
            f"{TARGET_SHARE:.0%} of the budget: {'met' if reach['met'] else 'NOT met'} "
            f"(median share {show_interval(reach['share'], share=True)})"
        )
    beats = targets.get("default_beats_kerastuner")
    if beats:
        lines.append(
            f"target: {beats['method']} beats {KERASTUNER} (median regret at 100%): "
            f"{'met' if beats['met'] else 'NOT met'} ({show_interval(beats['regret_at_100pct'])} "
            f"against {show_interval(beats['kerastuner_regret_at_100pct'])})"
        )
    best = result["best_method"]
    if best["methods"]:
        lines.append(
            f"best: {', '.join(best['methods'])} (lowest median regret at 100%: "
            f"{best['regret_at_100pct']:.4f})"
        )
    return lines


def write_chart(record: dict, path: Path, png: Path | None = None) -> None:
    """Anytime regret curves, one panel per scope: per method the median over seeds and its 25-75%
    band (and a PNG of it when `png` is given and Chromium is there to render it)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    scopes = record["scopes"]
    colors = dict(zip(record["methods"], qualitative.D3))
    fig = make_subplots(
        rows=1,
        cols=len(scopes),
        subplot_titles=[
            f"{scope}: {', '.join(r['architectures'])} ({r['budget_epochs']} epochs)"
            for scope, r in scopes.items()
        ],
    )
    for column, result in enumerate(scopes.values(), start=1):
        grid = result["anytime"]["grid"]
        for method in record["methods"]:
            band = result["anytime"][method]
            fig.add_trace(
                go.Scatter(
                    x=grid + grid[::-1],
                    y=band["q75"] + band["q25"][::-1],
                    fill="toself",
                    line={"width": 0},
                    opacity=0.15,
                    fillcolor=colors[method],
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=method,
                ),
                row=1,
                col=column,
            )
            fig.add_trace(
                go.Scatter(
                    x=grid,
                    y=band["median"],
                    name=method,
                    mode="lines",
                    line={"color": colors[method]},
                    line_shape="hv",
                    legendgroup=method,
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        fig.update_xaxes(title_text="cumulative epochs", row=1, col=column)
        fig.update_yaxes(range=[0, _y_top(result["anytime"], record["methods"])], row=1, col=column)
    fig.update_yaxes(title_text="regret: best val rel_l2 - table optimum (median, 25-75%)", col=1)
    fig.update_layout(
        title=f"Replayed searches, {len(record['seeds'])} seeds: regret against epochs spent",
        template="plotly_white",
        width=1200,
        height=560,
    )
    fig.write_html(path, include_plotlyjs="cdn")  # plotly.js from its CDN: the page stays small
    if png is not None:
        from bench.snapshot import save_png

        print(
            f"wrote {png}"
            if save_png(fig, png, height=560)
            else f"no {png}: chromium is not installed"
        )


def _y_top(bands: dict, methods: list[str]) -> float | None:
    """The y-axis top: the highest 75% quantile once a quarter of the budget is spent, so the
    differences that last are visible (the first few trials' regrets would squash them)."""
    quarter = bisect.bisect_left(bands["grid"], bands["grid"][-1] / 4)
    highs = [v for m in methods for v in bands[m]["q75"][quarter:] if v is not None]
    return 1.1 * max(highs) if highs and max(highs) > 0 else None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="curves.csv of bench.curves, its .json beside it (default: "
        "bench/results/curves.csv; --quick: curves-quick.csv in --out)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"seeds per method ({FULL_SEEDS}; --quick {QUICK_SEEDS})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SEEDS} seeds, a budget of {QUICK_TRIALS} full trials (full: {FULL_TRIALS})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON and HTML")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.seeds is not None and args.seeds < 2:
        print(
            f"--seeds must be at least 2 (a bootstrap over one seed says nothing), but got "
            f"{args.seeds}",
            file=sys.stderr,
        )
        return 2
    if args.table is None:  # the quick table is bench.curves --quick's, written beside the JSON
        args.table = args.out / "curves-quick.csv" if args.quick else DEFAULT_TABLE
    try:
        table = load_table(args.table)
    except TableError as exc:
        print(f"bench.replay: {exc}", file=sys.stderr)
        return 2
    from bench.machine import machine
    from hpo.serialize import json_safe

    settings = Settings.make(table.epochs, args.quick, args.seeds)
    facts = machine()
    print(f"machine: {facts}", flush=True)
    methods = METHODS
    if not table.screen_config:
        methods = tuple(m for m in METHODS if m != TWO_STAGE)
        print(
            f"note: {args.table.with_suffix('.json').name} names no screen_config: "
            f"{TWO_STAGE} is left out",
            flush=True,
        )
    started = time.perf_counter()
    record = {"machine": facts, **replay(table, settings, methods)}
    record["wall_s"] = round(time.perf_counter() - started, 1)
    print(format_table(record))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"replay{'-quick' if args.quick else ''}.json"
    # Compact: the per-seed trials are tens of thousands of rows.
    path.write_text(json.dumps(json_safe(record), separators=(",", ":")) + "\n")
    write_chart(record, path.with_suffix(".html"), None if args.quick else path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.html').name} ({record['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
