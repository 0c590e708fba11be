"""No database password is printed, logged, stored or written: the CLIs run against a PostgreSQL URL
that carries one, and every line they print and every file they write is searched for it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from hpo.storage import redact

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://hpo:secret@db:5432/hpo", "postgresql://hpo:***@db:5432/hpo"),
        ("postgresql+psycopg://hpo:p%40ss@db/hpo", "postgresql+psycopg://hpo:***@db/hpo"),
        (
            "a raw @ in it: postgresql://hpo:p@ss@db/hpo",
            "a raw @ in it: postgresql://hpo:***@db/hpo",
        ),
        (
            "two: mysql://a:b@h/d and postgresql://c:d@h/e.",
            "two: mysql://a:***@h/d and postgresql://c:***@h/e.",
        ),
        ("'postgresql://hpo:secret@db/hpo' in quotes", "'postgresql://hpo:***@db/hpo' in quotes"),
        ("no password: postgresql://hpo@db/hpo", "no password: postgresql://hpo@db/hpo"),
        ("sqlite:///studies/hpo.db", "sqlite:///studies/hpo.db"),
        ("mail hpo@example.org at 10:30", "mail hpo@example.org at 10:30"),
    ],
)
def test_redact_hides_only_the_password(text, expected):
    assert redact(text) == expected


@pytest.fixture
def password_url():
    """A fresh database owned by a role that has a password (both made here, dropped after).

    The role may create databases (the stress benchmark makes its own). The local server trusts
    loopback connections, so the password is not checked: what matters is that it is in the URL the
    CLIs are given."""
    from postgres import admin_url, fresh_database

    role = f"hpo_role_{secrets.token_hex(3)}"
    password = f"pw-{secrets.token_hex(12)}"
    admin = admin_url()
    with fresh_database(admin) as url:
        parts = urlsplit(url)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            # PostgreSQL 15: only the database owner may create tables in its public schema.
            connection.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(parts.path.lstrip("/")), sql.Identifier(role)
                )
            )
        host = parts.netloc.rsplit("@", 1)[-1]
        try:
            yield urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}")), password
        finally:
            # Objects in the test database
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (role,),
                )
                connection.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role))
                )
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role))
                )  # the database itself
                connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _run(args: list[str], home: Path, env_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_HOME": str(home)}
    env.pop("HPO_STORAGE", None)
    if env_url:
        env["HPO_STORAGE"] = env_url
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow  # about 40 s: a one-epoch screen and a one-trial study, each in its own process
def test_no_cli_prints_or_writes_the_password(password_url, tmp_path):
    url, password = password_url
    home = tmp_path / "studies"
    fast = ["--quick", "--run", "leak"]
    runs = {
        "screen": _run(
            [
                "-m",
                "hpo.screen",
                *fast,
                "--storage",
                url,
                "--architectures",
                "conv",
                "--epochs",
                "1",
                "--repeats",
                "1",
                "--latent",
                "8",
            ],
            home,
        ),
        # The URL from the environment, as the Compose stack passes it.
        "optimize": _run(
            ["-m", "hpo.optimize", *fast, "--top", "1", "--trials", "1", "--epochs", "1"],
            home,
            env_url=url,
        ),
        # Error paths: a run that was never screened, a database that does not exist.
        "optimize, no screen": _run(
            ["-m", "hpo.optimize", "--quick", "--run", "never", "--top", "1", "--storage", url],
            home,
        ),
        "screen, no database": _run(
            ["-m", "hpo.screen", *fast, "--storage", url.rsplit("/", 1)[0] + "/no_such_db"], home
        ),
        "stress benchmark": _run(
            ["-m", "bench.stress", "--quick", "--postgres", url, "--out", str(tmp_path / "bench")],
            home,
        ),
    }
    expected_codes = {
        "screen": 0,
        "optimize": 0,
        "optimize, no screen": 2,
        "screen, no database": 2,
        "stress benchmark": 0,
    }
    for name, result in runs.items():
        output = result.stdout + result.stderr
        assert result.returncode == expected_codes[name], f"{name}: {output[-3000:]}"
        assert password not in output, f"{name} printed the password"
    # The runs did reach the database and said where: with the password hidden.
    assert ":***@" in runs["screen"].stdout and ":***@" in runs["optimize"].stdout
    assert ":***@" in runs["optimize, no screen"].stderr

    written = [
        path
        for folder in (home, tmp_path / "bench")
        for path in folder.rglob("*")
        if path.is_file()
    ]
    assert any(path.suffix == ".html" for path in written)  # the reports were written and searched
    leaks = [str(path) for path in written if password.encode() in path.read_bytes()]
    assert not leaks, f"the password is in {leaks}"

    # Nor is it stored: every row of every table the runs wrote, read back as text.
    with psycopg.connect(url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        assert "studies" in tables and "trials" in tables
        for table in tables:
            rows = connection.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            assert password not in repr(rows.fetchall()), f"the password is stored in {table}"
