"""A fresh PostgreSQL database for a test session, on a server that is already running.

The server is `postgresql://postgres@127.0.0.1:5432/postgres` (the local one, trust auth), or the
URL in HPO_TEST_POSTGRES. Each session gets its own database `hpo_test_<random>`, so concurrent runs
and leftovers of a killed run never meet; it is dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from services import require_or_skip

ADMIN_URL_ENV = "HPO_TEST_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "hpo_test_"
# a server that is up answers at once; do not hang the suite on one that is not
CONNECT_TIMEOUT_S = 3


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV) or DEFAULT_ADMIN_URL


def database_url(url: str, name: str) -> str:
    """`url` pointing at database `name` instead, as a plain `postgresql://` URL.

    SQLAlchemy 2.1 reads `postgresql://` with psycopg 3; psycopg itself rejects a `+driver` suffix.
    """
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))


def _connect(url: str) -> psycopg.Connection:
    # CREATE / DROP DATABASE cannot run inside a transaction.
    return psycopg.connect(
        database_url(url, urlsplit(url).path.lstrip("/") or "postgres"),
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_S,
    )


def unreachable_reason(url: str) -> str | None:
    """None if the server at `url` accepts a connection, else why not (one line)."""
    try:
        with _connect(url):
            return None
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"PostgreSQL is not reachable at {_redact(url)}: {first_line}"


def create_database(url: str) -> str:
    """Create an empty database `hpo_test_<random>` on the server at `url`; return its name."""
    name = DATABASE_PREFIX + secrets.token_hex(4)
    with _connect(url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(url: str, name: str) -> None:
    """Drop database `name`, first ending the connections still open on it (a dashboard, a pool)."""
    with _connect(url) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def database_exists(url: str, name: str) -> bool:
    with _connect(url) as connection:
        return (
            connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


@contextmanager
def fresh_database(url: str | None = None) -> Iterator[str]:
    """Yield the URL of a new, empty database on the server at `url`; drop it afterwards.

    Skips (or fails, with HPO_REQUIRE_SERVICES=1) when the server cannot be reached.
    """
    url = url or admin_url()
    reason = unreachable_reason(url)
    require_or_skip(reason is None, reason or "")
    name = create_database(url)
    try:
        yield database_url(url, name)
    finally:
        drop_database(url, name)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
