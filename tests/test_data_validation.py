"""hpo.data.validation: every refusal is one line at the CLI (exit 2) naming the problem and the
fix."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.cli import run
from hpo.data import load
from hpo.data.__main__ import main
from hpo.data.layouts import open_source
from hpo.data.validation import count_nonfinite
from hpo.errors import DataError

from helpers import flow_fields


def refused(capsys, argv) -> str:
    """Run the CLI, check it refused cleanly, and return its one line on stderr."""
    assert run(main, argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


def test_missing_file(capsys, tmp_path):
    line = refused(capsys, ["check", "--data", str(tmp_path / "nope.h5")])
    assert "no such file" in line and "nope.h5" in line


def test_missing_file_in_info(capsys, tmp_path):
    assert "no such file" in refused(capsys, ["info", str(tmp_path / "nope.h5")])


def test_not_hdf5(capsys, tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("temperature,pressure\n1,2\n")
    assert "is not an HDF5 file" in refused(capsys, ["check", "--data", str(path)])


def test_unknown_dataset_lists_the_ones_found(capsys, make_original):
    line = refused(capsys, ["check", "--data", str(make_original()), "--dataset", "vorticity"])
    assert "no dataset 'vorticity'" in line
    assert "scaled_data (30, 24, 20, 3)" in line and "unscaled_data (30, 24, 20, 3)" in line


def test_wrong_rank(capsys, make_arrays):
    path = make_arrays(datasets={"table": np.zeros((30, 24)), "u": flow_fields()})
    line = refused(capsys, ["check", "--data", str(path), "--dataset", "table"])
    assert "has shape (30, 24)" in line and "(N, H, W)" in line and "u (30, 24, 20, 3)" in line


def test_no_candidate_dataset(capsys, make_arrays):
    path = make_arrays(datasets={"time": np.arange(5.0)})
    assert "no (N, H, W) or (N, H, W, C) dataset" in refused(capsys, ["check", "--data", str(path)])


def test_too_few_samples(capsys, make_arrays):
    path = make_arrays(datasets={"u": flow_fields(n_sims=1, n_frames=2)})
    line = refused(capsys, ["check", "--data", str(path)])
    assert "needs at least 3 samples" in line and "2 are usable" in line


def test_too_short_simulations_for_a_time_split(capsys, make_original):
    line = refused(capsys, ["check", "--data", str(make_original(n_sims=2, n_frames=2))])
    assert "at least 3 time steps" in line and "longest has 2" in line


def test_grid_too_small(capsys, make_arrays):
    path = make_arrays(datasets={"u": flow_fields(grid=(8, 20))})
    line = refused(capsys, ["check", "--data", str(path)])
    assert "8 x 20" in line and "16 x 16" in line


def test_unknown_channel(capsys, make_original):
    line = refused(
        capsys, ["check", "--data", str(make_original()), "--channels", "temperature,vorticity"]
    )
    assert "unknown channel 'vorticity'" in line and "0=temperature, 1=pressure, 2=velocity" in line


def test_bad_memory_budget(capsys, make_original):
    assert "memory budget must be positive" in refused(
        capsys, ["check", "--data", str(make_original()), "--memory-budget", "0"]
    )


def test_nan_and_inf_are_refused_naming_simulations_and_counts(capsys, make_original):
    path = make_original(bad={1: 7, 3: 2})
    line = refused(capsys, ["check", "--data", str(path)])
    assert "2 of 5 simulations" in line
    assert "case_01: 7 values, case_03: 2 values" in line
    assert "--drop-invalid" in line


def test_drop_invalid_drops_exactly_the_bad_simulations(make_original):
    data = load(make_original(bad={1: 7, 3: 2}), drop_invalid=True)
    assert [s.name for s in data.simulations] == ["case_00", "case_02", "case_04"]
    assert data.split_record["dropped"] == ["case_01", "case_03"]
    assert data.messages[0].startswith(
        "dropped 2 of 5 simulations with NaN/Inf values (case_01: 7 values"
    )
    kept_rows = np.concatenate([data.train.indices, data.val.indices, data.test.indices])
    assert sorted(kept_rows) == [*range(0, 6), *range(12, 18), *range(24, 30)]
    assert np.isfinite(data.train.arrays()).all()


def test_drop_invalid_is_printed_at_the_cli(capsys, make_original):
    assert run(main, ["check", "--data", str(make_original(bad={4: 3})), "--drop-invalid"]) == 0
    out = capsys.readouterr().out
    assert "note: dropped 1 of 5 simulations with NaN/Inf values (case_04: 3 values)" in out


def test_nan_in_an_unselected_channel_is_harmless(make_original):
    data_array = flow_fields()
    data_array[7, 0, 0, 2] = np.nan  # velocity of case_01
    path = make_original(data=data_array)
    with pytest.raises(DataError, match=r"case_01: 1 value\)"):
        load(path)
    assert load(path, channels="temperature,pressure").split_record["dropped"] == []


def test_all_simulations_invalid_is_refused_even_with_drop(make_original):
    with pytest.raises(DataError, match="5 of 5 simulations.*nothing valid is left"):
        load(make_original(bad={s: 2 for s in range(5)}), drop_invalid=True)


def test_frames_without_idx_are_checked_one_by_one(make_arrays):
    fields = flow_fields(n_sims=1, n_frames=10)
    fields[4, 1, 1, 0] = np.inf
    data = load(make_arrays(datasets={"u": fields}), drop_invalid=True)
    assert data.split_record["dropped"] == ["frame_4"]
    assert data.n_samples == 9


def test_nonfinite_count_is_the_same_in_one_chunk_or_many(make_original):
    source = open_source(make_original(bad={0: 5, 2: 40}))
    whole = count_nonfinite(source, source.simulations, chunk_rows=1000)
    row_by_row = count_nonfinite(source, source.simulations, chunk_rows=1)
    np.testing.assert_array_equal(whole, [5, 0, 40, 0, 0])
    np.testing.assert_array_equal(row_by_row, whole)
