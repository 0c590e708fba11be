"""`python -m hpo.optimize` (or `hpo-optimize`): Optuna studies with pruning on the screen's best
architectures.

    python -m hpo.optimize --top K | --architectures a,b  [--run NAME] [--storage URL] [--home DIR]
                           [data flags] [--trials N] [--epoch-budget N] [--timeout S] [--epochs N]
                           [--pruner median|hyperband|sha|none] [--sampler tpe|random]
                           [--startup-trials N] [--workers N] [--max-params N] [--max-failures N]
                           [--seed N] [--space FILE] [--quick] [--engine optuna|keras-tuner]
                           [--tuner hyperband|bayesian|random] [--latent 8,16|search]
                           [--augment LIST|none] [--devices auto|cpu|0,1] [--trials-per-device N]
                           [--precision float32|mixed_bfloat16]

One study per (architecture, latent size), `<run>-<architecture>-z<latent>`, the latent size fixed:
at every size the screen ranked, or those of --latent 8,16. Their best models draw error against
latent size beside PCA (optimize.html). --latent search runs one study per architecture that
searches the size too (one objective then prefers large codes). Without --data, the file the screen
recorded. --trials counts COMPLETE and PRUNED trials: a failed trial (NaN, out of memory, a bug) is
replaced, and after --max-failures failed trials in a row the run stops with the last error and exit
code 1; a configuration already finished is answered from its stored trial, not trained or counted.
One worker process per device slot (--devices x --trials-per-device; on the CPU, --workers N is the
same as --trials-per-device N), each pinned to its GPU; every trial records its device.
Re-running the same command resumes each study and runs only the missing trials. With PostgreSQL
(`--storage postgresql://...`), the same command on several machines shares the studies.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hpo import backend, devices
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
from hpo.data.arguments import add_data_arguments, load_keywords
from hpo.optimize.config import LATENT_SEARCH, QUICK_SETTINGS, OptimizeConfig, validate
from hpo.optimize.optimization import optimize
from hpo.optimize.settings import StudySettings
from hpo.registry import ENGINES, PRUNERS, SAMPLERS, TUNERS
from hpo.reports.tables import format_summary
from hpo.screen.config import parse_latents
from hpo.storage import redact

DEFAULTS, SETTINGS = OptimizeConfig(), StudySettings()


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m hpo.optimize", description=__doc__.split("\n")[0])
    chosen = parser.add_argument_group("which architectures")
    chosen.add_argument(
        "--top",
        type=int,
        default=None,
        metavar="K",
        help="the K best of the latest screen of --run",
    )
    chosen.add_argument("--architectures", metavar="a,b", default=None, help="name them instead")
    chosen.add_argument(
        "--latent",
        metavar="N[,N...]|search",
        default=None,
        help="latent sizes, each fixed in its own study <run>-<architecture>-z<size>; --top K "
        "takes the screen's best K at each size (default: every size the screen ranked). "
        "search: one study per architecture that searches the size too",
    )
    parser.add_argument(
        "--run", default=DEFAULTS.run, help=f"the screen's run name (default: {DEFAULTS.run})"
    )
    add_storage_argument(parser)
    backend.add_argument(parser)
    add_home_argument(parser)
    add_data_arguments(parser)
    search = parser.add_argument_group("search")
    search.add_argument(
        "--trials",
        type=int,
        default=None,
        help="COMPLETE + PRUNED trials per architecture, counting those already "
        f"stored (default {SETTINGS.n_trials})",
    )
    search.add_argument(
        "--epoch-budget",
        type=int,
        default=None,
        metavar="N",
        help="stop starting trials once the study's trials have run N epochs in all "
        "(both engines; a fixed compute budget; default: "
        f"{SETTINGS.epoch_budget or 'none'})",
    )
    search.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop starting trials after this long, per architecture",
    )
    search.add_argument(
        "--epochs", type=int, default=None, help=f"max epochs per trial (default {SETTINGS.epochs})"
    )
    search.add_argument(
        "--pruner",
        choices=PRUNERS.names(),
        default=SETTINGS.pruner,
        help=f"default: {SETTINGS.pruner}",
    )
    search.add_argument(
        "--sampler",
        choices=SAMPLERS.names(),
        default=SETTINGS.sampler,
        help=f"default: {SETTINGS.sampler} (seeded)",
    )
    search.add_argument(
        "--startup-trials",
        type=int,
        default=None,
        metavar="N",
        help="TPE's random start-up trials (default: "
        + (
            "a third of the expected trials, 3..10"
            if SETTINGS.n_startup_trials is None
            else str(SETTINGS.n_startup_trials)
        )
        + ")",
    )
    search.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes on the same study, threads divided (default: one per device "
        "slot; on the CPU the same as --trials-per-device)",
    )
    devices.add_arguments(search)
    backend.add_precision_argument(search)
    search.add_argument(
        "--max-params",
        type=int,
        default=None,
        metavar="N",
        help="reject trials with more trainable parameters, before training",
    )
    search.add_argument(
        "--max-failures",
        type=int,
        default=None,
        metavar="N",
        help="stop with exit code 1 after N failed trials in a row, across workers "
        f"(default {SETTINGS.max_failures}); a failed trial does not count "
        "toward --trials",
    )
    search.add_argument(
        "--space",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file narrowing or widening the declared search spaces",
    )
    search.add_argument(
        "--engine",
        choices=ENGINES.names(),
        default=DEFAULTS.engine,
        help=f"{DEFAULTS.engine} (default), or keras-tuner: KerasTuner searches the "
        "same space, its trials stored as study <run>-<architecture>-keras-tuner",
    )
    search.add_argument(
        "--tuner",
        choices=TUNERS.names(),
        default=DEFAULTS.tuner,
        help=f"the KerasTuner tuner (default: {DEFAULTS.tuner}; hyperband runs as "
        "many trials as its brackets need for --epochs and ignores --trials)",
    )
    search.add_argument(
        "--augment",
        metavar="LIST",
        default=None,
        help="symmetries searched as training knobs: shift-x,mirror-x or none "
        "(default: those the screen trained with)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=SETTINGS.seed,
        help=f"random seed of split, sampler, weights (default {SETTINGS.seed})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke/demo budget: {QUICK_SETTINGS['n_trials']} trials of <= "
        f"{QUICK_SETTINGS['epochs']} epochs (patience 3), on the screen's data",
    )
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=None,
        metavar="SECONDS",
        help="heartbeat interval; a trial silent 3x as long is failed and retried "
        f"(default {SETTINGS.heartbeat_interval})",
    )
    return parser


def slots_from_args(args) -> tuple[devices.Slot, ...]:
    """--devices x --trials-per-device (and --workers: hpo.devices.place), one slot per worker."""
    slots = devices.place(args.devices, args.trials_per_device, args.workers)
    if args.engine == "keras-tuner" and args.workers is None and args.trials_per_device is None:
        slots = slots[:1]  # KerasTuner trains in this process: the first device auto found
    return slots


def config_from_args(args, slots: tuple[devices.Slot, ...] | None = None) -> OptimizeConfig:
    settings = StudySettings(
        pruner=args.pruner,
        sampler=args.sampler,
        seed=args.seed,
        max_params=args.max_params,
        timeout=args.timeout,
    )
    if args.quick:
        settings = replace(settings, **QUICK_SETTINGS)
    explicit = {
        key: value
        for key, value in (
            ("n_trials", args.trials),
            ("epochs", args.epochs),
            ("max_failures", args.max_failures),
            ("epoch_budget", args.epoch_budget),
            ("n_startup_trials", args.startup_trials),
        )
        if value is not None
    }
    if args.heartbeat is not None:
        explicit.update(heartbeat_interval=args.heartbeat, grace_period=3 * args.heartbeat)
    settings = replace(settings, **explicit)
    names = tuple(n.strip() for n in (args.architectures or "").split(",") if n.strip())
    search_latent = (args.latent or "").strip() == LATENT_SEARCH
    latents = ()
    if args.latent is not None and not search_latent:
        latents = tuple(sorted(set(parse_latents(args.latent))))
    workspace = workspace_from_args(args)
    slots = slots_from_args(args) if slots is None else slots
    return OptimizeConfig(
        run=args.run,
        top=args.top,
        architectures=names,
        settings=settings,
        n_workers=len(slots),
        slots=slots,
        precision=args.precision,
        space_file=args.space,
        # No quick data here: without --data, optimize() loads the file the screen recorded.
        data_kwargs=load_keywords(args, workspace),
        engine=args.engine,
        tuner=args.tuner,
        latents=latents,
        search_latent=search_latent,
        augment=parse_augment(args.augment),
        workspace=workspace,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    backend.select(args.backend)  # before anything imports Keras
    slots = slots_from_args(args)
    devices.pin(devices.parent_environment(slots))  # before anything imports Keras
    config = config_from_args(args, slots)
    validate(config)
    storage = storage_from_args(args, config.workspace)
    import_keras_quietly()
    backend.set_precision(config.precision)  # trials trained here, KerasTuner's, the evaluation
    quiet_optuna()
    result = optimize(config, storage)
    print()
    print(format_summary(result.summary, config.settings.metric))
    print(f"stored: studies {', '.join(map(repr, result.studies))} in {redact(storage)}")
    print(f"wrote: {result.html_path}")
    print(f"browse: optuna-dashboard {redact(storage)}")
    return 0


cli = entry_point(main)  # [project.scripts] hpo-optimize

if __name__ == "__main__":
    sys.exit(cli())
