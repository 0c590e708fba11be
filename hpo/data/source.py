"""What a layout reader hands to the rest of the loader: one array of samples, read by rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np


class Simulation(NamedTuple):
    """One simulation's consecutive time steps: rows [start, end) of the data."""

    name: str
    start: int
    end: int

    @property
    def n_steps(self) -> int:
        return self.end - self.start


# Largest chunk a scan reads at once: big enough that h5py's per-call cost vanishes, small enough
# to sit beside a model in memory.
MAX_CHUNK_BYTES = 64 * 1024**2

# Reads sorted, unique rows from an open file: (n,) -> (n, H, W, C) float32, file units.
RowReader = Callable[[h5py.File, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Source:
    """A data file seen as `n_rows` samples of shape (H, W, C) with the selected channels.

    Attributes:
        path: the HDF5 file.
        layout: "original" (the original study's layout), "arrays" or "the_well".
        dataset: the HDF5 path read (for The Well, the field groups).
        n_rows: samples in the file.
        grid: (H, W); H is x, W is z (seed) or y (The Well).
        available: every channel the file can provide, in order (indices in `--channels` count
        here).
        channels: the selected channels, in order.
        simulations: each simulation's rows, or None when the file does not mark them.
        physical: (offset, scale) per selected channel with physical = value * scale + offset, or
            None when the file does not say (its values are then taken as physical).
    """

    path: Path
    layout: str
    dataset: str
    n_rows: int
    grid: tuple[int, int]
    available: tuple[str, ...]
    channels: tuple[str, ...]
    simulations: tuple[Simulation, ...] | None
    physical: tuple[np.ndarray, np.ndarray] | None
    reader: RowReader

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (*self.grid, len(self.channels))

    @property
    def row_bytes(self) -> int:
        """Bytes of one sample once read (float32)."""
        return int(np.prod(self.sample_shape)) * 4

    def chunk_rows(self, memory_budget_bytes: int) -> int:
        """Rows per chunk when scanning: an eighth of the memory budget, at most 64 MiB, at least 1.

        A scan holds a chunk plus a few temporaries of its size (float64 statistics, masks).
        """
        return max(1, min(memory_budget_bytes // 8, MAX_CHUNK_BYTES) // self.row_bytes)

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read(self, f: h5py.File, rows: np.ndarray) -> np.ndarray:
        """Samples at `rows` (sorted, unique) as float32 (n, H, W, C) in file units."""
        return self.reader(f, np.asarray(rows, dtype=np.int64))

    def iter_chunks(
        self, rows: np.ndarray, chunk_rows: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (rows, samples) for sorted `rows`, at most `chunk_rows` at a time."""
        rows = np.asarray(rows, dtype=np.int64)
        with self.open() as f:
            for i in range(0, len(rows), chunk_rows):
                part = rows[i : i + chunk_rows]
                yield part, self.read(f, part)


def runs(rows: np.ndarray, period: int | None = None) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) runs in sorted `rows`, also broken every `period` rows (trajectory ends).

    Reading runs as slices is much faster in h5py than a fancy index over every row.
    """
    if len(rows) == 0:
        return []
    breaks = np.diff(rows) != 1
    if period is not None:
        breaks |= rows[1:] % period == 0
    cut = np.flatnonzero(breaks) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(rows)]])
    return [(int(rows[s]), int(rows[e - 1]) + 1) for s, e in zip(starts, ends)]
