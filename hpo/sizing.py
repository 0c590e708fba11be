"""Parameter counting and width solving, so that architectures can be compared at equal budgets.

Every architecture scales its channel widths by one `width` multiplier (see
hpo.architectures.blocks). `solve_width` finds the multiplier that brings a model's trainable
parameters to a target: widths are integers, so it searches the widest layer's channel count k = 1,
2, ... (width = k / widest) by bisection; the count grows monotonically with k. Counts come from
building the model (a Keras build on CPU takes ~0.1 s, and about eight builds solve one
architecture), so they can never disagree with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hpo import architectures
from hpo.errors import ConfigError
from hpo.space import complete

TOLERANCE = 0.10  # the matched counts lie within +-10% of the target

# The widest layer may grow to 16x its base (27 -> 432 channels): beyond any budget that trains on a
# laptop, so reaching it means the target is a typo (and the counting builds stay small).
_MAX_GROWTH = 16

count_params = architectures.count_params


@dataclass(frozen=True)
class Sizing:
    """A solved width multiplier and the trainable parameter count it gives."""

    width: float
    n_params: int


def solve_width(
    name: str, params: Mapping, input_shape, n_params: int, tolerance: float = TOLERANCE
) -> Sizing:
    """The width multiplier that brings architecture `name` within `tolerance` of `n_params`.

    Args:
        name: a registered architecture.
        params: its params at width 1 (missing keys: defaults); `width` is ignored.
        input_shape: (H, W, C); the Dense layers, hence the count, depend on the grid.
        n_params: the target number of trainable parameters.
        tolerance: the accepted relative distance from the target.

    Returns:
        The multiplier closest to the target and its count.

    Raises:
        ConfigError: the target is below the smallest feasible budget (named in the message) or
            above the largest.
    """
    counter = _Counter(name, params, input_shape)
    smallest = math.ceil(counter(1) / (1 + tolerance))
    if n_params < smallest:
        raise ConfigError(
            f"{name} cannot be matched to {n_params} parameters on a {_grid(input_shape)} grid "
            f"with "
            f"latent {counter.params['latent']}: the smallest feasible budget is {smallest} (its "
            f"layers at one channel each already have {counter(1)}); raise --params or lower "
            f"--latent"
        )
    lo, hi = 1, counter.widest  # invariant once bracketed: count(lo) < n_params <= count(hi)
    if counter(lo) >= n_params:
        hi = lo
    else:
        while counter(hi) < n_params:
            if hi >= _MAX_GROWTH * counter.widest:
                raise ConfigError(
                    f"{name} cannot reach {n_params} parameters on a "
                    f"{_grid(input_shape)} grid: the largest budget solved for is "
                    f"{counter(hi)} (width {_MAX_GROWTH}); lower --params"
                )
            lo, hi = hi, min(2 * hi, _MAX_GROWTH * counter.widest)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if counter(mid) < n_params else (lo, mid)
    best = min((lo, hi), key=lambda k: abs(counter(k) - n_params))
    if abs(counter(best) - n_params) > tolerance * n_params:
        raise ConfigError(
            f"{name} has no width within {tolerance:.0%} of {n_params} parameters on a "
            f"{_grid(input_shape)} grid: the nearest are {counter(lo)} and {counter(hi)}"
        )
    return Sizing(width=best / counter.widest, n_params=counter(best))


def smallest_budget(name: str, params: Mapping, input_shape, tolerance: float = TOLERANCE) -> int:
    """The smallest target `solve_width` accepts: the count at one channel per layer, less
    `tolerance`."""
    return math.ceil(_Counter(name, params, input_shape)(1) / (1 + tolerance))


class _Counter:
    """Trainable parameters at widest-layer width k, memoised (each count is a model build)."""

    def __init__(self, name: str, params: Mapping, input_shape):
        self.name = name
        self.params = complete(architectures.get(name).space, params)
        self.widest = max(self.params[f"filters_{i}"] for i in range(self.params["n_layers"]))
        self.input_shape = input_shape
        self._counts: dict[int, int] = {}

    def __call__(self, k: int) -> int:
        if k not in self._counts:
            params = {**self.params, "width": k / self.widest}
            self._counts[k] = architectures.count_params(self.name, params, self.input_shape)
        return self._counts[k]


def _grid(input_shape) -> str:
    return "x".join(map(str, input_shape))
