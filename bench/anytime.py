"""Anytime curves, shared by the search benchmarks (bench.replay, bench.search,
bench.screening_value): after each trial of a search, the cumulative epochs spent and the best value
found so far.

    curve = (spent, best)            # index 0: the start, 0 epochs and no value yet (inf)
    best_at(curve, 100)              # the best of the trials that ended within 100 epochs
    epochs_to_reach(curve, 0.31)     # when the best first reached 0.31 (inf: never)

A curve may carry more arrays after these two (bench.replay's: the best trial's test value); they
are not read here. `spent` never decreases: a trial answered without training adds 0 epochs.
"""

from __future__ import annotations

import math

import numpy as np


def best_at(curve: tuple[np.ndarray, ...], epochs: float) -> float:
    """The best value of the trials that ended within `epochs` (inf if none did)."""
    spent, best = curve[0], curve[1]
    index = np.searchsorted(spent, epochs, side="right") - 1
    return float(best[index]) if index >= 0 else math.inf


def epochs_to_reach(curve: tuple[np.ndarray, ...], target: float) -> float:
    """Cumulative epochs when the best value first reached `target` (inf if it never did); a
    target of inf (a baseline that found no value) is reached by the first value found."""
    spent, best = curve[0], curve[1]
    reached = np.nonzero(np.isfinite(best) & (best <= target))[0]
    return float(spent[reached[0]]) if len(reached) else math.inf


def on_grid(curve: tuple[np.ndarray, ...], grid: np.ndarray) -> np.ndarray:
    """The step curve of best values sampled at `grid` epochs (inf before the first value)."""
    spent, best = curve[0], curve[1]
    return best[np.searchsorted(spent, grid, side="right") - 1]
