"""A split's samples, served whole or as numpy batches, from memory or streamed from HDF5.

Both paths share one thing that decides the order, `epoch_order(n, seed, epoch)`, and one function
that produces values (read sorted rows, scale, put back in the asked order), so streamed and
in-memory data give identical batches for the same seed and epoch. hpo.data.feed serves them to
`model.fit` on any Keras backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import h5py
import numpy as np

from hpo.config import DEFAULT_SEED
from hpo.data.scaling import Scaler
from hpo.data.source import Simulation, Source
from hpo.errors import ConfigError, DataError


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """Positions 0..n-1 in the order served in `epoch`: a fresh permutation per (seed, epoch)."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


class Split:
    """One of train / val / test: rows of the file, scaled with the training statistics.

    Positions (0..len-1) count in the split, in the order of `indices`; `indices` are the file rows.
    A streamed split (`streamed`) reads each batch from the file; otherwise the scaled samples are
    held in memory.
    """

    def __init__(
        self,
        name: str,
        segments: Sequence[Simulation],
        source: Source,
        scaler: Scaler,
        *,
        streamed: bool,
        chunk_rows: int,
    ):
        self.name = name
        self.segments = tuple(segments)  # runs of rows, each inside one simulation
        self.source = source
        self.scaler = scaler
        rows = [np.arange(segment.start, segment.end) for segment in self.segments]
        self.indices = np.concatenate(rows or [[]]).astype(np.int64)
        self._data: np.ndarray | None = None if streamed else self._load(chunk_rows)

    @property
    def streamed(self) -> bool:
        return self._data is None

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return self.source.sample_shape

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        where = "streamed" if self.streamed else "in memory"
        return f"Split({self.name!r}, {len(self)} samples of {self.sample_shape}, {where})"

    def arrays(self) -> np.ndarray:
        """The whole split, scaled, float32 (n, H, W, C), in position order.

        Held in memory: the stored array (read-only). Streamed: read now, so mind the size.
        """
        if self._data is not None:
            return self._data
        return self.take(np.arange(len(self)))

    def take(self, positions: np.ndarray) -> np.ndarray:
        """Scaled float32 samples at `positions` (any order, repeats allowed)."""
        with self._opened() as f:
            return self._gather(f, np.asarray(positions, np.int64))

    def batches(
        self, batch_size: int, *, shuffle: bool = True, seed: int = DEFAULT_SEED, epoch: int = 0
    ) -> Iterator[np.ndarray]:
        """Yield float32 batches (batch, H, W, C) covering the split once; the last may be short."""
        order = epoch_order(len(self), shuffle=shuffle, seed=seed, epoch=epoch)
        with self._opened() as f:
            for i in range(0, len(order), _positive(batch_size)):
                yield self._gather(f, order[i : i + batch_size])

    def next_step_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (t, t + 1) of consecutive time steps, each pair inside one simulation.

        Positions index `arrays()`. Splits by frame (no simulations marked) have no pairs.
        """
        firsts, offset = [], 0
        for segment in self.segments:
            firsts.append(np.arange(offset, offset + segment.n_steps - 1))
            offset += segment.n_steps
        t = np.concatenate(firsts or [[]]).astype(np.int64)
        if self.source.simulations is None:  # frames of unknown simulations are not a time series
            t = t[:0]
        return t, t + 1

    def next_step_batches(
        self, batch_size: int, *, shuffle: bool = True, seed: int = DEFAULT_SEED, epoch: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (x_t, x_t+1) float32 batches over the split's next-step pairs, shuffled by pair."""
        t, t_next = self.next_step_pairs()
        if len(t) == 0:
            raise DataError(
                f"the {self.name} split holds no consecutive time steps of one simulation; "
                "next-step models need a file that marks simulations (attribute idx)"
            )
        order = epoch_order(len(t), shuffle=shuffle, seed=seed, epoch=epoch)
        with self._opened() as f:
            for i in range(0, len(order), _positive(batch_size)):
                chosen = order[i : i + batch_size]
                both = self._gather(f, np.concatenate([t[chosen], t_next[chosen]]))  # one read
                yield both[: len(chosen)], both[len(chosen) :]

    def _load(self, chunk_rows: int) -> np.ndarray:
        data = np.empty((len(self), *self.sample_shape), np.float32)
        with self.source.open() as f:
            for i in range(0, len(self), chunk_rows):
                data[i : i + chunk_rows] = self._read(
                    f, np.arange(i, min(i + chunk_rows, len(self)))
                )
        data.flags.writeable = False  # shared by every caller of arrays() and batches()
        return data

    def _read(self, f: h5py.File, positions: np.ndarray) -> np.ndarray:
        """The one producer of values: read the rows sorted (h5py needs it), scale, reorder."""
        rows, back = np.unique(self.indices[positions], return_inverse=True)
        return self.scaler.transform(self.source.read(f, rows))[back.reshape(-1)]

    def _gather(self, f: h5py.File | None, positions: np.ndarray) -> np.ndarray:
        if self._data is not None:
            return self._data[positions]
        return self._read(f, positions)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[h5py.File | None]:
        if self._data is not None:
            yield None
            return
        with self.source.open() as f:
            yield f


def _positive(batch_size: int) -> int:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, but got {batch_size}")
    return batch_size
