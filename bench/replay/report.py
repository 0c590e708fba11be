"""The report: the record as the table printed at the end of a replay, and its chart (anytime
regret curves, one panel per scope: per method the median over seeds and its 25-75% band).
"""

from __future__ import annotations

import bisect
from pathlib import Path

from bench.replay.benchmark import TARGET_SHARE
from bench.replay.defaults import label
from bench.replay.methods import KERASTUNER


def show_interval(stat: dict, digits: int = 4, share: bool = False) -> str:
    """ "median [low, high]" of a statistic; None (a median of infinities) as "never"."""

    def one(value):
        if value is None:
            return "never"
        return f"{value:.0%}" if share else f"{value:.{digits}f}"

    return f"{one(stat['median'])} [{one(stat['low'])}, {one(stat['high'])}]"


def format_table(record: dict) -> str:
    lines = [
        f"table {record['table']}: E = {record['epochs']} epochs, budget B = "
        f"{record['budget_per_architecture']} epochs per architecture "
        f"({record['budget_in_full_trials']} full trials), {len(record['seeds'])} seeds; "
        "median [95% bootstrap interval] over seeds"
    ]
    for scope, result in record["scopes"].items():
        optimum = result["optimum"]
        lines += [
            "",
            f"{scope}: {', '.join(result['architectures'])}; budget "
            f"{result['budget_epochs']} epochs; optimum val {optimum['val_rel_l2']:.4f} "
            f"({optimum['architecture']} config {optimum['config']}, epoch "
            f"{optimum['epoch']})",
            f"{'method':<22}{'share to random best':>26}{'reached':>9}"
            + "".join(f"{'regret @' + k:>26}" for k in ("25%", "50%", "100%"))
            + f"{'test rel_l2':>26}{'trials':>8}{'dups':>6}{'re-trained':>12}",
        ]
        for method, row in result["methods"].items():
            reached = f"{row['seeds_reaching_random_best']}/{row['share_to_random_best']['n']}"
            lines.append(
                f"{method:<22}{show_interval(row['share_to_random_best'], share=True):>26}"
                f"{reached:>9}"
                + "".join(f"{show_interval(row['regret'][k]):>26}" for k in ("25%", "50%", "100%"))
                + f"{show_interval(row['test_rel_l2']):>26}{row['trials_per_seed']:>8.0f}"
                + f"{row.get('duplicates_per_seed', 0):>6.0f}"
                + f"{_share(row.get('retrained_share')):>12}"
            )
        short = [
            f"{m} {row['seeds_under_budget']}"
            for m, row in result["methods"].items()
            if row["seeds_under_budget"]
        ]
        if short:
            lines.append(
                f"seeds that stopped short of the budget (3 failed trials in a row, or out of "
                f"new points: the space exhausted, KerasTuner's or ours): {', '.join(short)}"
            )
        lines.append(
            "trials: trained, per seed (median); dups: configurations already finished, "
            "answered without training (hpo.optimize.duplicates); re-trained: median share of "
            "the epochs spent training a configuration already finished"
        )
        lines += _target_lines(result)
    if "defaults" in record:
        lines += ["", *format_defaults(record["defaults"])]
    return "\n".join(lines)


def _share(stat: dict | None) -> str:
    """A statistic's median as a share ("-" when absent: a record from before it was measured)."""
    return "-" if stat is None or stat["median"] is None else f"{stat['median']:.0%}"


