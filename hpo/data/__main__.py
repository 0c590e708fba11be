"""`python -m hpo.data {info,check,generate,simulate}`: look at a data file, load it as a study
would, make one.

    python -m hpo.data info [PATH] [--dataset NAME]     (no PATH: the embedded dataset)
    python -m hpo.data check [--data PATH] [--dataset NAME] [--channels LIST] [--drop-invalid]
                             [--memory-budget MB] [--seed N] [--json]
    python -m hpo.data generate [--out PATH] [--quick] [--cases N] [--ra LO,HI] [--pr LO,HI]
                                [--walls no-slip|free-slip]
    python -m hpo.data simulate --ra RA --pr PR [--walls no-slip] [--lx 2] [--grid 200x100]
                                [--spinup T] [--snapshots N] [--spacing DT] [--seed S] --out PATH
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from hpo.cli import ArgumentParser, add_home_argument, entry_point, workspace_from_args
from hpo.config import DEFAULT_SEED
from hpo.data.arguments import add_data_arguments, load_from_args
from hpo.data.loader import FlowData
from hpo.data.summary import format_info, info
from hpo.errors import ConfigError

# hpo.data.rayleigh_benard.simulation.WALLS, without the import
WALL_CHOICES = ("no-slip", "free-slip")


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m hpo.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    show = commands.add_parser(
        "info",
        help="summarise a data file: layout, datasets, channels, "
        "simulations, NaN/Inf, value ranges",
    )
    show.add_argument(
        "path",
        type=Path,
        nargs="?",
        default=None,
        help="HDF5 file (default: the embedded dataset, generated on first use)",
    )
    show.add_argument("--dataset", metavar="NAME", default=None)
    add_home_argument(show)

    check = commands.add_parser(
        "check",
        help="load, validate, split and scale the data as the "
        "optimizers will, and say what came out",
    )
    add_data_arguments(check)
    check.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seeds the split")
    check.add_argument("--json", action="store_true", help="print the data description as JSON")
    add_home_argument(check)

    make = commands.add_parser("generate", help="generate the embedded Rayleigh-Benard dataset")
    make.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write it (default: the cache, <home>/data/)",
    )
    add_home_argument(make)
    make.add_argument(
        "--quick", action="store_true", help="a small, fast version for trials and tests"
    )
    make.add_argument(
        "--cases",
        metavar="N",
        type=int,
        default=None,
        help="number of simulations of a custom design (default: 24; quick: 6)",
    )
    make.add_argument(
        "--ra",
        metavar="LO,HI",
        default=None,
        help="Rayleigh range of a custom design, log-uniform (default: 1e5,2e6)",
    )
    make.add_argument(
        "--pr",
        metavar="LO,HI",
        default=None,
        help="Prandtl range of a custom design, log-uniform (default: 0.7,10)",
    )
    make.add_argument(
        "--walls",
        choices=WALL_CHOICES,
        default=None,
        help="boundary condition on the top and bottom walls (default: no-slip)",
    )

    one = commands.add_parser(
        "simulate", help="run one Rayleigh-Benard simulation and write it in the original layout"
    )
    one.add_argument("--ra", metavar="RA", type=float, required=True, help="Rayleigh number")
    one.add_argument("--pr", metavar="PR", type=float, required=True, help="Prandtl number")
    one.add_argument(
        "--walls",
        choices=WALL_CHOICES,
        default="no-slip",
        help="boundary condition on the top and bottom walls (default: no-slip)",
    )
    one.add_argument(
        "--lx",
        metavar="LX",
        type=float,
        default=2.0,
        help="box length (the height is 1; default 2)",
    )
    one.add_argument(
        "--grid",
        metavar="NXxNZ",
        default="200x100",
        help="output grid, x points by z points (default 200x100; z at cell centres)",
    )
    one.add_argument(
        "--spinup",
        metavar="T",
        type=float,
        default=None,
        help="free-fall times before the first snapshot (default: until the flow has "
        "developed, Nu > 1.2 and the first kinetic-energy overshoot over, plus 10)",
    )
    one.add_argument("--snapshots", metavar="N", type=int, default=40, help="frames to write (40)")
    one.add_argument(
        "--spacing",
        metavar="DT",
        type=float,
        default=0.5,
        help="free-fall times between snapshots (0.5)",
    )
    one.add_argument(
        "--seed", metavar="S", type=int, default=0, help="seeds the initial perturbation"
    )
    one.add_argument("--out", metavar="PATH", type=Path, required=True, help="HDF5 file to write")

    args = parser.parse_args(argv)
    if args.command == "info":
        if args.path is None:
            from hpo.data import embedded  # only the default needs the solver

            args.path = embedded.default_dataset_path(workspace=workspace_from_args(args))
        print(format_info(info(args.path, args.dataset)))
    elif args.command == "check":
        data = load_from_args(args, echo=None, workspace=workspace_from_args(args))
        print(json.dumps(data.describe(), indent=2) if args.json else format_check(data))
    elif args.command == "generate":
        from hpo.data import embedded  # here: only `generate` needs the solver

        spec = _custom_spec(args, embedded)
        if spec is None:
            print(
                embedded.generate_dataset(args.out, args.quick, workspace=workspace_from_args(args))
            )
        else:
            print(
                embedded.generate_dataset(args.out, spec=spec, workspace=workspace_from_args(args))
            )
    else:
        simulate(args)
    return 0


def _custom_spec(args, embedded):
    """The DatasetSpec that --cases/--ra/--pr/--walls ask for, or None when none is given."""
    changes = {}
    if args.cases is not None:
        if args.cases < 1:
            raise ConfigError(f"--cases must be at least 1, but got {args.cases}")
        changes["n_cases"] = args.cases
    for flag, key in (("ra", "rayleigh_range"), ("pr", "prandtl_range")):
        text = getattr(args, flag)
        if text is not None:
            changes[key] = _positive_range(f"--{flag}", text)
    if args.walls is not None:
        changes["walls"] = args.walls
    if not changes:
        return None
    from dataclasses import replace

    return replace(embedded.QUICK_SPEC if args.quick else embedded.DEFAULT_SPEC, **changes)


def _positive_range(flag: str, text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"{flag} takes LO,HI (two numbers, e.g. 1e5,2e6), but got {text!r}"
        ) from None
    if not 0 < low <= high:
        raise ConfigError(f"{flag} needs 0 < LO <= HI, but got {text!r}")
    return low, high


def _grid(text: str) -> tuple[int, int]:
    try:
        n_x, n_z = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--grid takes NXxNZ (e.g. 200x100), but got {text!r}") from None
    if n_x < 2 or n_z < 2:
        raise ConfigError(f"--grid needs at least 2 points each way, but got {text!r}")
    return n_x, n_z


def simulate(args) -> None:
    """`simulate`: check the flags, run one case, write it in the original layout, say what came
    out."""
    for flag, value in (
        ("--ra", args.ra),
        ("--pr", args.pr),
        ("--lx", args.lx),
        ("--spacing", args.spacing),
    ):
        if not value > 0:  # also refuses NaN
            raise ConfigError(f"{flag} must be a positive number, but got {value}")
    if args.snapshots < 1:
        raise ConfigError(f"--snapshots must be at least 1, but got {args.snapshots}")
    if args.spinup is not None and not args.spinup >= 0:
        raise ConfigError(f"--spinup must be zero or positive, but got {args.spinup}")
    n_x, n_z = _grid(args.grid)
    if args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a folder; give the HDF5 file to write")
    from hpo.data import embedded  # the solver only where it runs
    from hpo.data.rayleigh_benard.simulation import Case
    from hpo.data.rayleigh_benard.simulation import simulate as run_case

    case = Case(
        args.ra,
        args.pr,
        walls=args.walls,
        lx=args.lx,
        n_x=n_x,
        n_z=n_z,
        n_snapshots=args.snapshots,
        snapshot_spacing=args.spacing,
        spinup_time=args.spinup,
        seed=args.seed,
    )
    n_x_modes, n_z_modes = case.modes()
    print(
        f"simulating Ra={args.ra:g}, Pr={args.pr:g}, {args.walls} walls, Lx={args.lx:g} with "
        f"{n_x_modes} x {n_z_modes} modes; {args.snapshots} snapshots on {n_x} x {n_z}",
        flush=True,
    )
    result = run_case(case, progress=lambda line: print(line, flush=True))
    embedded.write_simulations(
        args.out, [result], generator={"case": asdict(case), "version": embedded.GENERATOR_VERSION}
    )
    developed = result["developed_time"]
    when = (
        "given"
        if args.spinup is not None
        else "the flow never developed: below onset?"
        if developed != developed
        else f"developed at t = {developed:.1f}"
    )
    print(
        f"snapshots from t = {result['spinup_time']:.1f} ({when}); Nu = {result['nusselt']:.3f} "
        f"(min {result['nusselt_min']:.3f}, max {result['nusselt_max']:.3f}), temporal variation "
        f"{result['temporal_variation']:.3f}; {result['n_steps']} steps in {result['seconds']:.1f} "
        f"s"
    )
    print(args.out)


def format_check(data: FlowData) -> str:
    """What `check` prints: where the data came from, how it was split and scaled, and notes."""
    record = data.split_record
    where = "streamed from disk" if data.streamed else "held in memory"
    counts = ", ".join(f"{name} {record[name]['n_samples']}" for name in ("train", "val", "test"))
    lines = [
        f"file: {data.source_path} ({data.source.layout}, data: {data.source.dataset})",
        f"channels: {', '.join(data.channel_names)}",
        f"input shape: {data.input_shape}",
        f"samples: {data.n_samples}, {where}",
        f"split: {record['strategy']} (seed {record['seed']}): {counts}",
    ]
    lines += [
        f"  scaling {name}: mean {mean:.6g}, std {std:.6g} (train split)"
        for name, mean, std in zip(data.channel_names, data.scaler.mean, data.scaler.std)
    ]
    lines += [f"note: {message}" for message in data.messages]
    return "\n".join(lines)


cli = entry_point(main)  # [project.scripts] hpo-data

if __name__ == "__main__":
    sys.exit(cli())
