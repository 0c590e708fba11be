"""The data flags every CLI shares (`hpo.data check`, `hpo.screen`, `hpo.optimize`), defined
once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpo.config import DEFAULT_MEMORY_BUDGET_BYTES
from hpo.data.loader import FlowData, load
from hpo.workspace import Workspace

MIB = 1024**2


def add_data_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add --data, --dataset, --channels, --drop-invalid and --memory-budget to `parser`."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        metavar="PATH",
        type=Path,
        default=None,
        help="HDF5 file: the original layout, plain (N,H,W[,C]) arrays or The Well's "
        "rayleigh_benard (default: the embedded dataset, generated on first use)",
    )
    group.add_argument(
        "--dataset",
        metavar="NAME",
        default=None,
        help="HDF5 path of the data when the file holds several candidates",
    )
    group.add_argument(
        "--channels",
        metavar="LIST",
        default=None,
        help="comma-separated channel names or indices, e.g. temperature,velocity or "
        "0,2 (default: all; The Well: buoyancy,pressure,velocity)",
    )
    group.add_argument(
        "--drop-invalid",
        action="store_true",
        help="drop simulations holding NaN/Inf values instead of refusing the file",
    )
    group.add_argument(
        "--memory-budget",
        metavar="MB",
        type=float,
        default=None,
        help="stream the data from disk when the selected part exceeds this many MiB "
        f"(default {DEFAULT_MEMORY_BUDGET_BYTES // MIB})",
    )
    return group


def load_keywords(
    args: argparse.Namespace, workspace: Workspace | None = None, quick: bool = False
) -> dict[str, Any]:
    """The `load` keywords for the flags of `add_data_arguments` (and `args.seed` when present),
    e.g. for worker processes that load the same data again.

    Args:
        workspace: where the embedded dataset is cached when --data is not given.
        quick: without --data, the quick embedded dataset (`--quick`) instead of the default one.
    """
    budget = (
        DEFAULT_MEMORY_BUDGET_BYTES if args.memory_budget is None else int(args.memory_budget * MIB)
    )
    path = args.data
    if path is None and quick:
        from hpo.data.embedded import default_dataset_path  # the generator only when needed

        path = default_dataset_path(quick=True, workspace=workspace)
    options: dict[str, Any] = {
        "path": path,
        "dataset": args.dataset,
        "channels": args.channels,
        "drop_invalid": args.drop_invalid,
        "memory_budget_bytes": budget,
    }
    if getattr(args, "seed", None) is not None:
        options["seed"] = args.seed
    if workspace is not None:
        options["workspace"] = workspace
    return options


def load_from_args(
    args: argparse.Namespace,
    *,
    echo: Callable[[str], Any] | None = print,
    workspace: Workspace | None = None,
    quick: bool = False,
    **overrides: Any,
) -> FlowData:
    """`load` with the flags of `add_data_arguments` (and `args.seed` when the CLI has one).

    Args:
        args: parsed arguments.
        echo: called with each message ("note: dropped ..."); None keeps quiet.
        workspace, quick: as `load_keywords`'.
        overrides: further `load` keywords (fractions=, seed=, ...), winning over `args`.
    """
    options = load_keywords(args, workspace, quick)
    options.update(overrides)
    data = load(**options)
    for message in data.messages if echo is not None else ():
        echo(f"note: {message}")
    return data
