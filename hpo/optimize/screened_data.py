"""The data `hpo.optimize` trains on: the file the screen recorded, unless the data flags name one.

The screen stores `FlowData.describe()` of what it trained on (ScreenRecord.data: the file's path,
its dataset, channels, the simulations dropped and the split's seed). Without `--data`, hpo.optimize
loads that file with those options, so `hpo.screen --data my.h5` then `hpo.optimize --top 1` needs
no data flags; the flags the user does give (`--channels`, ...) still win. The keywords resolved
here travel to the worker processes in `OptimizeConfig.data_kwargs`, so every process loads the
same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpo.errors import ConfigError

# describe() keys whose difference makes the data another data set (hpo.data.loader.MATCHED_KEYS),
# named as a user reads them.
_WHAT_DIFFERS = {
    "fingerprint": "file contents",
    "channels": "channels",
    "shape": "shape",
    "split": "split",
}


def data_keywords(given: dict[str, Any], screened: dict[str, Any], run: str) -> dict[str, Any]:
    """The `hpo.data.load` keywords of a run.

    Args:
        given: the data flags' keywords (`hpo.data.arguments.load_keywords`; {} in code): a `path`
            there means the user chose the file, and they are used as they are.
        screened: the screen's `FlowData.describe()` ({}: a screen stored before it was kept).
        run: the screen's run name, for the error.

    Returns:
        `given` when it names a file or the screen recorded none; else the screen's file, with its
        dataset, channels, dropped simulations and split seed where `given` leaves them unset.

    Raises:
        ConfigError: the screen's file is gone.
    """
    if given.get("path") is not None or not screened.get("path"):
        return dict(given)
    path = Path(screened["path"])
    if not path.is_file():
        raise ConfigError(
            f"the screen of run {run!r} trained on {path}, which no longer exists; pass --data "
            f"PATH (that file, moved) with the screen's data flags, or screen again"
        )
    recorded: dict[str, Any] = {
        "path": path,
        # The Well's files take no --dataset (their fields are channels).
        "dataset": None if screened.get("layout") == "the_well" else screened.get("dataset"),
        "channels": list(screened.get("channels") or []) or None,
        "drop_invalid": bool((screened.get("split") or {}).get("dropped")),
    }
    unset = {key: value for key, value in recorded.items() if not given.get(key)}
    split_seed = (screened.get("split") or {}).get("seed")
    if split_seed is not None:  # the screen's split, whatever --seed seeds the search with
        unset["seed"] = int(split_seed)
    return {**given, **unset}


def differences(data, stored: dict[str, Any]) -> list[str]:
    """What differs between `data` (FlowData) and a stored describe(), in words ([] if nothing)."""
    now = json.loads(json.dumps(data.describe()))  # tuples -> lists, as stored
    return [words for key, words in _WHAT_DIFFERS.items() if stored.get(key) != now.get(key)]


def check_screened(data, screened: dict[str, Any], run: str) -> None:
    """Refuse data that differ from what the screen of `run` trained on, in one short line.

    Raises:
        ConfigError: naming both files and what differs.
    """
    differ = differences(data, screened)
    if differ:
        raise ConfigError(
            f"the data differ from what run {run!r} screened: {data.source_path.resolve()} "
            f"against {screened.get('path', 'a file not recorded')} ({', '.join(differ)} "
            f"differ); pass no data flags to load the screen's file, or screen again"
        )
