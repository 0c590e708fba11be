"""The statistics: what a search's trials add up to, and medians over seeds with their intervals.

- anytime(trials): after each trial, the epochs spent, the best value so far and its test value
  (read with bench.anytime's best_at, epochs_to_reach and on_grid, shared with bench.search);
- retrained_share(trials): the share of a study's epochs spent training again a configuration it
  had already finished;
- bootstrap_median(values): the median over seeds and its 95% percentile-bootstrap interval
  (reproducible: a fixed resampling seed), infinite values ("never") allowed; stat() is its JSON.
"""

from __future__ import annotations

import math

import numpy as np

from bench.anytime import best_at, epochs_to_reach, on_grid
from bench.replay.trial import COMPLETE, DUPLICATE, PRUNED, TrialRecord

__all__ = [
    "BOOTSTRAP_SEED",
    "N_RESAMPLES",
    "anytime",
    "best_at",
    "bootstrap_median",
    "epochs_to_reach",
    "finite",
    "n_trained",
    "on_grid",
    "or_inf",
    "overlap",
    "quantile",
    "retrained_share",
    "rounded",
    "stat",
]

N_RESAMPLES, BOOTSTRAP_SEED = 2000, 0  # percentile bootstrap over seeds, reproducible


def n_trained(trials: list[TrialRecord]) -> int:
    """The trials that trained (not answered as duplicates)."""
    return sum(t.state != DUPLICATE for t in trials)


def retrained_share(trials: list[TrialRecord]) -> float:
    """The share of a study's epochs spent training a configuration that an earlier trial of the
    same study had already finished: COMPLETE, or PRUNED after as many epochs or more (a trial that
    takes a pruned configuration further, because the pruner now lets it through, is not counted).
    A KerasTuner trial continuing its parent's run (first_epoch > 0) is no repeat."""
    finished: dict[tuple[str, int], float] = {}  # (architecture, config) -> epochs it finished at
    repeated = total = 0
    for trial in trials:
        key = (trial.architecture, trial.config)
        total += trial.epochs
        if trial.first_epoch == 0 and trial.epochs and finished.get(key, 0) >= trial.epochs:
            repeated += trial.epochs
        if trial.state == COMPLETE:
            finished[key] = math.inf
        elif trial.state == PRUNED:
            finished[key] = max(finished.get(key, 0), trial.epochs)
    return repeated / total if total else 0.0


def anytime(trials: list[TrialRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After each trial: cumulative epochs, best counted value so far (inf before the first) and the
    test value of that best trial; index 0 is the start (0 epochs)."""
    epochs, best, test = [0], [math.inf], [math.nan]
    for trial in trials:
        epochs.append(epochs[-1] + trial.epochs)
        improved = trial.counts() and trial.value < best[-1]
        best.append(trial.value if improved else best[-1])
        test.append(trial.test if improved else test[-1])
    return np.array(epochs), np.array(best), np.array(test, dtype=float)


def quantile(values: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """numpy's linear-interpolation quantile, where infinite values ("never") stay infinite instead
    of becoming NaN (numpy computes inf - inf between two of them)."""
    ordered = np.sort(np.asarray(values, dtype=float), axis=axis)
    position = q * (ordered.shape[axis] - 1)
    low = np.take(ordered, math.floor(position), axis=axis)
    high = np.take(ordered, math.ceil(position), axis=axis)
    fraction = position - math.floor(position)
    if fraction == 0:
        return low
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(high), np.inf, low + (high - low) * fraction)


def bootstrap_median(
    values, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """The median of `values` and its 95% percentile-bootstrap interval (inf allowed: "never")."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    picks = np.random.default_rng(seed).integers(0, len(values), size=(n_resamples, len(values)))
    medians = np.median(values[picks], axis=1)
    return (
        float(np.median(values)),
        float(quantile(medians, 0.025)),
        float(quantile(medians, 0.975)),
    )


def stat(values) -> dict:
    """{"median", "low", "high", "n"} for the JSON; None stands for infinite ("never")."""
    median, low, high = bootstrap_median(values)
    return {"median": finite(median), "low": finite(low), "high": finite(high), "n": len(values)}


def finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def rounded(value: float) -> float | None:
    """For the chart: 5 significant digits are plenty, and keep the page small."""
    return float(f"{value:.5g}") if math.isfinite(value) else None


def or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def overlap(a: dict, b: dict) -> bool:
    """Whether two statistics' 95% intervals overlap (None: an infinite bound)."""
    return (or_inf(a["high"]) >= or_inf(b["low"])) and (or_inf(b["high"]) >= or_inf(a["low"]))
