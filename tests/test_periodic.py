"""Circular padding in x (`periodic_x`): the wrap itself, shapes and parameter counts unchanged,
what a periodic convolution sees at the box's ends, and a saved model loading again."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from hpo import architectures
from hpo.architectures import blocks
from hpo.architectures.periodic import WrapX, same_padding

GRIDS = [(200, 100, 3), (33, 17, 2)]


def _build(name, params, input_shape):
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    return architectures.build(name, params, input_shape)


@pytest.mark.parametrize("size, kernel, stride", [(200, 3, 2), (100, 3, 2), (50, 5, 5), (7, 3, 1)])
def test_same_padding_gives_the_shape_keras_same_gives(size, kernel, stride):
    x = np.zeros((1, size, 4, 1), np.float32)
    same = keras.layers.Conv2D(1, (kernel, 1), strides=(stride, 1), padding="same")(x)
    before, after = same_padding(size, kernel, stride)
    padded = np.pad(x, ((0, 0), (before, after), (0, 0), (0, 0)))
    valid = keras.layers.Conv2D(1, (kernel, 1), strides=(stride, 1), padding="valid")(padded)
    assert valid.shape == same.shape


def test_wrap_takes_x_from_the_other_end_and_pads_z_with_zeros():
    x = np.arange(5 * 3, dtype=np.float32).reshape(1, 5, 3, 1) + 1
    out = keras.ops.convert_to_numpy(WrapX((2, 1), (1, 0))(x))[0, :, :, 0]
    assert out.shape == (8, 4)
    np.testing.assert_array_equal(out[:, 0], 0)  # z: zeros before
    np.testing.assert_array_equal(out[:, 1:], x[0, [3, 4, 0, 1, 2, 3, 4, 0], :, 0])


@pytest.mark.parametrize("name", architectures.names())
@pytest.mark.parametrize("upsample", ["resize", "transpose"])
@pytest.mark.parametrize("input_shape", GRIDS)
def test_periodic_models_keep_shapes_and_parameter_counts(name, upsample, input_shape):
    params = {"latent": 8, "upsample": upsample}
    flat = _build(name, params, input_shape)
    periodic = _build(name, {**params, "periodic_x": True}, input_shape)
    assert periodic.count_params() == flat.count_params()
    assert any(isinstance(layer, WrapX) for layer in periodic.layers)
    assert not any(isinstance(layer, WrapX) for layer in flat.layers)
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype("float32")
    out = periodic(x)
    for y in out.values() if isinstance(out, dict) else [out]:
        y = keras.ops.convert_to_numpy(y)
        assert y.shape == x.shape and np.isfinite(y).all()


def _first_level(model):
    return keras.Model(model.input, model.get_layer("encoder_0").output)


def test_a_periodic_encoder_level_commutes_with_a_shift_in_x_and_a_zero_padded_one_does_not():
    # Shifting the input by one stride shifts the first level's output by one cell, at the ends
    # too, only when the convolution wraps around x.
    x = np.random.default_rng(1).normal(size=(1, 40, 20, 2)).astype("float32")
    shifted = np.roll(x, 2, axis=1)  # the first level's stride is 2
    for periodic, commutes in ((True, True), (False, False)):
        level = _first_level(_build("conv", {"latent": 8, "periodic_x": periodic}, x.shape[1:]))
        a = np.roll(keras.ops.convert_to_numpy(level(x)), 1, axis=1)
        b = keras.ops.convert_to_numpy(level(shifted))
        assert np.allclose(a, b, atol=1e-5) == commutes
        # Away from the ends both paddings agree with the shift.
        np.testing.assert_allclose(a[:, 2:-2], b[:, 2:-2], atol=1e-5)


@pytest.mark.parametrize("upsample", ["resize", "transpose"])
def test_a_periodic_decoder_level_commutes_with_a_shift_in_x(upsample):
    # The decoder, from the deepest feature map on: reshape's output shifted by one cell gives the
    # reconstruction shifted by the total stride (20 cells).
    model = _build("conv", {"latent": 8, "periodic_x": True, "upsample": upsample}, (60, 20, 2))
    start = model.get_layer("decoder_reshape").output
    decoder = keras.Model(start, model.get_layer("reconstruction").output)
    features = np.random.default_rng(2).normal(size=(1, *start.shape[1:])).astype("float32")
    a = np.roll(keras.ops.convert_to_numpy(decoder(features)), blocks.TOTAL_STRIDE, axis=1)
    b = keras.ops.convert_to_numpy(decoder(np.roll(features, 1, axis=1)))
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_saved_periodic_model_loads_with_the_same_outputs(tmp_path):
    model = _build("vqvae2", {"latent": 8, "periodic_x": True}, (40, 20, 2))
    x = np.random.default_rng(3).normal(size=(2, 40, 20, 2)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )
