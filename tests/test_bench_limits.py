"""bench.limits --quick: one configuration at 1x, 2x, 4x the epochs and at 2x the parameters."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow  # four short real trainings on the quick data


def test_each_arm_trains_its_own_budget_beside_pca(tmp_path):
    from bench import limits

    assert limits.main(["--quick", "--out", str(tmp_path), "--latent", "4"]) == 0
    record = json.loads((tmp_path / "limits-quick.json").read_text())
    rows = {row["arm"]: row for row in record["rows"]}
    assert list(rows) == [arm for arm, _, _ in limits.ARMS]
    assert [rows[a]["epochs"] for a in ("budget", "2x epochs", "4x epochs")] == [2, 4, 8]
    assert rows["2x parameters"]["epochs"] == 2
    ratio = rows["2x parameters"]["n_params"] / rows["budget"]["n_params"]
    assert 1.8 < ratio < 2.2  # matched to twice the budget, within the presets' +-10%
    for row in rows.values():
        assert len(row["val_curve"]) == row["epochs_run"] <= row["epochs"]
        assert row["test_vs_pca"] == pytest.approx(row["test_rel_l2"] / record["pca_test_rel_l2"])
