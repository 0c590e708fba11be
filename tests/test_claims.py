"""ClaimLock with real concurrent processes (SQLite's file lock, PostgreSQL's advisory lock), and
the busy timeout SQLite storage is opened with."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path

import optuna
import pytest

from hpo.optimize.claims import ClaimLock
from hpo.storage import open_storage

N_PROCESSES, N_INCREMENTS = 3, 10
GAP_S = 0.005  # between reading the counter and writing it back: the window a lock must close


def _increment(url: str, counter: str, locked: bool, barrier) -> None:
    """Add 1 to the number in `counter`, N_INCREMENTS times, each read-pause-write under the
    lock."""
    path = Path(counter)
    lock = ClaimLock(url, "study", unlocked_for_tests=not locked)
    with lock.held():  # connect (PostgreSQL) before the start, so all processes race from there
        pass
    barrier.wait()
    try:
        for _ in range(N_INCREMENTS):
            with lock.held():
                value = int(path.read_text())
                time.sleep(GAP_S)
                scratch = path.with_name(f"{path.name}.{os.getpid()}")
                scratch.write_text(str(value + 1))
                os.replace(scratch, path)  # readers see the old number or the new, never half
    finally:
        lock.close()


def count_under(url: str, folder: Path, locked: bool) -> int:
    """The counter after N_PROCESSES processes have each incremented it N_INCREMENTS times."""
    counter = folder / "counter"
    counter.write_text("0")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(N_PROCESSES)
    processes = [
        context.Process(target=_increment, args=(url, str(counter), locked, barrier))
        for _ in range(N_PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * N_PROCESSES
    return int(counter.read_text())


@pytest.fixture(params=["sqlite", "postgres"])
def lock_url(request, tmp_path):
    """A storage URL per kind of lock: SQLite (a file lock next to the database), PostgreSQL (an
    advisory lock in a fresh database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hpo.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.mark.slow  # 3 processes: a few seconds
def test_the_lock_makes_read_pause_write_atomic_across_processes(lock_url, tmp_path):
    assert count_under(lock_url, tmp_path, locked=True) == N_PROCESSES * N_INCREMENTS


@pytest.mark.slow
def test_without_the_lock_the_same_processes_lose_increments(lock_url, tmp_path):
    # The negative control: the test above could fail. All start together and pause between read
    # and write, so increments are lost (all but ~N_INCREMENTS of them, in practice).
    assert count_under(lock_url, tmp_path, locked=False) < N_PROCESSES * N_INCREMENTS


def _take_in_thread(lock: ClaimLock) -> threading.Event:
    """Start taking `lock` in a thread; the event is set once it is held (it is then let go)."""
    taken = threading.Event()

    def take():
        with lock.held():
            taken.set()

    threading.Thread(target=take, daemon=True).start()
    return taken


def test_postgres_locks_one_study_not_the_others(postgres_url):
    holder, same, other = (ClaimLock(postgres_url, name) for name in ("a", "a", "b"))
    try:
        with holder.held():
            assert _take_in_thread(other).wait(5)  # another study's workers are not held up
            same_taken = _take_in_thread(same)
            assert not same_taken.wait(0.5)  # the same study's claim waits ...
        assert same_taken.wait(5)  # ... until the holder lets go
    finally:
        for lock in (holder, same, other):
            lock.close()


def _hold_write_lock(path: str, seconds: float, held) -> None:
    """Take SQLite's write lock on the database at `path` and keep it `seconds`."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(seconds)
    connection.execute("COMMIT")
    connection.close()


def test_sqlite_storage_waits_for_another_writer_instead_of_failing(tmp_path):
    path = tmp_path / "hpo.db"
    storage = open_storage(f"sqlite:///{path}")
    study = optuna.create_study(study_name="s", storage=storage)
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    writer = context.Process(target=_hold_write_lock, args=(str(path), 1.5, held))
    writer.start()
    try:
        assert held.wait(30)
        # The lock is real: a connection that does not wait fails at once ...
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            sqlite3.connect(path, timeout=0).execute("BEGIN IMMEDIATE")
        # ... while hpo's storage waits for the writer, then writes.
        started = time.monotonic()
        study.set_user_attr("written", True)
        waited = time.monotonic() - started
    finally:
        writer.join(30)
    assert writer.exitcode == 0 and waited > 0.5, waited
    assert optuna.load_study(study_name="s", storage=storage).user_attrs == {"written": True}
    # And it would wait a minute, not sqlite3's default 5 s: a busy study's writer can take longer.
    with storage.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
