"""Smoke test of bench/optimize.py: the quick run (workers, pruning, memory) writes its JSON and chart.

Timings are never checked, only that every part ran and reports consistent counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postgres import admin_url, unreachable_reason
from services import services_required

ROOT = Path(__file__).resolve().parents[1]
QUICK_TRIALS = 2  # per worker measurement
QUICK_PRUNING = {"trials": 4, "epochs": 3}
QUICK_MEMORY_TRIALS = 4

pytestmark = pytest.mark.slow  # about 2 minutes: 16 short trials, some in spawned worker processes


def test_quick_optimize_writes_json_and_chart(tmp_path):
    reason = unreachable_reason(admin_url())
    if reason is not None and services_required():
        pytest.fail(f"{reason} (HPO_REQUIRE_SERVICES=1: PostgreSQL must be measured here)",
                    pytrace=False)
    result = subprocess.run([sys.executable, "-m", "bench.optimize", "--quick", "--postgres",
                             admin_url(), "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads((tmp_path / "optimize-quick.json").read_text())
    assert {"machine", "quick", "data", "workers", "pruning", "memory"} <= report.keys()
    assert report["quick"] is True
    assert {"cores", "python", "numpy", "platform"} <= report["machine"].keys()

    if reason is None:
        rows = report["workers"]
        assert [row["workers"] for row in rows] == [1, 2]
        for row in rows:
            assert row["trials"] == QUICK_TRIALS, row
            assert row["unique_numbers"] is True, row
            assert row["seconds"] > 0 and row["trials_per_hour"] > 0, row
    else:  # not required here (tests/services.py): the workers part is skipped, and the JSON says why
        assert report["workers"].startswith("skipped:")

    pruning = report["pruning"]
    assert pruning["trials"] == QUICK_PRUNING["trials"]
    assert 0 <= pruning["pruned"] <= pruning["trials"]
    assert pruning["epochs_max"] == QUICK_PRUNING["epochs"] * pruning["trials"]
    assert pruning["trials"] <= pruning["epochs_run"] <= pruning["epochs_max"]
    assert 0 <= pruning["epochs_saved_by_pruning"] <= pruning["epochs_max"] - pruning["epochs_run"]
    assert 0 <= pruning["pruned_share"] <= 1 and 0 <= pruning["epochs_saved_share"] <= 1

    memory = report["memory"]
    assert set(memory) == {"one_process", "recycled_every_2"}  # the recycling path ran too
    for label, variant in memory.items():
        series = variant["rss_mib_after_each"]
        assert variant["trials"] == len(series) == QUICK_MEMORY_TRIALS, label
        assert all(rss > 0 for rss in series), label
        assert variant["peak"] == max(series), label
        half = len(series) // 2
        assert (variant["max_first_half"], variant["max_second_half"]) == (max(series[:half]),
                                                                           max(series[half:]))
    assert "plotly" in (tmp_path / "optimize-quick.html").read_text()
