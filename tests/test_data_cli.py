"""`python -m hpo.data` (info, check, generate), the shared data flags, and describe()."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from hpo.cli import ArgumentParser, run
from hpo.data import add_data_arguments, embedded, info, load, load_from_args
from hpo.data.__main__ import main


def test_info_prints_the_summary(capsys, make_original):
    path = make_original(bad={3: 4})
    assert run(main, ["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layout: original (data: scaled_data)" in out
    assert "scaled_data  (30, 24, 20, 3)  float32" in out
    assert "unscaled_data  (30, 24, 20, 3)  float64" in out
    assert "channels: 0=temperature, 1=pressure, 2=velocity" in out
    assert "simulations: 5" in out and "case_04  rows 24-29  (6 steps)" in out
    assert "NaN/Inf values: 4 (case_03: 4)" in out
    with h5py.File(path) as f:
        velocity = f["scaled_data"][..., 2]
    finite = velocity[np.isfinite(velocity)]
    assert f"velocity     min {finite.min():.6g}  max {finite.max():.6g}" in out
    assert "scale 4, offset 302" in out


def test_info_values(make_the_well):
    path = make_the_well()
    summary = info(path)
    assert summary["layout"] == "the_well"
    assert summary["channels"] == ["buoyancy", "pressure", "velocity", "velocity_x", "velocity_y"]
    assert summary["default_channels"] == ["buoyancy", "pressure", "velocity"]
    assert summary["simulations"] == [["traj_0", 0, 4], ["traj_1", 4, 8], ["traj_2", 8, 12]]
    assert summary["nonfinite"] == {"total": 0, "by_simulation": {}}
    with h5py.File(path) as f:
        pressure = f["t0_fields/pressure"][...]
    assert summary["ranges"]["pressure"]["max"] == pytest.approx(float(pressure.max()))
    assert summary["ranges"]["pressure"]["mean"] == pytest.approx(
        float(pressure.mean(dtype=np.float64))
    )
    assert summary["ranges"]["velocity"]["min"] >= 0
    json.dumps(summary)


def test_info_on_plain_arrays_names_the_dataset(capsys, make_arrays):
    fields = np.zeros((4, 16, 16, 2), np.float32)
    path = make_arrays(datasets={"a": fields, "b": fields})
    assert run(main, ["info", str(path), "--dataset", "b"]) == 0
    out = capsys.readouterr().out
    assert "layout: arrays (data: b)" in out and "simulations: not marked" in out


def test_generate_calls_the_embedded_generator(capsys, monkeypatch, tmp_path):
    calls = []

    def fake_generate(out, quick=False, progress=print, workspace=None):
        calls.append((out, quick))
        return tmp_path / "rb.h5"

    monkeypatch.setattr(embedded, "generate_dataset", fake_generate)
    assert run(main, ["generate", "--out", str(tmp_path / "x.h5"), "--quick"]) == 0
    assert calls == [(tmp_path / "x.h5", True)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "rb.h5")


def test_load_without_a_path_uses_the_embedded_dataset(monkeypatch, make_original):
    path = make_original()
    monkeypatch.setattr(embedded, "default_dataset_path", lambda quick=False, workspace=None: path)
    assert load().source_path == path


def test_check_prints_layout_split_and_scaling(capsys, make_original):
    assert (
        run(main, ["check", "--data", str(make_original()), "--channels", "0,2", "--seed", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "channels: temperature, velocity" in out
    assert "input shape: (24, 20, 2)" in out
    assert "samples: 30, held in memory" in out
    assert "split: by_simulation (seed 3): train 18, val 6, test 6" in out
    assert "scaling temperature: mean" in out


def test_check_json_is_the_description(capsys, make_original):
    path = make_original()
    assert run(main, ["check", "--data", str(path), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described == json.loads(json.dumps(load(path).describe()))


def test_shared_flags_reach_load(make_original):
    parser = ArgumentParser(prog="hpo.screen")
    add_data_arguments(parser)
    path = make_original(bad={0: 4})  # NaN in all three channels of one cell, Inf in velocity
    args = parser.parse_args(
        ["--data", str(path), "--channels", "pressure", "--drop-invalid", "--memory-budget", "0.01"]
    )
    notes = []
    data = load_from_args(args, echo=notes.append, seed=4)
    assert data.channel_names == ("pressure",)
    assert data.streamed  # 24 rows x 24 x 20 x 4 bytes > 0.01 MiB
    assert data.split_record["seed"] == 4
    assert notes == ["note: dropped 1 of 5 simulations with NaN/Inf values (case_00: 1 value)"]
    defaults = parser.parse_args(["--data", str(make_original("clean.h5"))])
    assert load_from_args(defaults).streamed is False


def test_describe_fingerprint_changes_when_the_file_does(make_original):
    path = make_original()
    data = load(path)
    described = json.loads(json.dumps(data.describe()))
    assert described["channels"] == ["temperature", "pressure", "velocity"]
    assert described["shape"] == [30, 24, 20, 3]
    assert described["file"]["size"] == path.stat().st_size
    assert load(path).mismatches(described) == []
    assert [m.split(":")[0] for m in load(path, channels="0").mismatches(described)] == [
        "fingerprint",
        "channels",
        "shape",
    ]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [m.split(":")[0] for m in load(path).mismatches(described)] == ["fingerprint"]


def test_generate_with_a_custom_design_passes_its_spec(capsys, monkeypatch, tmp_path):
    calls = []

    def fake_generate(out, quick=False, progress=print, spec=None, workspace=None):
        calls.append((out, spec))
        return tmp_path / "rb.h5"

    monkeypatch.setattr(embedded, "generate_dataset", fake_generate)
    argv = ["generate", "--cases", "8", "--ra", "2e5,4e5", "--pr", "1,2", "--walls", "free-slip"]
    assert run(main, argv) == 0
    ((out, spec),) = calls
    assert out is None and spec.n_cases == 8 and spec.walls == "free-slip"
    assert spec.rayleigh_range == (2e5, 4e5) and spec.prandtl_range == (1.0, 2.0)
    assert spec.n_x == embedded.DEFAULT_SPEC.n_x  # everything else from the default
    assert spec.key() != embedded.DEFAULT_SPEC.key()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["generate", "--ra", "5e5,1e5"], "--ra needs 0 < LO <= HI"),
        (["generate", "--pr", "7"], "--pr takes LO,HI"),
        (["generate", "--cases", "0"], "--cases must be at least 1"),
        (["simulate", "--ra", "0", "--pr", "1", "--out", "x.h5"], "--ra must be a positive number"),
        (
            ["simulate", "--ra", "1e5", "--pr", "1", "--grid", "200by100", "--out", "x.h5"],
            "--grid takes",
        ),
        (
            ["simulate", "--ra", "1e5", "--pr", "1", "--snapshots", "0", "--out", "x.h5"],
            "--snapshots",
        ),
        (
            ["simulate", "--ra", "1e5", "--pr", "1", "--walls", "sticky", "--out", "x.h5"],
            "invalid choice",
        ),
        (["simulate", "--ra", "1e5", "--out", "x.h5"], "--pr"),
    ],
)
def test_bad_generator_flags_fail_in_one_line(capsys, argv, expected):
    try:
        code = run(main, argv)
    # argparse's own checks (choices, required flags) exit from parse_args
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """`simulate` with automatic spin-up on a small grid: (path, printed lines)."""
    path = tmp_path_factory.mktemp("simulate") / "one.h5"
    lines = []
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(
            main,
            [
                "simulate",
                "--ra",
                "2e4",
                "--pr",
                "1",
                "--grid",
                "48x24",
                "--snapshots",
                "6",
                "--spacing",
                "0.5",
                "--seed",
                "1",
                "--out",
                str(path),
            ],
        )
    lines = buffer.getvalue().splitlines()
    assert code == 0, lines
    return path, lines


def test_simulate_writes_one_simulation_in_the_seed_layout(simulated):
    path, lines = simulated
    with h5py.File(path) as f:
        data = f["scaled_data"]
        assert data.shape == (6, 48, 24, 3)
        assert data.attrs["idx"].tolist() == [[0, 6]] and len(data.attrs["cases"]) == 1
        assert list(data.attrs["walls"]) == ["no-slip"]
        attrs = {
            key: float(data.attrs[key][0])
            for key in (
                "rayleigh",
                "prandtl",
                "nusselt",
                "nusselt_min",
                "nusselt_max",
                "temporal_variation",
                "spinup_time",
                "developed_time",
            )
        }
        times = f["time"][:]
    assert attrs["rayleigh"] == 2e4 and attrs["prandtl"] == 1.0
    assert 1.2 < attrs["nusselt_min"] <= attrs["nusselt"] <= attrs["nusselt_max"]
    assert attrs["temporal_variation"] >= 0
    # Automatic spin-up: developed (Nu > 1.2, overshoot over), then 10 free-fall times of settling.
    assert attrs["developed_time"] > 0 and attrs["spinup_time"] == pytest.approx(
        attrs["developed_time"] + 10
    )
    np.testing.assert_allclose(times, attrs["spinup_time"] + 0.5 * np.arange(6))
    progress = [line for line in lines if line.strip().startswith("t =")]
    assert len(progress) >= 3 and all("Nu =" in line and "dt =" in line for line in progress)
    assert lines[-1] == str(path)
    data = load(path)  # one simulation: the loader splits it in time
    assert data.split_record["strategy"] == "by_time_block"


def test_info_lists_each_simulations_physics(capsys, simulated):
    path, _ = simulated
    assert run(main, ["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "simulations: 1" in out
    header = next(line for line in out.splitlines() if "variation" in line)
    assert header.split() == ["name", "Ra", "Pr", "Nu", "variation", "snapshots", "rows"]
    row = out.splitlines()[out.splitlines().index(header) + 1].split()
    with h5py.File(path) as f:
        attrs = f["scaled_data"].attrs
        assert row[0] == attrs["cases"][0]
        assert float(row[3]) == pytest.approx(attrs["nusselt"][0], abs=1e-3)
        assert float(row[4]) == pytest.approx(attrs["temporal_variation"][0], abs=1e-3)
    assert row[5] == "6" and row[6] == "0-5"
