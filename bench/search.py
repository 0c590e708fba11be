"""Benchmark 1, search efficiency: five search methods on the same space, data and epoch budget.

    python -m bench.search [--quick] [--workdir DIR] [--out DIR]

Methods: (a) Optuna TPE + median pruning, (b) TPE + Hyperband pruning, (c) random search without
pruning, (d) TPE without pruning, (e) KerasTuner Hyperband. Each searches the benchmark space
(bench/space.toml) with a fixed budget of epochs per architecture, for every seed, first on the
screen's best architecture and then on its top two (one study after the other, as `hpo.optimize`
runs them: twice the budget). Runs come from bench/campaign.py (shared with the screening-value
and quality benchmarks). Per method it reports the best validation value at the equal budget
(median and range over seeds; on the top two, methods (a), (c) and (e) only, to keep the suite
within its hour), the cumulative epochs it needed to reach (c)'s final best of the same seed
(median over seeds; "-" if most seeds never did) and that as a share of (c)'s epochs, and the
test rel_l2 of its best model. Target (issue 5): (a) or (b) reach (c)'s final best with <= 40% of
its epochs and beat (e) at equal budget. Prints tables; writes bench/results/search[-quick].json
and .html (anytime curves: median and min-max band over seeds).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from bench.anytime import best_at, epochs_to_reach, on_grid
from bench.campaign import (
    BASELINE,
    METHODS,
    TOP2_METHODS,
    Campaign,
    anytime_curve,
    best_model,
    campaign_parser,
    write_record,
)

RESULTS = Path(__file__).parent / "results"
TARGET_SHARE = 0.40  # of random search's epochs, to reach its final best
# The screen's best architecture, with every method; its best two, with (a), (c) and (e).
SCOPES = {"top1": (1, tuple(METHODS)), "top2": (2, TOP2_METHODS)}


def _median(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def scope_results(campaign: Campaign, architectures: list[str], methods: tuple[str, ...]) -> dict:
    """The methods' runs on these architectures: curves, equal-budget bests, epochs to target."""
    budget = campaign.budget.epochs_per_architecture * len(architectures)
    curves, runs = {}, {}
    for method in methods:
        runs[method] = {
            seed: [campaign.run(method, a, seed) for a in architectures]
            for seed in campaign.budget.seeds
        }
        curves[method] = {seed: anytime_curve(r) for seed, r in runs[method].items()}
    # Paired by seed: a method's seed s against (c)'s seed s (the same first trial, as TPE's random
    # start-up draws what random search draws), so luck of the draw cancels out.
    targets = {seed: best_at(c, budget) for seed, c in curves[BASELINE].items()}
    random_epochs = {seed: float(c[0][-1]) for seed, c in curves[BASELINE].items()}
    rows = []
    for method, by_seed in curves.items():
        reach = [_or_none(epochs_to_reach(c, targets[seed])) for seed, c in by_seed.items()]
        # Medians over seeds, a seed that never reached counting as infinitely many epochs.
        shares = [
            math.inf if r is None else r / random_epochs[seed] for r, seed in zip(reach, by_seed)
        ]
        reach_median = float(np.median([math.inf if r is None else r for r in reach]))
        bests = [best_at(c, budget) for c in by_seed.values()]
        tests = [best["test_rel_l2"] for best in map(best_model, runs[method].values()) if best]
        trials = [t for r in runs[method].values() for run in r for t in run["trials"]]
        rows.append(
            {
                "method": method,
                "key": METHODS[method].key,
                "best_at_budget_median": _median(bests),
                "best_at_budget_min": min(bests),
                "best_at_budget_max": max(bests),
                "epochs_to_random_best": reach,
                "epochs_to_random_best_median": reach_median,
                "share_of_random_epochs": float(np.median(shares)),
                "seeds_reaching": sum(r is not None for r in reach),
                "epochs_spent_median": _median([float(c[0][-1]) for c in by_seed.values()]),
                "test_rel_l2_median": _median(tests),
                "trials": len(trials),
                "pruned": sum(t["state"] == "PRUNED" for t in trials),
            }
        )
    grid = np.arange(0, budget + 1)
    curve_table = {
        method: {str(seed): _finite(on_grid(c, grid)) for seed, c in by_seed.items()}
        for method, by_seed in curves.items()
    }
    pruned = [row for row in rows if row["key"] in ("a", "b")]
    kerastuner = next(row for row in rows if row["key"] == "e")
    return {
        "architectures": architectures,
        "methods": list(methods),
        "budget_epochs": budget,
        "random_final_best": _median(list(targets.values())),
        "random_final_best_per_seed": {str(k): v for k, v in targets.items()},
        "random_epochs": _median(list(random_epochs.values())),
        "rows": rows,
        "grid": grid.tolist(),
        "curves": curve_table,
        "targets": {
            "pruned_reaches_random_best_within_40pct": min(
                r["share_of_random_epochs"] for r in pruned
            )
            <= TARGET_SHARE,
            "pruned_beats_kerastuner_at_equal_budget": min(
                r["best_at_budget_median"] for r in pruned
            )
            < kerastuner["best_at_budget_median"],
        },
    }


