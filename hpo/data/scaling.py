"""Per-channel standardisation fitted on the training split only, and its way back to physical
units.

Statistics from the training split alone keep validation and test data out of anything the models
see during training. They accumulate in float64 chunk by chunk (Chan et al.'s pairwise update), so a
streamed file gives the same statistics as one held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.errors import DataError


@dataclass(frozen=True)
class Scaler:
    """scaled = (value - mean) / std per channel (last axis); value is in the file's units.

    Attributes:
        channels: channel names, in the order of the last axis.
        mean, std: float64 per channel; a constant channel gets std 1 (it scales to 0, not NaN).
        offset, scale: the file's own map to physical units (physical = value * scale + offset),
            or None when the file's values are already physical.
    """

    channels: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    offset: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        chunks: Iterable[np.ndarray],
        channels: Sequence[str],
        physical: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Scaler:
        """Fit mean and (population) std per channel over chunks shaped (n, H, W, C).

        Raises:
            DataError: the chunks hold no values.
        """
        n_values = 0
        mean = np.zeros(len(channels))
        sum_sq = np.zeros(len(channels))  # sum of squared deviations from `mean`
        for chunk in chunks:
            values = np.asarray(chunk, np.float64).reshape(-1, len(channels))
            if len(values) == 0:
                continue
            chunk_mean = values.mean(axis=0)
            chunk_sum_sq = np.square(values - chunk_mean).sum(axis=0)
            total = n_values + len(values)
            delta = chunk_mean - mean
            mean = mean + delta * (len(values) / total)
            sum_sq = sum_sq + chunk_sum_sq + delta**2 * (n_values * len(values) / total)
            n_values = total
        if n_values == 0:
            raise DataError(
                "the training split holds no values to fit the scaling on; use more data"
            )
        std = np.sqrt(sum_sq / n_values)
        # A (numerically) constant channel: dividing by ~0 would blow rounding noise up to O(1).
        constant = ~np.isfinite(std) | (std <= np.finfo(np.float32).eps * np.abs(mean))
        std = np.where(constant, 1.0, std)
        offset, scale = physical if physical is not None else (None, None)
        return cls(tuple(channels), mean, std, offset, scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """File units -> scaled float32. Elementwise float32 ops, so any batching gives the same
        bits."""
        self._check(values)
        mean, std = self.mean.astype(np.float32), self.std.astype(np.float32)
        return (np.asarray(values, np.float32) - mean) / std

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled -> file units (float64 arithmetic; float32 in gives float32 out)."""
        self._check(scaled)
        dtype = np.result_type(np.asarray(scaled).dtype, np.float32)
        return (np.asarray(scaled, np.float64) * self.std + self.mean).astype(dtype)

    def to_physical(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled -> physical units: `inverse`, then the file's offset/scale when it has them."""
        values = self.inverse(scaled)
        if self.offset is None or self.scale is None:
            return values
        return (np.asarray(values, np.float64) * self.scale + self.offset).astype(values.dtype)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; `Scaler.from_dict` reverses it."""

        def listed(array: np.ndarray | None) -> list[float] | None:
            return None if array is None else [float(value) for value in array]

        return {
            "channels": list(self.channels),
            "mean": listed(self.mean),
            "std": listed(self.std),
            "offset": listed(self.offset),
            "scale": listed(self.scale),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        def array(key: str) -> np.ndarray | None:
            return None if data.get(key) is None else np.asarray(data[key], np.float64)

        return cls(
            tuple(data["channels"]), array("mean"), array("std"), array("offset"), array("scale")
        )

    def _check(self, values: np.ndarray) -> None:
        if np.shape(values)[-1:] != (len(self.channels),):
            raise ValueError(
                f"expected {len(self.channels)} channels on the last axis, "
                f"got shape {np.shape(values)}"
            )
