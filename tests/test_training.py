"""Real training on tiny data: normalised history, restored best weights, divergence, out of memory,
pruning through fit, seeding, the streamed path and the two-headed model's next-step pairs."""

from __future__ import annotations

import math

import keras
import numpy as np
import optuna
import pytest
import tensorflow as tf
from optuna_integration import KerasPruningCallback

from hpo import architectures
from hpo.data import load
from hpo.errors import ConfigError
from hpo.training import TrainConfig, TrainingFailed, evaluate, fit, fit_model

from helpers import write_original

# Two levels (vqvae2 needs them), few filters, a small code: a second or two per fit.
SMALL = {"n_layers": 2, "filters_0": 4, "filters_1": 4, "latent": 8}
QUIET = {"progress": None}


def _expected_keys(name: str, channels) -> set[str]:
    keys = {"loss", "rel_l2", "mse", *(f"mse_{c}" for c in channels)}
    if name == "dual":
        keys |= {"next_step_rel_l2", "next_step_mse"}
    return keys | {f"val_{k}" for k in keys} | {"learning_rate"}


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", architectures.names())
def test_fit_gives_the_normalised_history_for_every_architecture(name, tiny_flow_data):
    lines = []
    result = fit(name, SMALL, tiny_flow_data, TrainConfig(epochs=2), progress=lines.append)
    assert result.epochs_run == len(result.history) == len(result.epoch_seconds) == 2
    for epoch in result.history:
        assert set(epoch) == _expected_keys(name, tiny_flow_data.channel_names)
        assert all(math.isfinite(v) for v in epoch.values())
    assert not result.diverged and not result.stopped_early
    assert result.n_params == _trainable(result.model) > 0
    assert result.seconds_per_epoch > 0
    assert result.best == {
        k: v for k, v in result.history[result.best_epoch].items() if k.startswith("val_")
    }
    assert len(lines) == 2 and lines[1].startswith(f"{name}  epoch 2/2  loss ")
    assert "val_rel_l2 " in lines[1]


def test_evaluate_on_val_equals_the_best_epochs_validation_metrics(tiny_flow_data):
    result = fit("conv", SMALL, tiny_flow_data, TrainConfig(epochs=2), **QUIET)
    scores = evaluate(result.model, tiny_flow_data.val, tiny_flow_data)
    best = result.best
    assert set(scores) == {"rel_l2", "mse", "mse_per_channel"}
    assert scores["rel_l2"] == pytest.approx(best["val_rel_l2"], rel=1e-5)
    assert scores["mse"] == pytest.approx(best["val_mse"], rel=1e-5)
    assert list(scores["mse_per_channel"]) == list(tiny_flow_data.channel_names)
    for channel, value in scores["mse_per_channel"].items():
        assert value == pytest.approx(best[f"val_mse_{channel}"], rel=1e-5)


@pytest.mark.parametrize("name", ["conv", "dual"])
def test_early_stopping_stops_on_val_rel_l2_and_restores_the_best_epoch(name, tiny_flow_data):
    # min_delta so large that no later epoch counts as better: epoch 0 stays the best, and with
    # patience 1 training stops after epoch 1. Works for dual only if val_rel_l2 is in its logs.
    config = TrainConfig(epochs=6, patience=1, min_delta=10.0)
    result = fit(name, SMALL, tiny_flow_data, config, **QUIET)
    assert result.epochs_run == 2 and result.stopped_early and result.best_epoch == 0
    first, last = result.history
    key = "val_next_step_rel_l2" if name == "dual" else "val_rel_l2"
    assert first[key] != pytest.approx(last[key], rel=1e-4)  # else restoring would prove nothing
    scores = evaluate(result.model, tiny_flow_data.val, tiny_flow_data)
    assert scores[key.removeprefix("val_")] == pytest.approx(first[key], rel=1e-5)


