"""Helpers shared by the test modules (fixtures live in conftest.py; no test module imports
another).

Small HDF5 files in each data layout, and the tiny screened study the optimize tests start from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from hpo.workspace import Workspace

# Small but legal: 24 x 20 is above MIN_GRID_SIDE, and 5 simulations split 3 / 1 / 1.
N_SIMS, N_FRAMES, GRID, N_CHANNELS = 5, 6, (24, 20), 3


def flow_fields(
    n_sims: int = N_SIMS,
    n_frames: int = N_FRAMES,
    grid: tuple[int, int] = GRID,
    n_channels: int = N_CHANNELS,
    seed: int = 0,
) -> np.ndarray:
    """(n_sims * n_frames, H, W, C) float32 noise; simulation s sits at level 3 s, channel c has
    spread c + 1, so statistics over some simulations differ from those over all."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n_sims * n_frames, *grid, n_channels))
    data *= 1.0 + np.arange(n_channels)
    data += np.repeat(3.0 * np.arange(n_sims), n_frames)[:, None, None, None]
    return data.astype(np.float32)


def write_original(
    path: Path,
    *,
    n_sims: int = N_SIMS,
    n_frames: int = N_FRAMES,
    grid: tuple[int, int] = GRID,
    n_channels: int = N_CHANNELS,
    attrs_on: str = "root",
    physical: bool = True,
    channel_names: list[str] | None = None,
    bad: dict[int, int] | None = None,
    data: np.ndarray | None = None,
) -> Path:
    """An original-layout file (the original study's): `scaled_data` + `unscaled_data`, idx/cases on
    the root or the dataset.

    Args:
        physical: write `offset`/`scale` attrs on scaled_data (and unscaled_data to match).
        bad: simulation index -> how many values to set NaN (and one Inf) in it.
    """
    data = flow_fields(n_sims, n_frames, grid, n_channels) if data is None else data
    for sim, n_bad in (bad or {}).items():
        flat = data[sim * n_frames : (sim + 1) * n_frames].reshape(-1)  # a view into `data`
        flat[: n_bad - 1] = np.nan
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


def write_arrays(
    path: Path,
    datasets: dict[str, np.ndarray],
    *,
    root_attrs: dict | None = None,
    dataset_attrs: dict[str, dict] | None = None,
) -> Path:
    """A file of plain datasets; names may hold groups ("group/data")."""
    with h5py.File(path, "w") as f:
        for name, array in datasets.items():
            ds = f.create_dataset(name, data=array)
            for key, value in (dataset_attrs or {}).get(name, {}).items():
                ds.attrs[key] = value
        for key, value in (root_attrs or {}).items():
            f.attrs[key] = value
    return path


def write_the_well(
    path: Path, *, n_traj: int = 3, n_steps: int = 4, grid: tuple[int, int] = GRID
) -> Path:
    """A small The Well rayleigh_benard file: t0_fields/{buoyancy,pressure}, t1_fields/velocity."""
    rng = np.random.default_rng(1)
    size_x, size_y = grid
    with h5py.File(path, "w") as f:
        f.attrs.update(
            {
                "dataset_name": "rayleigh_benard",
                "Rayleigh": 1e6,
                "Prandtl": 1.0,
                "n_trajectories": n_traj,
                "grid_type": "cartesian",
                "n_spatial_dims": 2,
            }
        )
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


# --- The tiny screened study of the optimize tests (tests/conftest.py: `screened`, `home`)
# ---------
SCREENED = ("conv", "conv_dropout")


def screen_into(storage: str, data_path: Path, workspace: Workspace) -> None:
    """Screen conv and conv_dropout (run "t": latent 8, 1 epoch, 6,000 parameters) into
    `storage`."""
    from hpo.data import load
    from hpo.screen import ScreenConfig, screen

    data = load(data_path, seed=0)
    screen(
        ScreenConfig(
            epochs=1,
            repeats=1,
            n_params=6000,
            latent=8,
            batch_size=4,
            architectures=SCREENED,
            run="t",
            seed=0,
            workspace=workspace,
        ),
        data,
        storage,
        progress=None,
    )


def sqlite(home: Path) -> str:
    """The storage of a `home` folder (the `home` fixture's copy of the screened study)."""
    return f"sqlite:///{home / 'hpo.db'}"


def workspace_of(home: Path) -> Workspace:
    return Workspace(home / "studies")


def optimize_config(home: Path, **changes):
    """An OptimizeConfig of run "t" on `home`'s data and workspace; settings= changes SETTINGS."""
    from hpo.optimize import OptimizeConfig, StudySettings

    settings = replace(
        StudySettings(n_trials=4, epochs=3, patience=2, seed=0), **changes.pop("settings", {})
    )
    changes.setdefault("top", None if changes.get("architectures") else 1)
    return OptimizeConfig(
        run="t",
        settings=settings,
        workspace=workspace_of(home),
        data_kwargs={"path": home / "tiny.h5", "seed": 0},
        **changes,
    )


def cli_args(home: Path, storage: str, *extra: str) -> list[str]:
    """`hpo.optimize` flags of run "t" on `home`'s data, storage and workspace."""
    return [
        "--run",
        "t",
        "--data",
        str(home / "tiny.h5"),
        "--storage",
        storage,
        "--seed",
        "0",
        "--epochs",
        "3",
        "--home",
        str(home / "studies"),
        *extra,
    ]
