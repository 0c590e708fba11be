"""The machine facts printed beside every benchmark table."""

from __future__ import annotations

import os
import platform

import numpy as np


def machine() -> dict:
    facts = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import tensorflow as tf  # only reported when installed; importing it is slow

        facts["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return facts
