"""The embedded dataset: generated in the seed layout, read back by the loader, cached by its key."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from hpo.data import load
from hpo.data.embedded import (DEFAULT_SPEC, QUICK_SPEC, cached_path, default_dataset_path, design,
                               generate_dataset)


@pytest.fixture(scope="module")
def quick_file(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("embedded") / "quick.h5", quick=True,
                            progress=lambda line: None)


def test_default_design_covers_the_issue_ranges():
    cases = design(DEFAULT_SPEC)
    rayleigh, prandtl = np.array(cases).T
    assert len(cases) == 12 and DEFAULT_SPEC.n_x == 200 and DEFAULT_SPEC.n_z == 100
    assert rayleigh.min() >= 2e3 and rayleigh.max() <= 3e5
    assert prandtl.min() >= 0.7 and prandtl.max() <= 10
    # Space-filling in log Ra: every third of the log range holds at least two cases.
    thirds = np.digitize(np.log(rayleigh), np.linspace(np.log(2e3), np.log(3e5), 4)[1:-1])
    assert np.bincount(thirds, minlength=3).min() >= 2
    assert design(DEFAULT_SPEC) == cases  # seeded


def test_quick_file_has_the_seed_layout(quick_file):
    spec = QUICK_SPEC
    n = spec.n_cases * spec.n_snapshots
    with h5py.File(quick_file, "r") as f:
        assert f["unscaled_data"].shape == (n, spec.n_x, spec.n_z, 3)
        assert f["scaled_data"].shape == (n, spec.n_x, spec.n_z, 3)
        idx = f.attrs["idx"]
        assert idx.shape == (spec.n_cases, 2) and idx[0, 0] == 0 and idx[-1, 1] == n
        assert np.all(idx[1:, 0] == idx[:-1, 1])
        assert len(f.attrs["cases"]) == spec.n_cases
        assert list(f.attrs["channels"]) == ["temperature", "pressure", "velocity"]
        for key in ("rayleigh", "prandtl", "nusselt", "mean_flow_energy_share"):
            assert f.attrs[key].shape == (spec.n_cases,)
        unscaled = f["unscaled_data"][:]
        scaled = f["scaled_data"][:]
        offset, scale = f["scaled_data"].attrs["offset"], f["scaled_data"].attrs["scale"]
        nusselt, share = f.attrs["nusselt"], f.attrs["mean_flow_energy_share"]
    np.testing.assert_allclose(scaled * scale + offset, unscaled, atol=1e-5)
    assert np.all(np.isfinite(unscaled))
    # Physics sanity: convecting cases carry more heat than conduction, temperature stays within
    # the wall values (up to small overshoot), speed is non-negative, shares are fractions.
    assert np.all(nusselt > 1.5)
    assert np.all((share >= 0) & (share <= 1))
    assert unscaled[..., 0].min() > -0.1 and unscaled[..., 0].max() < 1.1
    assert unscaled[..., 2].min() >= 0
    # Snapshots are distinct in time: a developing or unsteady flow changes between frames.
    assert np.abs(unscaled[1] - unscaled[0]).max() > 0 or np.abs(unscaled[-1] - unscaled[-2]).max() > 0


def test_quick_file_loads_split_by_simulation(quick_file):
    data = load(quick_file)
    assert data.input_shape == (QUICK_SPEC.n_x, QUICK_SPEC.n_z, 3)
    assert data.split_record["strategy"] == "by_simulation"
    assert len(data.simulations) == QUICK_SPEC.n_cases
    assert len(data.train) + len(data.val) + len(data.test) == QUICK_SPEC.n_cases * QUICK_SPEC.n_snapshots


def test_default_dataset_is_cached_by_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_HOME", str(tmp_path))
    lines = []
    first = default_dataset_path(quick=True, progress=lines.append)
    assert first == cached_path(QUICK_SPEC) and first.parent == tmp_path / "data"
    assert any("generating" in line for line in lines)
    stamp = first.stat().st_mtime_ns
    lines.clear()
    assert default_dataset_path(quick=True, progress=lines.append) == first
    assert lines == [] and first.stat().st_mtime_ns == stamp  # not generated again
    assert not list(tmp_path.glob("data/*.tmp"))  # written atomically
    # Any parameter change is a different file.
    assert cached_path(replace(QUICK_SPEC, n_snapshots=13)) != first