def test_dual_trains_on_next_step_pairs_and_evaluates_both_heads(tiny_flow_data):
    result = fit("dual", SMALL, tiny_flow_data, TrainConfig(epochs=1), **QUIET)
    scores = evaluate(result.model, tiny_flow_data.val, tiny_flow_data)
    assert set(scores) == {"rel_l2", "mse", "mse_per_channel", "next_step_rel_l2", "next_step_mse"}
    assert scores["next_step_mse"] == pytest.approx(result.best["val_next_step_mse"], rel=1e-5)
    # The next-step head is scored against the following frame, not the input frame.
    x = np.asarray(tiny_flow_data.val.arrays())
    t, t_next = tiny_flow_data.val.next_step_pairs()
    predicted = result.model.predict_on_batch(x[t])["next_step"]
    assert scores["next_step_mse"] == pytest.approx(
        np.square(predicted - x[t_next]).mean(), rel=1e-5
    )
    assert scores["next_step_mse"] != pytest.approx(np.square(predicted - x[t]).mean(), rel=1e-3)
    # Validation saw the pairs' first frames only: the frames that have a successor.
    reconstructed = result.model.predict_on_batch(x[t])["reconstruction"]
    assert result.best["val_mse"] == pytest.approx(np.square(reconstructed - x[t]).mean(), rel=1e-5)


def test_a_run_that_blows_up_comes_back_diverged(tiny_flow_data):
    lines = []
    params = {**SMALL, "activation_0": "linear", "activation_1": "linear", "learning_rate": 1e6}
    result = fit("conv", params, tiny_flow_data, TrainConfig(epochs=4), progress=lines.append)
    assert result.diverged
    assert result.epochs_run < 4
    assert not math.isfinite(result.history[-1]["loss"])
    assert lines[-1].endswith("diverged (NaN/Inf)")


@pytest.mark.slow
def test_the_same_seed_repeats_a_run_and_another_seed_does_not(tiny_flow_data):
    def val_rel_l2(seed):
        return fit(
            "conv_dropout", SMALL, tiny_flow_data, TrainConfig(epochs=1, seed=seed), **QUIET
        ).history[-1]["val_rel_l2"]

    first = val_rel_l2(7)
    assert val_rel_l2(7) == pytest.approx(first, rel=1e-6)
    assert val_rel_l2(8) != pytest.approx(first, rel=1e-4)


def test_params_override_the_configs_learning_rate_and_batch_size(tiny_flow_data, capsys):
    config = TrainConfig(epochs=1, learning_rate=1e-4, batch_size=16)
    params = {**SMALL, "learning_rate": 3e-3, "batch_size": 4, "schedule": "constant"}
    result = fit("conv", params, tiny_flow_data, config, **QUIET)
    assert (result.learning_rate, result.batch_size, result.schedule) == (3e-3, 4, "constant")
    assert float(result.model.optimizer.learning_rate.numpy()) == pytest.approx(3e-3)
    assert int(result.model.optimizer.iterations.numpy()) == 5  # ceil(18 / 4) steps
    assert capsys.readouterr().out == ""  # progress=None: silent


def test_weight_decay_trains_with_adamw_and_shrinks_the_weights(tiny_flow_data):
    # Same seed, constant rate: AdamW's decoupled decay is the only difference, so the decayed
    # weights are smaller; weight decay 0 is plain Adam, the original recipe's optimizer.
    def norm_and_optimizer(weight_decay):
        params = {**SMALL, "schedule": "constant", "learning_rate": 1e-2}
        params["weight_decay"] = weight_decay
        model = fit("conv", params, tiny_flow_data, TrainConfig(epochs=2), **QUIET).model
        kernels = [w for w in model.trainable_weights if "kernel" in w.path]
        norm = sum(float(np.sum(keras.ops.convert_to_numpy(w) ** 2)) for w in kernels)
        return norm, type(model.optimizer).__name__

    plain, optimizer = norm_and_optimizer(0.0)
    assert optimizer == "Adam"
    decayed, optimizer = norm_and_optimizer(0.5)
    assert optimizer == "AdamW"
    assert decayed < 0.99 * plain


