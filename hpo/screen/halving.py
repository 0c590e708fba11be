"""Successive halving for the screen: which rungs, and which architectures go on past each.

    rungs = schedule_rungs("sha", epochs=30)            # (10, 30); "full": (30,)
    going_on = promote(values_at_rung, eta=3, keep=3)   # the best architectures of one latent size

Every (architecture, latent, repeat) run trains to the first rung; at each rung the architectures of
one latent size are ranked by their mean best validation value so far (over the repeats that did
not fail), and only the best 1/eta of them, never fewer than `keep`, train on to the next. The runs
of the others stop there: they are stored PRUNED at their rung, with their curves. The learning-rate
schedule and early stopping are laid out over the whole budget, so a run that goes on trains as it
would have without the pause (hpo.checkpoints).

Rungs, eta and keep are chosen on the committed learning curves (`python -m bench.rungs`, its table
in the README): with five architectures per latent size, earlier rungs or two kept to the end are
cheaper but lose one of the exhaustive screen's top two far more often than a first rung at a third
of the budget with three kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

SCHEDULES = ("sha", "full")  # successive halving (the default), or every run to the full budget
DEFAULT_SCHEDULE = "sha"
FIRST_RUNG_SHARE = 1 / 3  # the first rung at a third of the budget: 10 of 30 epochs (bench.rungs)
ETA = 3  # keep the best third at each rung ...
KEEP = 3  # ... but never fewer than 3 per latent size: `hpo.optimize --top 2` and one spare


def schedule_rungs(
    schedule: str, epochs: int, rungs: Sequence[int] | None = None
) -> tuple[int, ...]:
    """The rungs, in epochs, ascending, the last one `epochs`.

    Args:
        schedule: "sha" or "full" (one rung: the whole budget).
        epochs: the budget of a run that is never stopped.
        rungs: explicit rungs (`--rungs`); the budget is added as the last one.
    """
    if schedule == "full":
        return (epochs,)
    if rungs:
        return tuple(sorted({*(r for r in rungs if r < epochs), epochs}))
    first = max(1, round(epochs * FIRST_RUNG_SHARE))
    return (first, epochs) if first < epochs else (epochs,)


def n_going_on(n_alive: int, eta: int = ETA, keep: int = KEEP) -> int:
    """How many of `n_alive` architectures train past a rung: the best 1/eta, at least `keep`."""
    return min(n_alive, max(keep, n_alive // eta))


def promote(
    values: Mapping[str, Sequence[float]], eta: int = ETA, keep: int = KEEP
) -> tuple[list[str], list[str]]:
    """Split the architectures of one latent size at a rung into (going on, stopped), each best
    first.

    Args:
        values: architecture -> each repeat's best validation value so far (NaN: that repeat failed;
            an architecture with no finite value stops).
        eta, keep: as n_going_on.
    """
    means = {}
    for name, repeats in values.items():
        finite = [v for v in repeats if math.isfinite(v)]
        means[name] = sum(finite) / len(finite) if finite else math.inf
    order = sorted(means, key=lambda name: means[name])  # stable: registry order breaks ties
    alive = [name for name in order if math.isfinite(means[name])]
    n = n_going_on(len(alive), eta, keep)
    going_on = alive[:n]
    return going_on, [name for name in order if name not in going_on]
