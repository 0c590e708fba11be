"""Outside services some tests need (a PostgreSQL server, a headless browser): skip or fail, in one
place.

On a developer's machine a missing service skips the tests that need it, with the reason. CI sets
HPO_REQUIRE_SERVICES=1 (.ci/run), and then a missing service fails those tests instead, so a green
CI run means they really ran.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REQUIRE_ENV = "HPO_REQUIRE_SERVICES"

# Debian's packages `chromium` and `chromium-driver`; never a browser downloaded by a test tool.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def require_or_skip(condition: bool, reason: str) -> None:
    """Go on if `condition` holds; otherwise skip with `reason`, or fail if services are required.

    Raises:
        pytest.skip.Exception, pytest.fail.Exception: the service is missing.
    """
    if condition:
        return
    if services_required():
        pytest.fail(
            f"{reason} ({REQUIRE_ENV}=1: this test must run here, see .ci/run)", pytrace=False
        )
    pytest.skip(reason)


def optuna_dashboard_command() -> list[str]:
    """The `optuna-dashboard` script of the Python running the tests (the venv's, not one on
    PATH)."""
    script = Path(sys.executable).with_name("optuna-dashboard")
    if script.is_file():
        return [str(script)]
    # `python -m optuna_dashboard` does not exist (no __main__); call the script's entry point.
    return [
        sys.executable,
        "-c",
        "import sys; from optuna_dashboard._cli import main; sys.exit(main())",
    ]
