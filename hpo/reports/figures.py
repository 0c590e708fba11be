"""Plotly HTML reports, drawn from what is stored (studies, saved sample arrays); never trains."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hpo import keys


def write_html(path: Path, title: str, sections: Sequence[tuple[str, go.Figure | str]]) -> Path:
    """One self-contained HTML page (plotly.js embedded once, so it opens offline)."""
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family: sans-serif'><h1>{html.escape(title)}</h1>"
    ]
    first_figure = True
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, go.Figure):
            if content.layout.height is None:  # else plotly fills the window: one figure per screen
                content.update_layout(height=450)
            parts.append(content.to_html(full_html=False, include_plotlyjs=first_figure))
            first_figure = False
        else:
            parts.append(content)
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path


COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def _colour(name: str, names: Sequence[str]) -> str:
    """One colour per architecture, the same in every figure (registry order first)."""
    from hpo import architectures

    order = list(architectures.names()) + [n for n in names if n not in architectures.names()]
    return COLOURS[order.index(name) % len(COLOURS)] if name in order else "#7f7f7f"


def learning_curves_figure(
    trials: Sequence[optuna.trial.FrozenTrial], metric: str, latents: Sequence[int] | None = None
) -> go.Figure:
    """The validation metric per epoch of every run (solid; the training metric dotted when stored),
    one colour per architecture, one panel per latent size."""
    latents = list(latents) if latents else [None]
    figure = make_subplots(
        rows=len(latents),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[f"latent {z}" if z is not None else "" for z in latents],
    )
    names = sorted({t.params.get(keys.ARCHITECTURE, "") for t in trials})
    shown = set()
    for trial in trials:
        if not trial.intermediate_values:
            continue
        name = trial.params.get(keys.ARCHITECTURE, str(trial.number))
        latent = trial.params.get(keys.LATENT, trial.user_attrs.get(keys.LATENT))
        row = latents.index(latent) + 1 if latent in latents else 1
        colour = _colour(name, names)
        epochs = sorted(trial.intermediate_values)
        label = f"{name} #{trial.params.get(keys.REPEAT, '')}"
        figure.add_trace(
            go.Scatter(
                x=[e + 1 for e in epochs],
                y=[trial.intermediate_values[e] for e in epochs],
                mode="lines",
                line={"color": colour},
                legendgroup=name,
                name=name,
                showlegend=name not in shown,
                hovertext=f"{label}, validation",
            ),
            row,
            1,
        )
        shown.add(name)
        train = trial.user_attrs.get(keys.CURVES, {}).get(metric)
        if train:
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(train) + 1)),
                    y=train,
                    mode="lines",
                    legendgroup=name,
                    line={"color": colour, "dash": "dot", "width": 1},
                    showlegend=False,
                    hovertext=f"{label}, training",
                ),
                row,
                1,
            )
    figure.update_yaxes(type="log", title_text=metric)
    figure.update_xaxes(title_text="epoch", row=len(latents), col=1)
    figure.update_layout(height=max(320 * len(latents), 420))
    return figure


def compression_curve_figure(runs: pd.DataFrame, metric: str) -> go.Figure:
    """Error against latent size, log-log, validation and test side by side: one line per
    architecture (mean over repeats, bars from the best to the worst repeat), PCA of the same size
    dashed, and plain PCA dotted where the PCA compared with was fitted on an augmented set.

    Args:
        runs: one row per run with columns architecture, latent, state, val_<metric>,
            test_<metric>, pca_val_<metric>, pca_test_<metric> (and plain_pca_* for rel_l2), as
            `hpo.screen.leaderboard.runs_table` gives them.
    """
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["validation", "test"], horizontal_spacing=0.08
    )
    done = runs[runs["state"] == "complete"]
    names = list(dict.fromkeys(runs["architecture"]))
    for col, split in enumerate(("val", "test"), start=1):
        for name in names:
            by_latent = done[done["architecture"] == name].groupby("latent")[f"{split}_{metric}"]
            if by_latent.ngroups == 0:
                continue
            mean, low, high = by_latent.mean(), by_latent.min(), by_latent.max()
            figure.add_trace(
                go.Scatter(
                    x=mean.index,
                    y=mean.values,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line={"color": _colour(name, names)},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (high - mean).values,
                        "arrayminus": (mean - low).values,
                    },
                ),
                1,
                col,
            )
        pca = runs.groupby("latent")[f"pca_{split}_{metric}"].first()
        figure.add_trace(
            go.Scatter(
                x=pca.index,
                y=pca.values,
                mode="lines+markers",
                name="PCA",
                legendgroup="PCA",
                showlegend=col == 1,
                line={"color": "black", "dash": "dash"},
            ),
            1,
            col,
        )
        plain_column = f"plain_pca_{split}_{metric}"
        if plain_column in runs:
            plain = runs.groupby("latent")[plain_column].first()
            if not np.allclose(plain.values, pca.values, equal_nan=True):
                figure.add_trace(
                    go.Scatter(
                        x=plain.index,
                        y=plain.values,
                        mode="lines+markers",
                        name="PCA, plain training set",
                        legendgroup="plain",
                        showlegend=col == 1,
                        line={"color": "grey", "dash": "dot"},
                    ),
                    1,
                    col,
                )
    latents = sorted(set(runs["latent"]))
    figure.update_xaxes(type="log", title_text="latent size", tickvals=latents)
    figure.update_yaxes(type="log", title_text=f"{metric} (lower is better)")
    figure.update_layout(height=480)
    return figure


def front_figure(summary: pd.DataFrame, metric: str = "rel_l2") -> go.Figure | None:
    """hpo.optimize's front: each study's best model's test `metric` against its latent size,
    log-log, one line per architecture, PCA of the same size dashed (plain PCA dotted where they
    differ). None when no study has a best model with a latent size."""
    test, fair, plain = f"test_{metric}", f"pca_test_{metric}", f"plain_pca_test_{metric}"
    done = summary.dropna(subset=["latent", test]) if test in summary else None
    if done is None or done.empty:
        return None
    figure = go.Figure()
    names = list(dict.fromkeys(done["architecture"]))
    for name in names:
        rows = done[done["architecture"] == name].sort_values("latent")
        figure.add_trace(
            go.Scatter(
                x=rows["latent"],
                y=rows[test],
                mode="lines+markers",
                name=f"{name} (best of its study)",
                line={"color": _colour(name, names)},
                text=rows["study"],
                hovertemplate="%{text}: %{y:.4g}",
            )
        )
    for column, label, dash, colour in (
        (fair, "PCA, same size", "dash", "black"),
        (plain, "PCA, plain training set", "dot", "grey"),
    ):
        if column not in done:
            continue
        pca = done.groupby("latent")[column].first().sort_index()
        if column == plain and np.allclose(
            pca.values, done.groupby("latent")[fair].first().sort_index().values, equal_nan=True
        ):
            continue  # no augmentation: the same PCA
        figure.add_trace(
            go.Scatter(
                x=pca.index,
                y=pca.values,
                mode="lines+markers",
                name=label,
                line={"color": colour, "dash": dash},
            )
        )
    figure.update_xaxes(type="log", title_text="latent size", tickvals=sorted(set(done["latent"])))
    figure.update_yaxes(type="log", title_text=f"test {metric} (lower is better)")
    figure.update_layout(height=460)
    return figure


def beats_pca_html(boards: dict, pca: dict, metric: str) -> str:
    """A table, architectures by latent size: each architecture's mean error as a multiple of PCA's
    at the same size (validation, then test), and the sizes where it beats PCA on validation."""
    latents = sorted(boards)
    names = list(dict.fromkeys(name for z in latents for name in boards[z]["architecture"]))
    header = "".join(f"<th>latent {z}<br>val / test vs PCA</th>" for z in latents)
    rows = []
    for name in names:
        cells, wins = [], []
        for z in latents:
            board = boards[z]
            row = board[board["architecture"] == name]
            if row.empty or np.isnan(row["val_mean"].iloc[0]):
                cells.append("<td>—</td>")
                continue
            val = row["val_mean"].iloc[0] / pca[z]["val"][metric]
            test = row["test_mean"].iloc[0] / pca[z]["test"][metric]
            if val < 1:
                wins.append(str(z))
            style = " style='background:#d4edda'" if val < 1 else ""
            stopped = row["stopped_at"].iloc[0] if "stopped_at" in row else np.nan
            # Successive halving stopped it: its figures are those of a shorter run.
            rung = "" if np.isnan(stopped) else f" (stopped at {int(stopped)} epochs)"
            cells.append(
                f"<td{style}>{'yes' if val < 1 else 'no'}: {val:.2f}x / {test:.2f}x{rung}</td>"
            )
        verdict = ", ".join(wins) if wins else "none"
        rows.append(f"<tr><td>{html.escape(name)}</td>{''.join(cells)}<td>{verdict}</td></tr>")
    return (
        f"<table border='1' style='border-collapse: collapse'><tr><th>architecture</th>{header}"
        f"<th>beats PCA at latent</th></tr>{''.join(rows)}</table>"
        f"<p>x: the architecture's mean {metric} over repeats divided by PCA's at the same latent "
        f"size (below 1: better than PCA); 'beats' is judged on validation, test is shown "
        f"beside.</p>"
    )


def next_step_html(boards: dict, pca: dict, steps: dict | None, metric: str) -> str | None:
    """The next-step head of two-headed models against persistence x̂(t+1) = x(t) and against
    persistence through PCA of the same latent size; None when no model has that head."""
    rows = []
    for z in sorted(boards):
        board = boards[z].dropna(subset=["next_step_val_mean"])
        through = pca[z].get("persistence")
        if board.empty or not steps or not through:
            continue
        for _, row in board.iterrows():
            beats = row["next_step_test_mean"] < steps["test"][metric]
            rows.append(
                f"<tr><td>{z}</td><td>{html.escape(row['architecture'])}</td>"
                f"<td>{row['next_step_val_mean']:.4g}</td><td>{row['next_step_test_mean']:.4g}</td>"
                f"<td>{steps['val'][metric]:.4g}</td><td>{steps['test'][metric]:.4g}</td>"
                f"<td>{through['val'][metric]:.4g}</td><td>{through['test'][metric]:.4g}</td>"
                f"<td>{'yes' if beats else 'no'}</td></tr>"
            )
    if not rows:
        return None
    return (
        "<table border='1' style='border-collapse: collapse'><tr><th>latent</th>"
        "<th>architecture</th><th>next step val</th><th>next step test</th>"
        "<th>persistence val</th><th>persistence test</th><th>PCA persistence val</th>"
        "<th>PCA persistence test</th><th>beats persistence (test)</th></tr>"
        + "".join(rows)
        + "</table>"
        f"<p>{metric} of the forecast of the next snapshot: the model's next-step head; "
        "persistence x̂(t+1) = x(t); persistence through PCA: the PCA reconstruction of x(t) with "
        "as many components as the model's latent size.</p>"
    )


def reconstructions_figure(
    samples: dict[str, np.ndarray], channels: Sequence[str], architectures: Sequence[str]
) -> go.Figure:
    """For one validation sample: input, reconstruction and error per channel, per architecture (the
    error's colour scale is shared by every row of a channel).

    Args:
        samples: "input" -> (H, W, C) and "<architecture>" -> (H, W, C) reconstructions.
    """
    shown = [name for name in architectures if name in samples]
    rows = [(name, c) for name in shown for c in range(len(channels))]
    titles = []
    for name, c in rows:
        titles += [f"{channels[c]}: input", f"{name}: reconstruction", f"{name}: error"]
    figure = make_subplots(
        rows=len(rows),
        cols=3,
        subplot_titles=titles,
        horizontal_spacing=0.04,
        vertical_spacing=0.3 / max(len(rows), 1),
    )
    truth = samples["input"]
    # One error scale per channel for every row, so the rows' errors compare at a glance.
    bounds = [
        max(float(np.abs(samples[name][..., c] - truth[..., c]).max()) for name in shown) or 1.0
        for c in range(len(channels))
    ]
    for r, (name, c) in enumerate(rows, start=1):
        # Images shown with x across and z up: the arrays are (x, z).
        original, rebuilt = truth[..., c].T, samples[name][..., c].T
        limits = {"zmin": float(original.min()), "zmax": float(original.max())}
        error = rebuilt - original
        bound = bounds[c]
        figure.add_trace(
            go.Heatmap(z=original, colorscale="RdBu_r", showscale=False, **limits), r, 1
        )
        figure.add_trace(
            go.Heatmap(z=rebuilt, colorscale="RdBu_r", showscale=False, **limits), r, 2
        )
        figure.add_trace(
            go.Heatmap(z=error, colorscale="PiYG", zmin=-bound, zmax=bound, showscale=False), r, 3
        )
    figure.update_layout(height=max(260 * len(rows), 300))
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    return figure


def table_html(board: pd.DataFrame) -> str:
    return board.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—")
