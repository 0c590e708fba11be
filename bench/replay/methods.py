"""The method drivers: each search method run against the table, one study per architecture and
seed, until its epoch budget is spent.

- Optuna methods (OPTUNA_METHODS: sampler + pruner, as hpo.registry names them) use the live run's
  sampler and pruner (`hpo.optimize.settings.make_sampler`, `make_pruner`); each trial reports every
  epoch's validation value (`trial.report` at step epoch - 1, as optuna_integration's
  KerasPruningCallback does) and asks `trial.should_prune()`. A configuration the study has already
  finished is answered from its stored trial without training, by hpo.optimize's own code
  (hpo.optimize.duplicates): it costs no epoch (a DUPLICATE record), and a study whose space is
  exhausted stops short of its budget. After max_failures failed trials in a row a study stops
  (StudySettings.max_failures), as a live run does.
- kerastuner-hyperband: KerasTuner's Hyperband (max_epochs E, factor 3, brackets iterated until the
  budget is spent or its space is exhausted). It continues a promoted trial ("tuner/trial_id") from
  its parent's weights, from epoch "tuner/initial_epoch" to "tuner/epochs": here it reads the
  table's epochs initial_epoch + 1 .. epochs (the curve of an uninterrupted run), is charged only
  those, and early stopping counts from its own first epoch, as in a fresh Keras fit. KerasTuner
  takes seed 0 for "no seed" (`seed or random.randint(...)`), so its oracle gets seed s + 1 for
  seed s.
- two-stage (the pipeline): each architecture's screen configuration trained for E epochs, the
  better one searched with the default method on the rest of the budget, its study starting from
  the screen's configuration as hpo.optimize queues it; the screen runs count both in cost and in
  the anytime best.
The study asks for no trial once the budget is spent; the trial that crosses it is CUT there.
"""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path

from bench.replay.table import Table
from bench.replay.trial import COMPLETE, DUPLICATE, FAIL, TrialRecord, patience_for, replay_trial
from hpo.adapters.keras_tuner_internals import failed_trials_untraced

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
OBJECTIVE = "val_rel_l2"


def max_failures() -> int:
    """Failed trials in a row after which a study stops (hpo.optimize's StudySettings)."""
    from hpo.optimize.settings import StudySettings

    return StudySettings().max_failures


def expected_trials(epochs: int, budget: int) -> int:
    """What hpo.optimize hands the sampler as n_trials for this budget (TPE's start-up share)."""
    from hpo.optimize.settings import StudySettings

    # bench/campaign.py's live runs: n_trials unbounded, the epoch budget decides.
    return StudySettings(n_trials=10_000, epochs=epochs, epoch_budget=budget).expected_trials()


def run_search(
    table: Table, method: str, architecture: str, seed: int, budget: int, folder: Path
) -> list[TrialRecord]:
    """One study of a one-architecture method (KERASTUNER or one of OPTUNA_METHODS) with seed
    `seed`, replayed until `budget` epochs are spent; KerasTuner's files go under `folder`."""
    if method == KERASTUNER:
        return kerastuner_search(table, architecture, seed, budget, folder)
    return optuna_search(table, architecture, method, seed, budget)


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
    n_trials = expected_trials(epochs, budget)
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
    curves, patience, failures_to_stop = (
        table.curves[architecture],
        patience_for(epochs),
        max_failures(),
    )
    records: list[TrialRecord] = []
    spent = failures = 0
    while spent < budget and failures < failures_to_stop:
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
        seed=seed + 1,  # KerasTuner reads seed 0 as "no seed": see the module docstring
        hyperparameters=space,
        max_consecutive_failed_trials=max_failures(),
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
        if not _failed_in_a_row(tuner.records, max_failures()):
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
