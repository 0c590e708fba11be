"""What `hpo.optimize` runs (OptimizeConfig), checked before anything is trained, and the names of
its studies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hpo import architectures, augment, backend
from hpo.devices import Slot
from hpo.errors import ConfigError
from hpo.optimize.settings import StudySettings
from hpo.registry import ENGINES, PRUNERS, SAMPLERS, TUNERS
from hpo.workspace import Workspace


@dataclass(frozen=True)
class OptimizeConfig:
    """What one `hpo.optimize` run does; the defaults are the CLI's (it only overrides them)."""

    run: str = "default"  # the screen's run name, and the prefix of every study's name
    top: int | None = None  # the K best of the screen; or name them in `architectures`
    architectures: tuple[str, ...] = ()
    settings: StudySettings = StudySettings()
    n_workers: int = 1  # processes on the same study; more machines: run the same command there
    # Where each worker trains (hpo.devices.place: --devices x --trials-per-device), one slot per
    # worker, resolved once by the CLI; empty: every worker on this machine's default device,
    # nothing pinned (as before devices existed).
    slots: tuple[Slot, ...] = ()
    precision: str = backend.DEFAULT_PRECISION  # Keras dtype policy of every trial (--precision)
    space_file: Path | None = None  # TOML that narrows or widens the declared spaces
    data_kwargs: dict = field(default_factory=dict)  # hpo.data.load keywords (workers reload)
    engine: str = "optuna"  # or "keras-tuner": KerasTuner searches, its trials mirrored to Optuna
    # The KerasTuner tuner (engine keras-tuner): hyperband, bayesian, random
    tuner: str = "hyperband"
    # Latent sizes, one study per (architecture, latent) with the size fixed: architectures compared
    # at equal compression. Empty: every size the screen ranked.
    latents: tuple[int, ...] = ()
    # One study per architecture that searches the latent size too (`--latent search`): a single
    # objective, validation error, then prefers large codes, so it is an explicit choice.
    search_latent: bool = False
    # Symmetries searched as training knobs (hpo.augment); None: those the screen trained with.
    augment: tuple[str, ...] | None = None
    workspace: Workspace = Workspace()  # artifacts, reports, KerasTuner state, the default storage

    def slot(self, index: int) -> Slot:
        """Where worker `index` trains."""
        if self.slots:
            return self.slots[index % len(self.slots)]
        return Slot(index, "cpu", sharing=self.n_workers, pinned=False)


@dataclass(frozen=True)
class StudyPlan:
    """One study of a run: its architecture, its fixed latent size (None: searched) and its name."""

    architecture: str
    latent: int | None
    name: str


# `--latent search`: the latent size searched with the rest, one study per architecture.
LATENT_SEARCH = "search"

# A smoke/demo budget: a few minutes on 2 cores with the quick embedded dataset.
QUICK_SETTINGS = {"n_trials": 10, "epochs": 8}


def check_screened_latents(config: OptimizeConfig, ranked: tuple[int, ...]) -> None:
    """Refuse a `--latent` size the screen did not rank: its `--top` and its screen figures would
    not exist.

    Raises:
        ConfigError: naming the sizes the screen ranked.
    """
    unranked = [z for z in config.latents if z not in ranked]
    if unranked:
        raise ConfigError(
            f"--latent {','.join(map(str, unranked))}: the screen of run {config.run!r} ranked "
            f"latent sizes {', '.join(map(str, ranked))}; pass some of those or screen that size "
            "first"
        )


def study_name(
    run: str, architecture: str, engine: str = "optuna", latent: int | None = None
) -> str:
    """`<run>-<architecture>[-z<latent>][-keras-tuner]`."""
    return (
        f"{run}-{architecture}"
        + (f"-z{latent}" if latent is not None else "")
        + ("-keras-tuner" if engine == "keras-tuner" else "")
    )


def validate(config: OptimizeConfig) -> None:
    """Check the flags before anything is trained or written.

    Raises:
        ConfigError: with the valid choices or ranges.
    """
    settings = config.settings
    for registry, name in (
        (PRUNERS, settings.pruner),
        (SAMPLERS, settings.sampler),
        (ENGINES, config.engine),
        (TUNERS, config.tuner),
    ):
        registry.check(name)
    if config.top is None and not config.architectures:
        raise ConfigError(
            "say which architectures to optimize: --top K (the screen's best K) or "
            "--architectures a,b"
        )
    if config.top is not None and config.architectures:
        raise ConfigError("--top and --architectures both choose the architectures; pass one")
    if config.top is not None and config.top < 1:
        raise ConfigError(f"--top must be at least 1, but got {config.top}")
    unknown = [a for a in config.architectures if a not in architectures.names()]
    if unknown:
        raise ConfigError(
            f"unknown architecture {', '.join(map(repr, unknown))}; choose from: "
            f"{', '.join(architectures.names())}"
        )
    checks = [
        (settings.n_trials >= 1, f"--trials must be at least 1, but got {settings.n_trials}"),
        (settings.epochs >= 1, f"--epochs must be at least 1, but got {settings.epochs}"),
        (config.n_workers >= 1, f"--workers must be at least 1, but got {config.n_workers}"),
        (
            settings.max_failures >= 1,
            f"--max-failures must be at least 1, but got {settings.max_failures}",
        ),
        (
            settings.heartbeat_interval >= 1,
            f"--heartbeat must be at least 1 second, but got {settings.heartbeat_interval}",
        ),
        (
            settings.epoch_budget is None or settings.epoch_budget >= 1,
            f"--epoch-budget must be at least 1, but got {settings.epoch_budget}",
        ),
        (
            settings.timeout is None or settings.timeout > 0,
            f"--timeout must be positive, but got {settings.timeout}",
        ),
        (
            settings.max_params is None or settings.max_params > 0,
            f"--max-params must be positive, but got {settings.max_params}",
        ),
        (
            settings.n_startup_trials is None or settings.n_startup_trials >= 0,
            f"--startup-trials must be at least 0, but got {settings.n_startup_trials}",
        ),
        (
            config.engine == "optuna" or config.n_workers == 1,
            f"--workers applies to the optuna engine; pass --workers 1 with --engine "
            f"keras-tuner (one device, one trial per device), not {config.n_workers}",
        ),
        (
            not config.slots or len(config.slots) == config.n_workers,
            f"{len(config.slots)} device slots for {config.n_workers} workers; one slot each",
        ),
        (
            config.precision in backend.PRECISIONS,
            f"--precision must be one of {', '.join(backend.PRECISIONS)}, but got "
            f"{config.precision!r}",
        ),
    ]
    bad_latents = [
        v for v in config.latents if isinstance(v, bool) or not isinstance(v, int) or v < 2
    ]
    checks.append(
        (
            not bad_latents,
            f"--latent must list integers >= 2, but got {','.join(map(str, config.latents))}",
        )
    )
    checks.append(
        (
            not (config.search_latent and config.latents),
            "--latent takes sizes or the word search, not both",
        )
    )
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if config.augment is not None:
        augment.check(config.augment)
