"""Search spaces that follow a parameter budget, so a run on a GPU searches what a CPU run cannot.

The screen compares matched presets at `--params` trainable parameters (hpo.sizing solves each
architecture's width for any budget). The studies then search widths per layer (`filters_i`, width
fixed at 1) within the declared bounds, chosen for the default budget (170,000 on 200 x 100): at a
budget ten times larger the screen's own winners lie beyond them and enter a study moved inside. So
the upper width bound grows with the budget, by the factor the matched preset's widest layer grows:

    factor = width_factor("conv", (200, 100, 3), n_params=1_700_000, latent=8)    # ~3
    space = follow_budget(architectures.get("conv").space, factor)              # filters up to ~390

Never below the declared bounds: a smaller budget keeps the declared space (its smallest widths are
already few channels, and `--max-params` rejects what is too large). A bound a `--space` file set is
the user's and stays as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from hpo.space import IntParam, PerLayer

WIDTH_PARAMS = ("filters",)  # the per-layer channel counts a width multiplier scales


def width_factor(name: str, input_shape, n_params: int | None, latent: int | None) -> float:
    """How much wider the matched preset of `name` is at `n_params` than at the default budget (1.0
    for None or a smaller budget)."""
    from hpo.architectures.presets import DEFAULT_MATCHED_LATENT, DEFAULT_MATCHED_PARAMS
    from hpo.sizing import solve_width

    if n_params is None or n_params <= DEFAULT_MATCHED_PARAMS:
        return 1.0
    from hpo.architectures.presets import MATCHED_BASE

    base = {**MATCHED_BASE[name], "latent": latent or DEFAULT_MATCHED_LATENT}
    at_budget = solve_width(name, base, input_shape, n_params).width
    at_default = solve_width(name, base, input_shape, DEFAULT_MATCHED_PARAMS).width
    return max(1.0, at_budget / at_default)


def follow_budget(space: Mapping, factor: float, declared: Mapping | None = None) -> dict:
    """`space` with the upper bound of each width parameter times `factor` (rounded up), where that
    parameter is still as `declared` (default: `space` itself; a narrowed one is left alone)."""
    declared = space if declared is None else declared
    out = dict(space)
    if factor <= 1.0:
        return out
    for key in WIDTH_PARAMS:
        entry = space.get(key)
        if not (isinstance(entry, PerLayer) and isinstance(entry.param, IntParam)):
            continue
        if entry != declared.get(key):
            continue  # the user's bound
        high = max(entry.param.high, math.ceil(entry.param.high * factor))
        out[key] = replace(entry, param=replace(entry.param, high=high))
    return out
