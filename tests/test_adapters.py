"""hpo.adapters against the installed Optuna and KerasTuner: when a release moves one of their
private parts, these fail, and the adapter is the one place to change."""

from __future__ import annotations

import time

import optuna
from optuna.trial import TrialState

from hpo.adapters import keras_tuner_internals, optuna_internals


def _study(tmp_path, **heartbeat):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'a.db'}", **heartbeat)
    return optuna.create_study(storage=storage, study_name="a"), storage


def test_storage_and_trial_id_are_the_studys_own(tmp_path):
    study, storage = _study(tmp_path)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    trial = study.ask()
    held = optuna_internals.storage_of(study)  # Optuna may wrap the storage it was given
    assert isinstance(held, optuna.storages.BaseStorage)
    assert held.get_study_id_from_name("a") == storage.get_study_id_from_name("a")
    for each in (trial, *study.get_trials()):
        assert storage.get_trial(optuna_internals.trial_id_of(each)).number == each.number
        assert held.get_trial(optuna_internals.trial_id_of(each)).number == each.number


def test_epochs_reported_counts_a_running_trials_intermediate_values(tmp_path):
    study, _ = _study(tmp_path)
    trial = study.ask()
    assert optuna_internals.epochs_reported(trial) == 0
    for step in range(3):
        trial.report(1.0 / (step + 1), step)
    assert optuna_internals.epochs_reported(trial) == 3


def test_a_recorded_heartbeat_makes_a_silent_trial_stale(tmp_path):
    """Optuna fails a trial whose heartbeat went silent, and ignores one that never beat: the
    worker's first beat right after ask is what makes a killed worker's trial recoverable."""
    study, _ = _study(tmp_path, heartbeat_interval=1, grace_period=1)
    beaten, silent = study.ask(), study.ask()
    optuna_internals.record_heartbeat(study, beaten)
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert states == {beaten.number: TrialState.FAIL, silent.number: TrialState.RUNNING}


def test_the_tuner_callback_carries_the_trial_and_the_tuner():
    callback_class = keras_tuner_internals._tuner_callback_class()
    tuner, trial = object(), object()
    callbacks = [object(), callback_class(tuner=tuner, trial=trial)]
    assert keras_tuner_internals.trial_and_tuner(callbacks) == (trial, tuner)
    assert keras_tuner_internals.trial_and_tuner([object()]) == (None, None)


def test_failed_trials_untraced_switches_keras_tuners_debug_flag_off_and_back():
    from keras_tuner.src import config

    before = config.DEBUG
    with keras_tuner_internals.failed_trials_untraced():
        assert config.DEBUG is False
    assert before == config.DEBUG
