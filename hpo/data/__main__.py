"""`python -m hpo.data {info,check,generate}`: look at a data file, load it as a study would, make one.

    python -m hpo.data info [PATH] [--dataset NAME]     (no PATH: the embedded dataset)
    python -m hpo.data check [--data PATH] [--dataset NAME] [--channels LIST] [--drop-invalid]
                             [--memory-budget MB] [--seed N] [--json]
    python -m hpo.data generate [--out PATH] [--quick]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from hpo.cli import ArgumentParser, run
from hpo.config import DEFAULT_SEED
from hpo.data.arguments import add_data_arguments, load_from_args
from hpo.data.loader import FlowData
from hpo.data.summary import format_info, info


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m hpo.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    show = commands.add_parser("info", help="summarise a data file: layout, datasets, channels, "
                                            "simulations, NaN/Inf, value ranges")
    show.add_argument("path", type=Path, nargs="?", default=None,
                      help="HDF5 file (default: the embedded dataset, generated on first use)")
    show.add_argument("--dataset", metavar="NAME", default=None)

    check = commands.add_parser("check", help="load, validate, split and scale the data as the "
                                              "optimizers will, and say what came out")
    add_data_arguments(check)
    check.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seeds the split")
    check.add_argument("--json", action="store_true", help="print the data description as JSON")

    make = commands.add_parser("generate", help="generate the embedded Rayleigh-Benard dataset")
    make.add_argument("--out", type=Path, default=None, help="where to write it (default: the cache)")
    make.add_argument("--quick", action="store_true", help="a small, fast version for trials and tests")

    args = parser.parse_args(argv)
    if args.command == "info":
        if args.path is None:
            from hpo.data import embedded  # only the default needs the solver

            args.path = embedded.default_dataset_path()
        print(format_info(info(args.path, args.dataset)))
    elif args.command == "check":
        data = load_from_args(args, echo=None)
        print(json.dumps(data.describe(), indent=2) if args.json else format_check(data))
    else:
        from hpo.data import embedded  # here: only `generate` needs the solver

        print(embedded.generate_dataset(args.out, args.quick))
    return 0


def format_check(data: FlowData) -> str:
    """What `check` prints: where the data came from, how it was split and scaled, and notes."""
    record = data.split_record
    where = "streamed from disk" if data.streamed else "held in memory"
    counts = ", ".join(f"{name} {record[name]['n_samples']}" for name in ("train", "val", "test"))
    lines = [f"file: {data.source_path} ({data.source.layout}, data: {data.source.dataset})",
             f"channels: {', '.join(data.channel_names)}",
             f"input shape: {data.input_shape}",
             f"samples: {data.n_samples}, {where}",
             f"split: {record['strategy']} (seed {record['seed']}): {counts}"]
    lines += [f"  scaling {name}: mean {mean:.6g}, std {std:.6g} (train split)"
              for name, mean, std in zip(data.channel_names, data.scaler.mean, data.scaler.std)]
    lines += [f"note: {message}" for message in data.messages]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run(main))
