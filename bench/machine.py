"""The machine facts printed beside every benchmark table."""

from __future__ import annotations

import importlib
import os
import platform
import sys

import numpy as np


def machine() -> dict:
    """Cores, Python, numpy, the platform, and the Keras backend that ran with its version (under
    the backend's own name, e.g. "tensorflow": "2.21.0") and its accelerators, once Keras is
    imported; importing it here would be slow."""
    facts = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        backend = keras.config.backend()
        facts["keras"] = keras.__version__
        facts["backend"] = backend
        facts[backend] = importlib.import_module(backend).__version__
        facts["accelerators"] = _accelerators(backend)
    return facts


def _accelerators(backend: str) -> list[str]:
    """The GPUs the backend sees ([] on a CPU-only machine)."""
    if backend == "jax":
        import jax

        return [str(d.device_kind) for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [torch.cuda.get_device_name(i) for i in range(n)]
    import tensorflow as tf

    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]
