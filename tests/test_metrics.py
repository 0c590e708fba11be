"""The Keras losses and metrics against numpy references, their names, and the numpy sums of
evaluate."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from hpo import metrics
from hpo.errors import ConfigError

CHANNELS = ("temperature", "pressure", "velocity")


def _pair(n=7, shape=(6, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, *shape)).astype("float32")
    y_hat = y + rng.normal(scale=0.3, size=y.shape) * np.arange(1, n + 1)[:, None, None, None]
    return y, y_hat.astype("float32")


def _numpy_rel_l2(y, y_hat):
    n = len(y)
    return np.linalg.norm((y_hat - y).reshape(n, -1), axis=1) / np.linalg.norm(
        y.reshape(n, -1), axis=1
    )


def _scaled_model(shape, two_headed=False):
    """An untrained model whose outputs are fixed functions of the input: y_hat = 0.9 x (+ 0.1)."""
    keras.backend.clear_session(free_memory=False)
    inputs = keras.Input(shape)
    reconstruction = keras.layers.Rescaling(0.9, name="reconstruction")(inputs)
    if not two_headed:
        return keras.Model(inputs, reconstruction)
    next_step = keras.layers.Rescaling(1.0, offset=0.1, name="next_step")(inputs)
    return keras.Model(inputs, {"reconstruction": reconstruction, "next_step": next_step})


def test_per_sample_functions_match_numpy():
    y, y_hat = _pair()
    rel = keras.ops.convert_to_numpy(metrics.rel_l2(y, y_hat))
    mse = keras.ops.convert_to_numpy(metrics.mse(y, y_hat))
    assert rel.shape == mse.shape == (len(y),)
    np.testing.assert_allclose(rel, _numpy_rel_l2(y, y_hat), rtol=1e-5)
    np.testing.assert_allclose(mse, np.square(y_hat - y).mean(axis=(1, 2, 3)), rtol=1e-5)
    # Samples differ, so a mean-over-batch bug would show
    assert len(set(np.round(rel, 4))) == len(y)


def test_rel_l2_of_an_all_zero_target_is_finite():
    zeros = np.zeros((2, 4, 4, 1), "float32")
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(metrics.rel_l2(zeros, zeros))))


def test_compiled_metrics_average_over_samples_across_uneven_batches():
    y, _ = _pair(n=7)
    model = _scaled_model(y.shape[1:])
    model.compile(**metrics.compile_arguments(("reconstruction",), CHANNELS, "rel_l2", 1.0))
    logs = model.evaluate(y, y, batch_size=3, verbose=0, return_dict=True)  # batches of 3, 3, 1
    y_hat = 0.9 * y
    assert set(logs) == {"loss", "rel_l2", "mse", *(f"mse_{c}" for c in CHANNELS)}
    np.testing.assert_allclose(logs["rel_l2"], _numpy_rel_l2(y, y_hat).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], _numpy_rel_l2(y, y_hat).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["mse"], np.square(y_hat - y).mean(), rtol=1e-5)
    for i, channel in enumerate(CHANNELS):
        np.testing.assert_allclose(
            logs[f"mse_{channel}"], np.square(y_hat - y)[..., i].mean(), rtol=1e-5
        )


def test_rel_l2_mean_differs_from_the_pooled_ratio():
    # The metric is a mean of per-sample ratios, not ‖Y − Ŷ‖ / ‖Y‖ over the whole set.
    y, y_hat = _pair()
    pooled = np.linalg.norm(y_hat - y) / np.linalg.norm(y)
    assert abs(_numpy_rel_l2(y, y_hat).mean() - pooled) > 1e-3


def test_two_headed_logs_normalise_to_the_common_names():
    y, _ = _pair(n=5)
    model = _scaled_model(y.shape[1:], two_headed=True)
    model.compile(
        **metrics.compile_arguments(("reconstruction", "next_step"), CHANNELS, "mse", 0.5)
    )
    logs = model.evaluate(
        y, {"reconstruction": y, "next_step": y}, batch_size=2, verbose=0, return_dict=True
    )
    named = metrics.normalise(logs)
    assert set(named) == {
        "loss",
        "rel_l2",
        "mse",
        *(f"mse_{c}" for c in CHANNELS),
        "next_step_rel_l2",
        "next_step_mse",
    }
    np.testing.assert_allclose(named["rel_l2"], _numpy_rel_l2(y, 0.9 * y).mean(), rtol=1e-5)
    np.testing.assert_allclose(named["next_step_mse"], 0.01, rtol=1e-4)
    np.testing.assert_allclose(
        named["loss"], named["mse"] + 0.5 * named["next_step_mse"], rtol=1e-5
    )


def test_normalise_maps_validation_keys_and_drops_head_losses():
    logs = {
        "loss": 3.0,
        "val_loss": 4.0,
        "val_reconstruction_rel_l2": 0.5,
        "val_reconstruction_loss": 1.0,
        "val_next_step_loss": 2.0,
        "val_next_step_rel_l2": 0.7,
        "reconstruction_mse_temperature": 0.1,
    }
    assert metrics.normalise(logs) == {
        "loss": 3.0,
        "val_loss": 4.0,
        "val_rel_l2": 0.5,
        "val_next_step_rel_l2": 0.7,
        "mse_temperature": 0.1,
    }
    single = {"loss": 1.0, "val_rel_l2": 0.2, "val_mse_pressure": 0.3}
    assert metrics.normalise(single) == single


def test_error_sums_match_numpy_over_uneven_batches():
    y, y_hat = _pair(n=7)
    sums = metrics.ErrorSums(CHANNELS)
    for start, stop in ((0, 3), (3, 6), (6, 7)):
        sums.add(y[start:stop], y_hat[start:stop])
    result = sums.result()
    assert result["rel_l2"] == pytest.approx(_numpy_rel_l2(y, y_hat).mean(), rel=1e-6)
    assert result["mse"] == pytest.approx(np.square(y_hat - y).mean(), rel=1e-6)
    assert list(result["mse_per_channel"]) == list(CHANNELS)
    for i, channel in enumerate(CHANNELS):
        assert result["mse_per_channel"][channel] == pytest.approx(
            np.square(y_hat - y)[..., i].mean(), rel=1e-6
        )


def test_error_sums_refuse_mismatched_channels_and_empty_results():
    sums = metrics.ErrorSums(("only",))
    with pytest.raises(ValueError, match="no samples"):
        sums.result()
    with pytest.raises(ValueError, match="1 channels"):
        sums.add(*_pair(n=2))


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ConfigError, match="--loss must be one of mse, rel_l2, but got 'mae'"):
        metrics.loss_function("mae")


def test_a_compiled_model_saves_and_loads_with_its_metrics(tmp_path):
    y, _ = _pair(n=4)
    model = _scaled_model(y.shape[1:])
    model.compile(**metrics.compile_arguments(("reconstruction",), CHANNELS, "rel_l2", 1.0))
    expected = model.evaluate(y, y, verbose=0, return_dict=True)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.evaluate(y, y, verbose=0, return_dict=True) == pytest.approx(expected, rel=1e-6)
