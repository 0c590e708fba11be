"""hpo.optimize --engine keras-tuner on tiny data: KerasTuner's trials mirrored into Optuna,
resumed."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from hpo.cli import run
from hpo.optimize.__main__ import main as optimize_main
from hpo.optimize.optimization import optimize
from hpo.storage import open_storage

from helpers import cli_args, optimize_config, sqlite

pytestmark = pytest.mark.slow
STUDY = "t-conv-z8-keras-tuner"  # at the latent size the tiny screen ranked, as by default


def test_keras_tuner_trials_are_mirrored_into_optuna_and_resume_adds_nothing(home):
    engine = optimize_config(
        home,
        architectures=("conv",),
        engine="keras-tuner",
        tuner="random",
        settings={"n_trials": 2, "epochs": 2},
    )
    result = optimize(engine, sqlite(home), progress=None)
    assert result.studies == [STUDY]
    study = optuna.load_study(study_name=STUDY, storage=open_storage(sqlite(home)))
    trials = study.get_trials()
    assert len(trials) == 2
    assert {t.user_attrs["keras_tuner_trial_id"] for t in trials} == {"random:0", "random:1"}
    for trial in trials:
        assert trial.state == TrialState.COMPLETE
        assert {"n_layers", "filters_0", "learning_rate", "batch_size"} <= set(trial.params)
        assert set(trial.params) == set(trial.distributions)
        assert math.isfinite(trial.value) and trial.value == min(trial.intermediate_values.values())
        assert len(trial.intermediate_values) == 2
        # Trained in this process, which is placed as worker 0 (the CPU here).
        assert (trial.user_attrs["device"], trial.user_attrs["slot"]) == ("cpu", 0)

    optimize(engine, sqlite(home), progress=None)  # resumes: KerasTuner has its 2 trials
    assert len(study.get_trials()) == 2


def test_keras_tuner_with_workers_exits_2_with_one_line(home, capsys):
    code = run(
        optimize_main,
        cli_args(
            home,
            sqlite(home),
            "--architectures",
            "conv",
            "--engine",
            "keras-tuner",
            "--workers",
            "2",
        ),
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--workers applies to the optuna engine" in err[0], err


def test_keras_tuner_best_model_is_kept_and_scored_on_test(home):
    engine = optimize_config(
        home,
        architectures=("conv",),
        engine="keras-tuner",
        tuner="random",
        settings={"n_trials": 2, "epochs": 2},
    )
    result = optimize(engine, sqlite(home), progress=None)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(sqlite(home)))
    best = study.user_attrs["best_model_trial"]
    assert study.user_attrs["best_model_value"] == study.best_value == study.trials[best].value
    row = result.summary.iloc[0]
    assert math.isfinite(row["test_rel_l2"]) and math.isfinite(row["test_mse"])
    # The kept model is the best trial's best epoch: scoring it on validation gives that value back.
    assert row["val_rel_l2"] == pytest.approx(study.best_value, rel=1e-3)


def test_keras_tuner_hyperband_stops_at_the_epoch_budget(home):
    budget = 5
    engine = optimize_config(
        home,
        architectures=("conv",),
        engine="keras-tuner",
        tuner="hyperband",
        settings={"epochs": 3, "epoch_budget": budget},
    )
    optimize(engine, sqlite(home), progress=None)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(sqlite(home)))
    epochs = [len(t.intermediate_values) for t in study.get_trials()]
    # No trial starts once the budget is spent: the last one may end past it, by less than a trial.
    assert sum(epochs[:-1]) < budget <= sum(epochs) < budget + 3, epochs
