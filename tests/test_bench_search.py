"""Smoke tests of the search benchmarks (bench/search.py, screening_value.py): their quick
modes run real searches of all five methods on the quick data and write tables, JSON and HTML.
They share one work folder, so the search runs are computed once (as `python -m bench` does)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["tpe+median", "tpe+hyperband", "random", "tpe", "kerastuner-hyperband"]

pytestmark = pytest.mark.slow  # a few minutes: about a dozen real (tiny) searches


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    """Run the two benchmarks' quick modes into one output folder; return it."""
    root = tmp_path_factory.mktemp("bench")
    out, workdir = root / "out", root / "runs"
    for module in ("bench.search", "bench.screening_value"):
        result = subprocess.run(
            [sys.executable, "-m", module, "--quick", "--out", str(out), "--workdir", str(workdir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, (
            f"{module}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        assert "machine:" in result.stdout  # every table states the machine
    return out


def test_search_reports_every_method_on_one_and_two_architectures(bench_out):
    report = json.loads((bench_out / "search-quick.json").read_text())
    assert report["quick"] is True and {"cores", "tensorflow"} <= report["machine"].keys()
    for scope, n_architectures, methods in (
        ("top1", 1, METHODS),
        ("top2", 2, ["tpe+median", "random", "kerastuner-hyperband"]),
    ):
        result = report[scope]
        assert result["architectures"] == report["screen_ranking"][:n_architectures]
        assert [row["method"] for row in result["rows"]] == methods
        assert (
            result["budget_epochs"] == n_architectures * report["budget"]["epochs_per_architecture"]
        )
        for row in result["rows"]:
            assert row["trials"] >= 1
            assert 0 <= row["pruned"] <= row["trials"]
            assert (
                row["best_at_budget_min"]
                <= row["best_at_budget_median"]
                <= row["best_at_budget_max"]
            )
            assert len(row["epochs_to_random_best"]) == len(report["budget"]["seeds"])
            assert math.isfinite(row["test_rel_l2_median"])
        # Random search reaches its own final best, by definition within its own epochs.
        random = next(row for row in result["rows"] if row["method"] == "random")
        assert random["seeds_reaching"] >= 1 and random["share_of_random_epochs"] <= 1
        # An anytime curve per method and seed, on the epoch grid, never getting worse.
        for method in methods:
            for values in result["curves"][method].values():
                assert len(values) == len(result["grid"])
                seen = [v for v in values if v is not None]
                assert seen == sorted(seen, reverse=True)
        assert set(result["targets"]) == {
            "pruned_reaches_random_best_within_40pct",
            "pruned_beats_kerastuner_at_equal_budget",
        }
    assert "plotly" in (bench_out / "search-quick.html").read_text()


def test_screening_value_compares_top_two_with_all_five(bench_out):
    report = json.loads((bench_out / "screening_value-quick.json").read_text())
    assert sorted(report["ranking"]) == sorted(
        ["conv", "conv_dropout", "vqvae2", "depthwise", "dual"]
    )
    per_architecture = report["epochs_per_architecture"]
    assert per_architecture["top_two"] > per_architecture["all_five"]
    for row in report["seeds"]:
        assert set(row["all_five"]) == set(report["ranking"])
        assert set(row["top_two"]) == set(report["ranking"][:2])
        # The all-five arm's runs of the top two are the top-two runs cut at fewer epochs: the best
        # value after more epochs of the same search can only be as good or better.
        # (None: no trial ended within the shorter budget, as if infinitely bad.)
        for architecture in report["ranking"][:2]:
            cut = row["all_five"][architecture]
            assert row["top_two"][architecture] is not None, row
            assert cut is None or row["top_two"][architecture] <= cut + 1e-12, row
    assert "plotly" in (bench_out / "screening_value-quick.html").read_text()
