"""hpo.data.scaling: training-only statistics, the way back to file and physical units, storage."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from hpo.data import Scaler, load

from helpers import flow_fields


def file_data(path, name="scaled_data"):
    with h5py.File(path, "r") as f:
        return f[name][...]


@pytest.mark.parametrize("budget", [10**9, 1], ids=["in_memory", "streamed"])
def test_statistics_come_from_the_training_split_only(make_original, budget):
    path = make_original()
    data = load(path, memory_budget_bytes=budget)
    values = file_data(path).astype(np.float64)
    train = values[np.sort(data.train.indices)]
    np.testing.assert_allclose(data.scaler.mean, train.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(data.scaler.std, train.std(axis=(0, 1, 2)), rtol=1e-12)
    # The file is built so that simulations sit at different levels: whole-file stats differ.
    assert np.all(np.abs(data.scaler.mean - values.mean(axis=(0, 1, 2))) > 0.5)


def test_scaled_training_data_is_standard(make_original):
    x = load(make_original()).train.arrays()
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1, atol=1e-5)


def test_inverse_and_to_physical_round_trip(make_original):
    path = make_original()
    data = load(path)
    rows = data.val.indices
    np.testing.assert_allclose(
        data.scaler.inverse(data.val.arrays()), file_data(path)[rows], rtol=1e-5, atol=1e-5
    )
    physical = data.scaler.to_physical(data.val.arrays())
    np.testing.assert_allclose(physical, file_data(path, "unscaled_data")[rows], rtol=1e-6)
    assert physical.dtype == np.float32
    assert data.scaler.inverse(data.val.arrays().astype(np.float64)).dtype == np.float64


def test_to_physical_is_inverse_without_offset_and_scale(make_original):
    data = load(make_original(physical=False))
    x = data.test.arrays()
    np.testing.assert_array_equal(data.scaler.to_physical(x), data.scaler.inverse(x))


def test_dict_round_trip_through_json(make_original):
    scaler = load(make_original(), channels="velocity,temperature").scaler
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again.channels == ("velocity", "temperature")
    x = np.random.default_rng(0).normal(size=(2, 24, 20, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.to_physical(x), scaler.to_physical(x))
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))


def test_constant_channel_scales_to_zero_not_nan(make_arrays):
    fields = flow_fields(n_sims=1, n_frames=8, n_channels=2)
    fields[..., 1] = 5.0
    data = load(make_arrays(datasets={"u": fields}))
    assert data.scaler.std[1] == 1.0
    x = data.val.arrays()
    assert np.all(x[..., 1] == 0.0)
    np.testing.assert_array_equal(data.scaler.inverse(x)[..., 1], 5.0)


def test_fit_in_chunks_matches_one_pass():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(10, 4, 4, 2)).astype(np.float32)
    whole = Scaler.fit([x], ("a", "b"))
    chunked = Scaler.fit([x[:1], x[1:4], x[4:4], x[4:]], ("a", "b"))
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-13)
    np.testing.assert_allclose(chunked.std, whole.std, rtol=1e-13)
    np.testing.assert_allclose(
        whole.std, x.astype(np.float64).reshape(-1, 2).std(axis=0), rtol=1e-13
    )
