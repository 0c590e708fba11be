"""`load`: a file in any of the three layouts -> validated, split, scaled `FlowData`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpo.config import DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_SEED, DEFAULT_SPLIT_FRACTIONS
from hpo.data.batches import Split
from hpo.data.channels import ChannelSpec
from hpo.data.layouts import open_source
from hpo.data.scaling import Scaler
from hpo.data.source import Simulation, Source
from hpo.data.splits import plan_splits
from hpo.data.validation import apply_invalid_policy, check_file, check_grid, count_nonfinite
from hpo.errors import ConfigError
from hpo.workspace import Workspace

# describe() keys that must agree for a resumed study to be using the same data.
MATCHED_KEYS = ("fingerprint", "channels", "shape", "split")


@dataclass(frozen=True)
class FlowData:
    """Loaded flow fields: three splits, the scaling, and where it all came from.

    `test` is for the final report only; never select, prune or rank models on it.

    Attributes:
        train, val, test: the splits (hpo.data.batches.Split).
        scaler: per-channel standardisation fitted on `train`; maps outputs back to physical units.
        source: the file as read (layout, dataset, channels, grid).
        simulations: the simulations kept (after --drop-invalid); () when the file marks none.
        split_record: JSON-able account of the split (strategy, seed, who went where, counts).
        streamed: True when batches are read from the file instead of held in memory.
        messages: what the user should hear about (dropped simulations, split fallback).
    """

    train: Split
    val: Split
    test: Split
    scaler: Scaler
    source: Source
    simulations: tuple[Simulation, ...]
    split_record: dict[str, Any]
    streamed: bool
    messages: tuple[str, ...] = ()
    file_stat: dict[str, int] = field(default_factory=dict)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.source.channels

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one sample."""
        return self.source.sample_shape

    @property
    def source_path(self) -> Path:
        return self.source.path

    @property
    def n_samples(self) -> int:
        return len(self.train) + len(self.val) + len(self.test)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description to store with a study and compare when it resumes.

        `fingerprint` hashes file size, mtime, dataset, row count, grid and channels: cheap, and
        it changes whenever the file is rewritten (no full-file hash).
        """
        identity = {
            **self.file_stat,
            "dataset": self.source.dataset,
            "n_rows": self.source.n_rows,
            "grid": list(self.source.grid),
            "channels": list(self.channel_names),
        }
        fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        return {
            "path": str(self.source_path.resolve()),
            "layout": self.source.layout,
            "dataset": self.source.dataset,
            "channels": list(self.channel_names),
            "shape": [self.n_samples, *self.input_shape],
            "file": identity,
            "fingerprint": fingerprint,
            "split": self.split_record,
            "scaler": self.scaler.to_dict(),
            "streamed": self.streamed,
        }

    def mismatches(self, stored: dict[str, Any]) -> list[str]:
        """How a stored `describe()` differs from this data, one line per key of MATCHED_KEYS."""
        now = json.loads(json.dumps(self.describe()))  # tuples -> lists, as stored
        return [
            f"{key}: stored {_short(stored.get(key))}, now {_short(now[key])}"
            for key in MATCHED_KEYS
            if stored.get(key) != now[key]
        ]


def _short(value: Any, limit: int = 60) -> str:
    """A stored value for a one-line message (split records are long)."""
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load(
    path: str | Path | None = None,
    *,
    dataset: str | None = None,
    channels: ChannelSpec = None,
    drop_invalid: bool = False,
    fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    seed: int = DEFAULT_SEED,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    workspace: Workspace | None = None,
) -> FlowData:
    """Load, validate, split and scale a flow-field file.

    Args:
        path: HDF5 file in the seed, plain-array or The Well layout; None = the embedded dataset
            (generated and cached on first use).
        dataset: HDF5 path of the data when the file holds several candidates.
        channels: names and/or indices ("temperature,velocity", "0,2" or a list); None = default.
        drop_invalid: drop simulations holding NaN/Inf values instead of refusing the file.
        fractions: (train, val, test) shares; every split gets at least one simulation.
        seed: seeds the split.
        memory_budget_bytes: selected data larger than this is streamed from the file in chunks.
        workspace: where the embedded dataset is cached (path None); default ./studies.

    Returns:
        FlowData; its `messages` say what was dropped and whether the split fell back to time
        blocks.

    Raises:
        DataError: the file cannot be used (missing, not HDF5, wrong rank, grid too small, NaN/Inf,
            too few samples).
        ConfigError: an unknown dataset or channel, bad fractions or memory budget.
    """
    if memory_budget_bytes <= 0:
        raise ConfigError(
            f"the memory budget must be positive (--memory-budget MB), "
            f"but got {memory_budget_bytes} bytes"
        )
    if path is None:
        from hpo.data import embedded  # here: only the default path needs the generator and solver

        path = embedded.default_dataset_path(workspace=workspace)
    path = check_file(path)
    source = open_source(path, dataset, channels)
    check_grid(source)
    by_simulation = source.simulations is not None
    # Without idx every frame is its own group: NaN/Inf are then reported and dropped frame by
    # frame.
    groups = (
        source.simulations
        if by_simulation
        else tuple(Simulation(f"frame_{row}", row, row + 1) for row in range(source.n_rows))
    )
    chunk_rows = source.chunk_rows(memory_budget_bytes)
    counts = count_nonfinite(source, groups, chunk_rows)
    kept, dropped = apply_invalid_policy(
        source, groups, counts, drop_invalid, "simulations" if by_simulation else "frames"
    )
    plan = plan_splits(kept, by_simulation=by_simulation, fractions=fractions, seed=seed)
    kept_set = set(kept)
    record = {**plan.record, "dropped": [group.name for group in groups if group not in kept_set]}

    # (n_kept, H, W, C) float32 held whole only when it fits the budget; else every batch is read.
    streamed = sum(group.n_steps for group in kept) * source.row_bytes > memory_budget_bytes
    train_rows = np.sort(
        np.concatenate([np.arange(s.start, s.end) for s in plan.segments["train"]])
    )
    scaler = Scaler.fit(
        (data for _, data in source.iter_chunks(train_rows, chunk_rows)),
        source.channels,
        source.physical,
    )
    splits = {
        name: Split(name, segments, source, scaler, streamed=streamed, chunk_rows=chunk_rows)
        for name, segments in plan.segments.items()
    }
    stat = path.stat()
    return FlowData(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        scaler=scaler,
        source=source,
        simulations=kept if by_simulation else (),
        split_record=record,
        streamed=streamed,
        messages=tuple(message for message in (dropped, plan.record["note"]) if message),
        file_stat={"size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
    )
