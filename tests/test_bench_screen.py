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


def test_the_halving_record_names_a_missed_top_two_and_what_the_miss_costs(tmp_path):
    from bench.screen import halving_record

    def screen_record(rankings: dict, vals: dict, seconds: float) -> dict:
        return {
            "per_latent": {z: {"ranking": r} for z, r in rankings.items()},
            "runs": [
                {"architecture": a, "latent": int(z), "val_rel_l2": v} for (a, z), v in vals.items()
            ],
            "training_s": seconds,
            "n_runs": len(vals),
            "settings": {},
        }

    vals = {("conv", "8"): 0.30, ("dual", "8"): 0.31, ("vqvae2", "8"): 0.35}
    vals |= {("conv", "16"): 0.25, ("dual", "16"): 0.26, ("vqvae2", "16"): 0.262}
    full = screen_record(
        {"8": ["conv", "dual", "vqvae2"], "16": ["conv", "dual", "vqvae2"]}, vals, 100
    )
    sha = screen_record({"8": ["dual", "conv", "vqvae2"], "16": ["conv", "vqvae2", "dual"]}, {}, 60)
    record = halving_record(tmp_path, sha, full)
    assert record["per_latent"]["8"]["same_top2"]  # the same two, in another order
    at16 = record["per_latent"]["16"]
    assert not at16["same_top2"] and at16["missed"] == ["dual"]
    assert at16["val_rel_l2_cost"] == [pytest.approx(0.002)]  # vqvae2 instead of dual
    assert not record["same_top2_everywhere"] and record["training_share_of_full"] == 0.6
