"""Checks that stop a bad file before anything trains; each error names the problem and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from hpo.config import MIN_GRID_SIDE
from hpo.data.source import Simulation, Source
from hpo.errors import DataError

# How many offending simulations a message lists before "...": enough to spot a pattern.
N_LISTED = 5


def check_file(path: str | Path) -> Path:
    """Return `path` as a Path if it is an existing HDF5 file.

    Raises:
        DataError: missing, a directory, or not HDF5.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}; pass the path of an existing HDF5 file")
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass the path of an HDF5 file inside it")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path} is not an HDF5 file; pass an .h5/.hdf5 file (h5py writes them)")
    return path


def check_grid(source: Source) -> None:
    """Raise DataError when the grid is smaller than the architectures accept (MIN_GRID_SIDE)."""
    height, width = source.grid
    if min(height, width) < MIN_GRID_SIDE:
        raise DataError(
            f"the grid of {source.path} is {height} x {width}, smaller than the "
            f"{MIN_GRID_SIDE} x {MIN_GRID_SIDE} the models accept; use data with at least "
            f"{MIN_GRID_SIDE} cells per side (or pick another --dataset)"
        )


def count_nonfinite(source: Source, groups: Sequence[Simulation], chunk_rows: int) -> np.ndarray:
    """NaN/Inf values in each group's rows (selected channels only), read `chunk_rows` at a time."""
    rows = np.sort(np.concatenate([np.arange(g.start, g.end) for g in groups] or [[]])).astype(
        np.int64
    )
    per_row = np.zeros(source.n_rows + 1, np.int64)
    for part, data in source.iter_chunks(rows, chunk_rows):
        per_row[part + 1] = np.count_nonzero(~np.isfinite(data), axis=(1, 2, 3))
    cumulative = np.cumsum(per_row)  # cumulative[r] = values in rows before r
    return np.array([cumulative[g.end] - cumulative[g.start] for g in groups], np.int64)


def apply_invalid_policy(
    source: Source,
    groups: Sequence[Simulation],
    counts: np.ndarray,
    drop_invalid: bool,
    unit: str = "simulations",
) -> tuple[tuple[Simulation, ...], str | None]:
    """Refuse groups with NaN/Inf values, or drop them when `drop_invalid`.

    Args:
        groups: the simulations (or single frames, `unit="frames"`) that will be split.
        counts: NaN/Inf values per group (count_nonfinite).

    Returns:
        The groups kept and a message saying what was dropped (None when nothing was).

    Raises:
        DataError: some groups hold NaN/Inf and `drop_invalid` is False, or all of them do.
    """
    bad = np.flatnonzero(counts)
    if len(bad) == 0:
        return tuple(groups), None
    listing = ", ".join(f"{groups[i].name}: {_values(counts[i])}" for i in bad[:N_LISTED])
    listing += ", ..." if len(bad) > N_LISTED else ""
    summary = (
        f"{len(bad)} of {len(groups)} {unit} in {source.path} contain NaN/Inf values ({listing})"
    )
    if len(bad) == len(groups):
        raise DataError(f"{summary}; nothing valid is left, so regenerate or repair the file")
    if not drop_invalid:
        raise DataError(f"{summary}; pass --drop-invalid (drop_invalid=True) to drop them")
    kept = tuple(group for i, group in enumerate(groups) if counts[i] == 0)
    return kept, f"dropped {len(bad)} of {len(groups)} {unit} with NaN/Inf values ({listing})"


def _values(n: int) -> str:
    return "1 value" if n == 1 else f"{n} values"
