"""Shared pieces of the thin command-line front ends (`python -m hpo.*`)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from hpo.errors import HpoError
from hpo.stopping import StopRequested


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line (and exit code 2) instead of usage + error."""

    def error(self, message: str):  # noqa: D401 - argparse API
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
        print(f"stopped by {stop.signal_name}: the running trial was marked failed and queued "
              "again; run the same command to resume", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
