"""Symmetry augmentation: the shift is circular, the mirror reverses x and changes the sign of the
signed horizontal velocity only (about physical zero), the tf.data path draws exactly those maps, a
file's declared symmetries are read, and augmented training runs for both kinds of model."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from hpo import augment
from hpo.augment import Augmentation, mirror_x, scaled_zero
from hpo.data import load
from hpo.errors import ConfigError
from hpo.space import Categorical, Fixed

from helpers import write_original

CHANNELS = ["temperature", "pressure", "velocity_x"]


@pytest.fixture(scope="module")
def velocity_data(tmp_path_factory):
    """5 simulations x 6 frames of 24 x 20 noise with a signed horizontal velocity channel."""
    path = write_original(tmp_path_factory.mktemp("augment") / "seed.h5", channel_names=CHANNELS)
    return load(path, seed=0)


def test_hand_computed_tiny_case():
    # One sample, x = 4 cells, z = 1, channels (temperature, velocity_x); physical zero scales to
    # 0.5.
    x = np.array([[[[1.0, 10.0]], [[2.0, 20.0]], [[3.0, 30.0]], [[4.0, 40.0]]]], np.float32)
    both = Augmentation(
        shift=True,
        mirror=True,
        signed=np.array([False, True]),
        zero=np.array([0.0, 0.5], np.float32),
    )
    shifted = both.apply(x, [1], [False])
    # Circular: the last cell wraps round
    assert shifted[0, :, 0, 0].tolist() == [4.0, 1.0, 2.0, 3.0]
    assert shifted[0, :, 0, 1].tolist() == [40.0, 10.0, 20.0, 30.0]  # no sign change without mirror
    mirrored = both.apply(x, [0], [True])
    assert mirrored[0, :, 0, 0].tolist() == [4.0, 3.0, 2.0, 1.0]  # a scalar is only reflected
    assert mirrored[0, :, 0, 1].tolist() == [1 - 40.0, 1 - 30.0, 1 - 20.0, 1 - 10.0]  # 2 * 0.5 - u
    # Shift, then mirror
    assert both.apply(x, [1], [True])[0, :, 0, 0].tolist() == [3.0, 2.0, 1.0, 4.0]
    # Mirroring twice gives the sample back.
    np.testing.assert_array_equal(
        mirror_x(mirror_x(x, both.signed, both.zero), both.signed, both.zero), x
    )


def test_mirror_changes_the_sign_of_velocity_x_only(velocity_data):
    mirror = Augmentation.for_data(velocity_data, ["mirror-x"])
    assert mirror.signed.tolist() == [False, False, True]
    x = velocity_data.train.arrays()[:3]
    out = mirror.apply(x, [0, 0, 0], [True] * 3)
    physical_in = velocity_data.scaler.to_physical(x)
    physical_out = velocity_data.scaler.to_physical(out)
    flipped = physical_in[:, ::-1]
    np.testing.assert_allclose(physical_out[..., :2], flipped[..., :2], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(physical_out[..., 2], -flipped[..., 2], rtol=1e-5, atol=1e-4)


def test_scaled_zero_is_physical_zero(velocity_data):
    zero = scaled_zero(velocity_data.scaler)
    np.testing.assert_allclose(
        velocity_data.scaler.to_physical(zero[None, None, None, :]), 0.0, atol=1e-4
    )


def test_the_tf_data_path_draws_shifts_and_mirrors_and_moves_targets_alike(velocity_data):
    import tensorflow as tf

    both = Augmentation.for_data(velocity_data, augment.SYMMETRIES)
    x = velocity_data.train.arrays()[:8]
    targets = {"reconstruction": x, "next_step": x[::-1].copy()}
    dataset = augment.augmented(tf.data.Dataset.from_tensors((x, targets)), both, seed=3)
    drawn = set()
    for _epoch in range(3):  # a fresh draw every epoch
        out_x, out_y = next(iter(dataset))
        out_x = out_x.numpy()
        np.testing.assert_array_equal(out_y["reconstruction"].numpy(), out_x)
        for i in range(len(x)):
            found = [
                (s, m)
                for s in range(x.shape[1])
                for m in (False, True)
                if np.allclose(both.apply(x[i : i + 1], [s], [m])[0], out_x[i], atol=1e-6)
            ]
            assert len(found) == 1, f"sample {i} is no shift/mirror of its input"
            s, m = found[0]
            # The next-step target moved with its input.
            np.testing.assert_allclose(
                out_y["next_step"].numpy()[i],
                both.apply(targets["next_step"][i : i + 1], [s], [m])[0],
                atol=1e-6,
            )
            drawn.add(found[0])
    assert len({s for s, _ in drawn}) > 5 and {m for _, m in drawn} == {False, True}


def test_declared_symmetries_are_read_from_the_root_attrs(tmp_path):
    path = write_original(tmp_path / "declared.h5")
    assert augment.declared(load(path)) == ()  # a user's file: nothing unless asked
    with h5py.File(path, "a") as f:
        f.attrs["symmetries"] = ["mirror-x", "shift-x", "rotate"]  # unknown names are ignored
    data = load(path)
    assert augment.declared(data) == ("shift-x", "mirror-x")
    assert augment.resolve(None, data) == ("shift-x", "mirror-x")
    assert augment.resolve(("mirror-x",), data) == ("mirror-x",)
    assert augment.resolve((), data) == ()


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, None),
        ("none", ()),
        ("", ()),
        ("mirror-x,shift-x", ("shift-x", "mirror-x")),
        ("shift-x", ("shift-x",)),
    ],
)
def test_parse(text, expected):
    assert augment.parse(text) == expected


def test_an_unknown_symmetry_lists_the_valid_ones():
    with pytest.raises(
        ConfigError, match="unknown symmetry 'rotate'; choose from: shift-x, mirror-x"
    ):
        augment.parse("shift-x,rotate")


def test_declared_spaces_fix_augmentation_off_and_searchable_opens_the_allowed_ones():
    from hpo import architectures

    space = architectures.get("conv").space
    assert space["shift_x"] == Fixed(False) and space["mirror_x"] == Fixed(False)
    searched = augment.searchable(space, ["shift-x"])
    assert searched["shift_x"] == Categorical((False, True), default=True)
    assert searched["mirror_x"] == Fixed(False)
    assert space["shift_x"] == Fixed(False)  # the declared space is untouched


def test_augmented_training_runs_with_targets_moved_alike(velocity_data):
    # dual: its next-step target moves with its input (the arrays path of conv runs in
    # test_screening's augmented screen).
    from hpo.training import TrainConfig, fit

    params = {
        "n_layers": 2,
        "filters_0": 4,
        "filters_1": 4,
        "latent": 8,
        "shift_x": True,
        "mirror_x": True,
    }
    result = fit("dual", params, velocity_data, TrainConfig(epochs=1, batch_size=4), progress=None)
    assert result.augment == ("shift-x", "mirror-x") and result.epochs_run == 1
    assert all(math.isfinite(v) for epoch in result.history for v in epoch.values())
