"""One replay, start to end: its settings, every method run on every seed in both scopes, each
scope summarized, and the record that replay[-quick].json holds.

Budget: each study gets B epochs (B = 20 E; --quick 8 E). Two scopes: top1, one architecture (the
table's first: the screen's winner), budget B; top2, both, budget 2 B: one study per architecture
with B each, one after the other (as `hpo.optimize --top 2`; the first is top1's study), and
two-stage with its 2 B. Seed s is every method's sampler seed (a paired comparison). Reported per
method and scope, as the median over seeds with a 95% percentile-bootstrap interval: the epochs
needed to reach random search's final best of the same seed, as a share of the budget (never:
infinite); the best validation value of trials that ended within 25, 50 and 100% of the budget, and
its regret (minus the table's optimum in the scope: the lowest validation value of any
configuration at any epoch); the test rel_l2 of the best-on-validation configuration; the share of
its epochs spent training a configuration already finished (`retrained_share`, which
hpo.optimize.duplicates' answers hold at 0; before them, TPE's re-proposals took a median 65% of the
default search's epochs). In top1 a two-stage run may pick the other architecture; its regret is
still against the first's optimum.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.replay.defaults import Combination, defaults_grid, label, summarize_defaults
from bench.replay.methods import (
    BASELINE,
    DEFAULT_METHOD,
    KERASTUNER,
    METHODS,
    TWO_STAGE,
    run_search,
    two_stage,
)
from bench.replay.statistics import (
    BOOTSTRAP_SEED,
    N_RESAMPLES,
    anytime,
    best_at,
    epochs_to_reach,
    finite,
    n_trained,
    on_grid,
    overlap,
    quantile,
    retrained_share,
    rounded,
    stat,
)
from bench.replay.table import Table
from bench.replay.trial import (
    COMPLETE,
    CUT,
    DUPLICATE,
    FAIL,
    PRUNED,
    TRIAL_COLUMNS,
    TrialRecord,
    patience_for,
)

SCOPES = ("top1", "top2")
FULL_TRIALS, QUICK_TRIALS = 20, 8  # the budget B per architecture, in full trials' worth (B / E)
FULL_SEEDS, QUICK_SEEDS = 50, 5
FRACTIONS = (0.25, 0.5, 1.0)  # of the budget, where the best value and regret are read
TARGET_SHARE = 0.40  # the issue's: the default reaches random's final best within 40% of its budget
N_GRID = 100  # points of the anytime curves' common epoch grid


@dataclass(frozen=True)
class Settings:
    """One replay: the budget per architecture, the seeds, quick or full."""

    budget: int  # B, epochs per architecture (top2: 2 B)
    seeds: tuple[int, ...]
    quick: bool
    grid: tuple[Combination, ...] = ()  # the candidate defaults (summarize_defaults)

    @classmethod
    def make(cls, epochs: int, quick: bool, n_seeds: int | None = None) -> Settings:
        trials = QUICK_TRIALS if quick else FULL_TRIALS
        n_seeds = (QUICK_SEEDS if quick else FULL_SEEDS) if n_seeds is None else n_seeds
        return cls(trials * epochs, tuple(range(n_seeds)), quick, defaults_grid(epochs, quick))


def scope_architectures(table: Table, scope: str) -> tuple[str, ...]:
    """top1: the screen's winner (the table's first architecture); top2: its first two."""
    return table.architectures[: 1 if scope == "top1" else 2]


@dataclass
class Runs:
    """What the methods ran: one study per method, seed and architecture for the one-architecture
    methods (top1 is the first architecture's, top2 both, one after the other); two-stage's per
    scope and seed, with the architecture it chose."""

    studies: dict  # method -> seed -> architecture -> [TrialRecord]
    two_stage: dict  # scope -> seed -> (chosen architecture, [TrialRecord])

    def trials(
        self, scope: str, method: str, seed: int, architectures: tuple[str, ...]
    ) -> list[TrialRecord]:
        if method == TWO_STAGE:
            return self.two_stage[scope][seed][1]
        return [t for a in architectures for t in self.studies[method][seed][a]]


def run_methods(
    table: Table,
    settings: Settings,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[str], None] | None = print,
) -> Runs:
    """Run every method for every seed in both scopes; one progress line per method and scope
    (top2's wall time: its second architecture's studies, the first's are top1's)."""
    runs = Runs(
        {m: {s: {} for s in settings.seeds} for m in methods if m != TWO_STAGE},
        {scope: {} for scope in SCOPES},
    )
    with tempfile.TemporaryDirectory(prefix="replay-kerastuner-") as folder:
        for method in methods:
            for scope in SCOPES:
                started = time.perf_counter()
                architectures = scope_architectures(table, scope)
                for seed in settings.seeds:
                    if method == TWO_STAGE:
                        budget = settings.budget * len(architectures)
                        runs.two_stage[scope][seed] = two_stage(
                            table, table.architectures[:2], seed, budget
                        )
                    else:  # top2 adds the second architecture's study to top1's first
                        architecture = architectures[-1]
                        runs.studies[method][seed][architecture] = run_search(
                            table, method, architecture, seed, settings.budget, Path(folder)
                        )
                if progress is not None:
                    counts = [
                        n_trained(runs.trials(scope, method, s, architectures))
                        for s in settings.seeds
                    ]
                    progress(
                        f"{method:<22}{scope}: {len(settings.seeds)} seeds, "
                        f"{np.median(counts):.0f} trials trained per seed (median), "
                        f"{time.perf_counter() - started:.1f} s"
                    )
    return runs


def summarize_scope(
    table: Table,
    scope: str,
    runs: Runs,
    methods: tuple[str, ...],
    budget: int,
    seeds: tuple[int, ...],
) -> dict:
    """Per method: share of the budget to reach random's final best, best value and regret at 25,
    50 and 100% of the budget, test rel_l2 of the best; the targets; the anytime regret bands."""
    architectures = scope_architectures(table, scope)
    optimum = table.optimum(architectures)
    trials_of = {m: {s: runs.trials(scope, m, s, architectures) for s in seeds} for m in methods}
    curves = {
        m: {s: anytime(trials) for s, trials in by_seed.items()} for m, by_seed in trials_of.items()
    }
    # Paired by seed: a method's seed s against random search's seed s.
    random_best = (
        {s: best_at(c, budget) for s, c in curves[BASELINE].items()} if BASELINE in curves else {}
    )
    rows = {}
    for method, by_seed in curves.items():
        shares = (
            [epochs_to_reach(by_seed[s], random_best[s]) / budget for s in seeds]
            if random_best
            else []
        )
        best = {f"{f:.0%}": [best_at(by_seed[s], f * budget) for s in seeds] for f in FRACTIONS}
        tests = [by_seed[s][2][-1] for s in seeds if math.isfinite(by_seed[s][2][-1])]
        trials = [t for s in seeds for t in trials_of[method][s]]
        rows[method] = {
            "share_to_random_best": stat(shares),
            "seeds_reaching_random_best": sum(math.isfinite(x) for x in shares),
            "best_val": {k: stat(v) for k, v in best.items()},
            "regret": {k: stat([x - optimum["val_rel_l2"] for x in v]) for k, v in best.items()},
            "test_rel_l2": stat(tests),
            "epochs_spent": stat([float(by_seed[s][0][-1]) for s in seeds]),
            # Seeds that stopped short: max_failures failures in a row, or out of new points.
            "seeds_under_budget": sum(int(by_seed[s][0][-1]) < budget for s in seeds),
            "trials_per_seed": float(np.median([n_trained(trials_of[method][s]) for s in seeds])),
            "duplicates_per_seed": float(
                np.median([len(t) - n_trained(t) for t in trials_of[method].values()])
            ),
            # The epochs spent training again a configuration already finished (the 61%).
            "retrained_share": stat([retrained_share(trials_of[method][s]) for s in seeds]),
            "states": {
                state: sum(t.state == state for t in trials)
                for state in (COMPLETE, PRUNED, FAIL, CUT, DUPLICATE)
            },
        }
    return {
        "architectures": list(architectures),
        "budget_epochs": budget,
        "optimum": optimum,
        "random_final_best": {str(s): finite(v) for s, v in random_best.items()},
        "methods": rows,
        "targets": check_targets(rows),
        "best_method": best_method(rows),
        "anytime": anytime_bands(curves, budget, optimum["val_rel_l2"], seeds),
    }


def check_targets(rows: dict, default: str = DEFAULT_METHOD, ours: dict | None = None) -> dict:
    """The issue's two targets for the default search, with the numbers behind them.

    Args:
        rows: the scope's methods (random's and KerasTuner Hyperband's rows are read).
        default: the name the targets give the default search.
        ours: its row (`share_to_random_best`, `regret` by budget share); default: rows[default].
    """
    targets = {}
    ours = rows.get(default) if ours is None else ours
    if ours is not None and BASELINE in rows:
        share = ours["share_to_random_best"]
        targets["default_reaches_random_best_within_40pct"] = {
            "met": share["median"] is not None and share["median"] <= TARGET_SHARE,
            "threshold": TARGET_SHARE,
            "method": default,
            "share": share,
        }
    if ours is not None and KERASTUNER in rows:
        regret, theirs = ours["regret"]["100%"], rows[KERASTUNER]["regret"]["100%"]
        targets["default_beats_kerastuner"] = {
            "met": regret["median"] is not None
            and (theirs["median"] is None or regret["median"] < theirs["median"]),
            "method": default,
            "regret_at_100pct": regret,
            "kerastuner_regret_at_100pct": theirs,
            "intervals_overlap": overlap(regret, theirs),
        }
    return targets


def best_method(rows: dict) -> dict:
    """The method with the lowest median regret at 100% of the budget (ties: all of them)."""
    regrets = {m: row["regret"]["100%"]["median"] for m, row in rows.items()}
    finite = {m: r for m, r in regrets.items() if r is not None}
    if not finite:
        return {"methods": [], "regret_at_100pct": None}
    lowest = min(finite.values())
    return {"methods": [m for m, r in finite.items() if r == lowest], "regret_at_100pct": lowest}


def anytime_bands(curves: dict, budget: int, optimum: float, seeds: tuple[int, ...]) -> dict:
    """Per method, regret on a common epoch grid: median and 25-75% band over seeds (None: no
    completed trial yet in at least that share of seeds)."""
    grid = np.unique(np.linspace(0, budget, N_GRID + 1).round().astype(int))
    bands = {"grid": grid.tolist()}
    for method, by_seed in curves.items():
        stack = np.array([on_grid(by_seed[s], grid) for s in seeds]) - optimum  # (seeds, grid)
        bands[method] = {
            name: [rounded(v) for v in quantile(stack, q)]
            for name, q in (("median", 0.5), ("q25", 0.25), ("q75", 0.75))
        }
    return bands


def raw_trials(runs: Runs) -> dict:
    """Every seed's trials as rows of TRIAL_COLUMNS, enough to recompute every figure: "studies"
    per method, seed and architecture (top1: the first architecture's; top2: both, in the table's
    order) and "two-stage" per scope and seed, with the architecture it chose."""

    def rows(trials: list[TrialRecord]) -> list[list]:
        return [t.to_row() for t in trials]

    return {
        "columns": TRIAL_COLUMNS,
        "studies": {
            m: {str(s): {a: rows(t) for a, t in by_arch.items()} for s, by_arch in by_seed.items()}
            for m, by_seed in runs.studies.items()
        },
        TWO_STAGE: {
            scope: {
                str(s): {"chosen": chosen, "trials": rows(t)} for s, (chosen, t) in by_seed.items()
            }
            for scope, by_seed in runs.two_stage.items()
        },
    }


def replay(
    table: Table,
    settings: Settings,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[str], None] | None = print,
) -> dict:
    """Run every method, summarize both scopes; the record written as replay[-quick].json."""
    runs = run_methods(table, settings, methods, progress)
    scopes = {
        scope: summarize_scope(
            table,
            scope,
            runs,
            methods,
            settings.budget * len(scope_architectures(table, scope)),
            settings.seeds,
        )
        for scope in SCOPES
    }
    defaults = summarize_defaults(table, settings, runs, progress)
    # The targets for hpo.optimize's default as it is now (its pruner, start-up trials and epochs
    # per trial), on top1 against random search and KerasTuner Hyperband at the same budget.
    current = defaults["current"]
    defaults["targets"] = check_targets(
        scopes["top1"]["methods"],
        default=label(current),
        ours={
            "share_to_random_best": current["share_to_random_best"],
            "regret": {"100%": current["regret_at_100pct"]},
        },
    )
    return {
        "table": str(table.path),
        "epochs": table.epochs,
        "budget_per_architecture": settings.budget,
        "budget_in_full_trials": settings.budget // table.epochs,
        "quick": settings.quick,
        "seeds": list(settings.seeds),
        "methods": list(methods),
        "knobs": {k: list(v) for k, v in table.knobs.items()},
        "architectures": list(table.architectures),
        "screen_config": table.screen_config,
        "patience": patience_for(table.epochs),
        "bootstrap": {"resamples": N_RESAMPLES, "seed": BOOTSTRAP_SEED, "interval": 0.95},
        "scopes": scopes,
        "defaults": defaults,
        "trials": raw_trials(runs),
    }
