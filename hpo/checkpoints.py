"""Pausing a training run at a rung of successive halving and resuming it later, in another process.

    paused = checkpoints.load(folder)          # None: nothing paused there yet
    result = training.fit(name, params, data, config, until=10, resume=paused, pause_to=folder)

This module owns the format (numpy only, so importing it loads no backend); the callbacks that
fill and read it during `fit` are training's (_ResumableEarlyStopping, _PauseAtEnd).

A paused run is one folder: `state.npz` (the weights at the last epoch trained, the optimizer's
variables, its step count included so that a schedule laid out over the whole budget continues
where it was, and the weights of the best epoch) and `state.json` (every epoch's logs and seconds,
the best epoch and value, the epochs since an improvement). Each is written beside itself and
renamed into place, `state.json` last: a run killed mid-segment resumes from its previous rung.

Resuming is the same training as running through, up to the batch order: the resumed segment draws
its shuffles and augmentations from the seed plus the first epoch it trains, so it does not repeat
the first segment's draws.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STATE_ARRAYS, STATE_JSON = "state.npz", "state.json"


@dataclass
class PausedRun:
    """Where a run stopped: enough to train on as if it had never stopped.

    Attributes:
        history: one dict of logs per epoch trained (hpo.metrics' names), as FitResult.history.
        epoch_seconds: wall time of each of those epochs.
        best_epoch: index into `history` of the best epoch on the monitored metric.
        best_value: its value (inf when no epoch was finite).
        wait: epochs since the last improvement (early stopping's count).
        stopped: why training ended for good ("early", "diverged"), or "" when it may go on.
        weights: model.get_weights() after the last epoch.
        best_weights: model.get_weights() after the best epoch.
        optimizer: the optimizer's variables (iterations first), in their order.
    """

    history: list[dict[str, float]]
    epoch_seconds: list[float]
    best_epoch: int
    best_value: float
    wait: int
    stopped: str = ""
    weights: list[np.ndarray] = field(default_factory=list, repr=False)
    best_weights: list[np.ndarray] = field(default_factory=list, repr=False)
    optimizer: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def epochs(self) -> int:
        """Epochs trained so far."""
        return len(self.history)


def save(folder: Path, run: PausedRun) -> None:
    """Write `run` to `folder` (created), arrays first, the JSON that commits them last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for prefix, values in (("w", run.weights), ("b", run.best_weights), ("o", run.optimizer)):
        arrays.update({f"{prefix}{i}": np.asarray(v) for i, v in enumerate(values)})
    partial = folder / f".{STATE_ARRAYS}.partial"
    with open(partial, "wb") as handle:  # np.savez would append .npz to a bare path
        np.savez(handle, **arrays)
    os.replace(partial, folder / STATE_ARRAYS)
    meta = {
        "history": run.history,
        "epoch_seconds": run.epoch_seconds,
        "best_epoch": run.best_epoch,
        "best_value": run.best_value if math.isfinite(run.best_value) else None,
        "wait": run.wait,
        "stopped": run.stopped,
        "counts": [len(run.weights), len(run.best_weights), len(run.optimizer)],
    }
    partial = folder / f".{STATE_JSON}.partial"
    partial.write_text(json.dumps(meta, default=float))
    os.replace(partial, folder / STATE_JSON)


def load(folder: Path) -> PausedRun | None:
    """The run paused in `folder`, or None when nothing finished there."""
    folder = Path(folder)
    if not (folder / STATE_JSON).exists() or not (folder / STATE_ARRAYS).exists():
        return None
    meta = json.loads((folder / STATE_JSON).read_text())
    with np.load(folder / STATE_ARRAYS) as arrays:
        n_weights, n_best, n_optimizer = meta["counts"]
        weights = [arrays[f"w{i}"] for i in range(n_weights)]
        best = [arrays[f"b{i}"] for i in range(n_best)]
        optimizer = [arrays[f"o{i}"] for i in range(n_optimizer)]
    best_value = meta["best_value"]
    return PausedRun(
        history=meta["history"],
        epoch_seconds=list(meta["epoch_seconds"]),
        best_epoch=int(meta["best_epoch"]),
        best_value=math.inf if best_value is None else float(best_value),
        wait=int(meta["wait"]),
        stopped=meta.get("stopped", ""),
        weights=weights,
        best_weights=best,
        optimizer=optimizer,
    )


def restore(model, run: PausedRun) -> None:
    """Put a paused run's last weights and optimizer state into a freshly built, compiled model."""
    model.set_weights(run.weights)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    if len(optimizer.variables) != len(run.optimizer):
        raise ValueError(
            f"the paused optimizer has {len(run.optimizer)} variables, this one "
            f"{len(optimizer.variables)}: the run was paused with another recipe"
        )
    for variable, value in zip(optimizer.variables, run.optimizer):
        variable.assign(value)
