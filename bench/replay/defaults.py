"""Defaults from evidence: candidates for hpo.optimize's defaults, each replayed on top1 with the
same seeds as the methods, ranked by one stated rule (record["defaults"]).

The candidates: TPE with pruner none, median, sha or hyperband x 3, 5 or 10 random start-up trials
x at most 10, 20 or E epochs per trial (a third, two thirds and all of E; --quick: none or median x
3 or 10 x E/3 or E), and the current default (StudySettings' pruner, start-up trials as
make_sampler derives them from n_trials = B // E, E epochs) beside them. A trial of M < E epochs
reads only the table's first M epochs, with early stopping's patience max(3, ceil(M / 4)); the
table's cosine schedule was laid out over E epochs, so a truncated curve is not exactly a cosine
run over M epochs (the JSON's note says so). Per candidate: the median regret at 100% of the budget
and the median share of the budget to reach random search's final best (the `random` method at E
epochs, same seed), each with its 95% bootstrap interval. The best: the lowest median regret; ties
broken by the lower median share, then fewer epochs per trial, then the current default.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.replay.methods import BASELINE, create_study, expected_trials, optuna_search, run_study
from bench.replay.statistics import (
    anytime,
    best_at,
    epochs_to_reach,
    finite,
    n_trained,
    or_inf,
    overlap,
    retrained_share,
    rounded,
    stat,
)
from bench.replay.table import Table
from bench.replay.trial import TrialRecord

if TYPE_CHECKING:
    from bench.replay.benchmark import Runs, Settings

# Candidates for hpo.optimize's pruner, TPE's start-up trials and epochs per trial, replayed on
# top1 (--quick: fewer). Epochs as shares of E: 10, 20 and 30 for E = 30.
GRID_PRUNERS, QUICK_GRID_PRUNERS = ("none", "median", "sha", "hyperband"), ("none", "median")
GRID_STARTUP, QUICK_GRID_STARTUP = (3, 5, 10), (3, 10)
GRID_EPOCH_SHARES, QUICK_GRID_EPOCH_SHARES = (1 / 3, 2 / 3, 1.0), (1 / 3, 1.0)
DEFAULTS_RULE = (
    "lowest median regret at 100% of the budget; ties: the lower median share of the "
    "budget to reach random's final best, then fewer epochs per trial, then the current "
    "default (a change needs evidence)"
)
TRUNCATION_NOTE = (
    "A trial of M < E epochs reads the first M epochs of runs trained for E: their "
    "cosine schedule was laid out over E epochs, so a truncated cosine curve is not a "
    "cosine run over M epochs (whose rate would have decayed by epoch M; it would "
    "likely end lower). Regret is against the table's optimum at any epoch up to E."
)


@dataclass(frozen=True)
class Combination:
    """A candidate for hpo.optimize's defaults: TPE with `startup` random start-up trials, the
    pruner `pruner` (hpo.registry.PRUNERS' names), at most `epochs` epochs per trial."""

    pruner: str
    startup: int
    epochs: int

    def to_dict(self) -> dict:
        return {"pruner": self.pruner, "startup": self.startup, "epochs": self.epochs}


def defaults_grid(epochs: int, quick: bool) -> tuple[Combination, ...]:
    """Every candidate for a table of E = `epochs`: pruner x start-up trials x epochs per trial."""
    pruners, startups, shares = (
        (QUICK_GRID_PRUNERS, QUICK_GRID_STARTUP, QUICK_GRID_EPOCH_SHARES)
        if quick
        else (GRID_PRUNERS, GRID_STARTUP, GRID_EPOCH_SHARES)
    )
    levels = sorted({max(1, round(share * epochs)) for share in shares})
    return tuple(Combination(p, n, m) for p in pruners for n in startups for m in levels)


def current_default(epochs: int, budget: int) -> Combination:
    """hpo.optimize's defaults today for a study of `budget` epochs on a table of E = `epochs`:
    StudySettings' pruner, its TPE start-up trials (when unset, as make_sampler derives them from
    the trials the budget holds) and its epochs per trial (at most E: the table's length)."""
    from hpo.optimize.settings import StudySettings

    live = StudySettings()
    per_trial = min(live.epochs, epochs)
    startup = live.n_startup_trials
    if startup is None:
        startup = live_startup_trials(expected_trials(per_trial, budget))
    return Combination(live.pruner, startup, per_trial)


def live_startup_trials(n_trials: int) -> int:
    """The start-up trials of the live TPE for `n_trials` (hpo.optimize.settings' rule)."""
    from hpo.optimize.settings import startup_trials

    return startup_trials(n_trials)


def combination_search(
    table: Table, combination: Combination, seed: int, budget: int
) -> list[TrialRecord]:
    """One TPE study of `combination` on the table's first architecture with seed `seed`, replayed
    until `budget` epochs are spent; a trial reads only the table's first combination.epochs epochs
    (early stopping's patience for that many)."""

    from hpo.optimize.settings import make_pruner, make_sampler

    architecture = table.architectures[0]
    sampler = make_sampler(
        "tpe",
        seed,
        expected_trials(combination.epochs, budget),
        n_startup_trials=combination.startup,
    )
    # The pruner as a live run with --epochs M builds it (Hyperband's max_resource M); the name as
    # optuna_search's, so the current default replays tpe+median's top1 studies exactly.
    study = create_study(
        sampler,
        make_pruner(combination.pruner, combination.epochs),
        name=f"replay-{architecture}-seed{seed}",
    )
    return run_study(study, table, architecture, budget, epochs=combination.epochs)


def summarize_defaults(
    table: Table, settings: Settings, runs: Runs, progress: Callable[[str], None] | None = print
) -> dict:
    """Replay every candidate of settings.grid, and the current default, on top1 for every seed.

    Per candidate, over seeds: the median regret at 100% of the budget and the median share of the
    budget to reach random search's final best of the same seed (the `random` method at E epochs),
    each with its 95% bootstrap interval. The best candidate by DEFAULTS_RULE, among the grid and
    the current default, is set beside the current default.
    """
    architecture, budget, seeds = table.architectures[0], settings.budget, settings.seeds
    optimum = table.optimum((architecture,))["val_rel_l2"]
    targets = {
        s: best_at(anytime(trials), budget)
        for s, trials in random_trials(table, runs, seeds, budget).items()
    }
    current = current_default(table.epochs, budget)
    candidates = list(settings.grid) + ([] if current in settings.grid else [current])
    rows = []
    for combination in candidates:
        started = time.perf_counter()
        trials = {s: combination_search(table, combination, s, budget) for s in seeds}
        curves = {s: anytime(t) for s, t in trials.items()}
        regrets = [best_at(curves[s], budget) - optimum for s in seeds]
        shares = [epochs_to_reach(curves[s], targets[s]) / budget for s in seeds]
        rows.append(
            {
                **combination.to_dict(),
                "regret_at_100pct": stat(regrets),
                "share_to_random_best": stat(shares),
                "seeds_reaching_random_best": sum(math.isfinite(x) for x in shares),
                "trials_per_seed": float(np.median([n_trained(t) for t in trials.values()])),
                "duplicates_per_seed": float(
                    np.median([len(t) - n_trained(t) for t in trials.values()])
                ),
                "retrained_share": stat([retrained_share(t) for t in trials.values()]),
                "per_seed": {
                    "regret_at_100pct": [rounded(x) for x in regrets],
                    "share_to_random_best": [rounded(x) for x in shares],
                },
            }
        )
        if progress is not None:
            progress(
                f"{label(combination):<22}top1: {len(seeds)} seeds, "
                f"{rows[-1]['trials_per_seed']:.0f} trials trained per seed (median), "
                f"{time.perf_counter() - started:.1f} s"
            )
    order = rank_defaults(rows, candidates.index(current))
    for rank, i in enumerate(order, start=1):
        rows[i]["rank"] = rank
    best, now = rows[order[0]], rows[candidates.index(current)]
    current_is_best = order[0] == candidates.index(current)
    lower_by = (
        None
        if current_is_best
        else finite(
            or_inf(now["regret_at_100pct"]["median"]) - or_inf(best["regret_at_100pct"]["median"])
        )
    )
    return {
        "scope": "top1",
        "architecture": architecture,
        "budget_epochs": budget,
        "sampler": "tpe",
        "levels": {
            "pruner": sorted({c.pruner for c in settings.grid}, key=GRID_PRUNERS.index),
            "startup": sorted({c.startup for c in settings.grid}),
            "epochs": sorted({c.epochs for c in settings.grid}),
        },
        "rule": DEFAULTS_RULE,
        "grid": rows[: len(settings.grid)],
        "best": best,
        "current": {**now, "in_grid": current in settings.grid},
        "current_default_is_best": current_is_best,
        "regret_lower_by": lower_by,
        "intervals_overlap": None
        if current_is_best
        else overlap(best["regret_at_100pct"], now["regret_at_100pct"]),
        "note": TRUNCATION_NOTE,
    }


def random_trials(
    table: Table, runs: Runs, seeds: tuple[int, ...], budget: int
) -> dict[int, list[TrialRecord]]:
    """Random search's top1 trials per seed: the methods' own, or run here if they left it out."""
    architecture = table.architectures[0]
    studies = runs.studies.get(BASELINE)
    if studies is not None:
        return {s: studies[s][architecture] for s in seeds}
    return {s: optuna_search(table, architecture, BASELINE, s, budget) for s in seeds}


def rank_defaults(rows: list[dict], current: int) -> list[int]:
    """The candidates' indices, best first by DEFAULTS_RULE (a None median, "never", ranks last).

    Args:
        rows: per candidate, its "regret_at_100pct" and "share_to_random_best" statistics and its
            "epochs" per trial.
        current: the index of the current default, which wins a tie on all three.
    """

    def key(i: int) -> tuple:
        row = rows[i]
        return (
            or_inf(row["regret_at_100pct"]["median"]),
            or_inf(row["share_to_random_best"]["median"]),
            row["epochs"],
            i != current,
            i,
        )

    return sorted(range(len(rows)), key=key)


def label(combination: Combination | dict) -> str:
    c = combination.to_dict() if isinstance(combination, Combination) else combination
    return f"tpe+{c['pruner']} s{c['startup']} e{c['epochs']}"