def test_fit_model_trains_a_model_built_elsewhere(tiny_flow_data):
    keras.backend.clear_session()
    # As KerasTuner would
    model = architectures.build("depthwise", SMALL, tiny_flow_data.input_shape)
    lines = []
    result = fit_model(
        model, tiny_flow_data, TrainConfig(epochs=1), batch_size=6, progress=lines.append
    )
    assert result.model is model and result.batch_size == 6
    assert set(result.history[0]) == _expected_keys("depthwise", tiny_flow_data.channel_names)
    assert lines[0].startswith("depthwise  epoch 1/1  ")


def test_a_pruning_callback_raises_out_of_fit(tiny_flow_data):
    class PruneAtOnce(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return True

    study = optuna.create_study(pruner=PruneAtOnce())
    trial = study.ask()
    # Dual: found only under the normalised name
    pruning = KerasPruningCallback(trial, "val_rel_l2")
    with pytest.raises(optuna.TrialPruned):
        fit("dual", SMALL, tiny_flow_data, TrainConfig(epochs=3), callbacks=[pruning], **QUIET)
    reported = study.get_trials(deepcopy=False)[0].intermediate_values
    assert list(reported) == [0] and 0 < reported[0] < 10


def test_out_of_memory_becomes_training_failed(tiny_flow_data):
    class RunOutOfMemory(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    expected = r"conv: out of memory while training \(batch size 8, grid 24x20x3\); try a smaller"
    with pytest.raises(TrainingFailed, match=expected):
        fit(
            "conv",
            SMALL,
            tiny_flow_data,
            TrainConfig(epochs=2),
            callbacks=[RunOutOfMemory()],
            **QUIET,
        )


@pytest.mark.parametrize("name", ["conv", "dual"])
def test_streamed_data_trains_through_the_split_datasets(name, tmp_path):
    data = load(write_original(tmp_path / "seed.h5"), memory_budget_bytes=20_000)
    assert data.streamed
    result = fit(name, SMALL, data, TrainConfig(epochs=1), **QUIET)
    assert set(result.history[0]) == _expected_keys(name, data.channel_names)
    assert all(math.isfinite(v) for v in result.history[0].values())
    scores = evaluate(result.model, data.val, data)
    key = "next_step_mse" if name == "dual" else "mse"
    assert scores[key] == pytest.approx(result.best[f"val_{key}"], rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer, but got 0"),
        ({"loss": "mae"}, "--loss must be one of mse, rel_l2, but got 'mae'"),
        ({"patience": -1}, "patience must be an integer >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"weight_decay": -1e-4}, r"weight_decay must be a number in \[0, 1\)"),
    ],
)
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_early_stopping_watches_the_chosen_ranking_metric(tiny_flow_data):
    # With --metric mse the restored epoch is the one best on val_mse, whatever val_rel_l2 did.
    result = fit(
        "conv", SMALL, tiny_flow_data, TrainConfig(epochs=4, patience=4, monitor="val_mse"), **QUIET
    )
    val_mse = [epoch["val_mse"] for epoch in result.history]
    assert result.best_epoch == int(np.argmin(val_mse))
    scores = evaluate(result.model, tiny_flow_data.val, tiny_flow_data)
    assert scores["mse"] == pytest.approx(min(val_mse), rel=1e-5)


# --- the recipe: schedules, patience, and the new knobs through both engines
# -----------------------


def test_cosine_rate_warms_up_then_decays_to_its_floor_at_the_end_of_the_budget():
    from hpo.schedules import FINAL_SHARE, learning_rate

    rate = learning_rate("cosine", 2e-3, n_epochs=10, steps_per_epoch=10, warmup_share=0.05)
    values = [float(rate(step)) for step in (0, 5, 50, 100)]
    assert values[0] == 0.0 and values[1] == pytest.approx(2e-3)  # 5 of 100 steps warm up
    assert 2e-3 * FINAL_SHARE < values[2] < 2e-3 and values[3] == pytest.approx(2e-3 * FINAL_SHARE)
    assert learning_rate("constant", 2e-3, 10, 10) == learning_rate("plateau", 2e-3, 10, 10) == 2e-3
    with pytest.raises(
        ConfigError, match="no learning-rate schedule 'step'; choose from: constant"
    ):
        learning_rate("step", 1e-3, 10, 10)


def test_the_plateau_schedule_halves_the_rate_before_early_stopping_would_stop():
    from hpo.schedules import callbacks

    (reduce,) = callbacks("plateau", "val_rel_l2", patience=8, peak=1e-3)
    assert isinstance(reduce, keras.callbacks.ReduceLROnPlateau)
    assert (reduce.monitor, reduce.patience, reduce.factor, reduce.min_lr) == (
        "val_rel_l2",
        4,
        0.5,
        1e-5,
    )
    assert callbacks("cosine", "val_rel_l2", 8, 1e-3) == []


@pytest.mark.parametrize(
    "epochs, patience, expected", [(30, None, 8), (8, None, 3), (100, None, 25), (30, 5, 5)]
)
def test_patience_scales_with_the_epoch_budget(epochs, patience, expected):
    assert TrainConfig(epochs=epochs, patience=patience).early_stopping_patience == expected


def _recipe_space(activation: str, norm: str, upsample: str, schedule: str) -> dict:
    """conv's declared space, small, with one choice left for each recipe knob: the engines still
    sample every knob (a one-choice categorical), so both hand it to the builder and to training."""
    from hpo.space import narrow

    return narrow(
        architectures.get("conv").space,
        {
            "n_layers": 2,
            "filters": {"low": 4, "high": 6},
            "latent": 8,
            "batch_size": 6,
            "activation": {"choices": [activation]},
            "norm": {"choices": [norm]},
            "upsample": {"choices": [upsample]},
            "schedule": {"choices": [schedule]},
        },
        name="conv",
    )


def _norms(model) -> list[int]:
    return [
        layer.groups for layer in model.layers if isinstance(layer, keras.layers.GroupNormalization)
    ]


def test_the_recipe_knobs_build_and_train_through_an_optuna_trial(tiny_flow_data):
    from hpo.space import suggest

    space = _recipe_space("gelu", "group", "resize", "cosine")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = suggest(trial, space)
    assert {"activation_0", "norm_1", "upsample", "schedule"} <= set(trial.params)
    result = fit("conv", params, tiny_flow_data, TrainConfig(epochs=1), **QUIET)
    model = result.model
    assert result.schedule == "cosine" and math.isfinite(result.history[0]["val_rel_l2"])
    # 2 encoder + 2 decoder levels, groups
    assert len(_norms(model)) == 4 and max(_norms(model)) > 1
    assert model.get_layer("encoder_0_activation").activation.__name__ == "gelu"
    assert [
        layer.interpolation
        for layer in model.layers
        if isinstance(layer, keras.layers.UpSampling2D)
    ] == ["bilinear", "bilinear"]
    # The whole cosine fits in the one-epoch budget: the rate ends at its floor.
    assert result.history[0]["learning_rate"] == pytest.approx(params["learning_rate"] * 0.01)


def test_the_recipe_knobs_build_and_train_through_keras_tuner(tiny_flow_data):
    from types import SimpleNamespace

    import keras_tuner as kt

    from hpo.optimize.tuner_engine import FlowHyperModel

    space = _recipe_space("silu", "layer", "transpose", "plateau")
    settings = SimpleNamespace(
        epochs=1, patience=1, loss="mse", seed=0, metric="rel_l2", epoch_budget=None
    )
    hypermodel = FlowHyperModel("conv", space, tiny_flow_data, settings)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert {"activation_0", "norm_1", "upsample", "schedule"} <= set(hp.values)
    assert _norms(model) == [1, 1, 1, 1]  # layer norm: one group over the whole feature map
    assert model.get_layer("decoder_0_activation").activation.__name__ == "silu"
    assert isinstance(model.get_layer("decoder_output"), keras.layers.Conv2DTranspose)
    assert math.isfinite(hypermodel.fit(hp, model))
