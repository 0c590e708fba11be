"""bench/screen.py's record of the default screen, read from a tiny screen stored the same way."""

from __future__ import annotations

import pytest

from hpo.data import load
from hpo.screen.config import ScreenConfig
from hpo.screen.screening import screen
from hpo.workspace import Workspace

from helpers import write_original

pytestmark = pytest.mark.slow  # four 1-epoch runs on tiny data


def test_the_curve_record_sets_every_run_beside_pca_at_its_size(tmp_path):
    from bench.screen import curve_record

    data = load(write_original(tmp_path / "tiny.h5", n_sims=5, n_frames=6), seed=0)
    screen(
        ScreenConfig(
            epochs=1,
            repeats=1,
            n_params=6000,
            latent=(4, 8),
            batch_size=4,
            architectures=("conv", "dual"),
            seed=0,
            workspace=Workspace(tmp_path),
        ),
        data,
        f"sqlite:///{tmp_path}/hpo.db",
        progress=None,
    )
    record = curve_record(tmp_path)
    assert record["latents"] == [4, 8] and record["n_runs"] == 4
    assert sorted((r["architecture"], r["latent"]) for r in record["runs"]) == [
        ("conv", 4),
        ("conv", 8),
        ("dual", 4),
        ("dual", 8),
    ]
    for latent in ("4", "8"):
        at = record["per_latent"][latent]
        assert sorted(at["ranking"]) == ["conv", "dual"]
        beaten = {
            r["architecture"]
            for r in record["runs"]
            if str(r["latent"]) == latent and r["test_rel_l2"] < at["pca_test_rel_l2"]
        }
        assert set(at["beat_pca_on_test"]) == beaten
    # PCA with more components reconstructs at least as well (the same fit, truncated).
    assert (
        record["per_latent"]["8"]["pca_test_rel_l2"] <= record["per_latent"]["4"]["pca_test_rel_l2"]
    )
    assert record["training_s"] > 0
    assert all(r["late_gain"] is None for r in record["runs"])  # 1 epoch: no last quarter to judge
