"""`python -m hpo.architectures`: a row per architecture; bad flags and errors give one line, exit
2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from hpo import architectures
from hpo.architectures.__main__ import main
from hpo.cli import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    keras.backend.clear_session(free_memory=False)


def _rows(stdout: str) -> dict[str, str]:
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["architecture", "params", "latent", "input", "output"]
    return {line.split()[0]: line for line in lines[1:]}


def _count(line: str) -> int:
    return int(line.split()[1].replace(",", ""))


def test_matched_table_has_five_rows_within_budget(capsys):
    assert run(main, []) == 0
    rows = _rows(capsys.readouterr().out)
    assert list(rows) == architectures.names()
    for name, line in rows.items():
        assert abs(_count(line) - 170_000) <= 17_000, line
        assert line.split()[2] == "50"
        assert line.count("200x100x3") == (3 if name == "dual" else 2)  # input, then each head
    assert "50 (35 top + 15 bottom)" in rows["vqvae2"]
    assert rows["dual"].endswith("reconstruction 200x100x3, next_step 200x100x3")


def test_seed_table_on_one_channel(capsys):
    assert run(main, ["--preset", "seed", "--input-shape", "200,100,1"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["conv"].split()[1:4] == ["168,354", "50", "200x100x1"]
    assert rows["depthwise"].split()[1:3] == ["270,544", "90"]
    assert "50 (25 top + 25 bottom)" in rows["vqvae2"]


def test_other_budget_and_latent(capsys):
    assert run(main, ["--params", "300000", "--latent", "32", "--input-shape", "64,48,2"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert len(rows) == 5
    for line in rows.values():
        assert abs(_count(line) - 300_000) <= 30_000, line
        assert line.split()[2] == "32" and "64x48x2" in line


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--params", "1000"],
            r"^error: conv cannot be matched to 1000 parameters .* smallest feasible budget is "
            r"4750",
        ),
        (
            ["--preset", "seed", "--latent", "20"],
            r"^error: --params and --latent size the matched preset",
        ),
        (["--latent", "1"], r"^error: --latent must be an integer >= 2"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, argv, message):
    assert run(main, argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert re.search(message, captured.err), captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--preset", "best"], "argument --preset: invalid choice: 'best'"),
        (
            ["--input-shape", "200,100"],
            "expected H,W,C (three positive integers), but got '200,100'",
        ),
        (["--params", "-5"], "argument --params: expected a positive integer, but got '-5'"),
        (
            ["--input-shape", "8,100,1"],
            "error: grid 8x100 is too small: both sides must be at least 16",
        ),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message):
    # A real process: the one line must not come with TensorFlow's import-time log lines either.
    result = subprocess.run(
        [sys.executable, "-m", "hpo.architectures", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