def _or_none(epochs: float) -> float | None:
    """Epochs to reach a target, None for never (the record's spelling)."""
    return None if math.isinf(epochs) else epochs


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def format_table(scope: str, result: dict, metric: str) -> str:
    lines = [
        f"{scope}: {', '.join(result['architectures'])}; budget {result['budget_epochs']} "
        f"epochs; (c) random's final best {metric} {result['random_final_best']:.4f} "
        f"(median; each seed is compared with (c)'s own) after {result['random_epochs']:.0f} "
        f"epochs",
        f"{'method':<24}{'best at budget (min-max)':>28}{'epochs to (c)':>15}{'share':>7}"
        f"{'reached':>9}{'test rel_l2':>13}{'trials':>8}{'pruned':>8}",
    ]
    for row in result["rows"]:
        reach = row["epochs_to_random_best_median"]
        share = row["share_of_random_epochs"]
        best = (
            f"{row['best_at_budget_median']:.4f} ({row['best_at_budget_min']:.3f}-"
            f"{row['best_at_budget_max']:.3f})"
        )
        lines.append(
            f"({row['key']}) {row['method']:<20}{best:>28}"
            f"{'-' if math.isinf(reach) else f'{reach:.0f}':>15}"
            f"{'-' if math.isinf(share) else f'{share:.0%}':>7}"
            f"{row['seeds_reaching']:>5}/{len(row['epochs_to_random_best'])}"
            f"{row['test_rel_l2_median']:>13.4f}{row['trials']:>8}{row['pruned']:>8}"
        )
    targets = result["targets"]
    lines.append(
        f"target: (a)/(b) reach (c)'s final best within {TARGET_SHARE:.0%} of its epochs: "
        f"{'met' if targets['pruned_reaches_random_best_within_40pct'] else 'NOT met'}; "
        f"beat (e) at equal budget: "
        f"{'met' if targets['pruned_beats_kerastuner_at_equal_budget'] else 'NOT met'}"
    )
    return "\n".join(lines)


def write_chart(results: dict, path: Path, metric: str, png: Path | None = None) -> None:
    """Anytime curves: per method the median over seeds, and the min-max band (and a PNG of it,
    for the README, when `png` is given and Chromium is there to render it)."""
    from plotly.subplots import make_subplots

    from bench.charts import add_band

    colors = dict(zip(METHODS, ("#1f77b4", "#2ca02c", "#7f7f7f", "#9467bd", "#d62728")))
    # A method's legend entry is shown once, in the first panel that has it.
    shown: set[str] = set()
    scopes = list(results)
    fig = make_subplots(
        rows=1,
        cols=len(scopes),
        subplot_titles=[
            f"{', '.join(results[s]['architectures'])} ({results[s]['budget_epochs']} epochs)"
            for s in scopes
        ],
    )
    for column, scope in enumerate(scopes, start=1):
        grid = results[scope]["grid"]
        for method, by_seed in results[scope]["curves"].items():
            stack = np.array(
                [[math.nan if v is None else v for v in values] for values in by_seed.values()]
            )
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # before any trial completed: NaN
                low, mid, high = (np.nanmin(stack, 0), np.nanmedian(stack, 0), np.nanmax(stack, 0))
            add_band(
                fig,
                grid,
                low,
                mid,
                high,
                color=colors[method],
                name=f"({METHODS[method].key}) {method}",
                group=method,
                show_legend=method not in shown,
                row=1,
                col=column,
            )
            shown.add(method)
        fig.add_hline(
            y=results[scope]["random_final_best"],
            line_dash="dot",
            row=1,
            col=column,
            annotation_text="(c) final best",
            annotation_position="top right",
        )
        fig.update_xaxes(title_text="cumulative epochs", row=1, col=column)
    fig.update_yaxes(title_text=f"best validation {metric} (median, min-max over seeds)", col=1)
    fig.update_layout(
        title="Anytime curves: best validation value against epochs spent",
        template="plotly_white",
        width=1200,
        height=520,
    )
    fig.write_html(path, include_plotlyjs="cdn")  # plotly.js from its CDN: the page stays small
    if png is not None:
        from bench.snapshot import save_png

        print(f"wrote {png}" if save_png(fig, png) else f"no {png}: chromium is not installed")


def main() -> None:
    args = campaign_parser(__doc__.split("\n")[0], RESULTS).parse_args()

    from bench.machine import machine

    campaign = Campaign(args.quick, args.workdir)
    screen = campaign.screen()
    metric = screen["metric"]
    results = {
        scope: scope_results(campaign, screen["ranking"][:n], methods)
        for scope, (n, methods) in SCOPES.items()
    }
    facts = machine()
    print(f"machine: {facts}")
    for scope, result in results.items():
        print(format_table(scope, result, metric))
    record = {
        "machine": facts,
        "quick": args.quick,
        "metric": metric,
        "budget": vars(campaign.budget) | {"seeds": list(campaign.budget.seeds)},
        "screen_ranking": screen["ranking"],
        "space": "bench/space.toml",
        **results,
    }
    path = write_record(args.out, "search", args.quick, record)
    write_chart(
        results,
        path.with_suffix(".html"),
        metric,
        png=None if args.quick else args.out / "search.png",
    )
    print(f"wrote {path} and {path.with_suffix('.html').name}")


if __name__ == "__main__":
    main()
