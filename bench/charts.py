"""Plotly pieces that the benchmarks' charts share: one method's anytime curve, a step line over a
shaded band (bench.replay: median over seeds in the 25-75% band; bench.search: median in the
min-max band).

    add_band(fig, grid, low, middle, high, color="#1f77b4", name="random", group="random",
             show_legend=True, row=1, col=1)
"""

from __future__ import annotations

from collections.abc import Sequence


def add_band(
    fig,
    x: list,
    low: Sequence,
    middle: Sequence,
    high: Sequence,
    *,
    color: str,
    name: str,
    group: str,
    show_legend: bool,
    row: int,
    col: int,
) -> None:
    """Add `middle` against `x` as a step line ("hv": the best so far holds until the next trial
    ends) over a band from `low` to `high`, both in `color`; `group` ties the band to the line's
    legend entry, so hiding one hides both."""
    import plotly.graph_objects as go

    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=list(high) + list(low)[::-1],
            fill="toself",
            line={"width": 0},
            opacity=0.15,
            fillcolor=color,
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
        ),
        row=row,
        col=col,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=middle,
            name=name,
            mode="lines",
            line={"color": color},
            line_shape="hv",
            legendgroup=group,
            showlegend=show_legend,
        ),
        row=row,
        col=col,
    )
