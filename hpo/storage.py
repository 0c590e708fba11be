"""The Optuna storage: one URL, resolved in one place, for every command and worker.

The CLIs take the --storage flag, then the HPO_STORAGE environment variable (hpo.cli); the library
takes that URL or, given none, SQLite in the workspace (an embedded default that needs no server).
PostgreSQL (`postgresql://...`) lets many workers on many machines share the studies.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import optuna

from hpo.errors import ConfigError
from hpo.workspace import Workspace

SUPPORTED_SCHEMES = ("sqlite", "postgresql", "mysql")


def resolve_storage_url(url: str | None = None, workspace: Workspace | None = None) -> str:
    """The storage URL to use: `url`, else SQLite in `workspace` (default: ./studies).

    Raises:
        ConfigError: the URL names no database we support.
    """
    url = url or (workspace or Workspace()).storage_url()
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in SUPPORTED_SCHEMES:
        raise ConfigError(
            f"--storage must be a database URL such as sqlite:///studies/hpo.db or "
            f"postgresql://user@host/db, but got {redact(url)!r}"
        )
    if scheme == "sqlite":
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return url


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int = 3,
) -> optuna.storages.RDBStorage:
    """An RDB storage on `url`, one per URL and settings in a process (clear_storage_cache).

    Each RDBStorage holds its own connection pool: sharing them keeps a process that opens the same
    database many times (a screen, then studies, then the report) within PostgreSQL's client limit.

    Args:
        heartbeat_interval, grace_period: Optuna's heartbeat (seconds): a trial whose worker stopped
            beating for `grace_period` is marked failed by the next worker and queued again (as a
            WAITING copy with the same params) up to `max_retry` times.

    Raises:
        ConfigError: the database cannot be reached or opened.
    """
    key = (resolve_storage_url(url), heartbeat_interval, grace_period, max_retry)
    if key not in _OPEN:
        _OPEN[key] = _open_storage(*key)
    return _OPEN[key]


# The storages open in this process, by (url, heartbeat_interval, grace_period, max_retry).
_OPEN: dict[tuple, optuna.storages.RDBStorage] = {}


def clear_storage_cache() -> None:
    """Close every storage `open_storage` holds open in this process (their connection pools), so
    a database can be dropped or a file removed while the process goes on (tests, benchmarks)."""
    for storage in _OPEN.values():
        storage.remove_session()
        storage.engine.dispose()
    _OPEN.clear()


def _open_storage(
    url: str, heartbeat_interval: int | None, grace_period: int | None, max_retry: int
) -> optuna.storages.RDBStorage:
    engine_kwargs = {}
    if url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked" at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    try:
        retry = (
            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
            if heartbeat_interval
            else None
        )
        with warnings.catch_warnings():  # heartbeat is "experimental" in Optuna; we rely on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=retry,
            )
    except Exception as exc:  # SQLAlchemy's errors vary by driver; all mean "cannot open it"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot open the storage {redact(url)}: {redact(reason)}; check --storage "
            f"(or $HPO_STORAGE) and that the database server is running"
        ) from exc


# scheme://user:PASSWORD@host...: the password runs to the last "@" before whitespace (an "@" inside
# a password should be written %40, but a raw one must not leak either).
_PASSWORD_IN_URL = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>\S*)@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`, before it is printed, logged,
    stored or raised: `postgresql://hpo:secret@db/hpo` -> `postgresql://hpo:***@db/hpo`."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***@", str(text))
