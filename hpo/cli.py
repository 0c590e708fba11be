"""Shared pieces of the thin command-line front ends (`python -m hpo.*`, `hpo-*`).

The one place that reads the environment for the library's inputs: `--home` / $HPO_HOME become a
Workspace, `--storage` / $HPO_STORAGE a storage URL, passed on explicitly from here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hpo.errors import HpoError
from hpo.stopping import StopRequested
from hpo.workspace import DEFAULT_ROOT, Workspace

HOME_ENV = "HPO_HOME"  # where outputs land, when --home is not given
STORAGE_ENV = "HPO_STORAGE"  # the Optuna storage URL, when --storage is not given


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line (and exit code 2) instead of usage + error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call `main(argv)`; turn an HpoError into one line on stderr and its exit code (2 for bad
    input, 1 for a study that failed: `hpo.errors`), without a traceback."""
    try:
        return main(argv)
    except HpoError as exc:
        from hpo.storage import redact  # a last guard: no error line prints a password

        message = redact(" ".join(str(exc).split("\n")))
        print(f"error: {message}", file=sys.stderr)
        return exc.exit_code
    except StopRequested as stop:  # SIGTERM/SIGINT while optimizing: stopped cleanly, nothing lost
        print(
            f"stopped by {stop.signal_name}: the running trial was marked failed and queued "
            "again; run the same command to resume",
            file=sys.stderr,
        )
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_home_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        metavar="DIR",
        type=Path,
        default=None,
        help=f"folder of studies, artifacts, reports and generated data (default "
        f"${HOME_ENV} or {DEFAULT_ROOT}/)",
    )


def workspace_from_args(args: argparse.Namespace) -> Workspace:
    """`--home`, else $HPO_HOME, else ./studies."""
    home = getattr(args, "home", None) or os.environ.get(HOME_ENV) or DEFAULT_ROOT
    return Workspace(Path(home))


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        metavar="URL",
        default=None,
        help=f"Optuna storage (default ${STORAGE_ENV}, or sqlite:///<home>/hpo.db)",
    )


def storage_from_args(args: argparse.Namespace, workspace: Workspace) -> str:
    """`--storage`, else $HPO_STORAGE, else SQLite in the workspace (checked: hpo.storage)."""
    from hpo.storage import resolve_storage_url

    return resolve_storage_url(args.storage or os.environ.get(STORAGE_ENV), workspace)


def entry_point(main: Callable[[Sequence[str] | None], int]) -> Callable[[], int]:
    """A `[project.scripts]` function for `main`: `hpo-screen` runs what `python -m hpo.screen`
    runs, with the same one-line errors and exit codes."""

    def script() -> int:
        return run(main)

    return script
