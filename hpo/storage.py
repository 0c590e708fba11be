"""The Optuna storage: one URL, resolved in one place, for every command and worker.

Order: the --storage flag, then the HPO_STORAGE environment variable, then SQLite under studies/
(an embedded default that needs no server). PostgreSQL (`postgresql://...`) lets many workers on many
machines share the studies.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from pathlib import Path

import optuna

from hpo.config import studies_dir
from hpo.errors import ConfigError

STORAGE_ENV = "HPO_STORAGE"
SUPPORTED_SCHEMES = ("sqlite", "postgresql", "mysql")


def default_storage_url() -> str:
    return f"sqlite:///{studies_dir() / 'hpo.db'}"


def resolve_storage_url(url: str | None = None) -> str:
    """The storage URL to use: `url`, else $HPO_STORAGE, else SQLite in studies/.

    Raises:
        ConfigError: the URL names no database we support.
    """
    url = url or os.environ.get(STORAGE_ENV) or default_storage_url()
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" not in url or scheme not in SUPPORTED_SCHEMES:
        raise ConfigError(f"--storage must be a database URL such as sqlite:///studies/hpo.db or "
                          f"postgresql://user@host/db, but got {redact(url)!r}")
    if scheme == "sqlite":
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return url


def open_storage(url: str | None = None, heartbeat_interval: int | None = None,
                 grace_period: int | None = None, max_retry: int = 3) -> optuna.storages.RDBStorage:
    """An RDB storage on the resolved URL, one per URL and settings in a process.

    Each RDBStorage holds its own connection pool: sharing them keeps a process that opens the same
    database many times (a screen, then studies, then the report) within PostgreSQL's client limit.

    Args:
        heartbeat_interval, grace_period: Optuna's heartbeat (seconds): a trial whose worker stopped
            beating for `grace_period` is marked failed by the next worker and queued again (as a
            WAITING copy with the same params) up to `max_retry` times.

    Raises:
        ConfigError: the database cannot be reached or opened.
    """
    return _open_storage(resolve_storage_url(url), heartbeat_interval, grace_period, max_retry)


@functools.lru_cache(maxsize=None)
def _open_storage(url: str, heartbeat_interval: int | None, grace_period: int | None,
                  max_retry: int) -> optuna.storages.RDBStorage:
    engine_kwargs = {}
    if url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked" at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    try:
        retry = (optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
                 if heartbeat_interval else None)
        with warnings.catch_warnings():  # heartbeat is "experimental" in Optuna; we rely on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                              heartbeat_interval=heartbeat_interval,
                                              grace_period=grace_period,
                                              heartbeat_stale_trial_callback=retry)
    except Exception as exc:  # SQLAlchemy's errors vary by driver; all mean "cannot open it"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open the storage {redact(url)}: {redact(reason)}; check --storage "
                          f"(or ${STORAGE_ENV}) and that the database server is running") from exc


# scheme://user:PASSWORD@host...: the password runs to the last "@" before whitespace (an "@" inside a
# password should be written %40, but a raw one must not leak either).
_PASSWORD_IN_URL = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>\S*)@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`, before it is printed, logged,
    stored or raised: `postgresql://hpo:secret@db/hpo` -> `postgresql://hpo:***@db/hpo`."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***@", str(text))
