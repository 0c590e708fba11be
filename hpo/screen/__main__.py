"""`python -m hpo.screen` (or `hpo-screen`): train all five architectures at matched sizes and rank
them per latent size.

    python -m hpo.screen [--quick] [--data PATH] [--architectures a,b] [--epochs N] [--repeats R]
                         [--params N] [--latent 8,16,32] [--augment shift-x,mirror-x|none]
                         [--preset matched|original] [--loss mse|rel_l2] [--metric rel_l2|mse]
                         [--patience N] [--schedule sha|full] [--rungs N[,N...]]
                         [--storage URL] [--home DIR] [--run NAME] [--seed N]
                         [--devices auto|cpu|0,1] [--trials-per-device N]
                         [--precision float32|mixed_bfloat16]

With one device slot (the CPU by default) the runs train one after another in this process; with
several (--devices 0,1 or --trials-per-device N) each rung's runs train in parallel, one worker
process per slot, pinned to its device.

(`--preset seed` is the original preset's old name, still accepted.)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

from hpo import backend, devices
from hpo.augment import SYMMETRIES
from hpo.augment import parse as parse_augment
from hpo.backend import import_keras_quietly, quiet_optuna
from hpo.cli import (
    ArgumentParser,
    add_home_argument,
    add_storage_argument,
    entry_point,
    storage_from_args,
    workspace_from_args,
)
from hpo.data import add_data_arguments, load_from_args
from hpo.data.arguments import load_keywords
from hpo.registry import LOSSES, METRICS, PRESETS
from hpo.reports.tables import format_screen
from hpo.screen.config import (
    DEFAULT_LATENTS,
    QUICK_CAVEAT,
    QUICK_OVERRIDES,
    ScreenConfig,
    parse_latents,
    quick,
    validate,
)
from hpo.screen.halving import SCHEDULES
from hpo.screen.screening import screen
from hpo.storage import redact

DEFAULTS = ScreenConfig()


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m hpo.screen", description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument(
        "--architectures",
        metavar="a,b,...",
        default=None,
        help="comma-separated names (default: all five)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help=f"max epochs per run (default {DEFAULTS.epochs})"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"seeds per architecture (default {DEFAULTS.repeats})",
    )
    parser.add_argument(
        "--params",
        type=int,
        default=None,
        help="matched budget of trainable parameters, +-10%% (default 170000)",
    )
    parser.add_argument(
        "--latent",
        metavar="N[,N...]",
        default=None,
        help="latent sizes, one or a comma-separated list: every architecture and PCA "
        f"at each (default {','.join(map(str, DEFAULT_LATENTS))})",
    )
    parser.add_argument(
        "--augment",
        metavar="LIST",
        default=None,
        help=f"symmetries to augment the training set with: {','.join(SYMMETRIES)} "
        "or none (default: those the data file declares; the embedded data "
        "declares both, a file of your own none)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early-stopping patience in epochs (default: a quarter of --epochs; "
        "the original preset: 5)",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=DEFAULTS.schedule,
        help=f"sha (default {DEFAULTS.schedule}): successive halving, every run to the first rung "
        f"and per latent size the best 1/{DEFAULTS.eta} of the architectures (at least "
        f"{DEFAULTS.keep}) on to --epochs; full: every run to --epochs",
    )
    parser.add_argument(
        "--rungs",
        metavar="N[,N...]",
        default=None,
        help="successive halving's rungs in epochs (default: a third of --epochs, then --epochs)",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS.names() + tuple(PRESETS.aliases),
        default=DEFAULTS.preset,
        help=f"matched (default {DEFAULTS.preset}): same size and latent; original: "
        "the original study's models and recipe ('seed' is its old name)",
    )
    parser.add_argument(
        "--loss",
        choices=LOSSES.names(),
        default=DEFAULTS.loss,
        help=f"training loss (default {DEFAULTS.loss})",
    )
    parser.add_argument(
        "--metric",
        choices=METRICS.names(),
        default=DEFAULTS.metric,
        help=f"ranking metric on the validation split (default {DEFAULTS.metric})",
    )
    add_storage_argument(parser)
    backend.add_argument(parser)
    devices.add_arguments(parser)
    backend.add_precision_argument(parser)
    add_home_argument(parser)
    parser.add_argument(
        "--run", default=DEFAULTS.run, help=f"name of this screen (default: {DEFAULTS.run})"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS.seed,
        help=f"random seed of splits and weights (default {DEFAULTS.seed})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke/demo budget (a few minutes on 2 cores): quick embedded data, "
        f"{QUICK_OVERRIDES['epochs']} epochs, {QUICK_OVERRIDES['repeats']} "
        f"repeat; explicit flags still win",
    )
    return parser


def config_from_args(args, slots: tuple[devices.Slot, ...] | None = None) -> ScreenConfig:
    workspace = workspace_from_args(args)
    config = ScreenConfig(
        preset=args.preset,
        loss=args.loss,
        metric=args.metric,
        seed=args.seed,
        run=args.run,
        n_params=args.params,
        latent=None if args.latent is None else parse_latents(args.latent),
        augment=parse_augment(args.augment),
        schedule=args.schedule,
        rung_epochs=None if args.rungs is None else parse_latents(args.rungs, flag="--rungs"),
        workspace=workspace,
        slots=devices.place(args.devices, args.trials_per_device) if slots is None else slots,
        precision=args.precision,
    )
    if args.architectures:
        config = replace(
            config,
            architectures=tuple(
                name.strip() for name in args.architectures.split(",") if name.strip()
            ),
        )
    if args.quick:
        config = quick(config)
    explicit = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("repeats", args.repeats),
            ("patience", args.patience),
        )
        if value is not None
    }
    return replace(config, **explicit)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    backend.select(args.backend)  # before anything imports Keras
    slots = devices.place(args.devices, args.trials_per_device)
    devices.pin(devices.parent_environment(slots))  # before anything imports Keras
    config = config_from_args(args, slots)
    validate(config)
    storage = storage_from_args(args, config.workspace)
    data = load_from_args(args, workspace=config.workspace, quick=args.quick)
    # What the slots' worker processes load (with several slots): the same as this.
    config = replace(config, data_kwargs=load_keywords(args, config.workspace, quick=args.quick))
    counts = ", ".join(f"{split.name} {len(split)}" for split in (data.train, data.val, data.test))
    print(
        f"data: {data.source_path} {data.input_shape} channels {','.join(data.channel_names)}; "
        f"{data.split_record['strategy']} split: {counts}"
    )
    import_keras_quietly()
    quiet_optuna()
    result = screen(config, data, storage)
    for note in result.notes:
        print(f"note: {note}")
    print()
    print(format_screen(result, config.metric))
    print()
    if result.augment:
        print(f"augmented with: {', '.join(result.augment)} (PCA fitted on the same augmented set)")
    for latent, ranking in result.rankings.items():
        print(f"ranking at latent {latent} ({config.metric} on validation): {', '.join(ranking)}")
    print(
        f"ranking ({config.metric} on validation): {', '.join(result.ranking)}  "
        f"(latent {min(result.rankings)}: what hpo.optimize --top reads)"
    )
    print(
        f"stored: study {result.study_name!r} in {redact(storage)} "
        f"({result.n_trained} runs trained now, the rest resumed)"
    )
    print(f"wrote: {result.csv_path}, {result.html_path}")
    print(f"browse: optuna-dashboard {redact(storage)}")
    if args.quick:
        print(f"note: {QUICK_CAVEAT}")
    return 0


cli = entry_point(main)  # [project.scripts] hpo-screen

if __name__ == "__main__":
    sys.exit(cli())
