"""Graceful stop: SIGTERM or SIGINT (`docker stop`, a batch scheduler's pre-emption, Ctrl-C) ends a
worker within seconds, its running trial marked FAIL and queued again, exit code 0.

    with StopSignals() as stop:        # in the main thread; previous handlers come back after
        while not stop.received:
            with stop.interruptible():  # a signal here raises StopRequested at once (training)
                train()
            tell()                      # a signal here only sets stop.received: no write is cut

Only the training of a trial is interrupted: a signal that arrives while the worker talks to the
storage (claiming, telling, storing a model) waits until that is done, so no write is cut in half.
The worker queues the interrupted trial again exactly as the heartbeat path does after a kill -9
(Optuna's retry callback: same params, `failed_trial` naming the original), so the next run, or
another worker, picks it up first.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):
    """A stop signal arrived. A BaseException, like KeyboardInterrupt: the objective's `except
    Exception` (a bad trial fails alone) must not swallow it."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopSignals:
    """Catch SIGTERM and SIGINT while the context is open (main thread only: elsewhere Python
    cannot install handlers, and this does nothing)."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._interruptible = False
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch (training) that a stop signal may cut short with StopRequested."""
        if self.received:
            raise StopRequested(self.received)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def _handle(self, number, frame) -> None:
        self.received = self.received or signal.Signals(number).name
        if self._interruptible:
            self._interruptible = False  # once: the cleanup after it must not be cut again
            raise StopRequested(self.received)
