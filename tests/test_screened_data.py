"""hpo.optimize.screened_data: without data flags, hpo.optimize loads the file the screen recorded;
data that differ are refused in one short line naming both files. And the summary it prints shows
"-", never "nan", where a figure does not exist."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from hpo.data import load
from hpo.errors import ConfigError
from hpo.optimize.screened_data import check_screened, data_keywords
from hpo.reports.tables import format_summary

# What hpo.data.arguments.load_keywords gives for a command line without data flags.
NO_FLAGS = {"path": None, "dataset": None, "channels": None, "drop_invalid": False, "seed": 1}


def described(path, **changes) -> dict:
    record = {
        "path": str(path),
        "layout": "original",
        "dataset": "scaled_data",
        "channels": ["temperature", "pressure"],
        "split": {"seed": 7, "dropped": []},
    }
    return {**record, **changes}


def test_without_data_flags_the_screens_file_and_options_are_loaded(make_original):
    path = make_original()
    keywords = data_keywords(NO_FLAGS, described(path), "r")
    assert keywords["path"] == path and keywords["dataset"] == "scaled_data"
    assert keywords["channels"] == ["temperature", "pressure"]
    assert keywords["drop_invalid"] is False
    assert keywords["seed"] == 7  # the screen's split, whatever --seed seeds the search with
    dropped = described(path, split={"seed": 0, "dropped": ["case_01"]})
    assert data_keywords(NO_FLAGS, dropped, "r")["drop_invalid"] is True
    # The Well's files take no --dataset: their fields are the channels.
    assert data_keywords(NO_FLAGS, described(path, layout="the_well"), "r")["dataset"] is None


def test_the_flags_given_win_and_a_file_given_is_used_as_it_is(make_original):
    path, other = make_original(), make_original("other.h5")
    channels = data_keywords({**NO_FLAGS, "channels": "temperature"}, described(path), "r")
    assert channels["path"] == path and channels["channels"] == "temperature"
    given = {**NO_FLAGS, "path": other}
    assert data_keywords(given, described(path), "r") == given
    assert data_keywords({}, {}, "r") == {}  # a screen stored before its data were recorded


def test_the_screens_file_gone_is_one_line_naming_it(tmp_path):
    gone = tmp_path / "moved.h5"
    with pytest.raises(ConfigError) as raised:
        data_keywords(NO_FLAGS, described(gone), "r")
    message = str(raised.value)
    assert "\n" not in message
    assert f"the screen of run 'r' trained on {gone}, which no longer exists" in message
    assert "pass --data PATH" in message


def test_data_that_differ_are_refused_naming_both_files_without_json(make_original):
    path = make_original("screened.h5")
    screened = load(path).describe()
    other = load(make_original("other.h5", n_sims=6))
    with pytest.raises(ConfigError) as raised:
        check_screened(other, screened, "r")
    message = str(raised.value)
    assert "\n" not in message and len(message) < 400, message
    assert str(other.source_path.resolve()) in message and screened["path"] in message
    assert "file contents, shape, split differ" in message and "{" not in message
    check_screened(load(path), screened, "r")  # the same data pass


def test_the_summary_shows_a_dash_never_nan_where_a_figure_does_not_exist():
    rows = [
        {  # a study that searches the latent size, its best at a size the screen did not rank
            "architecture": "conv",
            "latent": 12,
            "latent_searched": True,
            "study": "r-conv",
            "n_complete": 3,
            "n_pruned": 1,
            "n_failed": 0,
            "best_trial": 2,
            "val_rel_l2": 0.31,
            "test_rel_l2": 0.33,
            "test_mse": 0.1,
            "screen_val_mean": math.nan,
            "screen_test_mean": math.nan,
            "pca_test_rel_l2": 0.4,
            "ratio_to_pca": 0.33 / 0.4,
        },
        {  # a fixed-size study with no completed trial yet
            "architecture": "dual",
            "latent": 8,
            "latent_searched": False,
            "study": "r-dual-z8",
            "n_complete": 0,
            "n_pruned": 2,
            "n_failed": 1,
            "screen_val_mean": 0.5,
            "screen_test_mean": 0.52,
        },
    ]
    text = format_summary(pd.DataFrame(rows), "rel_l2")
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), text
    searched = next(line for line in text.splitlines() if line.startswith("r-conv "))
    assert searched.split()[1] == "12*" and searched.split()[-4:-2] == ["-", "-"], searched
    assert "One objective, validation error, prefers large codes" in text
    fixed = next(line for line in text.splitlines() if line.startswith("r-dual-z8 "))
    assert fixed.split()[1:3] == ["8", "0/2/1/0"] and fixed.split()[-2:] == ["-", "-"], fixed
    # Only fixed sizes: no note about searching.
    assert "prefers large codes" not in format_summary(pd.DataFrame(rows[1:]), "rel_l2")
