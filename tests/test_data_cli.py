"""`python -m hpo.data` (info, check, generate), the shared data flags, and describe()."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from hpo.cli import ArgumentParser, run
from hpo.data import add_data_arguments, info, load, load_from_args
from hpo.data import embedded
from hpo.data.__main__ import main


def test_info_prints_the_summary(capsys, make_seed):
    path = make_seed(bad={3: 4})
    assert run(main, ["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layout: seed (data: scaled_data)" in out
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
    assert summary["ranges"]["pressure"]["mean"] == pytest.approx(float(pressure.mean(dtype=np.float64)))
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

    def fake_generate(out, quick=False, progress=print):
        calls.append((out, quick))
        return tmp_path / "rb.h5"

    monkeypatch.setattr(embedded, "generate_dataset", fake_generate)
    assert run(main, ["generate", "--out", str(tmp_path / "x.h5"), "--quick"]) == 0
    assert calls == [(tmp_path / "x.h5", True)]
    assert capsys.readouterr().out.strip() == str(tmp_path / "rb.h5")


def test_load_without_a_path_uses_the_embedded_dataset(monkeypatch, make_seed):
    path = make_seed()
    monkeypatch.setattr(embedded, "default_dataset_path", lambda quick=False: path)
    assert load().source_path == path


def test_check_prints_layout_split_and_scaling(capsys, make_seed):
    assert run(main, ["check", "--data", str(make_seed()), "--channels", "0,2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "channels: temperature, velocity" in out
    assert "input shape: (24, 20, 2)" in out
    assert "samples: 30, held in memory" in out
    assert "split: by_simulation (seed 3): train 18, val 6, test 6" in out
    assert "scaling temperature: mean" in out


def test_check_json_is_the_description(capsys, make_seed):
    path = make_seed()
    assert run(main, ["check", "--data", str(path), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described == json.loads(json.dumps(load(path).describe()))


def test_shared_flags_reach_load(make_seed):
    parser = ArgumentParser(prog="hpo.screen")
    add_data_arguments(parser)
    path = make_seed(bad={0: 4})  # NaN in all three channels of one cell, Inf in velocity
    args = parser.parse_args(["--data", str(path), "--channels", "pressure", "--drop-invalid",
                              "--memory-budget", "0.01"])
    notes = []
    data = load_from_args(args, echo=notes.append, seed=4)
    assert data.channel_names == ("pressure",)
    assert data.streamed  # 24 rows x 24 x 20 x 4 bytes > 0.01 MiB
    assert data.split_record["seed"] == 4
    assert notes == ["note: dropped 1 of 5 simulations with NaN/Inf values (case_00: 1 value)"]
    defaults = parser.parse_args(["--data", str(make_seed("clean.h5"))])
    assert load_from_args(defaults).streamed is False


def test_describe_fingerprint_changes_when_the_file_does(make_seed):
    path = make_seed()
    data = load(path)
    described = json.loads(json.dumps(data.describe()))
    assert described["channels"] == ["temperature", "pressure", "velocity"]
    assert described["shape"] == [30, 24, 20, 3]
    assert described["file"]["size"] == path.stat().st_size
    assert load(path).mismatches(described) == []
    assert [m.split(":")[0] for m in load(path, channels="0").mismatches(described)] == [
        "fingerprint", "channels", "shape"]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [m.split(":")[0] for m in load(path).mismatches(described)] == ["fingerprint"]
