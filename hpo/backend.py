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
        import keras
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Python-side TensorFlow warnings (e.g. "triggered tf.function retracing" when many models are
    # built in one process, which is what a study does) are expected here, not actionable.
    tensorflow.get_logger().setLevel("ERROR")
    return keras


def quiet_optuna() -> None:
    """Our own progress lines replace Optuna's INFO log and its "experimental" notices."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # We run the heartbeat ourselves around ask/tell (see hpo.optimize.worker), which Optuna warns
    # about.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    warnings.filterwarnings("ignore", message="Some regimes for parameter")
