"""Smoke test of bench/stress.py: the quick storage stress runs hpo's Worker, no trial is lost or
duplicated, and its negative control (the lock switched off) shows that the check can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postgres import admin_url, unreachable_reason
from services import services_required

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"backend", "workers", "trials", "seconds", "trials_per_s", "lost", "duplicated", "ok"}

pytestmark = pytest.mark.slow  # about 40 s: 34 worker processes and TensorFlow's import


def test_quick_stress_loses_and_duplicates_no_trial(tmp_path):
    reason = unreachable_reason(admin_url())
    if reason is not None and services_required():
        pytest.fail(
            f"{reason} (HPO_REQUIRE_SERVICES=1: PostgreSQL must be measured here)", pytrace=False
        )
    result = subprocess.run(
        [sys.executable, "-m", "bench.stress", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads((tmp_path / "stress-quick.json").read_text())
    assert {"machine", "quick", "results"} <= report.keys()
    assert report["quick"] is True
    rows = report["results"]
    for row in rows:
        assert row.keys() >= FIELDS, row
        assert (row["lost"], row["duplicated"], row["ok"]) == (0, 0, True), row
        assert row["trials"] == report["trials_per_run"]
    measured = {(row["backend"], row["workers"]) for row in rows}
    assert ("sqlite", 8) in measured
    if reason is None:
        assert ("postgres", 8) in measured
    else:  # not required here (tests/services.py): SQLite alone, and the JSON says why
        assert report["postgres"].startswith("skipped:")
    # The negative control, per backend: the same workers with the lock off run more trials than
    # asked, and the check says so; with the lock on and the same pause, exactly as many.
    controls = {(row["backend"], row["lock"]): row for row in report["negative_control"]}
    assert {backend for backend, _ in controls} == {backend for backend, _ in measured}
    for (_backend, lock), row in controls.items():
        if lock == "off":
            assert row["trials"] > report["trials_per_run"] and not row["ok"], row
        else:
            assert row["trials"] == report["trials_per_run"] and row["ok"], row
    assert "plotly" in (tmp_path / "stress-quick.html").read_text()
