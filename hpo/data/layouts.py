"""Detect which of the three layouts a file uses and describe it as a `Source`.

- seed: `scaled_data` (N, H, W, C), axis 1 = x, axis 2 = z; attrs `idx` ([start, end) rows per
  simulation) and `cases` (names) on the dataset, where the original study's files and the embedded
  data keep them, or on the root (older files); optional attr `channels` (dataset or root) and, on
  the dataset, `offset`/`scale` per channel with physical = value * scale + offset.
- arrays: any (N, H, W) or (N, H, W, C) dataset (`--dataset` picks one); without `idx` every sample
  stands alone.
- the_well: The Well's rayleigh_benard files (see hpo.data.the_well).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hpo.data import the_well
from hpo.data.channels import ChannelSpec, select_channels
from hpo.data.source import Simulation, Source, runs
from hpo.errors import ConfigError, DataError

SEED_DATASET = "scaled_data"
# The original study's files carry no channel names; their three channels are, in order:
ORIGINAL_CHANNELS = ("temperature", "pressure", "velocity")


def open_source(path: Path, dataset: str | None = None, channels: ChannelSpec = None) -> Source:
    """Detect the layout of `path` and select `dataset` and `channels` in it.

    Args:
        path: an existing HDF5 file (hpo.data.validation.check_file says why one is not).
        dataset: HDF5 path of the data (may be inside groups); None picks it automatically.
        channels: names and/or indices (see hpo.data.channels.select_channels); None = all
            channels (seed, arrays) or buoyancy, pressure, velocity (The Well).

    Raises:
        DataError: the file holds no usable dataset, several and none chosen, or inconsistent attrs.
        ConfigError: `dataset` or `channels` name something the file does not hold.
    """
    try:
        with h5py.File(path, "r") as f:
            if the_well.is_the_well(f):
                if dataset is not None:
                    raise ConfigError(
                        f"{path} is a The Well rayleigh_benard file, where --dataset does "
                        "not apply; drop it and pick fields with --channels"
                    )
                return the_well.open_the_well(path, f, channels)
            name = _choose_dataset(path, f, dataset)
            return _open_array(path, f, name, channels)
    except OSError as exc:  # h5py reports a damaged file as OSError
        raise DataError(
            f"cannot read {path} as HDF5 ({exc}); check that the file is complete"
        ) from exc


def list_datasets(f: h5py.File) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, dtype) of every dataset in the file, groups included."""
    found: list[tuple[str, tuple[int, ...], str]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append((name, tuple(obj.shape), str(obj.dtype)))

    f.visititems(visit)
    return found


def format_datasets(found: Sequence[tuple[str, tuple[int, ...], str]]) -> str:
    return ", ".join(f"{name} {shape}" for name, shape, _ in found) or "no datasets"


def decode_names(value: Any) -> list[str]:
    """An HDF5 attribute holding names (str, bytes, or an array of them) as a list of str."""
    items = [value] if isinstance(value, (str, bytes)) else list(np.asarray(value).ravel())
    return [item.decode() if isinstance(item, bytes) else str(item) for item in items]


def _choose_dataset(path: Path, f: h5py.File, dataset: str | None) -> str:
    found = list_datasets(f)
    if dataset is not None:
        key = dataset.strip("/")
        if not isinstance(f.get(key), h5py.Dataset):
            raise ConfigError(f"no dataset {dataset!r} in {path}; found: {format_datasets(found)}")
        return key
    if isinstance(f.get(SEED_DATASET), h5py.Dataset):
        return SEED_DATASET
    candidates = [item for item in found if len(item[1]) in (3, 4)]
    if len(candidates) == 1:
        return candidates[0][0]
    if not candidates:
        raise DataError(
            f"no (N, H, W) or (N, H, W, C) dataset in {path}; found: "
            f"{format_datasets(found)}; write the samples as one 3D or 4D dataset"
        )
    raise DataError(
        f"{path} holds several datasets that could be the data "
        f"({format_datasets(candidates)}); pass --dataset NAME to pick one"
    )


def _open_array(path: Path, f: h5py.File, name: str, channels: ChannelSpec) -> Source:
    ds = f[name]
    if ds.ndim not in (3, 4):
        others = [item for item in list_datasets(f) if len(item[1]) in (3, 4)]
        raise DataError(
            f"dataset {name!r} in {path} has shape {tuple(ds.shape)}, but (N, H, W) or "
            f"(N, H, W, C) is needed; pick another with --dataset "
            f"(3D/4D ones: {format_datasets(others)})"
        )
    if ds.dtype.kind not in "fiu":
        raise DataError(
            f"dataset {name!r} in {path} holds {ds.dtype} values, but real numbers are "
            "needed; convert it to float32"
        )
    n_rows, height, width = (int(side) for side in ds.shape[:3])
    n_channels = int(ds.shape[3]) if ds.ndim == 4 else 1
    is_original = isinstance(f.get(SEED_DATASET), h5py.Dataset)
    available = tuple(_channel_names(path, f, ds, n_channels, is_original))
    chosen = select_channels(channels, available, available)
    columns = tuple(available.index(channel) for channel in chosen)
    return Source(
        path=Path(path),
        layout="original" if is_original else "arrays",
        dataset=name,
        n_rows=n_rows,
        grid=(height, width),
        available=available,
        channels=chosen,
        simulations=_simulations(path, f, ds, n_rows),
        physical=_physical(path, ds, n_channels, columns),
        reader=_ArrayReader(name, columns if ds.ndim == 4 else None),
    )


def _attr(f: h5py.File, ds: h5py.Dataset, key: str) -> Any:
    """An attribute from the dataset, else from the root (the original study's files use both)."""
    if key in ds.attrs:
        return ds.attrs[key]
    return f.attrs.get(key)


def _channel_names(
    path: Path, f: h5py.File, ds: h5py.Dataset, n_channels: int, is_original: bool
) -> list[str]:
    raw = _attr(f, ds, "channels")
    if raw is not None:
        names = decode_names(raw)
        if len(names) != n_channels:
            raise DataError(
                f"attribute channels in {path} names {len(names)} channels but the data has "
                f"{n_channels}; fix the attribute or delete it"
            )
        return names
    if is_original and n_channels == len(ORIGINAL_CHANNELS):
        return list(ORIGINAL_CHANNELS)
    return [f"channel_{i}" for i in range(n_channels)]


def _simulations(
    path: Path, f: h5py.File, ds: h5py.Dataset, n_rows: int
) -> tuple[Simulation, ...] | None:
    raw = _attr(f, ds, "idx")
    if raw is None:
        return None
    idx = np.asarray(raw)
    if (
        idx.ndim != 2
        or idx.shape[1] != 2
        or idx.dtype.kind not in "fiu"
        or np.any(idx != np.round(idx))
    ):
        raise DataError(
            f"attribute idx in {path} has shape {idx.shape} ({idx.dtype}), but one integer "
            "[start, end) row per simulation is needed; fix or delete it"
        )
    idx = idx.astype(np.int64)
    bad = (idx[:, 0] < 0) | (idx[:, 1] > n_rows) | (idx[:, 1] <= idx[:, 0])
    if bad.any():
        row = idx[np.flatnonzero(bad)[0]].tolist()
        raise DataError(
            f"attribute idx in {path} holds range {row} outside the {n_rows} samples (or "
            "empty); each [start, end) must lie within 0..N"
        )
    ordered = idx[np.argsort(idx[:, 0], kind="stable")]
    if np.any(ordered[1:, 0] < ordered[:-1, 1]):
        raise DataError(
            f"attribute idx in {path} has overlapping ranges; each sample may belong to one "
            "simulation only"
        )
    raw_cases = _attr(f, ds, "cases")
    names = (
        decode_names(raw_cases) if raw_cases is not None else [f"sim_{i}" for i in range(len(idx))]
    )
    if len(names) != len(idx):
        raise DataError(
            f"attribute cases in {path} has {len(names)} names but idx has {len(idx)} "
            "ranges; give one name per simulation"
        )
    return tuple(Simulation(name, int(start), int(end)) for name, (start, end) in zip(names, idx))


def _physical(
    path: Path, ds: h5py.Dataset, n_channels: int, columns: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray] | None:
    if "offset" not in ds.attrs or "scale" not in ds.attrs:
        return None
    values = []
    for key in ("offset", "scale"):
        value = np.asarray(ds.attrs[key], dtype=np.float64).ravel()
        if value.size not in (1, n_channels):
            raise DataError(
                f"attribute {key} of {ds.name} in {path} has {value.size} values but the "
                f"data has {n_channels} channels; give one per channel or delete it"
            )
        values.append(np.broadcast_to(value, (n_channels,))[list(columns)])
    return values[0], values[1]


class _ArrayReader:
    """Reads rows of one (N, H, W[, C]) dataset, keeping the selected channel columns."""

    def __init__(self, dataset: str, columns: tuple[int, ...] | None):
        self.dataset = dataset
        self.columns = columns  # None: a 3D dataset, its one channel

    def __call__(self, f: h5py.File, rows: np.ndarray) -> np.ndarray:
        ds = f[self.dataset]
        parts = [ds[lo:hi] for lo, hi in runs(rows)]
        data = np.concatenate(parts) if parts else np.empty((0, *ds.shape[1:]), ds.dtype)
        data = data[..., None] if self.columns is None else data[..., list(self.columns)]
        return data.astype(np.float32, copy=False)
