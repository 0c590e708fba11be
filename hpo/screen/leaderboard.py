"""Leaderboard maths: one row per architecture at one latent size, and one row per run
(screen.csv)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd

from hpo import keys
from hpo.registry import METRICS
from hpo.screen.record import latent_of


def ranking_of(board: pd.DataFrame) -> list[str]:
    """The architectures of a leaderboard that have a scored run, best first: those trained to the
    last rung, then those successive halving stopped (a later rung first)."""
    return [row["architecture"] for _, row in board.iterrows() if not math.isnan(row["val_mean"])]


def leaderboard(
    trials: Sequence[optuna.trial.FrozenTrial], metric: str, pca: dict[str, Any]
) -> pd.DataFrame:
    """One row per architecture at one latent size: those trained to the last rung first, best
    (lowest mean validation metric) first, then those successive halving stopped, a later rung
    first (`stopped_at`: the rung's epochs; NaN for the others); failed ones last. Dual's next-step
    head is scored beside persistence (columns next_step_*)."""
    rows = {}
    for trial in trials:
        name = trial.params[keys.ARCHITECTURE]
        row = rows.setdefault(
            name,
            {
                "architecture": name,
                "val": [],
                "test": [],
                "n_failed": 0,
                "n_params": None,
                "latent": None,
                "seconds_per_epoch": [],
                "epochs_run": [],
                "mse_per_channel": [],
                "next_val": [],
                "next_test": [],
                "stopped_at": [],
            },
        )
        attrs = trial.user_attrs
        row["n_params"] = attrs.get(keys.N_PARAMS, row["n_params"])
        row["latent"] = attrs.get(keys.LATENT, row["latent"])
        stopped = trial.state == optuna.trial.TrialState.PRUNED and keys.VAL in attrs
        if trial.state != optuna.trial.TrialState.COMPLETE and not stopped:
            row["n_failed"] += 1
            continue
        if stopped:
            row["stopped_at"].append(attrs.get(keys.RUNG, attrs.get(keys.EPOCHS_RUN)))
        row["val"].append(attrs[keys.VAL][metric] if stopped else trial.value)
        row["test"].append(attrs[keys.TEST][metric])
        row["seconds_per_epoch"].append(attrs[keys.SECONDS_PER_EPOCH])
        row["epochs_run"].append(attrs[keys.EPOCHS_RUN])
        row["mse_per_channel"].append(attrs[keys.VAL]["mse_per_channel"])
        if f"next_step_{metric}" in attrs[keys.VAL]:
            row["next_val"].append(attrs[keys.VAL][f"next_step_{metric}"])
            row["next_test"].append(attrs[keys.TEST][f"next_step_{metric}"])
    pca_val = pca["val"][metric]
    table = []
    for row in rows.values():
        val = np.array(row["val"], float)
        per_channel = {}
        for channel_values in row["mse_per_channel"]:
            for channel, value in channel_values.items():
                per_channel.setdefault(channel, []).append(value)
        table.append(
            {
                "architecture": row["architecture"],
                "n_params": row["n_params"],
                "latent": row["latent"],
                "val_mean": val.mean() if val.size else np.nan,
                "val_std": val.std(ddof=1) if val.size > 1 else (0.0 if val.size else np.nan),
                "test_mean": np.mean(row["test"]) if row["test"] else np.nan,
                **{f"val_mse_{channel}": float(np.mean(v)) for channel, v in per_channel.items()},
                "seconds_per_epoch": np.mean(row["seconds_per_epoch"])
                if row["seconds_per_epoch"]
                else np.nan,
                "epochs_run": np.mean(row["epochs_run"]) if row["epochs_run"] else np.nan,
                "n_runs": val.size,
                "n_failed": row["n_failed"],
                # A halving stops all repeats of an architecture at the same rung.
                "stopped_at": max(row["stopped_at"]) if row["stopped_at"] else np.nan,
                "beats_pca": bool(val.size and val.mean() < pca_val),
                "next_step_val_mean": np.mean(row["next_val"]) if row["next_val"] else np.nan,
                "next_step_test_mean": np.mean(row["next_test"]) if row["next_test"] else np.nan,
            }
        )
    board = pd.DataFrame(table)
    if board.empty:
        return board
    board["_reached"] = board["stopped_at"].fillna(np.inf)
    board = board.sort_values(
        ["_reached", "val_mean"], ascending=[False, True], na_position="last", kind="stable"
    ).drop(columns="_reached")
    board = pd.concat([board[board["val_mean"].notna()], board[board["val_mean"].isna()]])
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)


RUN_COLUMNS = (
    "architecture",
    "latent",
    "repeat",
    "state",
    "stopped_at",
    "n_params",
    "epochs_run",
    "val_rel_l2",
    "test_rel_l2",
    "pca_val_rel_l2",
    "pca_test_rel_l2",
    "plain_pca_val_rel_l2",
    "plain_pca_test_rel_l2",
    "val_mse",
    "test_mse",
    "pca_val_mse",
    "pca_test_mse",
    "next_step_val_rel_l2",
    "next_step_test_rel_l2",
    "persistence_val_rel_l2",
    "persistence_test_rel_l2",
    "pca_persistence_val_rel_l2",
    "pca_persistence_test_rel_l2",
)


def runs_table(
    trials: Iterable[optuna.trial.FrozenTrial],
    pca: dict[int, dict[str, Any]],
    steps: dict[str, Any] | None,
) -> pd.DataFrame:
    """One row per run (the compression curve's data; screen.csv): the run's errors beside PCA's at
    its latent size (pca_*: the PCA it is compared with; plain_pca_*: PCA of the plain training set,
    the same unless augmented), and for two-headed models the next-step error beside persistence."""
    rows = []
    for trial in trials:
        latent = latent_of(trial)
        baseline = pca[latent]
        attrs = trial.user_attrs
        val, test = attrs.get(keys.VAL, {}), attrs.get(keys.TEST, {})
        stopped = trial.state == optuna.trial.TrialState.PRUNED
        row = {
            "architecture": trial.params[keys.ARCHITECTURE],
            "latent": latent,
            "repeat": trial.params[keys.REPEAT],
            "state": "stopped" if stopped else trial.state.name.lower(),
            # The rung (epochs) where successive halving stopped the run; empty when it went on.
            "stopped_at": attrs.get(keys.RUNG) if stopped else None,
            "n_params": attrs.get(keys.N_PARAMS),
            "epochs_run": attrs.get(keys.EPOCHS_RUN),
        }
        for metric in METRICS.names():
            row[f"val_{metric}"] = val.get(metric, np.nan)
            row[f"test_{metric}"] = test.get(metric, np.nan)
            row[f"pca_val_{metric}"] = baseline["val"][metric]
            row[f"pca_test_{metric}"] = baseline["test"][metric]
        row["plain_pca_val_rel_l2"] = baseline["plain"]["val"]["rel_l2"]
        row["plain_pca_test_rel_l2"] = baseline["plain"]["test"]["rel_l2"]
        two_headed = "next_step_rel_l2" in val
        for split, scores in (("val", val), ("test", test)):
            row[f"next_step_{split}_rel_l2"] = scores.get("next_step_rel_l2", np.nan)
            row[f"persistence_{split}_rel_l2"] = (
                steps[split]["rel_l2"] if two_headed and steps else np.nan
            )
            row[f"pca_persistence_{split}_rel_l2"] = (
                baseline["persistence"][split]["rel_l2"]
                if two_headed and "persistence" in baseline
                else np.nan
            )
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    return table.sort_values(["latent", "architecture", "repeat"], kind="stable").reset_index(
        drop=True
    )
