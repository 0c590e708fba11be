"""hpo.data.layouts / the_well / channels: each layout detected and read with the right values."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from hpo.data import load
from hpo.data.layouts import open_source
from hpo.errors import ConfigError, DataError

from helpers import GRID, flow_fields


def file_rows(path, name, rows):
    with h5py.File(path, "r") as f:
        return f[name][...][rows]


def test_seed_layout_with_attrs_on_the_root(make_original):
    path = make_original()
    source = open_source(path)
    assert source.layout == "original"
    assert source.dataset == "scaled_data"
    assert source.channels == ("temperature", "pressure", "velocity")
    assert source.grid == GRID
    assert [s.name for s in source.simulations] == [f"case_{s:02d}" for s in range(5)]
    assert source.simulations[2][1:] == (12, 18)
    np.testing.assert_allclose(source.physical[0], [300.0, 301.0, 302.0])
    np.testing.assert_allclose(source.physical[1], [2.0, 3.0, 4.0])


def test_seed_layout_with_attrs_on_the_dataset_reads_the_same(make_original):
    on_root = open_source(make_original("root.h5"))
    on_dataset = open_source(make_original("dataset.h5", attrs_on="dataset"))
    assert on_dataset.simulations == on_root.simulations


def test_channels_attr_names_the_channels(make_original):
    source = open_source(make_original(channel_names=["T", "p", "u"]))
    assert source.available == ("T", "p", "u")


def test_loaded_values_are_the_file_values(make_original):
    path = make_original()
    data = load(path)
    for split in (data.train, data.val, data.test):
        expected = file_rows(path, "scaled_data", split.indices)
        np.testing.assert_allclose(
            data.scaler.inverse(split.arrays()), expected, rtol=1e-5, atol=1e-5
        )


def test_plain_3d_array_is_one_channel_and_split_by_frame(make_arrays):
    frames = flow_fields(n_sims=2, n_frames=10, n_channels=1)[..., 0]
    data = load(make_arrays(datasets={"vorticity": frames}))
    assert data.source.layout == "arrays"
    assert data.channel_names == ("channel_0",)
    assert data.input_shape == (*GRID, 1)
    assert data.split_record["strategy"] == "by_frame"
    np.testing.assert_allclose(
        data.scaler.inverse(data.val.arrays())[..., 0],
        frames[data.val.indices],
        rtol=1e-5,
        atol=1e-5,
    )


def test_plain_array_inside_a_group_picked_with_dataset(make_arrays):
    fields = flow_fields(n_sims=1, n_frames=8, n_channels=2)
    path = make_arrays(
        datasets={"runs/a/fields": fields, "runs/b/fields": fields[:, :, :, :1]},
        dataset_attrs={"runs/a/fields": {"channels": ["rho", "u"]}},
    )
    data = load(path, dataset="/runs/a/fields", channels="u")
    assert data.source.dataset == "runs/a/fields"
    assert data.channel_names == ("u",)
    np.testing.assert_allclose(
        data.scaler.inverse(data.train.arrays())[..., 0],
        fields[data.train.indices, ..., 1],
        rtol=1e-5,
        atol=1e-5,
    )


def test_the_only_3d_or_4d_dataset_is_picked_without_dataset(make_arrays):
    path = make_arrays(datasets={"time": np.arange(8.0), "u": flow_fields(n_sims=1, n_frames=8)})
    assert open_source(path).dataset == "u"


def test_several_candidates_without_dataset_lists_them(make_arrays):
    fields = flow_fields(n_sims=1, n_frames=8)
    path = make_arrays(datasets={"a": fields, "b": fields})
    with pytest.raises(DataError, match=r"several datasets.*a \(8, 24, 20, 3\), b .*--dataset"):
        open_source(path)


def test_idx_on_a_plain_array_marks_simulations(make_arrays):
    path = make_arrays(
        datasets={"u": flow_fields(n_sims=3, n_frames=4)},
        root_attrs={"idx": [[0, 4], [4, 8], [8, 12]]},
    )
    data = load(path)
    assert [s.name for s in data.simulations] == ["sim_0", "sim_1", "sim_2"]
    assert data.split_record["strategy"] == "by_simulation"


@pytest.mark.parametrize("idx", [[[0, 4], [3, 8]], [[0, 4], [4, 99]], [[0.5, 4]]])
def test_bad_idx_is_refused(make_arrays, idx):
    path = make_arrays(datasets={"u": flow_fields(n_sims=2, n_frames=4)}, root_attrs={"idx": idx})
    with pytest.raises(DataError, match="idx"):
        open_source(path)


def test_the_well_layout(make_the_well):
    path = make_the_well()
    data = load(path, memory_budget_bytes=10**9)
    assert data.source.layout == "the_well"
    assert data.channel_names == ("buoyancy", "pressure", "velocity")
    assert data.input_shape == (*GRID, 3)  # x before y, nothing transposed
    assert [s[1:] for s in data.simulations] == [(0, 4), (4, 8), (8, 12)]
    assert [s.name for s in data.simulations] == ["traj_0", "traj_1", "traj_2"]
    with h5py.File(path) as f:
        buoyancy, pressure = f["t0_fields/buoyancy"][...], f["t0_fields/pressure"][...]
        velocity = f["t1_fields/velocity"][...]
    rows = data.train.indices
    traj, step = rows // 4, rows % 4  # sample = b * T + t
    values = data.scaler.inverse(data.train.arrays())
    np.testing.assert_allclose(values[..., 0], buoyancy[traj, step], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values[..., 1], pressure[traj, step], rtol=1e-5, atol=1e-5)
    magnitude = np.sqrt(velocity[traj, step, ..., 0] ** 2 + velocity[traj, step, ..., 1] ** 2)
    np.testing.assert_allclose(values[..., 2], magnitude, rtol=1e-5, atol=1e-5)


def test_the_well_components_and_temperature_alias(make_the_well):
    path = make_the_well()
    data = load(path, channels="velocity_y,temperature,velocity_x")
    assert data.channel_names == ("velocity_y", "buoyancy", "velocity_x")
    with h5py.File(path) as f:
        buoyancy, velocity = f["t0_fields/buoyancy"][...], f["t1_fields/velocity"][...]
    traj, step = data.val.indices // 4, data.val.indices % 4
    values = data.scaler.inverse(data.val.arrays())
    np.testing.assert_allclose(values[..., 0], velocity[traj, step, ..., 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values[..., 1], buoyancy[traj, step], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values[..., 2], velocity[traj, step, ..., 0], rtol=1e-5, atol=1e-5)


def test_dataset_flag_is_refused_on_the_well(make_the_well):
    with pytest.raises(ConfigError, match="--dataset does not apply"):
        open_source(make_the_well(), dataset="t0_fields/buoyancy")


def test_channels_by_name_and_by_index_agree(make_original):
    path = make_original()
    by_name = load(path, channels="velocity,temperature")
    by_index = load(path, channels="2,0")
    assert by_name.channel_names == by_index.channel_names == ("velocity", "temperature")
    np.testing.assert_array_equal(by_name.train.arrays(), by_index.train.arrays())
    np.testing.assert_allclose(by_name.scaler.offset, [302.0, 300.0])
    everything = load(path)
    np.testing.assert_allclose(
        by_name.scaler.inverse(by_name.test.arrays())[..., 1],
        everything.scaler.inverse(everything.test.arrays())[..., 0],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            "vorticity",
            r"unknown channel 'vorticity'; available: 0=temperature, 1=pressure, 2=velocity",
        ),
        ("3", r"channel index 3 is out of range; available: 0=temperature"),
        ("0,temperature", r"channel 'temperature' is selected twice"),
    ],
)
def test_bad_channel_selection_lists_the_available_ones(make_original, spec, message):
    with pytest.raises(ConfigError, match=message):
        open_source(make_original(), channels=spec)
