"""hpo.data.splits: by simulation, the time-block fallback, by frame; seeded and recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpo.cli import run
from hpo.data import load
from hpo.data.__main__ import main
from hpo.data.source import Simulation
from hpo.data.splits import plan_splits, split_counts
from hpo.errors import ConfigError

from helpers import flow_fields

SPLITS = ("train", "val", "test")


def simulations_of(data, name):
    split = getattr(data, name)
    return {
        sim.name for sim in data.simulations for row in split.indices if sim.start <= row < sim.end
    }


def test_by_simulation_keeps_each_simulation_on_one_side(make_original):
    data = load(make_original())
    record = data.split_record
    assert record["strategy"] == "by_simulation"
    assert [len(record[name]["simulations"]) for name in SPLITS] == [3, 1, 1]
    assert [record[name]["n_samples"] for name in SPLITS] == [18, 6, 6]
    sides = [simulations_of(data, name) for name in SPLITS]
    assert [sorted(side) for side in sides] == [
        sorted(record[name]["simulations"]) for name in SPLITS
    ]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    rows = np.concatenate([getattr(data, name).indices for name in SPLITS])
    assert sorted(rows) == list(range(30))  # every sample in exactly one split


def test_split_is_seeded(make_original):
    path = make_original(n_sims=12, n_frames=3)
    first, again = load(path, seed=7).split_record, load(path, seed=7).split_record
    other = load(path, seed=8).split_record
    assert first == again
    assert [first[name] for name in SPLITS] != [other[name] for name in SPLITS]
    assert [first[name]["n_samples"] for name in SPLITS] == [30, 3, 3]


def test_record_is_json_able(make_original):
    record = load(make_original()).split_record
    assert json.loads(json.dumps(record)) == record
    assert record["seed"] == 42 and record["fractions"] == [0.8, 0.1, 0.1]


def test_fewer_than_three_simulations_split_each_in_time_blocks(make_original):
    data = load(make_original(n_sims=2, n_frames=10))
    record = data.split_record
    assert record["strategy"] == "by_time_block"
    assert "too few to split by simulation" in record["note"] and record["note"] in data.messages
    assert record["train"]["blocks"] == [["case_00", 0, 8], ["case_01", 10, 18]]
    assert record["val"]["blocks"] == [["case_00", 8, 9], ["case_01", 18, 19]]
    assert record["test"]["blocks"] == [["case_00", 9, 10], ["case_01", 19, 20]]
    np.testing.assert_array_equal(data.test.indices, [9, 19])


def test_time_block_fallback_is_printed_at_the_cli(capsys, make_original):
    assert run(main, ["check", "--data", str(make_original(n_sims=1, n_frames=10))]) == 0
    out = capsys.readouterr().out
    assert "split: by_time_block" in out and "note: only 1 simulation(s) (case_00)" in out


def test_without_idx_frames_are_split(make_arrays):
    data = load(make_arrays(datasets={"u": flow_fields(n_sims=1, n_frames=20)}), seed=3)
    record = data.split_record
    assert record["strategy"] == "by_frame"
    assert [len(record[name]["frames"]) for name in SPLITS] == [16, 2, 2]
    frames = sum((record[name]["frames"] for name in SPLITS), [])
    assert sorted(frames) == list(range(20))
    assert frames[:16] != list(range(16))  # shuffled, not the first 16
    np.testing.assert_array_equal(data.val.indices, record["val"]["frames"])


@pytest.mark.parametrize(
    "n, expected",
    [(3, (1, 1, 1)), (5, (3, 1, 1)), (10, (8, 1, 1)), (12, (10, 1, 1)), (100, (80, 10, 10))],
)
def test_split_counts(n, expected):
    assert split_counts(n, (0.8, 0.1, 0.1)) == expected


def test_split_counts_give_each_split_one_even_with_lopsided_fractions():
    assert split_counts(4, (0.98, 0.01, 0.01)) == (2, 1, 1)
    assert split_counts(10, (0.1, 0.45, 0.45)) == (1, 5, 4)


@pytest.mark.parametrize("fractions", [(0.8, 0.2), (0.9, 0.1, 0.0), (0.5, 0.3, 0.3)])
def test_bad_fractions(fractions):
    groups = [Simulation(f"s{i}", i, i + 1) for i in range(10)]
    with pytest.raises(ConfigError, match="split fractions"):
        plan_splits(groups, by_simulation=True, fractions=fractions)


def test_next_step_pairs_stay_inside_one_simulation(make_original):
    data = load(make_original(n_sims=2, n_frames=10))  # time blocks: each split holds two pieces
    for name in SPLITS:
        split = getattr(data, name)
        t, t_next = split.next_step_pairs()
        rows, rows_next = split.indices[t], split.indices[t_next]
        np.testing.assert_array_equal(rows_next, rows + 1)
        assert all((rows < 10) == (rows_next < 10))  # never from case_00 into case_01
    np.testing.assert_array_equal(data.train.next_step_pairs()[0], [*range(0, 7), *range(8, 15)])
    assert len(data.val.next_step_pairs()[0]) == 0  # one step per simulation: nothing to pair
