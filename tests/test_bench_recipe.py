"""bench.recipe: knobs chosen on one seed at equal epochs, reported on another; resumable."""

from __future__ import annotations

import json

import pytest

from bench import recipe


def _row(arm_changes: dict, val: float) -> dict:
    return {"arm": recipe.arm_name(arm_changes), "changes": arm_changes, "val_rel_l2": val}


def test_a_knob_is_adopted_only_past_the_margin_and_the_best_value_wins():
    base = 0.40
    rows = [
        _row({}, base),
        _row({"periodic_x": True}, base * (1 - recipe.MARGIN / 2)),  # within the margin: no
        _row({"weight_decay": 1e-4}, 0.39),
        _row({"weight_decay": 1e-2}, 0.37),  # the better of two adopted values
        _row({"batch_size": 16}, 0.41),
        _row({"batch_size": 32}, 0.45),
    ]
    assert recipe.choose(rows) == {"weight_decay": 1e-2}
    assert recipe.choose([_row({}, base), *[_row({k: v}, 0.5) for k, v in recipe.ARMS]]) == {}


@pytest.mark.slow  # real training on the quick data, one epoch per arm
def test_the_quick_benchmark_chooses_reports_and_resumes(tmp_path, capsys, monkeypatch):
    # Two knobs and one reported model keep it short; the full lists run the same code.
    monkeypatch.setattr(recipe, "ARMS", (("periodic_x", True), ("batch_size", 16)))
    monkeypatch.setattr(recipe, "REPORT", (("conv", 8),))
    assert recipe.main(["--quick", "--epochs", "1", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "recipe-quick.json").read_text())
    choice = [r for r in record["rows"] if r["phase"] == "choose"]
    assert [r["arm"] for r in choice] == ["screen"] + [
        recipe.arm_name({k: v}) for k, v in recipe.ARMS
    ]
    assert {r["seed"] for r in choice} == {recipe.CHOOSE_SEED}
    report = [r for r in record["rows"] if r["phase"] == "report"]
    assert {r["seed"] for r in report} == {recipe.REPORT_SEED}
    assert {(r["architecture"], r["latent"]) for r in report} == set(recipe.REPORT)
    assert record["chosen"] == recipe.choose(choice)
    for row in record["rows"]:
        pca = record["pca"][str(row["latent"])]
        assert row["test_vs_pca"] == pytest.approx(row["test_rel_l2"] / pca["test"])
    capsys.readouterr()
    # A second run trains nothing: every arm is read back.
    assert recipe.main(["--quick", "--epochs", "1", "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "recipe-quick.json").read_text())
    assert again["rows"] == record["rows"]
    assert capsys.readouterr().out.count("(stored)") == len(record["rows"])
