"""Shared fixtures: seeding, and small HDF5 files in each data layout written to tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest

# Small but legal: 24 x 20 is above MIN_GRID_SIDE, and 5 simulations split 3 / 1 / 1.
N_SIMS, N_FRAMES, GRID, N_CHANNELS = 5, 6, (24, 20), 3


# The slowest files first (measured with --durations on 2 cores): pytest-xdist (-n 2 --dist loadfile)
# hands out whole files in collection order, so a long file collected last would run alone at the
# end while the other process idles.
SLOWEST_FIRST = ("test_bench_search.py", "test_bench_optimize.py", "test_optimize.py",
                 "test_bench_quality.py", "test_redaction.py", "test_tuner_engine.py",
                 "test_screening.py", "test_bench_stress.py", "test_embedded.py",
                 "test_bench_overhead.py", "test_dashboard.py")


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same numpy, Python and Keras random state."""
    import keras

    np.random.seed(0)
    keras.utils.set_random_seed(0)


def flow_fields(n_sims: int = N_SIMS, n_frames: int = N_FRAMES, grid: tuple[int, int] = GRID,
                n_channels: int = N_CHANNELS, seed: int = 0) -> np.ndarray:
    """(n_sims * n_frames, H, W, C) float32 noise; simulation s sits at level 3 s, channel c has
    spread c + 1, so statistics over some simulations differ from those over all."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n_sims * n_frames, *grid, n_channels))
    data *= 1.0 + np.arange(n_channels)
    data += np.repeat(3.0 * np.arange(n_sims), n_frames)[:, None, None, None]
    return data.astype(np.float32)


def write_seed(path: Path, *, n_sims: int = N_SIMS, n_frames: int = N_FRAMES,
               grid: tuple[int, int] = GRID, n_channels: int = N_CHANNELS,
               attrs_on: str = "root", physical: bool = True, channel_names: list[str] | None = None,
               bad: dict[int, int] | None = None, data: np.ndarray | None = None) -> Path:
    """A seed-layout file: `scaled_data` + `unscaled_data`, idx/cases on the root or the dataset.

    Args:
        physical: write `offset`/`scale` attrs on scaled_data (and unscaled_data to match).
        bad: simulation index -> how many values to set NaN (and one Inf) in it.
    """
    data = flow_fields(n_sims, n_frames, grid, n_channels) if data is None else data
    for sim, n_bad in (bad or {}).items():
        flat = data[sim * n_frames:(sim + 1) * n_frames].reshape(-1)  # a view into `data`
        flat[:n_bad - 1] = np.nan
        flat[-1] = np.inf
    offset = np.linspace(300.0, 302.0, n_channels)
    scale = np.linspace(2.0, 4.0, n_channels)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("scaled_data", data=data, chunks=(1, *data.shape[1:]))
        f.create_dataset("unscaled_data", data=data * scale + offset)
        holder = f.attrs if attrs_on == "root" else ds.attrs
        holder["idx"] = np.array([[s * n_frames, (s + 1) * n_frames] for s in range(n_sims)])
        holder["cases"] = [f"case_{s:02d}" for s in range(n_sims)]
        if physical:
            ds.attrs["offset"], ds.attrs["scale"] = offset, scale
        if channel_names is not None:
            f.attrs["channels"] = channel_names
    return path


def write_arrays(path: Path, datasets: dict[str, np.ndarray], *, root_attrs: dict | None = None,
                 dataset_attrs: dict[str, dict] | None = None) -> Path:
    """A file of plain datasets; names may hold groups ("group/data")."""
    with h5py.File(path, "w") as f:
        for name, array in datasets.items():
            ds = f.create_dataset(name, data=array)
            for key, value in (dataset_attrs or {}).get(name, {}).items():
                ds.attrs[key] = value
        for key, value in (root_attrs or {}).items():
            f.attrs[key] = value
    return path


def write_the_well(path: Path, *, n_traj: int = 3, n_steps: int = 4,
                   grid: tuple[int, int] = GRID) -> Path:
    """A small The Well rayleigh_benard file: t0_fields/{buoyancy,pressure}, t1_fields/velocity."""
    rng = np.random.default_rng(1)
    size_x, size_y = grid
    with h5py.File(path, "w") as f:
        f.attrs.update({"dataset_name": "rayleigh_benard", "Rayleigh": 1e6, "Prandtl": 1.0,
                        "n_trajectories": n_traj, "grid_type": "cartesian", "n_spatial_dims": 2})
        for name in ("buoyancy", "pressure"):
            field = rng.normal(size=(n_traj, n_steps, size_x, size_y)).astype(np.float32)
            f.create_dataset(f"t0_fields/{name}", data=field)
        velocity = rng.normal(size=(n_traj, n_steps, size_x, size_y, 2)).astype(np.float32)
        f.create_dataset("t1_fields/velocity", data=velocity)
        f.create_dataset("dimensions/time", data=np.arange(n_steps, dtype=np.float32) * 0.25)
        f.create_dataset("dimensions/x", data=np.linspace(0, 4, size_x, dtype=np.float32))
        f.create_dataset("dimensions/y", data=np.linspace(0, 1, size_y, dtype=np.float32))
        f.create_group("scalars")
        f.create_group("boundary_conditions")
    return path


def _in(tmp_path: Path, writer: Callable[..., Path], default_name: str) -> Callable[..., Path]:
    def make(name: str = default_name, **kwargs) -> Path:
        return writer(tmp_path / name, **kwargs)
    return make


@pytest.fixture
def make_seed(tmp_path: Path) -> Callable[..., Path]:
    """make_seed(name="seed.h5", **write_seed options) -> path of a seed-layout file."""
    return _in(tmp_path, write_seed, "seed.h5")


@pytest.fixture
def make_arrays(tmp_path: Path) -> Callable[..., Path]:
    """make_arrays(name="arrays.h5", datasets={...}, **write_arrays options) -> path."""
    return _in(tmp_path, write_arrays, "arrays.h5")


@pytest.fixture
def make_the_well(tmp_path: Path) -> Callable[..., Path]:
    """make_the_well(name="well.h5", n_traj=3, n_steps=4, grid=(24, 20)) -> path."""
    return _in(tmp_path, write_the_well, "well.h5")


@pytest.fixture(scope="session")
def tiny_flow_data(tmp_path_factory):
    """Loaded, in-memory FlowData of a default `write_seed` file (5 simulations x 6 frames of
    24 x 20 x 3 noise; train / val / test get 3 / 1 / 1 simulations). Shared: do not modify it."""
    from hpo.data import load

    return load(write_seed(tmp_path_factory.mktemp("tiny") / "seed.h5"))


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a fresh, empty PostgreSQL database for this test session, dropped at its end.

    On the server in $HPO_TEST_POSTGRES (default: the local one, postgres@127.0.0.1:5432); skips
    when it cannot be reached, or fails with HPO_REQUIRE_SERVICES=1 (tests/services.py).
    """
    from postgres import fresh_database

    with fresh_database() as url:
        yield url
