"""Every registered architecture: shapes on many grids, finite forward passes, the whole search
space, the original preset's structure and counts, and the dual model's two heads."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import optuna
import pytest

from hpo import architectures
from hpo.architectures import blocks, presets
from hpo.errors import ConfigError
from hpo.space import suggest, to_keras_tuner

GRIDS = [(200, 100, 3), (200, 100, 1), (24, 20, 3), (33, 17, 2), (41, 23, 1), (16, 16, 4)]
SMALL_GRID = (33, 17, 2)


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


def _build(name, params, input_shape):
    # free_memory=False: the default's gc.collect() costs ~0.2 s a build in a full test process.
    keras.backend.clear_session(free_memory=False)
    return architectures.build(name, params, input_shape)


def _outputs(model, x) -> dict:
    out = model(x, training=False)
    return out if isinstance(out, dict) else {"reconstruction": out}


def _forward_is_finite_and_shaped(model, input_shape, batch=2):
    x = np.random.default_rng(0).normal(size=(batch, *input_shape)).astype("float32")
    outputs = _outputs(model, x)
    assert set(outputs) == (
        {"reconstruction", "next_step"} if model.name == "dual" else {"reconstruction"}
    )
    for y in outputs.values():
        y = keras.ops.convert_to_numpy(y)
        assert y.shape == x.shape
        assert np.isfinite(y).all()
        assert np.abs(y).max() > 0  # the output layer is wired in, not a constant zero


def test_registry_lists_the_five_in_order():
    assert architectures.names() == ["conv", "conv_dropout", "vqvae2", "depthwise", "dual"]


def test_unknown_name_lists_the_choices():
    with pytest.raises(
        ConfigError, match="no architecture 'cnn'; choose from: conv, conv_dropout, vqvae2"
    ):
        architectures.build("cnn", {}, (32, 32, 1))


@pytest.mark.parametrize("name", architectures.names())
def test_space_has_the_shared_knobs(name):
    space = architectures.get(name).space
    assert {
        "width",
        "latent",
        "learning_rate",
        "batch_size",
        "n_layers",
        "filters",
        "activation",
        "norm",
        "upsample",
        "schedule",
        "shift_x",
        "mirror_x",
    } <= set(space)


@pytest.mark.parametrize("input_shape", GRIDS, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", architectures.names())
def test_output_shape_equals_input_shape(name, input_shape):
    model = _build(name, None, input_shape)
    assert model.input_shape == (None, *input_shape)
    _forward_is_finite_and_shaped(model, input_shape)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("name", architectures.names())
def test_every_depth_pads_to_the_total_stride(name, n_layers):
    if name == "vqvae2" and n_layers == 1:
        with pytest.raises(ConfigError, match="vqvae2 needs n_layers >= 2"):
            _build(name, {"n_layers": 1}, SMALL_GRID)
        return
    model = _build(name, {"n_layers": n_layers, "kernel_0": 3}, SMALL_GRID)
    deepest = model.get_layer(f"encoder_{n_layers - 1}").output
    assert tuple(deepest.shape[1:3]) == (40 // 20, 20 // 20)  # 33x17 padded to 40x20, then / 20
    strides = [model.get_layer(f"encoder_{i}").strides for i in range(n_layers)]
    assert [s[0] for s in strides] == list(blocks.STRIDES[n_layers])
    # a kernel is never smaller than its stride: no cell is skipped
    assert all(
        model.get_layer(f"encoder_{i}").kernel_size[0] >= s[0] for i, s in enumerate(strides)
    )
    _forward_is_finite_and_shaped(model, SMALL_GRID)


@pytest.mark.parametrize("name", architectures.names())
def test_random_optuna_points_build(name):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    space = architectures.get(name).space
    depths = set()
    for _ in range(6):
        params = suggest(study.ask(), space)
        depths.add(params["n_layers"])
        _forward_is_finite_and_shaped(_build(name, params, SMALL_GRID), SMALL_GRID)
        assert _build(name, params, (200, 100, 3)).output_shape is not None
    assert len(depths) > 1


@pytest.mark.parametrize("name", architectures.names())
def test_random_keras_tuner_points_build(name):
    space = architectures.get(name).space
    hp = kt.HyperParameters()
    to_keras_tuner(hp, space)
    oracle = kt.oracles.RandomSearchOracle(
        objective="loss", max_trials=4, seed=11, hyperparameters=hp
    )
    for i in range(4):
        trial_hp = hp.copy()
        trial_hp.values = dict(oracle.populate_space(str(i))["values"])
        params = to_keras_tuner(trial_hp, space)
        _forward_is_finite_and_shaped(_build(name, params, SMALL_GRID), SMALL_GRID)


@pytest.mark.parametrize("name", architectures.names())
def test_extreme_corners_of_the_space_build(name):
    space = architectures.get(name).space
    n_low = space["n_layers"].low
    wide = {
        "n_layers": 3,
        "latent": 150,
        **{f"filters_{i}": 128 for i in range(3)},
        **{f"kernel_{i}": 3 for i in range(3)},
    }
    narrow = {"n_layers": n_low, "latent": 5, **{f"filters_{i}": 4 for i in range(n_low)}}
    if "depth_multiplier" in space:
        wide |= {f"depth_multiplier_{i}": 4 for i in range(3)}
    if "latent_split" in space:
        narrow |= {"latent_split": 0.3}
    for params in (wide, narrow):
        model = _build(name, params, SMALL_GRID)
        _forward_is_finite_and_shaped(model, SMALL_GRID)


@pytest.mark.parametrize("name", architectures.names())
def test_partial_params_fall_back_to_defaults_and_training_knobs_are_ignored(name):
    model = _build(name, {"latent": 7, "learning_rate": 0.5, "batch_size": 3}, SMALL_GRID)
    codes = [layer for layer in model.layers if layer.name.endswith("latent")]
    assert sum(layer.units for layer in codes) == 7


def test_unknown_params_and_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="unknown parameter.*'latnet'"):
        architectures.build("conv", {"latnet": 5}, SMALL_GRID)
    with pytest.raises(ConfigError, match="grid 8x40 is too small: both sides must be at least 16"):
        architectures.build("conv", {}, (8, 40, 1))
    with pytest.raises(ConfigError, match="three positive integers"):
        architectures.build("conv", {}, (32, 32))


# --- original preset
# ---------------------------------------------------------------------------------

# Trainable parameters of the original presets on the original study's grid with three channels;
# conv's is derived by hand in test_seed_conv_count_matches_a_hand_count.
SEED_COUNTS = {
    "conv": 168_656,
    "conv_dropout": 168_656,
    "vqvae2": 356_178,
    "depthwise": 515_724,
    "dual": 262_748,
}


def _seed(name, input_shape=(200, 100, 3)):
    return _build(name, presets.original_params(name), input_shape)


def _conv_layers(model, prefix):
    return [model.get_layer(f"{prefix}_{i}") for i in range(3)]


@pytest.mark.parametrize("name", architectures.names())
def test_seed_counts(name):
    model = _seed(name)
    assert architectures.trainable_count(model) == SEED_COUNTS[name]


def test_seed_conv_count_matches_a_hand_count():
    c, cells = 3, 10 * 5  # channels; the 200x100 grid at total stride 20
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    encoder = conv(5, c, 3) + conv(5, 3, 9) + conv(5, 9, 27)
    dense = (cells * 27 * 50 + 50) + (50 * cells * 27 + cells * 27)
    decoder = conv(5, 27, 27) + conv(5, 27, 9) + conv(5, 9, 3) + conv(5, 3, c)
    assert encoder + dense + decoder == SEED_COUNTS["conv"]


@pytest.mark.parametrize("name", ["conv", "conv_dropout", "dual"])
def test_seed_conv_structure(name):
    model = _seed(name, (200, 100, 1))
    encoder = _conv_layers(model, "encoder")
    assert [layer.filters for layer in encoder] == [3, 9, 27]
    assert [layer.strides for layer in encoder] == [(2, 2), (2, 2), (5, 5)]
    assert all(layer.kernel_size == (5, 5) and layer.padding == "same" for layer in encoder)
    assert all(layer.activation.__name__ == "tanh" for layer in encoder)
    latent = model.get_layer("latent")
    assert latent.units == 50 and latent.activation.__name__ == "tanh"
    for prefix in ["decoder"] + (["next_step_decoder"] if name == "dual" else []):
        dense = model.get_layer(f"{prefix}_dense")
        assert dense.units == 10 * 5 * 27 and dense.activation.__name__ == "tanh"
        assert tuple(model.get_layer(f"{prefix}_reshape").output.shape[1:]) == (10, 5, 27)
        decoder = _conv_layers(model, prefix)
        assert [layer.filters for layer in decoder] == [27, 9, 3]
        assert [layer.strides for layer in decoder] == [(5, 5), (2, 2), (2, 2)]
        output = model.get_layer(f"{prefix}_output")
        assert isinstance(output, keras.layers.Conv2DTranspose)
        assert (output.filters, output.kernel_size, output.activation.__name__) == (
            1,
            (5, 5),
            "linear",
        )
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == ([0.2] * 6 if name == "conv_dropout" else [])


def test_seed_vqvae2_bottom_branch():
    model = _seed("vqvae2", (200, 100, 1))
    assert (
        model.get_layer("top_latent").units == 25 and model.get_layer("bottom_latent").units == 25
    )
    assert model.get_layer("bottom_latent").activation.__name__ == "tanh"
    project = model.get_layer("bottom_project")
    assert project.kernel_size == (1, 1) and project.filters == 1
    assert tuple(project.input.shape[1:]) == (100, 50, 3)  # taken after the first encoder level
    dense = model.get_layer("bottom_dense")
    assert dense.units == 100 * 50 and dense.activation.__name__ == "linear"
    assert tuple(model.get_layer("bottom_reshape").output.shape[1:]) == (100, 50, 1)
    expand = model.get_layer("bottom_expand")
    assert (expand.filters, expand.kernel_size) == (9, (1, 1))
    add = model.get_layer("decoder_add_bottom")
    assert tuple(add.output.shape[1:]) == (100, 50, 9)
    # added after the second transposed convolution, before the last upsampling
    assert add.input[0].name == model.get_layer("decoder_1").output.name
    assert model.get_layer("decoder_2").input.name == add.output.name


def test_seed_depthwise_structure():
    model = _seed("depthwise", (200, 100, 3))
    encoder = _conv_layers(model, "encoder")
    assert all(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in encoder)
    assert [layer.depth_multiplier for layer in encoder] == [3, 3, 3]
    assert tuple(encoder[-1].output.shape[1:]) == (10, 5, 81)  # each of 3 channels x 27
    assert model.get_layer("latent").units == 90
    assert [layer.filters for layer in _conv_layers(model, "decoder")] == [27, 9, 3]


@pytest.mark.parametrize("name", architectures.names())
def test_seed_preset_on_the_seed_channels(name):
    input_shape = (200, 100, presets.ORIGINAL_CHANNELS[name])
    _forward_is_finite_and_shaped(_seed(name, input_shape), input_shape, batch=1)


# --- dual ----------------------------------------------------------------------------------------


def test_dual_fits_a_dict_of_targets():
    model = _build("dual", {"n_layers": 2, "latent": 8}, SMALL_GRID)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, *SMALL_GRID)).astype("float32")
    x_next = rng.normal(size=(4, *SMALL_GRID)).astype("float32")
    model.compile(optimizer="adam", loss={"reconstruction": "mse", "next_step": "mse"})
    history = model.fit(
        x, {"reconstruction": x, "next_step": x_next}, epochs=2, batch_size=2, verbose=0
    )
    assert {"reconstruction_loss", "next_step_loss"} <= set(history.history)
    assert np.isfinite(history.history["loss"]).all()
    predicted = model.predict(x, verbose=0)
    assert {k: v.shape for k, v in predicted.items()} == {
        "reconstruction": x.shape,
        "next_step": x.shape,
    }
    # the heads are different decoders, not one output twice
    assert not np.allclose(predicted["reconstruction"], predicted["next_step"])


# --- the recipe knobs ----------------------------------------------------------------------------


def test_seed_preset_spells_out_the_original_recipe():
    for name in architectures.names():
        params = presets.original_params(name)
        assert {params[f"activation_{i}"] for i in range(3)} == {"tanh"}
        assert {params[f"norm_{i}"] for i in range(3)} == {"none"}
        assert (params["upsample"], params["schedule"], params["shift_x"], params["mirror_x"]) == (
            "transpose",
            "constant",
            False,
            False,
        )
        assert (params["learning_rate"], params["batch_size"]) == (1e-3, 8)
        model = _seed(name, (40, 40, 1))
        assert not [
            layer
            for layer in model.layers
            if isinstance(
                layer,
                (
                    keras.layers.GroupNormalization,
                    keras.layers.UpSampling2D,
                    keras.layers.Activation,
                ),
            )
        ]


def test_the_matched_preset_trains_the_default_recipe():
    params = presets.matched_params("conv", (40, 40, 3), 30_000, 8)
    recipe = blocks.RECIPE
    assert (
        params["kernel_0"],
        params["activation_0"],
        params["norm_0"],
        params["upsample"],
        params["schedule"],
    ) == (
        recipe["kernel"],
        recipe["activation"],
        recipe["norm"],
        recipe["upsample"],
        recipe["schedule"],
    )
    # The declared spaces default to the same recipe.
    defaults = presets.complete(architectures.get("conv").space, {})
    assert {
        key: defaults[key] for key in ("kernel_0", "activation_2", "norm_1", "upsample", "schedule")
    } == {
        "kernel_0": recipe["kernel"],
        "activation_2": recipe["activation"],
        "norm_1": recipe["norm"],
        "upsample": recipe["upsample"],
        "schedule": recipe["schedule"],
    }


def test_resize_decoder_convolves_after_bilinear_upsampling_with_the_declared_kernel():
    params = {**presets.original_params("conv"), "kernel_2": 3, "upsample": "resize"}
    model = _build("conv", params, (200, 100, 3))
    resizes = [layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D)]
    assert [(r.size, r.interpolation) for r in resizes] == [
        ((5, 5), "bilinear"),
        ((2, 2), "bilinear"),
        ((2, 2), "bilinear"),
    ]
    decoder = _conv_layers(model, "decoder")
    assert all(
        isinstance(layer, keras.layers.Conv2D) and layer.strides == (1, 1) for layer in decoder
    )
    assert decoder[0].kernel_size == (3, 3)  # stride 5, kernel 3: no longer raised to the stride
    assert isinstance(model.get_layer("decoder_output"), keras.layers.Conv2D)
    # With the original study's kernels (5 at every level) both upsamplings have the same
    # parameters.
    same_kernels = {**presets.original_params("conv"), "upsample": "resize"}
    assert architectures.count_params("conv", same_kernels, (200, 100, 3)) == SEED_COUNTS["conv"]


@pytest.mark.parametrize("norm, groups", [("group", [3, 3, 3, 3, 3, 3]), ("layer", [1] * 6)])
def test_norm_sits_between_each_convolution_and_its_activation(norm, groups):
    params = {
        **presets.original_params("conv"),
        **{f"norm_{i}": norm for i in range(3)},
        **{f"activation_{i}": "silu" for i in range(3)},
    }
    model = _build("conv", params, SMALL_GRID)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert [layer.groups for layer in norms] == groups  # seed widths 3, 9, 27: divisors up to 8
    for prefix in ("encoder_0", "decoder_2"):
        assert model.get_layer(prefix).activation.__name__ == "linear"
        assert model.get_layer(f"{prefix}_norm").input.name == model.get_layer(prefix).output.name
        assert model.get_layer(f"{prefix}_activation").activation.__name__ == "silu"
    _forward_is_finite_and_shaped(model, SMALL_GRID)
