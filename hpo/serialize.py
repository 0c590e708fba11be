"""Plain Python values for Optuna user attrs, which are stored as JSON."""

from __future__ import annotations

import numpy as np


def json_safe(value):
    """`value` with numpy scalars and arrays turned into Python numbers and lists, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
