"""What a screen trains and how (ScreenConfig), checked before anything is trained or written."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hpo import architectures, backend
from hpo.config import DEFAULT_SEED
from hpo.devices import Slot
from hpo.errors import ConfigError
from hpo.registry import LOSSES, METRICS, PRESETS
from hpo.screen import halving
from hpo.workspace import Workspace

# The latent sizes a screen compares by default: small, where an autoencoder can earn its place (PCA
# is hard to beat at large sizes), a factor 2 apart for the log axis, and what 2 cores can afford.
# At the matched budget a smaller code leaves more parameters to the convolutions, so an epoch costs
# more as the latent falls (conv on the default data, 2 cores: 16.6 s at latent 8, 9.5 s at 32): 32
# adds about a quarter to a screen of 8 and 16, a size 4 would add more than 8 itself; at 64,
# vqvae2's bottom code alone no longer fits the default 170k parameters on 200 x 100.
DEFAULT_LATENTS = (8, 16, 32)
ORIGINAL_LATENT = 50  # the original preset's latent slot: conv's 50 (depthwise keeps its own 90)
ORIGINAL_PATIENCE = 5  # the original study's early stopping

# Bump when what a stored run means changes (recipe, latent axis): a screen stored by an older
# version is then not resumed into (its runs stay readable, e.g. by `hpo.optimize --top`).
# 3: successive halving (schedule, rungs, eta, keep); 4: circular padding in x where the shift holds
SETTINGS_VERSION = 4


@dataclass(frozen=True)
class ScreenConfig:
    """What a screen trains and how; the defaults are the issue's (and the original study's). The
    CLI only overrides them (its help text reads them from here)."""

    architectures: tuple[str, ...] = ()  # empty: all registered, in registry order
    epochs: int = 30  # the original study's screening budget; enough to separate the five
    repeats: int = 3  # seeds per architecture: the spread tells a real gap from luck
    n_params: int | None = None  # matched budget; None: the presets' default (170,000)
    # Latent sizes (an int or a sequence); None: DEFAULT_LATENTS (original preset: its own slot).
    latent: int | tuple[int, ...] | None = None
    preset: str = "matched"  # same size and latent for all: a fair comparison ("seed": "original")
    loss: str = "mse"  # the original study screened with MSE
    metric: str = "rel_l2"  # ranking metric on the validation split (the original's target)
    batch_size: int = 8  # small data (hundreds of frames): small batches, many updates per epoch
    # Adam's usual default (the cosine schedule's peak); optimize searches it
    learning_rate: float = 1e-3
    patience: int | None = None  # None: scaled to the epochs (matched), 5 (original preset)
    # Symmetries to augment with (hpo.augment); None: what the data declare (original preset: none).
    augment: tuple[str, ...] | None = None
    seed: int = DEFAULT_SEED  # a random seed: splits, weights (+ repeat)
    # Successive halving (hpo.screen.halving, chosen on the committed curves by bench.rungs), or
    # "full": every run to the whole budget.
    schedule: str = halving.DEFAULT_SCHEDULE
    rung_epochs: tuple[int, ...] | None = None  # None: a first rung at a third of `epochs`
    eta: int = halving.ETA  # the best 1/eta of each latent size's architectures go on ...
    keep: int = halving.KEEP  # ... never fewer than this many
    run: str = "default"
    workspace: Workspace = Workspace()  # where the reports, samples and default storage go
    # Where runs train (hpo.devices.place: --devices x --trials-per-device). One slot or none: every
    # run in this process, one after another. Several: each rung's runs in parallel, one worker
    # process per slot, pinned to its device.
    slots: tuple[Slot, ...] = ()
    precision: str = backend.DEFAULT_PRECISION  # Keras dtype policy of every run (--precision)
    # The hpo.data.load keywords with which the slots' worker processes load the data again (the
    # CLI's data flags); needed with several slots.
    data_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.latent is not None:
            values = (self.latent,) if isinstance(self.latent, int) else tuple(self.latent)
            object.__setattr__(self, "latent", tuple(sorted(set(values))))
        if self.augment is not None:
            object.__setattr__(self, "augment", tuple(self.augment))
        if self.rung_epochs is not None:
            object.__setattr__(self, "rung_epochs", tuple(self.rung_epochs))
        if self.preset in PRESETS.aliases:  # --preset seed, the original preset's old name
            object.__setattr__(self, "preset", PRESETS.aliases[self.preset])

    def names(self) -> tuple[str, ...]:
        return self.architectures or tuple(architectures.names())

    def latents(self) -> tuple[int, ...]:
        """The latent sizes screened, ascending."""
        if self.preset == "original":
            return (ORIGINAL_LATENT,)
        return self.latent or DEFAULT_LATENTS

    def rungs(self) -> tuple[int, ...]:
        """The rungs in epochs, ascending; the last is `epochs` (one rung: the full schedule)."""
        return halving.schedule_rungs(self.schedule, self.epochs, self.rung_epochs)

    def early_stopping_patience(self) -> int:
        from hpo.training import scaled_patience

        if self.patience is not None:
            return self.patience
        return ORIGINAL_PATIENCE if self.preset == "original" else scaled_patience(self.epochs)

    def comparable(self) -> dict[str, Any]:
        """The settings that must match for stored runs to be reused on resume (the latent sizes and
        repeats may grow: each run is keyed by them)."""
        compared = (
            "epochs",
            "n_params",
            "preset",
            "loss",
            "metric",
            "batch_size",
            "learning_rate",
            "seed",
            "schedule",
            "eta",
            "keep",
        )
        settings = {
            "version": SETTINGS_VERSION,
            **{key: getattr(self, key) for key in compared},
            "rungs": list(self.rungs()),
            "patience": self.early_stopping_patience(),
            "augment": list(self.augment or ()),
        }
        if self.precision != backend.DEFAULT_PRECISION:  # float32 screens stored as before
            settings["precision"] = self.precision
        return settings


# A smoke/demo budget: about a minute and a half on 2 cores with the quick embedded dataset (10 runs
# of 15 epochs): two latent sizes, the fewest that draw a curve.
QUICK_OVERRIDES = {"epochs": 15, "repeats": 1, "patience": None, "batch_size": 8}
QUICK_LATENTS = (8, 16)


# What the quick budget can and cannot show, printed after a quick screen. Measured (conv, latent 8,
# 2 cores): ten times the epochs on the quick data (150) left it at 1.6x PCA on validation, and 24
# quick-sized simulations instead of 6 at 1.15x after 60 epochs (a minute of training per run): no
# quick setting within the demo's few minutes shows an autoencoder beating PCA.
QUICK_CAVEAT = (
    "--quick trains on 6 small simulations: enough to watch every stage work, too few for an "
    "autoencoder to beat PCA, even at ten times the epochs. For the comparison itself run "
    "`python -m hpo.screen --repeats 1` on the default data (hours on 2 CPU cores)."
)


def quick(config: ScreenConfig) -> ScreenConfig:
    """The smoke/demo budget; latent sizes given explicitly are kept."""
    keep = config.latent is not None or config.preset == "original"
    latent = config.latent if keep else QUICK_LATENTS
    return replace(config, **QUICK_OVERRIDES, latent=latent)


def validate(config: ScreenConfig) -> None:
    """Check flags before anything is trained or written.

    Raises:
        ConfigError: with the valid choices or ranges.
    """
    from hpo import augment

    known = architectures.names()
    unknown = [name for name in config.architectures if name not in known]
    if unknown:
        raise ConfigError(
            f"unknown architecture {', '.join(map(repr, unknown))}; choose from: {', '.join(known)}"
        )
    if len(set(config.architectures)) != len(config.architectures):
        raise ConfigError("--architectures lists a name twice; list each once")
    if config.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, but got {config.epochs}")
    if config.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, but got {config.repeats}")
    if config.schedule not in halving.SCHEDULES:
        raise ConfigError(
            f"--schedule must be one of {', '.join(halving.SCHEDULES)}, but got {config.schedule!r}"
        )
    if config.rung_epochs is not None and (
        not config.rung_epochs or any(r < 1 or r > config.epochs for r in config.rung_epochs)
    ):
        raise ConfigError(
            f"--rungs must list epochs between 1 and --epochs ({config.epochs}), but got "
            f"{','.join(map(str, config.rung_epochs)) or 'nothing'}"
        )
    if config.eta < 2 or config.keep < 1:
        raise ConfigError(f"eta must be >= 2 and keep >= 1, but got {config.eta} and {config.keep}")
    METRICS.check(config.metric)
    LOSSES.check(config.loss)
    PRESETS.check(config.preset)
    if config.latent is not None:
        bad = [v for v in config.latent if not isinstance(v, int) or isinstance(v, bool) or v < 2]
        if bad or not config.latent:
            raise ConfigError(
                f"--latent must list integers >= 2 (vqvae2 splits the code in two), "
                f"but got {','.join(map(str, config.latent)) or 'nothing'}"
            )
    if config.preset == "original" and (config.latent is not None or config.n_params is not None):
        raise ConfigError(
            "--params and --latent size the matched preset; drop them or use --preset matched"
        )
    if config.patience is not None and config.patience < 0:
        raise ConfigError(f"--patience must be at least 0, but got {config.patience}")
    if config.augment is not None:
        augment.check(config.augment)
    if config.precision not in backend.PRECISIONS:
        raise ConfigError(
            f"--precision must be one of {', '.join(backend.PRECISIONS)}, but got "
            f"{config.precision!r}"
        )
    if not config.run or any(c in config.run for c in "/\\ "):
        raise ConfigError(
            f"--run must be a plain name (no spaces or slashes), but got {config.run!r}"
        )


def parse_latents(text: str, flag: str = "--latent") -> tuple[int, ...]:
    """`--latent 8,16,32` (or one value; also `--rungs 10,30`) as a tuple of ints.

    Raises:
        ConfigError: anything but comma-separated integers.
    """
    try:
        values = tuple(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        values = ()
    if not values:
        raise ConfigError(
            f"{flag} must be one integer or a comma-separated list (8,16,32), but got {text!r}"
        )
    return values
