"""Shared fixtures: seeding, small HDF5 files in each data layout written to tmp_path, PostgreSQL,
and the tiny screened study of the optimize tests. Helpers they use: tests/helpers.py."""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from helpers import screen_into, sqlite, workspace_of, write_arrays, write_original, write_the_well

# The slowest files first (measured with --durations on 2 cores): pytest-xdist (-n 2 --dist
# loadfile) hands out whole files in collection order, so a long file collected last would run alone
# at the end while the other process idles.
SLOWEST_FIRST = (
    "test_bench_search.py",
    "test_bench_optimize.py",
    "test_optimize.py",
    "test_bench_quality.py",
    "test_redaction.py",
    "test_tuner_engine.py",
    "test_screening.py",
    "test_bench_stress.py",
    "test_embedded.py",
    "test_bench_overhead.py",
    "test_dashboard.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same numpy, Python and Keras random state. Keras is seeded when a
    test module has imported it: a test of pure logic (claims, trial accounting, the house rules)
    does not pay TensorFlow's start-up."""
    np.random.seed(0)
    random.seed(0)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(0)


def _in(tmp_path: Path, writer: Callable[..., Path], default_name: str) -> Callable[..., Path]:
    def make(name: str = default_name, **kwargs) -> Path:
        return writer(tmp_path / name, **kwargs)

    return make


@pytest.fixture
def make_original(tmp_path: Path) -> Callable[..., Path]:
    """make_original(name="original.h5", **write_original options) -> path of an original-layout
    file."""
    return _in(tmp_path, write_original, "original.h5")


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
    """Loaded, in-memory FlowData of a default `write_original` file (5 simulations x 6 frames of
    24 x 20 x 3 noise; train / val / test get 3 / 1 / 1 simulations). Shared: do not modify it."""
    from hpo.data import load

    return load(write_original(tmp_path_factory.mktemp("tiny") / "original.h5"))


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a fresh, empty PostgreSQL database for this test session, dropped at its end.

    On the server in $HPO_TEST_POSTGRES (default: the local one, postgres@127.0.0.1:5432); skips
    when it cannot be reached, or fails with HPO_REQUIRE_SERVICES=1 (tests/services.py).
    """
    from postgres import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def screened(tmp_path_factory) -> Path:
    """A folder with a tiny data file and an SQLite storage holding its screen (run "t")."""
    folder = tmp_path_factory.mktemp("screened")
    data_path = write_original(folder / "tiny.h5", n_sims=5, n_frames=6)
    screen_into(sqlite(folder), data_path, workspace_of(folder))
    return folder


@pytest.fixture
def home(screened: Path, tmp_path: Path) -> Path:
    """A copy of `screened` for one test (the data file's mtime kept: its fingerprint): hpo.db,
    tiny.h5, and studies/ as the workspace (helpers.workspace_of)."""
    shutil.copy(screened / "hpo.db", tmp_path / "hpo.db")
    shutil.copy(screened / "tiny.h5", tmp_path / "tiny.h5")
    os.utime(tmp_path / "tiny.h5", ns=(os.stat(screened / "tiny.h5").st_mtime_ns,) * 2)
    return tmp_path
