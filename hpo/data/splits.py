"""Train / validation / test splits: by simulation when simulations are known, else by frame.

Splitting by simulation keeps time-adjacent (nearly identical) frames off both sides of a split, so
validation scores measure generalisation to unseen flows rather than interpolation in time.

The test split is held out for the final report only: nothing may select, prune or rank models on
it. This module and the loader only expose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.config import DEFAULT_SEED, DEFAULT_SPLIT_FRACTIONS
from hpo.data.source import Simulation
from hpo.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "val", "test")
# Fewer simulations than this cannot give each split one: fall back to blocks in time.
MIN_SIMULATIONS = len(SPLIT_NAMES)


@dataclass(frozen=True)
class SplitPlan:
    """Which rows go where.

    Attributes:
        segments: split name -> runs of rows, each inside one simulation (so next-step pairs can be
            formed within a run and never across two simulations).
        record: a JSON-able account: strategy, seed, fractions, note, and per split the sample count
            and the simulations / frames / time blocks it holds.
    """

    segments: dict[str, tuple[Simulation, ...]]
    record: dict[str, Any]


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Return (train, val, test) fractions if each is positive and they sum to 1, else
    ConfigError."""
    values = tuple(float(value) for value in fractions)
    if len(values) != 3 or min(values) <= 0 or abs(sum(values) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions must be three positive numbers (train, validation, test) "
            f"summing to 1, but got {list(fractions)}"
        )
    return values  # type: ignore[return-value]


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Share n >= 3 items by `fractions` (largest remainder), giving each split at least one."""
    ideal = np.asarray(fractions, np.float64) * n
    counts = np.floor(ideal).astype(np.int64)
    by_remainder = np.argsort(-(ideal - counts), kind="stable")
    counts[by_remainder[: n - counts.sum()]] += 1
    for i in range(len(counts)):
        while counts[i] < 1:
            counts[np.argmax(counts)] -= 1
            counts[i] += 1
    return int(counts[0]), int(counts[1]), int(counts[2])


def plan_splits(
    groups: Sequence[Simulation],
    *,
    by_simulation: bool,
    fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    seed: int = DEFAULT_SEED,
) -> SplitPlan:
    """Assign groups of rows to train / validation / test.

    Strategies, recorded as `strategy`:
      - by_simulation: whole simulations, shuffled with `seed` (when `by_simulation` and >= 3).
      - by_time_block: fewer than 3 simulations; each simulation's first `fractions[0]` of time
        steps go to train, the next `fractions[1]` to validation, the last to test (a note says so).
      - by_frame: simulations unknown (`groups` are single frames), frames shuffled with `seed`.

    The test split must never be used to select or rank anything; only the final report reads it.

    Raises:
        ConfigError: fractions are not three positive numbers summing to 1.
        DataError: too few samples to give each split at least one.
    """
    fractions = check_fractions(fractions)
    if not by_simulation:
        if len(groups) < MIN_SIMULATIONS:
            raise DataError(
                f"splitting by frame needs at least {MIN_SIMULATIONS} samples (one each for "
                f"train, validation and test), but {len(groups)} are usable; use more data"
            )
        segments = _shuffle_groups(groups, fractions, seed)
        return SplitPlan(segments, _record("by_frame", seed, fractions, None, segments, "frames"))
    if len(groups) >= MIN_SIMULATIONS:
        segments = _shuffle_groups(groups, fractions, seed)
        record = _record("by_simulation", seed, fractions, None, segments, "simulations")
        return SplitPlan(segments, record)
    segments = _time_blocks(groups, fractions)
    names = ", ".join(group.name for group in groups)
    note = (
        f"only {len(groups)} simulation(s) ({names}), too few to split by simulation "
        f"({MIN_SIMULATIONS} needed); each simulation's time steps are split in blocks instead: "
        f"first {fractions[0]:.0%} train, next {fractions[1]:.0%} validation, "
        f"last {fractions[2]:.0%} test"
    )
    return SplitPlan(segments, _record("by_time_block", seed, fractions, note, segments, "blocks"))


def _shuffle_groups(
    groups: Sequence[Simulation], fractions: Sequence[float], seed: int
) -> dict[str, tuple[Simulation, ...]]:
    n_train, n_val, _ = split_counts(len(groups), fractions)
    order = np.random.default_rng(seed).permutation(len(groups))
    chosen = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    # Each split keeps the file's order, so its rows read front to back.
    return {
        name: tuple(groups[i] for i in np.sort(part)) for name, part in zip(SPLIT_NAMES, chosen)
    }


def _time_blocks(
    groups: Sequence[Simulation], fractions: Sequence[float]
) -> dict[str, tuple[Simulation, ...]]:
    segments: dict[str, list[Simulation]] = {name: [] for name in SPLIT_NAMES}
    for group in groups:
        if group.n_steps < MIN_SIMULATIONS:  # too short to cut in three: all of it trains
            segments["train"].append(group)
            continue
        start = group.start
        for name, count in zip(SPLIT_NAMES, split_counts(group.n_steps, fractions)):
            segments[name].append(Simulation(group.name, start, start + count))
            start += count
    if not segments["test"]:
        longest = max((group.n_steps for group in groups), default=0)
        raise DataError(
            f"splitting {len(groups)} simulation(s) in time needs one with at least "
            f"{MIN_SIMULATIONS} time steps (one each for train, validation and test), but "
            f"the longest has {longest}; use longer or more simulations"
        )
    return {name: tuple(parts) for name, parts in segments.items()}


def _record(
    strategy: str,
    seed: int,
    fractions: Sequence[float],
    note: str | None,
    segments: dict[str, tuple[Simulation, ...]],
    kind: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "strategy": strategy,
        "seed": int(seed),
        "fractions": list(fractions),
        "note": note,
    }
    for name, parts in segments.items():
        if kind == "frames":
            where: list[Any] = [part.start for part in parts]
        elif kind == "simulations":
            where = [part.name for part in parts]
        else:
            where = [[part.name, part.start, part.end] for part in parts]
        record[name] = {"n_samples": sum(part.n_steps for part in parts), kind: where}
    return record
