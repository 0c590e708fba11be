"""Pausing a run at a rung and resuming it (hpo.checkpoints through training.fit): the resumed run
continues the schedule, the optimizer and early stopping where they were, and a run cut at a rung
and resumed ends where the same run trained through ends (to training noise)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo import checkpoints
from hpo.training import TrainConfig, evaluate, fit

SMALL = {"n_layers": 2, "filters_0": 4, "filters_1": 4, "latent": 8, "schedule": "cosine"}
QUIET = {"progress": None}


def test_a_paused_run_is_saved_and_loaded_whole(tmp_path):
    run = checkpoints.PausedRun(
        history=[{"loss": 1.0, "val_rel_l2": 0.5}, {"loss": 0.8, "val_rel_l2": 0.6}],
        epoch_seconds=[1.5, 1.0],
        best_epoch=0,
        best_value=0.5,
        wait=1,
        weights=[np.ones((2, 3), np.float32), np.zeros(3, np.float32)],
        best_weights=[np.full((2, 3), 2.0, np.float32), np.ones(3, np.float32)],
        optimizer=[np.array(7, np.int64), np.ones((2, 3), np.float32)],
    )
    assert checkpoints.load(tmp_path / "run") is None
    checkpoints.save(tmp_path / "run", run)
    loaded = checkpoints.load(tmp_path / "run")
    assert loaded.epochs == 2 and loaded.best_epoch == 0 and loaded.wait == 1
    assert loaded.history == run.history and loaded.best_value == 0.5
    for got, want in zip(
        loaded.weights + loaded.best_weights + loaded.optimizer,
        run.weights + run.best_weights + run.optimizer,
    ):
        np.testing.assert_array_equal(got, want)
    assert not list((tmp_path / "run").glob(".*partial")), "no half-written file is left behind"


@pytest.mark.slow
def test_a_run_cut_at_a_rung_and_resumed_continues_where_it_was(tiny_flow_data, tmp_path):
    config = TrainConfig(epochs=6, patience=100, seed=3)
    through = fit("conv", SMALL, tiny_flow_data, config, **QUIET)

    first = fit("conv", SMALL, tiny_flow_data, config, until=2, pause_to=tmp_path, **QUIET)
    assert first.epochs_run == 2 and not first.stopped_early
    paused = checkpoints.load(tmp_path)
    assert paused.epochs == 2 and paused.stopped == ""
    # The optimizer's step count is kept, so the cosine schedule goes on from epoch 3, not from 0.
    assert int(paused.optimizer[0]) > 0
    resumed = fit("conv", SMALL, tiny_flow_data, config, resume=paused, pause_to=tmp_path, **QUIET)

    assert resumed.epochs_run == 6
    assert resumed.history[:2] == first.history, "the first segment's epochs come first"
    rates = [row["learning_rate"] for row in resumed.history]
    np.testing.assert_allclose(rates, [row["learning_rate"] for row in through.history], rtol=1e-5)
    # Only the batch order differs from training through: the end is close, not equal.
    end, end_through = resumed.history[-1]["val_rel_l2"], through.history[-1]["val_rel_l2"]
    assert math.isclose(end, end_through, rel_tol=0.15), (end, end_through)
    assert end < resumed.history[1]["val_rel_l2"], "the resumed segment kept learning"
    best = min(row["val_rel_l2"] for row in resumed.history)
    assert resumed.history[resumed.best_epoch]["val_rel_l2"] == best
    assert evaluate(resumed.model, tiny_flow_data.val, tiny_flow_data)["rel_l2"] == pytest.approx(
        best, rel=0.05
    )


@pytest.mark.slow
def test_early_stopping_counts_across_the_pause(tiny_flow_data, tmp_path):
    # A learning rate of ~0 never improves after the first epoch: patience 2 ends it at epoch 3,
    # whether or not the run was paused after epoch 2.
    params = {**SMALL, "learning_rate": 1e-12, "schedule": "constant"}
    config = TrainConfig(epochs=10, patience=2, seed=1)
    fit("conv", params, tiny_flow_data, config, until=2, pause_to=tmp_path, **QUIET)
    resumed = fit(
        "conv", params, tiny_flow_data, config, resume=checkpoints.load(tmp_path), **QUIET
    )
    assert resumed.epochs_run == 3 and resumed.stopped_early
