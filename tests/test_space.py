"""Search spaces: declared types, defaults, Optuna and KerasTuner sampling, narrowing from TOML."""

from __future__ import annotations

import keras_tuner as kt
import optuna
import pytest

from hpo import architectures
from hpo.errors import ConfigError
from hpo.space import (
    Categorical,
    Fixed,
    FloatParam,
    IntParam,
    PerLayer,
    complete,
    defaults,
    narrow,
    read_overrides,
    suggest,
    to_keras_tuner,
)

SPACE = {
    "n_layers": IntParam(1, 3, default=2),
    "filters": PerLayer(IntParam(4, 128, log=True), default=(8, 16)),
    "kernel": PerLayer(Categorical([3, 5])),
    "rate": FloatParam(0.0, 0.5),
    "lr": FloatParam(1e-5, 1e-2, log=True),
    "width": Fixed(1.0),
}


def _expected_keys(space, params) -> set[str]:
    """The keys a params dict must have: per-layer ones only for the layers that exist."""
    keys = set()
    for key, entry in space.items():
        if isinstance(entry, PerLayer):
            keys |= {f"{key}_{i}" for i in range(params[entry.count])}
        else:
            keys.add(key)
    return keys


def _fixed_keys(space, params) -> set[str]:
    """Keys of Fixed parameters: in every params dict, never asked of an engine."""
    keys = set()
    for key, entry in space.items():
        if isinstance(entry, PerLayer) and isinstance(entry.param, Fixed):
            keys |= {f"{key}_{i}" for i in range(params[entry.count])}
        elif isinstance(entry, Fixed):
            keys.add(key)
    return keys


def _within(space, params) -> bool:
    for key, entry in space.items():
        if isinstance(entry, PerLayer):
            values = [params[f"{key}_{i}"] for i in range(params[entry.count])]
            if not all(v in entry.param for v in values):
                return False
        elif isinstance(entry, Fixed):
            if params[key] != entry.value:
                return False
        elif params[key] not in entry:
            return False
    return True


def _keras_tuner_samples(space, n: int, seed: int) -> list[dict]:
    """n random points drawn by KerasTuner's RandomSearch oracle, read back through
    to_keras_tuner."""
    hp = kt.HyperParameters()
    to_keras_tuner(hp, space)  # declares the space
    oracle = kt.oracles.RandomSearchOracle(
        objective="loss", max_trials=n, seed=seed, hyperparameters=hp
    )
    samples = []
    for i in range(n):
        trial_hp = hp.copy()
        trial_hp.values = dict(oracle.populate_space(str(i))["values"])
        params = to_keras_tuner(trial_hp, space)
        assert set(params) - _fixed_keys(space, params) == set(trial_hp.values)  # the active ones
        samples.append(params)
    return samples


def _optuna_samples(space, n: int, seed: int) -> list[dict]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    samples = []
    for _ in range(n):
        trial = study.ask()
        params = suggest(trial, space)
        assert set(params) - _fixed_keys(space, params) == set(trial.params)  # all but Fixed
        samples.append(params)
    return samples


def test_defaults_expand_per_layer_params():
    assert defaults(SPACE) == {
        "n_layers": 2,
        "filters_0": 8,
        "filters_1": 16,
        "kernel_0": 3,
        "kernel_1": 3,
        "rate": 0.25,
        "lr": pytest.approx(10**-3.5),
        "width": 1.0,
    }


def test_int_default_is_the_geometric_middle_for_log_ranges():
    assert IntParam(4, 100, log=True).default_value() == 20
    assert IntParam(2, 32).default_value() == 17
    assert IntParam(0, 10, step=5).default_value() == 5


