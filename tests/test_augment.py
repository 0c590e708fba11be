"""Symmetry augmentation: the shift is circular, the mirror reverses x and changes the sign of the
signed horizontal velocity only (about physical zero), the training batches (TensorFlow's tf.data
path and the numpy feed of every backend) draw exactly those maps afresh, seeded, a file's declared
symmetries are read, and augmented training runs for both kinds of model."""

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


def test_apply_is_a_roll_then_the_mirror_per_sample(velocity_data):
    # The vectorised gather against the definition, one sample at a time.
    both = Augmentation.for_data(velocity_data, augment.SYMMETRIES)
    x = velocity_data.train.arrays()[:6]
    shifts, mirrors = [0, 1, 5, 23, 7, 12], [False, True, True, False, True, False]
    expected = [
        mirror_x(np.roll(x[i], s, axis=0), both.signed, both.zero) if m else np.roll(x[i], s, 0)
        for i, (s, m) in enumerate(zip(shifts, mirrors))
    ]
    np.testing.assert_array_equal(both.apply(x, shifts, mirrors), np.stack(expected))
    only_shift = Augmentation.for_data(velocity_data, ["shift-x"])
    np.testing.assert_array_equal(
        only_shift.apply(x, shifts, mirrors),
        np.stack([np.roll(x[i], s, 0) for i, s in enumerate(shifts)]),
    )


def one_epoch(feed) -> list:
    """The (x, y) numpy batches of the next epoch, from a tf.data set or a keras PyDataset."""
    if hasattr(feed, "as_numpy_iterator"):  # TensorFlow's fast path (hpo.backend)
        return list(feed.as_numpy_iterator())
    feed.on_epoch_begin()  # as Keras does around each epoch
    batches = [feed[i] for i in range(len(feed))]
    feed.on_epoch_end()
    return batches


def maps_found(both, x, x_next, batches) -> set:
    """(sample, shift, mirror) of every served sample: exactly one per sample, its targets moved
    alike."""
    n, n_x = x.shape[:2]
    maps = [(i, s, m) for i in range(n) for s in range(n_x) for m in (False, True)]
    rows = [i for i, _, _ in maps]
    shifts, mirrors = [s for _, s, _ in maps], [m for _, _, m in maps]
    candidates = both.apply(x[rows], shifts, mirrors)  # every map of every sample
    moved_next = both.apply(x_next[rows], shifts, mirrors)
    found = set()
    for out_x, out_y in batches:
        np.testing.assert_array_equal(out_y["reconstruction"], out_x)
        for k in range(len(out_x)):
            close = np.abs(candidates - out_x[k]).max(axis=(1, 2, 3)) < 1e-6
            hits = [maps[j] for j in np.flatnonzero(close)]
            assert len(hits) == 1, f"a served sample is no shift/mirror of one input: {hits}"
            np.testing.assert_allclose(
                out_y["next_step"][k], moved_next[np.flatnonzero(close)[0]], atol=1e-6
            )
            found.add(hits[0])
    return found


@pytest.mark.parametrize("streamed", [False, True])
def test_training_batches_draw_shifts_and_mirrors_afresh_and_move_targets_alike(
    velocity_data, streamed
):
    # In memory: hpo.backend's path (tf.data on TensorFlow, numpy elsewhere); streamed: the numpy
    # feed on every backend. Each epoch serves every sample once, under a fresh map.
    from hpo import backend
    from hpo.data.feed import Batches

    both = Augmentation.for_data(velocity_data, augment.SYMMETRIES)
    split = velocity_data.train
    t, t_next = split.next_step_pairs()
    x, x_next = split.arrays()[t], split.arrays()[t_next]
    if streamed:
        feed = Batches.from_split(split, 4, next_step=True, seed=3).augmented(both)
    else:
        targets = {"reconstruction": x, "next_step": x_next}
        feed = backend.augmented_batches(x, targets, both, batch_size=4, seed=3)
    epochs = [maps_found(both, x, x_next, one_epoch(feed)) for _ in range(3)]
    for found in epochs:
        assert sorted(i for i, _, _ in found) == list(range(len(x)))  # every sample once
    assert len({frozenset(found) for found in epochs}) == 3  # a fresh draw every epoch
    drawn = set().union(*epochs)
    assert len({s for _, s, _ in drawn}) > 5 and {m for _, _, m in drawn} == {False, True}


def test_the_numpy_draws_are_seeded_and_uniform(velocity_data):
    from hpo.data.feed import Batches

    both = Augmentation.for_data(velocity_data, augment.SYMMETRIES)
    split = velocity_data.train

    def epochs(seed: int) -> list:
        feed = Batches.from_split(split, 5, seed=seed, augmentation=both)
        return [np.concatenate([x for x, _ in one_epoch(feed)]) for _ in range(2)]

    first, again, other = epochs(7), epochs(7), epochs(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # the same seed repeats every epoch's draws
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(*first)
    # Over many epochs: every shift about equally often, the mirror half the time.
    rng = np.random.default_rng(0)
    shifts, mirrors = both.draw(rng, 24_000, 24)
    counts = np.bincount(shifts, minlength=24)
    assert counts.min() > 850 and counts.max() < 1150  # 1000 expected, sd ~31
    assert abs(mirrors.mean() - 0.5) < 0.02


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
    # Circular padding: searched where the shift holds (a box periodic in x), else fixed off.
    assert space["periodic_x"] == Fixed(False)
    assert searched["periodic_x"] == Categorical((False, True), default=augment.PERIODIC_BY_DEFAULT)
    assert augment.searchable(space, ["mirror-x"])["periodic_x"] == Fixed(False)


def test_the_shift_switches_circular_padding_on_where_the_recipe_adopts_it():
    knobs = augment.as_params(["shift-x", "mirror-x"])
    assert knobs == {"shift_x": True, "mirror_x": True, "periodic_x": augment.PERIODIC_BY_DEFAULT}
    assert augment.as_params(["mirror-x"])["periodic_x"] is False
    assert augment.from_params(knobs) == ("shift-x", "mirror-x")  # padding is no augmentation


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
