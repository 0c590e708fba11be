"""Importing TensorFlow/Keras quietly, so a CLI's output starts with our own lines."""

from __future__ import annotations

import os


def import_keras_quietly():
    """Import TensorFlow and Keras with the process's stderr silenced, and return keras.

    TensorFlow's absl start-up lines ("All log messages before absl::InitializeLog() ...") ignore
    TF_CPP_MIN_LOG_LEVEL and are written straight to file descriptor 2, so only a redirect of the
    descriptor itself keeps them out. Python errors raised by the import still propagate.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401  (the import is the point)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
