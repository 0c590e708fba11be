"""Smoke test of bench/quality.py: its quick mode screens two architectures at latent sizes 8 and
16, runs `hpo.optimize --top 2 --latent 8,16` and sets each best model against PCA of its size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # 1-3 min: a 4-run screen and four 1-trial studies on the quick data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.quality",
            "--quick",
            "--workdir",
            str(root / "work"),
            "--out",
            str(root / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "machine:" in result.stdout
    assert "plotly" in (root / "out" / "quality-quick.html").read_text()
    return json.loads((root / "out" / "quality-quick.json").read_text()), root / "work"


def test_one_study_per_architecture_and_latent_size(report):
    record, _ = report
    assert record["quick"] is True and record["latents"] == [8, 16]
    assert sorted((r["architecture"], r["latent"]) for r in record["rows"]) == [
        ("conv", 8),
        ("conv", 16),
        ("dual", 8),
        ("dual", 16),
    ]
    for row in record["rows"]:
        assert row["study"] == f"default-{row['architecture']}-z{row['latent']}"
        assert "latent" not in row["best_params"]  # fixed by the study, not searched
        assert (
            row["trials"] >= 1
            and row["epochs_spent"] <= record["budget"]["epoch_budget"] + record["budget"]["epochs"]
        )  # the budget stops new trials; one may finish past it
        assert len(row["val_curve"]) >= 1


def test_the_best_is_chosen_on_validation_and_judged_against_pca(report):
    record, _ = report
    for latent in ("8", "16"):
        rows = [r for r in record["rows"] if str(r["latent"]) == latent]
        best = record["by_latent"][latent]
        chosen = min(rows, key=lambda r: r["val_rel_l2"])
        assert best["architecture"] == chosen["architecture"]
        assert best["ratio_to_pca"] == pytest.approx(
            chosen["test_rel_l2"] / best["pca_test_rel_l2"]
        )
        assert best["meets_target"] == (best["ratio_to_pca"] <= record["target_ratio"])


def test_plain_pca_matches_an_svd_done_here(report):
    record, workdir = report
    for row in record["rows"]:
        assert row["plain_pca_test_rel_l2"] == pytest.approx(
            _pca_test_rel_l2(workdir, row["latent"]), rel=1e-3
        )


def _pca_test_rel_l2(workdir: Path, n_components: int) -> float:
    """PCA's test rel_l2 on the quick data, computed with plain numpy (not hpo.baseline): an SVD of
    the centred training frames, each test frame projected and compared to itself."""
    from hpo.data import load

    data = load(next((workdir / "data").glob("rayleigh_benard-quick-*.h5")))
    train = data.train.arrays().reshape(len(data.train), -1).astype(np.float64)
    test = data.test.arrays().reshape(len(data.test), -1).astype(np.float64)
    mean = train.mean(axis=0)
    basis = np.linalg.svd(train - mean, full_matrices=False)[2][:n_components]
    rebuilt = (test - mean) @ basis.T @ basis + mean
    return float(np.mean(np.linalg.norm(rebuilt - test, axis=1) / np.linalg.norm(test, axis=1)))
