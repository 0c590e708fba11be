"""hpo.data.batches and hpo.data.feed: streamed and in-memory data give identical batches, and the
keras PyDataset serves each epoch's order to model.fit on whichever backend runs."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.data import epoch_order, load
from hpo.data.feed import Batches
from hpo.errors import DataError

from helpers import flow_fields

IN_MEMORY, STREAMED = 10**9, 1  # memory budgets in bytes


@pytest.fixture
def both(make_original):
    path = make_original()
    held, streamed = (
        load(path, memory_budget_bytes=IN_MEMORY),
        load(path, memory_budget_bytes=STREAMED),
    )
    assert (held.streamed, streamed.streamed) == (False, True)
    assert held.train.streamed is False and streamed.train.streamed is True
    return held, streamed


def test_streamed_and_in_memory_batches_are_identical(both):
    held, streamed = both
    for epoch in (0, 1):
        a = list(held.train.batches(4, seed=5, epoch=epoch))
        b = list(streamed.train.batches(4, seed=5, epoch=epoch))
        assert [len(x) for x in a] == [4, 4, 4, 4, 2]
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(held.val.arrays(), streamed.val.arrays())


def test_each_epoch_serves_every_sample_once_in_a_new_order(both):
    held, _ = both
    x = held.train.arrays()
    orders = []
    for epoch in (0, 1):
        batches = np.concatenate(list(held.train.batches(5, seed=5, epoch=epoch)))
        order = epoch_order(len(x), shuffle=True, seed=5, epoch=epoch)
        np.testing.assert_array_equal(batches, x[order])
        assert sorted(order) == list(range(len(x)))
        orders.append(order)
    assert not np.array_equal(*orders)
    unshuffled = np.concatenate(list(held.train.batches(7, shuffle=False)))
    np.testing.assert_array_equal(unshuffled, x)


def test_the_well_streams_identically(make_the_well):
    path = make_the_well()
    held = load(path, channels="velocity,velocity_x,pressure", memory_budget_bytes=IN_MEMORY)
    streamed = load(path, channels="velocity,velocity_x,pressure", memory_budget_bytes=STREAMED)
    for x, y in zip(held.train.batches(3, seed=1), streamed.train.batches(3, seed=1), strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_feed_serves_the_numpy_batches_epoch_after_epoch(both):
    held, streamed = both
    feed = Batches.from_split(streamed.train, 8, seed=3)
    assert len(feed) == 3
    for epoch in (0, 1):  # Keras begins and ends each epoch around reading it
        feed.on_epoch_begin()
        served = [feed[i] for i in range(len(feed))]
        feed.on_epoch_end()
        expected = list(held.train.batches(8, seed=3, epoch=epoch))
        assert len(served) == len(expected)
        for (x, y), want in zip(served, expected):
            assert x.dtype == np.float32 and x.shape[1:] == (24, 20, 3)
            np.testing.assert_array_equal(x, want)
            np.testing.assert_array_equal(y, want)
    arrays = Batches.from_arrays(held.train.arrays(), held.train.arrays(), 8, seed=3)
    # Epoch 0 from arrays, in the same order; a pass that reads only one batch is no epoch.
    arrays.on_epoch_begin()
    arrays[0]
    arrays.on_epoch_end()
    first = list(held.train.batches(8, seed=3, epoch=0))
    np.testing.assert_array_equal(arrays[2][0], first[2])


def test_model_fit_reads_each_epochs_own_order(both):
    # Through Keras' own loop on the backend that runs: every batch read while epoch e runs is
    # a batch of epoch_order(e) (look-ahead reads included), and each epoch reads all of them.
    import keras

    held, _ = both
    x = held.train.arrays()
    reads = []
    feed = Batches.from_arrays(x, x, 4, seed=11)
    take = feed.source

    def recording(positions):
        reads.append((feed.epoch, tuple(positions)))
        return take(positions)

    feed.source = recording
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Conv2D(3, 1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(feed, epochs=2, verbose=0, shuffle=False)
    expected = {
        (epoch, tuple(order[i : i + 4]))
        for epoch in (0, 1)
        for order in [epoch_order(len(x), shuffle=True, seed=11, epoch=epoch)]
        for i in range(0, len(x), 4)
    }
    assert set(reads) == expected


def test_next_step_batches_pair_t_with_t_plus_one(both):
    held, streamed = both
    x = held.train.arrays()
    t, t_next = held.train.next_step_pairs()
    assert len(t) == 15  # 3 simulations x (6 - 1)
    order = epoch_order(len(t), shuffle=True, seed=2, epoch=0)
    got = list(streamed.train.next_step_batches(4, seed=2))
    np.testing.assert_array_equal(np.concatenate([a for a, _ in got]), x[t[order]])
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), x[t_next[order]])


def test_the_next_step_feed_serves_both_heads(both):
    held, _ = both
    x = held.val.arrays()
    feed = Batches.from_split(held.val, 16, next_step=True, seed=0, shuffle=False)
    inputs, targets = feed[0]
    np.testing.assert_array_equal(inputs, x[:-1])
    np.testing.assert_array_equal(targets["reconstruction"], x[:-1])
    np.testing.assert_array_equal(targets["next_step"], x[1:])


def test_no_next_step_pairs_without_simulations(make_arrays):
    data = load(make_arrays(datasets={"u": flow_fields(n_sims=1, n_frames=10)}))
    assert len(data.train.next_step_pairs()[0]) == 0
    with pytest.raises(DataError, match="no consecutive time steps"):
        next(data.train.next_step_batches(2))
    with pytest.raises(DataError, match="no consecutive time steps"):
        Batches.from_split(data.train, 2, next_step=True, seed=0)
