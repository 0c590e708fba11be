"""hpo.data.batches: streamed and in-memory data give identical batches; tf.data wraps them."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.data import epoch_order, load
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


def test_tf_dataset_matches_the_numpy_batches_epoch_after_epoch(both):
    held, streamed = both
    dataset = streamed.train.dataset(8, seed=3)
    assert dataset.cardinality().numpy() == 3
    for epoch in (0, 1):  # each iteration is the next epoch, as under keras fit
        served = list(dataset.as_numpy_iterator())
        expected = list(held.train.batches(8, seed=3, epoch=epoch))
        assert len(served) == len(expected)
        for (x, y), want in zip(served, expected):
            assert x.dtype == np.float32 and x.shape[1:] == (24, 20, 3)
            np.testing.assert_array_equal(x, want)
            np.testing.assert_array_equal(y, want)


def test_next_step_batches_pair_t_with_t_plus_one(both):
    held, streamed = both
    x = held.train.arrays()
    t, t_next = held.train.next_step_pairs()
    assert len(t) == 15  # 3 simulations x (6 - 1)
    order = epoch_order(len(t), shuffle=True, seed=2, epoch=0)
    got = list(streamed.train.next_step_batches(4, seed=2))
    np.testing.assert_array_equal(np.concatenate([a for a, _ in got]), x[t[order]])
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), x[t_next[order]])


def test_next_step_dataset_feeds_both_heads(both):
    held, _ = both
    x = held.val.arrays()
    inputs, targets = next(iter(held.val.next_step_dataset(16, shuffle=False).as_numpy_iterator()))
    np.testing.assert_array_equal(inputs, x[:-1])
    np.testing.assert_array_equal(targets["reconstruction"], x[:-1])
    np.testing.assert_array_equal(targets["next_step"], x[1:])


def test_no_next_step_pairs_without_simulations(make_arrays):
    data = load(make_arrays(datasets={"u": flow_fields(n_sims=1, n_frames=10)}))
    assert len(data.train.next_step_pairs()[0]) == 0
    with pytest.raises(DataError, match="no consecutive time steps"):
        next(data.train.next_step_batches(2))
