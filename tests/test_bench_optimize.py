"""Smoke test of bench/optimize.py: the quick run (workers, pruning, memory) writes its JSON and
chart.

Timings are never checked. What is checked comes from outside the benchmark's arithmetic: the trial
counts and states follow from what was asked, the quick pruning study's epochs follow by hand from
its budget, each memory variant ran in its own fresh process (not the benchmark's, whose pid the
test knows), and the recycled variant's trials ran two to a spawned worker process.
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
QUICK_PRUNING_TRIALS = 4
# 4 trials of at most 3 epochs, patience 3: early stopping never ends one, and the median pruner
# prunes from the 3rd epoch on (n_warmup_steps=2), so every quick pruning trial runs all 3 epochs.
QUICK_PRUNING_EPOCHS_RUN = 12
QUICK_MEMORY_TRIALS, QUICK_RECYCLE = 4, 2

pytestmark = pytest.mark.slow  # 3.5-7.5 min on 2 shared cores: 16 short trials, most spawned


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimize")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.optimize",
            "--quick",
            "--postgres",
            admin_url(),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    report = json.loads((out / "optimize-quick.json").read_text())
    return report, process.pid, out


def test_writes_json_and_chart(quick_run):
    report, _, out = quick_run
    assert {
        "machine",
        "quick",
        "data",
        "workers",
        "pruning",
        "memory",
        "measured_at",
    } <= report.keys()
    assert report["quick"] is True
    assert set(report["measured_at"]) == {"workers", "pruning", "memory"}
    assert {"cores", "python", "numpy", "platform"} <= report["machine"].keys()
    assert "plotly" in (out / "optimize-quick.html").read_text()


def test_workers_run_the_trials_asked_in_the_processes_asked(quick_run):
    report, bench_pid, _ = quick_run
    reason = unreachable_reason(admin_url())
    if reason is not None:
        if services_required():
            pytest.fail(
                f"{reason} (HPO_REQUIRE_SERVICES=1: PostgreSQL must be measured here)",
                pytrace=False,
            )
        # Not required here (tests/services.py): the part is skipped and the JSON says why.
        assert report["workers"].startswith("skipped:")
        return
    one, two = report["workers"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for row in (one, two):
        assert row["trials"] == QUICK_TRIALS and row["states"] == {"COMPLETE": QUICK_TRIALS}, row
        assert row["seconds"] > 0, row
    assert len(two["worker_pids"]) == 2 and bench_pid not in two["worker_pids"]


def test_pruning_epochs_follow_from_the_budget(quick_run):
    pruning = quick_run[0]["pruning"]
    assert pruning["trials"] == QUICK_PRUNING_TRIALS
    assert pruning["epochs_run"] == QUICK_PRUNING_EPOCHS_RUN
    assert pruning["epochs_saved_by_pruning"] == 0
    assert 0 <= pruning["pruned"] <= QUICK_PRUNING_TRIALS


def test_memory_variants_start_in_fresh_processes(quick_run):
    report, bench_pid, _ = quick_run
    memory = report["memory"]
    assert set(memory) == {"one_process", f"recycled_every_{QUICK_RECYCLE}"}
    one, recycled = memory["one_process"], memory[f"recycled_every_{QUICK_RECYCLE}"]
    assert len({bench_pid, one["pid"], recycled["pid"]}) == 3  # each in its own process
    for variant in (one, recycled):
        assert variant["states"] == ["COMPLETE"] * QUICK_MEMORY_TRIALS
        assert len(variant["rss_mib_after_each"]) == QUICK_MEMORY_TRIALS
        # Fresh: the process had not trained before its first trial, which leaves it larger.
        assert 0 < variant["rss_mib_at_start"] < variant["rss_mib_after_each"][0]
    # All trials in the variant's own process, which spawned no worker.
    assert one["trial_pids"] == [one["pid"]] * QUICK_MEMORY_TRIALS and one["worker_pids"] == []
    # Recycled: 4 trials, 2 per spawned worker, in order; neither worker is a variant's process.
    pids = recycled["trial_pids"]
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert sorted(set(pids)) == recycled["worker_pids"]
    assert not {one["pid"], recycled["pid"], bench_pid} & set(pids)
