"""KerasTuner's private parts, in one place.

KerasTuner (1.4) passes a HyperModel's `fit` its trial only through its own callback,
`keras_tuner.src.engine.tuner_utils.TunerCallback` (attributes `trial`, `tuner`), which it does not
export; and its traceback printing is switched by `keras_tuner.src.config.DEBUG`, with no public
switch. If a release moves them, tests/test_adapters.py fails here first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence


def _tuner_callback_class():
    from keras_tuner.src.engine import tuner_utils

    return tuner_utils.TunerCallback


def trial_and_tuner(callbacks: Sequence) -> tuple:
    """(the KerasTuner trial, the tuner) a HyperModel's `fit` runs for, from the callbacks
    KerasTuner passes it; (None, None) when called outside a search."""
    callback_class = _tuner_callback_class()
    found = next((c for c in callbacks if isinstance(c, callback_class)), None)
    return (found.trial, found.tuner) if found is not None else (None, None)


@contextlib.contextmanager
def failed_trials_untraced() -> Iterator[None]:
    """KerasTuner prints a failed trial's whole traceback while `keras_tuner.src.config.DEBUG` is
    on (its default); off within this context, on again after."""
    from keras_tuner.src import config

    previous = config.DEBUG
    config.DEBUG = False
    try:
        yield
    finally:
        config.DEBUG = previous