@pytest.mark.parametrize(
    "make",
    [
        lambda: IntParam(5, 1),
        lambda: IntParam(0, 8, log=True),
        lambda: IntParam(1, 8, log=True, step=2),
        lambda: IntParam(1, 8, default=9),
        lambda: FloatParam(1.0, 0.5),
        lambda: FloatParam(0.0, 1.0, log=True),
        lambda: Categorical([]),
        lambda: Categorical([3, "a"]),
        lambda: PerLayer(IntParam(4, 8), default=(4, 16)),
    ],
)
def test_invalid_declarations_are_rejected(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize("engine", ["optuna", "keras_tuner"])
def test_samples_have_only_existing_layers_and_stay_in_range(engine):
    draw = _optuna_samples if engine == "optuna" else _keras_tuner_samples
    samples = draw(SPACE, 30, seed=0)
    for params in samples:
        assert set(params) == _expected_keys(SPACE, params)
        assert _within(SPACE, params)
        assert isinstance(params["filters_0"], int) and isinstance(params["kernel_0"], int)
    assert {p["n_layers"] for p in samples} == {1, 2, 3}  # every depth gets visited


@pytest.mark.parametrize("name", architectures.names())
def test_engines_give_params_with_the_same_keys_and_types(name):
    space = architectures.get(name).space
    pairs = zip(_optuna_samples(space, 12, seed=1), _keras_tuner_samples(space, 12, seed=1))
    for optuna_params, kt_params in pairs:
        for params in (optuna_params, kt_params):
            assert set(params) == _expected_keys(space, params)
            assert _within(space, params)
        shared = set(optuna_params) & set(kt_params)
        assert {k: type(optuna_params[k]) for k in shared} == {
            k: type(kt_params[k]) for k in shared
        }


def test_complete_fills_defaults_and_rejects_unknown_keys():
    assert complete(SPACE, {"n_layers": 3})["filters_2"] == 16  # the last per-layer default repeats
    params = complete(SPACE, {"n_layers": 3, "filters_2": 64, "rate": 0.1})
    assert [params[f"filters_{i}"] for i in range(3)] == [8, 16, 64] and params["rate"] == 0.1
    shallow = complete(SPACE, {"n_layers": 1, "filters_1": 5})
    assert "filters_1" not in shallow and shallow["filters_0"] == 8  # no layer 1, no filters_1
    with pytest.raises(ConfigError, match="'filter_0'.*valid: n_layers, filters_<i>"):
        complete(SPACE, {"filter_0": 8})


def test_narrow_ranges_choices_and_values():
    narrowed = narrow(
        SPACE,
        {
            "filters": {"low": 8, "high": 64},
            "kernel": {"choices": [3]},
            "lr": {"high": 1e-3},
            "n_layers": 2,
            "rate": {"value": 0},
        },
    )
    assert (narrowed["filters"].param.low, narrowed["filters"].param.high) == (8, 64)
    assert narrowed["filters"].param.log and narrowed["filters"].default == (8, 16)
    assert narrowed["kernel"].param.choices == (3,)
    assert (narrowed["lr"].low, narrowed["lr"].high) == (1e-5, 1e-3)
    assert narrowed["n_layers"] == Fixed(2) and narrowed["rate"] == Fixed(0.0)
    assert SPACE["filters"].param.low == 4  # the declared space is untouched
    for params in _optuna_samples(narrowed, 10, seed=2) + _keras_tuner_samples(
        narrowed, 10, seed=2
    ):
        assert params["n_layers"] == 2 and params["kernel_0"] == params["kernel_1"] == 3
        assert 8 <= params["filters_0"] <= 64 and params["lr"] <= 1e-3 and params["rate"] == 0.0


def test_narrow_clamps_defaults_into_the_new_range():
    narrowed = narrow(SPACE, {"filters": {"low": 32}, "n_layers": {"high": 1}, "lr": {"low": 1e-3}})
    assert defaults(narrowed) == {
        "n_layers": 1,
        "filters_0": 32,
        "kernel_0": 3,
        "rate": 0.25,
        "lr": 1e-3,
        "width": 1.0,
    }


@pytest.mark.parametrize(
    "override, message",
    [
        (
            {"filter": {"low": 8}},
            r"space: no parameter 'filter' to override; valid: n_layers, filters",
        ),
        ({"filters": {"low": 64, "high": 8}}, r"space\.filters: low=64 must not exceed high=8"),
        (
            {"filters": {"low": 0}},
            r"space\.filters: low=0 must be positive: the range is sampled on a log",
        ),
        (
            {"filters": {"min": 8}},
            r"space\.filters: expected a table with keys among low, high, value \(declared: "
            r"4\.\.128",
        ),
        ({"filters": {"low": 8.5}}, r"space\.filters: low and high must be integers"),
        ({"kernel": {"choices": []}}, r"space\.kernel: choices must be a non-empty list"),
        ({"lr": {"value": "fast"}}, r"space\.lr: value must be a number"),
        ({"lr": {"value": 1e-3, "low": 1e-4}}, r"space\.lr: give either value or a range"),
        ({"width": {"value": "wide"}}, r"space\.width: value must be a float"),
    ],
)
def test_narrow_errors_name_the_key_and_the_fix(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        narrow(SPACE, override)
    assert "\n" not in str(info.value)


def test_overrides_may_widen_the_declared_space():
    widened = narrow(
        SPACE,
        {
            "filters": {"low": 2, "high": 256},
            "kernel": {"choices": [3, 5, 7]},
            "lr": {"value": 1.0},
        },
    )
    assert (widened["filters"].param.low, widened["filters"].param.high) == (2, 256)
    assert widened["kernel"].param.choices == (3, 5, 7)
    assert widened["lr"] == Fixed(1.0)
    sampled = _optuna_samples(widened, 30, seed=3)
    assert any(p["filters_0"] > 128 or p["filters_0"] < 4 for p in sampled)
    assert {p["kernel_0"] for p in sampled} == {3, 5, 7}


def test_load_spaces_from_a_toml_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(
        "[all]\nfilters = {low = 8, high = 64}\nkernel = {choices = [3]}\n"
        "[all.dropout]\nhigh = 0.3\n"  # a sub-table works as well as an inline one
        "[conv]\nfilters = {low = 16, high = 32}\nlatent = 20\n"
    )
    spaces = architectures.load_spaces(path)
    assert set(spaces) == set(architectures.names())
    conv_filters = spaces["conv"]["filters"]
    assert (conv_filters.param.low, conv_filters.param.high) == (16, 32)  # [conv] wins over [all]
    assert conv_filters.default == (16, 16, 27)  # the per-layer defaults, clamped
    assert spaces["conv"]["latent"] == Fixed(20)
    assert (
        spaces["vqvae2"]["filters"].param.low == 8 and spaces["vqvae2"]["filters"].param.high == 64
    )
    assert spaces["dual"]["kernel"].param.choices == (3,)
    assert spaces["conv_dropout"]["dropout"] == FloatParam(0.0, 0.3, default=0.2)
    assert "dropout" not in spaces["conv"]  # [all] only reaches architectures that declare the key
    assert architectures.get("conv").space["latent"] == IntParam(5, 150, default=50)  # untouched


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[convv]\nlatent = 20\n",
            r"no architecture 'convv'; tables may be: all, conv, conv_dropout",
        ),
        ("[all]\nlatnet = 20\n", r"\[all\] has 'latnet', which no architecture declares"),
        ("[conv]\ndropout = 0.1\n", r"conv: no parameter 'dropout' to override"),
        ("[conv]\nlatent = {low = 200}\n", r"conv\.latent: low=200 must not exceed high=150"),
        ("latent = 20\n", r"'latent' must be a table such as \[latent\] or \[all\]"),
        ("[conv\n", r"is not valid TOML"),
    ],
)
def test_space_file_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        architectures.load_spaces(path)
    assert "\n" not in str(info.value)


def test_missing_space_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_overrides(tmp_path / "nope.toml")


def test_bool_choices_come_back_as_bools_from_both_engines():
    # KerasTuner stores bool choices as 0/1; the params dict must hold bools, as Optuna's does.
    from hpo.augment import searchable

    space = searchable(architectures.get("conv").space, ["shift-x", "mirror-x"])
    for params in _optuna_samples(space, 6, seed=4) + _keras_tuner_samples(space, 6, seed=4):
        assert type(params["shift_x"]) is bool and type(params["mirror_x"]) is bool
        assert type(params["periodic_x"]) is bool
    assert defaults(space)["shift_x"] is True  # on by default where the data allow it
