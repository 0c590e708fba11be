"""A lock around "count the trials, then start one", so workers never run more trials than asked.

Optuna has no atomic "start a trial if fewer than N exist"; two workers that count at the same
moment would both start the last trial. Workers on one machine sharing SQLite take an exclusive file
lock next to the database; workers on PostgreSQL (any number of machines) take a PostgreSQL advisory
lock keyed by the study name. Other databases get no lock (at most one extra trial per racing
worker).

`unlocked_for_tests=True` holds no lock at all: only tests and bench/stress.py's negative control
set it, to show that their checks catch the extra trials a missing lock lets through.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy


class ClaimLock:
    """Context-manager lock for one study on one storage URL; reusable, not re-entrant.

    Args:
        unlocked_for_tests: hold nothing (a negative control for tests and benchmarks; never in
        hpo).
    """

    def __init__(self, storage_url: str, study_name: str, *, unlocked_for_tests: bool = False):
        self._url = storage_url
        self._key = int.from_bytes(
            hashlib.sha256(study_name.encode()).digest()[:8], "big", signed=True
        )  # advisory locks take a signed 64-bit key
        self._engine = None
        self._lock_path = None
        if unlocked_for_tests:
            return  # neither a lock file nor a connection: held() yields at once
        if storage_url.startswith("sqlite:///") and ":memory:" not in storage_url:
            self._lock_path = Path(storage_url.split(":///", 1)[1] + ".claims.lock")
        elif storage_url.startswith("postgresql"):
            self._engine = sqlalchemy.create_engine(storage_url, pool_size=1, pool_pre_ping=True)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._lock_path is not None:
            with open(self._lock_path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        elif self._engine is not None:
            with self._engine.connect() as connection:
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": self._key}
                )
                try:
                    yield
                finally:
                    connection.execute(
                        sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                    )
                    connection.commit()
        else:
            yield

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
