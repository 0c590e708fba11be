"""The command line: `python -m bench.replay` parses its flags, reads the table, runs the replay,
prints the report and writes replay[-quick].json and .html (and, for a full run, replay.png).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.replay.benchmark import (
    FULL_SEEDS,
    FULL_TRIALS,
    QUICK_SEEDS,
    QUICK_TRIALS,
    Settings,
    replay,
)
from bench.replay.methods import METHODS, TWO_STAGE
from bench.replay.report import format_table, write_chart
from bench.replay.table import DEFAULT_TABLE, RESULTS, TableError, load_table


def parse_args(argv=None) -> argparse.Namespace:
    import bench.replay  # its docstring's first line describes the command

    parser = argparse.ArgumentParser(
        prog="python -m bench.replay", description=bench.replay.__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="curves.csv of bench.curves, its .json beside it (default: "
        "bench/results/curves.csv; --quick: curves-quick.csv in --out)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"seeds per method ({FULL_SEEDS}; --quick {QUICK_SEEDS})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SEEDS} seeds, a budget of {QUICK_TRIALS} full trials (full: {FULL_TRIALS})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON and HTML")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.seeds is not None and args.seeds < 2:
        print(
            f"--seeds must be at least 2 (a bootstrap over one seed says nothing), but got "
            f"{args.seeds}",
            file=sys.stderr,
        )
        return 2
    if args.table is None:  # the quick table is bench.curves --quick's, written beside the JSON
        args.table = args.out / "curves-quick.csv" if args.quick else DEFAULT_TABLE
    try:
        table = load_table(args.table)
    except TableError as exc:
        print(f"bench.replay: {exc}", file=sys.stderr)
        return 2
    from bench.machine import machine
    from hpo.serialize import json_safe

    settings = Settings.make(table.epochs, args.quick, args.seeds)
    facts = machine()
    print(f"machine: {facts}", flush=True)
    methods = METHODS
    if not table.screen_config:
        methods = tuple(m for m in METHODS if m != TWO_STAGE)
        print(
            f"note: {args.table.with_suffix('.json').name} names no screen_config: "
            f"{TWO_STAGE} is left out",
            flush=True,
        )
    started = time.perf_counter()
    record = {"machine": facts, **replay(table, settings, methods)}
    record["wall_s"] = round(time.perf_counter() - started, 1)
    print(format_table(record))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"replay{'-quick' if args.quick else ''}.json"
    # Compact: the per-seed trials are tens of thousands of rows.
    path.write_text(json.dumps(json_safe(record), separators=(",", ":")) + "\n")
    write_chart(record, path.with_suffix(".html"), None if args.quick else path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.html').name} ({record['wall_s']:.0f} s)")
    return 0
