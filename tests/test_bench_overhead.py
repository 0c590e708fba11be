"""Smoke test of bench/overhead.py: the quick run writes its table's JSON and its chart (no timing is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["plain", "hpo", "hpo_streamed"]

pytestmark = pytest.mark.slow  # about 35 s: 9 short fits of the conv model and TensorFlow's import


def test_quick_overhead_writes_json_and_chart(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.overhead", "--quick", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in-memory overhead" in result.stdout  # the table is still printed

    report = json.loads((tmp_path / "overhead-quick.json").read_text())
    assert {"machine", "quick", "epochs", "rounds", "results", "target_ratio", "met"} <= report.keys()
    assert report["quick"] is True
    assert {"cores", "python", "numpy", "platform"} <= report["machine"].keys()
    assert report["target_ratio"] == 1.05
    assert isinstance(report["met"], bool)
    rows = report["results"]
    assert [row["path"] for row in rows] == PATHS
    for row in rows:
        assert row["median_s_per_epoch"] > 0, row
        assert row["ratio_to_plain"] > 0, row
        # The first epoch of each fit (graph tracing) is left out.
        assert row["epochs_timed"] == report["rounds"] * (report["epochs"] - 1), row
    assert rows[0]["ratio_to_plain"] == 1.0
    assert "plotly" in (tmp_path / "overhead-quick.html").read_text()