def format_defaults(defaults: dict) -> list[str]:
    """The candidates by rank (best first), the current default marked, and the verdict."""
    rows = defaults["grid"] + ([] if defaults["current"]["in_grid"] else [defaults["current"]])
    lines = [
        (
            f"defaults ({defaults['scope']}: {defaults['architecture']}, budget "
            f"{defaults['budget_epochs']} epochs; TPE, pruner x start-up trials x epochs per "
            f"trial); rank: {defaults['rule']}"
        ),
        (
            f"{'rank':>4}  {'pruner':<10}{'startup':>8}{'epochs':>7}{'regret @100%':>26}"
            f"{'share to random best':>26}{'reached':>9}{'trials':>8}{'re-trained':>12}"
        ),
    ]
    current = defaults["current"]["rank"]
    for row in sorted(rows, key=lambda r: r["rank"]):
        reached = f"{row['seeds_reaching_random_best']}/{row['share_to_random_best']['n']}"
        mark = "  <- current default" if row["rank"] == current else ""
        lines.append(
            f"{row['rank']:>4}  {row['pruner']:<10}{row['startup']:>8}{row['epochs']:>7}"
            f"{show_interval(row['regret_at_100pct']):>26}"
            f"{show_interval(row['share_to_random_best'], share=True):>26}{reached:>9}"
            f"{row['trials_per_seed']:>8.0f}{_share(row.get('retrained_share')):>12}{mark}"
        )
    best = defaults["best"]
    if defaults["current_default_is_best"]:
        lines.append(
            f"best: the current default, {label(best)} (median regret "
            f"{show_interval(best['regret_at_100pct'])})"
        )
    else:
        overlap = "overlap" if defaults["intervals_overlap"] else "do not overlap"
        lower = defaults["regret_lower_by"]
        lines.append(
            f"best: {label(best)}, median regret {show_interval(best['regret_at_100pct'])}, "
            f"{'never' if lower is None else f'{lower:.4f}'} lower than the current "
            f"default {label(defaults['current'])}'s "
            f"{show_interval(defaults['current']['regret_at_100pct'])}; "
            f"the intervals {overlap}"
        )
    retrained = defaults["current"].get("retrained_share")
    if retrained is not None:
        lines.append(
            f"the current default re-trains configurations already finished with "
            f"{show_interval(retrained, share=True)} of its epochs (target: 0; "
            "hpo.optimize.duplicates answers them from the stored trial)"
        )
    lines.append(f"note: {defaults['note']}")
    return lines


def _target_lines(result: dict) -> list[str]:
    targets, lines = result["targets"], []
    reach = targets.get("default_reaches_random_best_within_40pct")
    if reach:
        lines.append(
            f"target: {reach['method']} reaches random's final best within "
            f"{TARGET_SHARE:.0%} of the budget: {'met' if reach['met'] else 'NOT met'} "
            f"(median share {show_interval(reach['share'], share=True)})"
        )
    beats = targets.get("default_beats_kerastuner")
    if beats:
        lines.append(
            f"target: {beats['method']} beats {KERASTUNER} (median regret at 100%): "
            f"{'met' if beats['met'] else 'NOT met'} ({show_interval(beats['regret_at_100pct'])} "
            f"against {show_interval(beats['kerastuner_regret_at_100pct'])})"
        )
    best = result["best_method"]
    if best["methods"]:
        lines.append(
            f"best: {', '.join(best['methods'])} (lowest median regret at 100%: "
            f"{best['regret_at_100pct']:.4f})"
        )
    return lines


def write_chart(record: dict, path: Path, png: Path | None = None) -> None:
    """Anytime regret curves, one panel per scope: per method the median over seeds and its 25-75%
    band (and a PNG of it when `png` is given and Chromium is there to render it)."""
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    from bench.charts import add_band

    scopes = record["scopes"]
    colors = dict(zip(record["methods"], qualitative.D3))
    fig = make_subplots(
        rows=1,
        cols=len(scopes),
        subplot_titles=[
            f"{scope}: {', '.join(r['architectures'])} ({r['budget_epochs']} epochs)"
            for scope, r in scopes.items()
        ],
    )
    for column, result in enumerate(scopes.values(), start=1):
        grid = result["anytime"]["grid"]
        for method in record["methods"]:
            band = result["anytime"][method]
            add_band(
                fig,
                grid,
                band["q25"],
                band["median"],
                band["q75"],
                color=colors[method],
                name=method,
                group=method,
                show_legend=column == 1,
                row=1,
                col=column,
            )
        fig.update_xaxes(title_text="cumulative epochs", row=1, col=column)
        fig.update_yaxes(range=[0, _y_top(result["anytime"], record["methods"])], row=1, col=column)
    fig.update_yaxes(title_text="regret: best val rel_l2 - table optimum (median, 25-75%)", col=1)
    fig.update_layout(
        title=f"Replayed searches, {len(record['seeds'])} seeds: regret against epochs spent",
        template="plotly_white",
        width=1200,
        height=560,
    )
    fig.write_html(path, include_plotlyjs="cdn")  # plotly.js from its CDN: the page stays small
    if png is not None:
        from bench.snapshot import save_png

        print(
            f"wrote {png}"
            if save_png(fig, png, height=560)
            else f"no {png}: chromium is not installed"
        )


def _y_top(bands: dict, methods: list[str]) -> float | None:
    """The y-axis top: the highest 75% quantile once a quarter of the budget is spent, so the
    differences that last are visible (the first few trials' regrets would squash them)."""
    quarter = bisect.bisect_left(bands["grid"], bands["grid"][-1] / 4)
    highs = [v for m in methods for v in bands[m]["q75"][quarter:] if v is not None]
    return 1.1 * max(highs) if highs and max(highs) > 0 else None
