"""The text tables the CLIs print: the screen's leaderboards, the next-step check, the optimize
summary."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from hpo import keys

if TYPE_CHECKING:  # for the annotation only: the screen imports the reports, not the other way
    from hpo.screen.screening import ScreenResult


def format_summary(summary: pd.DataFrame, metric: str) -> str:
    """The table `hpo.optimize` prints: best model per study on the test split, beside the screen
    and PCA at the best model's latent size; "-" where a figure does not exist."""
    lines = [
        f"{'study':<26}{'latent':>7}{'trials C/P/F/D':>15}{'best':>6}{'val ' + metric:>13}"
        f"{'test rel_l2':>12}{'test mse':>10}{'screen val':>12}{'screen test':>12}"
        f"{'PCA test':>10}{'x PCA':>7}"
    ]
    if summary.empty:
        return lines[0]
    searched = False
    for row in summary.to_dict(orient="records"):
        counts = (
            f"{row['n_complete']}/{row['n_pruned']}/{row['n_failed']}/{row.get('n_duplicates', 0)}"
        )
        if "best_trial" in row and not _missing(row.get("best_trial")):
            best = (
                f"{int(row['best_trial']):>6}{_figure(row.get(keys.monitor_key(metric))):>13}"
                f"{_figure(row.get('test_rel_l2')):>12}{_figure(row.get('test_mse')):>10}"
            )
        else:
            best = f"{'-':>6}{'-':>13}{'-':>12}{'-':>10}"
        latent = "-" if _missing(row.get("latent")) else str(int(row["latent"]))
        if row.get("latent_searched") is True:
            searched, latent = True, f"{latent}*"
        ratio = row.get("ratio_to_pca", math.nan)
        lines.append(
            f"{row['study']:<26}{latent:>7}{counts:>15}{best}"
            f"{_figure(row.get('screen_val_mean')):>12}{_figure(row.get('screen_test_mean')):>12}"
            f"{_figure(row.get(f'pca_test_{metric}')):>10}"
            f"{'-' if _missing(ratio) else f'{ratio:.2f}':>7}"
        )
    lines.append(
        "(C/P/F/D: complete/pruned/failed trials, and duplicates of a finished configuration, "
        "answered without training; test figures: the best model, held-out test split; "
        "screen: the matched-size screen's means at that latent size; PCA: same latent size, "
        f"fitted on the same (augmented) training set; x PCA: test {metric} / PCA's; -: no such "
        "figure)"
    )
    if searched:
        lines.append(
            "*: the latent size was searched (--latent search), and this is the best trial's. One "
            "objective, validation error, prefers large codes: for a fair comparison of "
            "architectures, compare them at fixed sizes (the default, or --latent 8,16)."
        )
    return "\n".join(lines)


def _figure(value) -> str:
    """A figure of the summary, or "-" where there is none (never "nan")."""
    return "-" if _missing(value) else f"{value:.4g}"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_leaderboard(board: pd.DataFrame, metric: str, pca: dict[str, Any]) -> str:
    """One latent size's table, as `hpo.screen` prints it."""
    channels = [c for c in board.columns if c.startswith("val_mse_")]
    header = (
        f"{'rank':>4}  {'architecture':<13}{'params':>9}{'latent':>7}  "
        f"{'val ' + metric + ' (mean ± std)':<26}{'test':>9}  "
        + "".join(f"{c[len('val_mse_') :][:11]:>12}" for c in channels)
        + f"{'s/epoch':>9}{'epochs':>7}  beats PCA"
    )
    lines = [header]
    for row in board.itertuples(index=False):
        row = row._asdict()
        if math.isnan(row["val_mean"]):
            summary = f"failed ({row['n_failed']} of {row['n_failed']} runs)"
            lines.append(
                f"{row['rank']:>4}  {row['architecture']:<13}{row['n_params'] or 0:>9,}"
                f"{row['latent'] or 0:>7}  {summary}"
            )
            continue
        failed = f" ({row['n_failed']} failed)" if row["n_failed"] else ""
        stopped_at = row.get("stopped_at", math.nan)
        if not _missing(stopped_at):  # successive halving stopped it: its figures are at that rung
            failed += f"  stopped at rung {int(stopped_at)} epochs"
        lines.append(
            f"{row['rank']:>4}  {row['architecture']:<13}{row['n_params']:>9,}{row['latent']:>7}  "
            f"{row['val_mean']:>10.4g} ± {row['val_std']:<12.3g}{row['test_mean']:>9.4g}  "
            + "".join(f"{row[c]:>12.4g}" for c in channels)
            + f"{row['seconds_per_epoch']:>9.2f}{row['epochs_run']:>7.1f}  "
            + ("yes" if row["beats_pca"] else "no")
            + failed
        )
    label = "PCA (augmented)" if pca.get("augment") else "PCA"
    lines.append(
        _baseline_line(label, pca["n_components"], pca["val"], pca["test"], metric, channels)
    )
    if pca.get("augment"):
        lines.append(
            _baseline_line(
                "PCA (plain)",
                pca["n_components"],
                pca["plain"]["val"],
                pca["plain"]["test"],
                metric,
                channels,
            )
        )
    return "\n".join(lines)


def _baseline_line(label: str, size: int, val: dict, test: dict, metric: str, channels) -> str:
    return (
        f"{'':>4}  {label:<22}{size:>7}  {val[metric]:>10.4g}{'':>15}{test[metric]:>9.4g}  "
        + "".join(
            f"{val['mse_per_channel'].get(c[len('val_mse_') :], math.nan):>12.4g}" for c in channels
        )
    )


def format_next_step(
    board: pd.DataFrame, metric: str, pca: dict[str, Any], steps: dict[str, Any] | None
) -> str | None:
    """The two-headed models' next-step error beside persistence, at one latent size; None when no
    architecture has a next-step head or the data have no next-step pairs."""
    rows = board.dropna(subset=["next_step_val_mean"])
    if rows.empty or not steps or "persistence" not in pca:
        return None
    through = pca["persistence"]
    lines = []
    for _, row in rows.iterrows():
        verdict = (
            "beats persistence"
            if row["next_step_test_mean"] < steps["test"][metric]
            else "does not beat persistence"
        )
        lines.append(
            f"{row['architecture']} next step ({metric}): val {row['next_step_val_mean']:.4g}, "
            f"test {row['next_step_test_mean']:.4g}; persistence x(t+1) = x(t): val "
            f"{steps['val'][metric]:.4g}, test {steps['test'][metric]:.4g}; persistence "
            f"through PCA({pca['n_components']}): val {through['val'][metric]:.4g}, test "
            f"{through['test'][metric]:.4g} -> {verdict}"
        )
    return "\n".join(lines)


def format_screen(result: ScreenResult, metric: str) -> str:
    """Every latent size's block: its leaderboard, PCA, and dual's next step beside persistence."""
    blocks = []
    for latent in sorted(result.pca):
        rows = result.leaderboards[latent]
        pca = result.pca[latent]
        fair = "PCA fitted on the augmented training set" if pca.get("augment") else "PCA"
        lines = [
            f"latent {latent} ({fair}, {pca['n_components']} components; per-channel columns: "
            f"validation MSE, scaled units)",
            format_leaderboard(rows, metric, pca),
        ]
        steps = format_next_step(rows, metric, pca, result.persistence)
        if steps:
            lines.append(steps)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
