"""bench.rungs: successive halving played on learning curves, and its record."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench import rungs


def test_halving_keeps_the_best_at_the_rung_and_spends_only_their_epochs():
    # Five runs whose order at epoch 2 is the reverse of their final order after epoch 3.
    final = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    early = final[::-1].copy()
    curves = np.stack([early + 1, early, early, final, final], axis=1)  # runs x 5 epochs
    kept, spent = rungs.play(curves, (2, 5), eta=3, keep=2)
    assert kept == [3, 4]  # the best two at epoch 2, ranked by their end
    assert spent == 5 * 2 + 2 * 3
    kept, _ = rungs.play(curves, (4, 5), eta=3, keep=2)
    assert kept == [0, 1]  # at epoch 4 the final order shows
    assert rungs.survivors(5, eta=3, keep=3) == 3 and rungs.survivors(15, eta=3, keep=3) == 5


def test_the_benchmark_chooses_on_one_group_and_reports_on_another(tmp_path):
    rows = []
    rng = np.random.default_rng(0)
    for architecture in ("conv", "depthwise"):
        for config in range(8):
            level = rng.uniform(0.2, 0.6)
            for epoch in range(1, 31):
                rows.append(
                    {
                        "architecture": architecture,
                        "config": config,
                        "latent": 8,
                        "epoch": epoch,
                        # Order settles early: rung-10 order is the final order.
                        "val_rel_l2": level + 1.0 / epoch,
                    }
                )
    table = tmp_path / "curves.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    assert rungs.main(["--quick", "--out", str(tmp_path), "--curves", str(table)]) == 0
    record = json.loads((tmp_path / "rungs-quick.json").read_text())
    assert record["choice_groups"] == ["conv z8"] and record["report_groups"] == ["depthwise z8"]
    # Curves that never cross keep the top two at any rung: the cheapest schedule is chosen.
    assert all(r["same_top2"] == pytest.approx(1.0) for r in record["report"])
    cheapest = min(record["choice"], key=lambda r: r["epoch_share"])
    assert record["chosen"]["rungs"] == cheapest["rungs"]
    assert (tmp_path / "rungs-quick.html").exists()


def test_a_reduced_first_rung_is_scored_by_the_full_data_order_it_hands_on(tmp_path):
    # Six configurations whose reduced-data order is the reverse of their full-data order: a
    # reduced first rung keeping 2 never hands on the full data's top two; a full one always does.
    full, reduced = [], []
    for config in range(6):
        for epoch in range(1, 31):
            row = {"architecture": "conv", "config": config, "latent": 8, "epoch": epoch}
            full.append(row | {"val_rel_l2": 0.2 + 0.05 * config + 1 / epoch, "seconds": 4.0})
            reduced.append(row | {"val_rel_l2": 0.6 - 0.05 * config + 1 / epoch, "seconds": 1.0})
    pd.DataFrame(full).to_csv(tmp_path / "full.csv", index=False)
    pd.DataFrame(reduced).to_csv(tmp_path / "reduced.csv", index=False)
    check = rungs.low_resolution_check(tmp_path / "full.csv", tmp_path / "reduced.csv")
    assert check["configurations"] == 6 and check["reduced_epoch_cost"] == pytest.approx(0.25)
    rows = {(r["first_rung"], r["rung"], r["keep"]): r for r in check["rows"]}
    assert rows["reduced", 10, 2]["same_top2"] == 0 and rows["full", 10, 2]["same_top2"] == 1
    assert rows["reduced", 10, 2]["draws"] == 6  # every 5 of 6
    # Survivors of a reduced rung train the whole budget again: 5 x 10 x 0.25 + 2 x 30 of 150.
    assert rows["reduced", 10, 2]["epoch_share"] == pytest.approx((12.5 + 60) / 150)
    assert rows["full", 10, 2]["epoch_share"] == pytest.approx((50 + 40) / 150)
