"""Optuna's private parts that the worker needs, in one place.

Optuna (5.0) gives a running `Trial` no public id or storage: its heartbeat, its intermediate values
while it runs and a direct state change all go through `study._storage` and `trial._trial_id`, as
Optuna's own `fail_stale_trials` and KerasPruningCallback's pruning path do inside the library. If a
release renames them, tests/test_adapters.py fails here first.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage a study reads and writes (Optuna has no public accessor)."""
    return study._storage


def trial_id_of(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (not its number; no public accessor)."""
    return trial._trial_id


def record_heartbeat(study: optuna.Study, trial: optuna.Trial) -> None:
    """Beat a running trial's heartbeat now (Optuna beats only inside `study.optimize`)."""
    storage_of(study).record_heartbeat(trial_id_of(trial))


def epochs_reported(trial: optuna.Trial) -> int:
    """How many intermediate values a running trial has reported so far."""
    storage = storage_of(trial.study)
    return len(storage.get_trial(trial_id_of(trial)).intermediate_values)
