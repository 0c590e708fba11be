"""hpo.budget: the studies' width bounds follow the screen's parameter budget."""

from __future__ import annotations

import pytest

from hpo import architectures
from hpo.architectures.presets import DEFAULT_MATCHED_PARAMS, in_search_terms, preset_params
from hpo.budget import follow_budget, width_factor
from hpo.space import IntParam, PerLayer, nearest_inside

GRID = (200, 100, 3)


@pytest.mark.parametrize("name", ["conv"])  # each budget solved costs ~10 model builds
def test_the_screens_model_at_a_large_budget_fits_the_followed_space_and_not_the_declared(name):
    budget = 10 * DEFAULT_MATCHED_PARAMS
    screened = in_search_terms(preset_params(name, "matched", GRID, budget, 8))
    declared = architectures.get(name).space
    _, moved = nearest_inside(declared, screened)
    assert any(key.startswith("filters_") for key in moved)  # the problem: moved inside
    factor = width_factor(name, GRID, budget, 8)
    assert factor > 1.5
    followed = follow_budget(declared, factor)
    assert nearest_inside(followed, screened)[1] == []
    assert followed["filters"].param.low == declared["filters"].param.low
    assert declared["filters"].param.high == 128  # the declared space is untouched


def test_a_default_or_smaller_budget_keeps_the_declared_space():
    assert width_factor("conv", GRID, None, 8) == 1.0
    assert width_factor("conv", GRID, DEFAULT_MATCHED_PARAMS // 2, 8) == 1.0
    declared = architectures.get("conv").space
    assert follow_budget(declared, 1.0) == dict(declared)


def test_a_bound_the_user_set_stays():
    declared = architectures.get("conv").space
    narrowed = {**declared, "filters": PerLayer(IntParam(8, 64, log=True), default=(8, 16, 32))}
    assert follow_budget(narrowed, 3.0, declared)["filters"].param.high == 64
    assert follow_budget(declared, 3.0)["filters"].param.high == 384


def test_every_worker_reads_the_budget_from_the_study_and_searches_the_same_widths(tmp_path):
    import optuna

    from hpo.optimize.record import StudyRecord, stored_space

    url = f"sqlite:///{tmp_path / 'hpo.db'}"
    declared = architectures.get("conv").space
    for name, budget in (("large", 10 * DEFAULT_MATCHED_PARAMS), ("default", None)):
        study = optuna.create_study(study_name=name, storage=url)
        StudyRecord("conv", 8, (), "rel_l2", {"shape": [40, *GRID]}, n_params=budget).store(study)
    assert stored_space(declared, "large", url)["filters"].param.high > 128
    assert stored_space(declared, "default", url)["filters"] == declared["filters"]
