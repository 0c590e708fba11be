"""Plotly HTML reports, drawn from what is stored (studies, saved sample arrays); never trains."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def write_html(path: Path, title: str, sections: Sequence[tuple[str, go.Figure | str]]) -> Path:
    """One self-contained HTML page (plotly.js embedded once, so it opens offline)."""
    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
             f"<body style='font-family: sans-serif'><h1>{html.escape(title)}</h1>"]
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


def leaderboard_figure(board: pd.DataFrame, metric: str, pca_value: float | None) -> go.Figure:
    """Mean validation metric per architecture with its spread over repeats, and the PCA line."""
    ranked = board.dropna(subset=["val_mean"])
    figure = go.Figure(go.Bar(x=ranked["architecture"], y=ranked["val_mean"],
                              error_y={"type": "data", "array": ranked["val_std"].fillna(0)},
                              name="autoencoders"))
    if pca_value is not None:
        figure.add_hline(y=pca_value, line_dash="dash", line_color="red",
                         annotation_text=f"PCA, same latent ({pca_value:.4g})")
    figure.update_layout(yaxis_title=f"validation {metric} (lower is better)",
                         xaxis_title="architecture (best first)", height=420)
    return figure


def learning_curves_figure(trials: Sequence[optuna.trial.FrozenTrial], metric: str) -> go.Figure:
    """The validation metric per epoch of every run, one colour per architecture."""
    figure = go.Figure()
    palette = {}
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for trial in trials:
        if not trial.intermediate_values:
            continue
        name = trial.params.get("architecture", str(trial.number))
        colour = palette.setdefault(name, colours[len(palette) % len(colours)])
        epochs = sorted(trial.intermediate_values)
        figure.add_trace(go.Scatter(
            x=[e + 1 for e in epochs], y=[trial.intermediate_values[e] for e in epochs],
            mode="lines+markers", line={"color": colour}, legendgroup=name,
            name=f"{name} #{trial.params.get('repeat', '')}"))
    figure.update_layout(xaxis_title="epoch", yaxis_title=f"validation {metric}", yaxis_type="log",
                         height=420)
    return figure


def reconstructions_figure(samples: dict[str, np.ndarray], channels: Sequence[str],
                           architectures: Sequence[str]) -> go.Figure:
    """For one validation sample: input, reconstruction and error per channel, per architecture.

    Args:
        samples: "input" -> (H, W, C) and "<architecture>" -> (H, W, C) reconstructions.
    """
    shown = [name for name in architectures if name in samples]
    rows = [(name, c) for name in shown for c in range(len(channels))]
    titles = []
    for name, c in rows:
        titles += [f"{channels[c]}: input", f"{name}: reconstruction", f"{name}: error"]
    figure = make_subplots(rows=len(rows), cols=3, subplot_titles=titles,
                           horizontal_spacing=0.04, vertical_spacing=0.3 / max(len(rows), 1))
    truth = samples["input"]
    for r, (name, c) in enumerate(rows, start=1):
        # Images shown with x across and z up: the arrays are (x, z).
        original, rebuilt = truth[..., c].T, samples[name][..., c].T
        limits = {"zmin": float(original.min()), "zmax": float(original.max())}
        error = rebuilt - original
        bound = float(np.abs(error).max()) or 1.0
        figure.add_trace(go.Heatmap(z=original, colorscale="RdBu_r", showscale=False, **limits), r, 1)
        figure.add_trace(go.Heatmap(z=rebuilt, colorscale="RdBu_r", showscale=False, **limits), r, 2)
        figure.add_trace(go.Heatmap(z=error, colorscale="PiYG", zmin=-bound, zmax=bound,
                                    showscale=False), r, 3)
    figure.update_layout(height=max(260 * len(rows), 300))
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    return figure


def table_html(board: pd.DataFrame) -> str:
    return board.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—")
