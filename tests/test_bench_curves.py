"""Smoke test of bench/curves.py: the quick table is a full factorial of its knobs, one row per
epoch of every configuration, resumable, and its metadata names the screen's configuration."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.curves import COLUMNS, KNOBS, QUICK_EPOCHS, QUICK_KNOBS, SCREEN_LEVELS, grid, params_of

ROOT = Path(__file__).resolve().parents[1]


def test_the_grid_is_a_full_factorial_of_two_levels_per_knob():
    configs = grid(KNOBS)
    assert len(configs) == 2 ** len(KNOBS) == 128
    assert len({tuple(c.values()) for c in configs}) == 128
    assert SCREEN_LEVELS in configs  # two-stage replays the screen's configuration from the table


def test_params_set_the_levels_on_the_matched_recipe():
    levels = {**SCREEN_LEVELS, "n_layers": 2, "filters": 16, "augment": "none", "latent": 16}
    params = params_of("depthwise", levels)
    assert (params["n_layers"], params["latent"], params["width"]) == (2, 16, 1.0)
    assert (params["filters_0"], params["filters_1"]) == (16, 32)
    assert not params["shift_x"] and not params["mirror_x"]
    assert params["depth_multiplier_0"] == 2 and params["activation_0"] == "gelu"
    assert params_of("conv", SCREEN_LEVELS)["shift_x"] is True


def _run(out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.curves",
            "--quick",
            "--workers",
            "1",
            "--out",
            str(out),
            *flags,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow  # 4 tiny trainings in spawned processes, 4 live ones: ~40 s
def test_quick_table_records_every_epoch_and_resumes(tmp_path):
    first = _run(tmp_path, "--limit", "3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (
        len(
            pd.read_csv(tmp_path / "curves-quick.csv")[["architecture", "config"]].drop_duplicates()
        )
        == 3
    )
    rest = _run(tmp_path)  # trains only the missing one
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert "3 of 4 configurations" in rest.stdout and "training 1" in rest.stdout
    table = pd.read_csv(tmp_path / "curves-quick.csv")
    assert list(table.columns) == COLUMNS
    meta = json.loads((tmp_path / "curves-quick.json").read_text())
    assert meta["epochs"] == QUICK_EPOCHS and meta["knobs"] == {
        k: list(v) for k, v in QUICK_KNOBS.items()
    }
    n_configs = len(grid(QUICK_KNOBS))
    for architecture in meta["architectures"]:
        mine = table[table.architecture == architecture]
        assert sorted(mine.config.unique()) == list(range(n_configs))
        assert all(
            sorted(g.epoch) == list(range(1, QUICK_EPOCHS + 1)) for _, g in mine.groupby("config")
        )
        screen = mine[mine.config == meta["screen_config"][architecture]].iloc[0]
        assert screen.latent == SCREEN_LEVELS["latent"]
    # Real training: errors of an untrained-to-barely-trained model, finite and per epoch.
    assert table.val_rel_l2.map(math.isfinite).all() and table.test_rel_l2.map(math.isfinite).all()
    assert ((table.val_rel_l2 > 0.5) & (table.val_rel_l2 < 1.5)).all() and (table.seconds > 0).all()
    # The contract with bench.replay: its quick mode reads this table from the same folder.
    replay = subprocess.run(
        [sys.executable, "-m", "bench.replay", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert replay.returncode == 0, replay.stderr[-3000:]
    record = json.loads((tmp_path / "replay-quick.json").read_text())
    assert record["scopes"]["top1"]["architectures"] == meta["architectures"][:1]
    assert record["epochs"] == QUICK_EPOCHS
    # The check against reality: the same searches trained live pick the same configurations and
    # find the table's values (the same seed and recipe repeat a run, up to thread noise).
    live = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.live_check",
            "--quick",
            "--methods",
            "random",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert live.returncode == 0, live.stderr[-3000:]
    checked = json.loads((tmp_path / "live_check-quick.json").read_text())["methods"]["random"]
    for seed, value in checked["live_best"].items():
        assert value == pytest.approx(checked["replayed_best_same_seed"][seed], abs=2e-3)
