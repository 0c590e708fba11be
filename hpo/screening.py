"""screen(): train every architecture at matched size on the same data and budget, at every latent
size asked for, beside PCA of the same size, and rank them per latent size.

Each (architecture, latent, repeat) run becomes one trial of the Optuna study `<run>-screen` (params
`architecture`, `latent`, `repeat`), added only once the run has finished (so the storage never
holds half a run, and re-running the same command trains only the runs still missing; adding a
latent size to `--latent` trains only that size). The study's user attrs (named in hpo.keys) hold
the ranking per latent size, the metric, the PCA and persistence baselines and a description of the
data, which `hpo.optimize` reads. `RANKING` is the smallest latent's, so `--top K` reads one list.

The curve a researcher wants from this is the compression curve: reconstruction error against the
latent size, one line per architecture, PCA beside them (screen.html draws it, screen.csv holds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import optuna
import pandas as pd

from hpo import architectures, keys
from hpo.config import DEFAULT_SEED, studies_dir
from hpo.data import FlowData
from hpo.errors import ConfigError
from hpo.serialize import json_safe
from hpo.storage import open_storage

METRICS = ("rel_l2", "mse")
LOSSES = ("mse", "rel_l2")
PRESETS = ("matched", "seed")

# The latent sizes a screen compares by default: small, where an autoencoder can earn its place (PCA is
# hard to beat at large sizes), a factor 2 apart for the log axis, and what 2 cores can afford. At the
# matched budget a smaller code leaves more parameters to the convolutions, so an epoch costs more as
# the latent falls (conv on the default data, 2 cores: 16.6 s at latent 8, 9.5 s at 32): 32 adds about
# a quarter to a screen of 8 and 16, a size 4 would add more than 8 itself; at 64, vqvae2's bottom
# code alone no longer fits the default 170k parameters on 200 x 100.
DEFAULT_LATENTS = (8, 16, 32)
SEED_LATENT = 50  # the seed preset's latent slot: conv's 50 (depthwise keeps its own 90 inside it)
SEED_PATIENCE = 5  # the seed study's early stopping

# Bump when what a stored run means changes (recipe, latent axis): a screen stored by an older
# version is then not resumed into (its runs stay readable, e.g. by `hpo.optimize --top`).
SETTINGS_VERSION = 2


@dataclass(frozen=True)
class ScreenConfig:
    """What a screen trains and how; the defaults are the issue's (and the seed study's)."""

    architectures: tuple[str, ...] = ()  # empty: all registered, in registry order
    epochs: int = 30  # the seed's screening budget; enough to separate the five
    repeats: int = 3  # seeds per architecture: the spread tells a real gap from luck
    n_params: int | None = None  # matched budget; None: the presets' default (170,000)
    # Latent sizes (an int or a sequence); None: DEFAULT_LATENTS (seed preset: its own, one slot).
    latent: int | tuple[int, ...] | None = None
    preset: str = "matched"  # same size and latent for all: a fair comparison
    loss: str = "mse"  # the seed screened with MSE
    metric: str = "rel_l2"  # ranking metric on the validation split (the seed's optimization loss)
    batch_size: int = 8  # small data (hundreds of frames): small batches, many updates per epoch
    learning_rate: float = 1e-3  # Adam's usual default (the cosine schedule's peak); optimize searches it
    patience: int | None = None  # None: scaled to the epochs (matched), the seed's 5 (seed preset)
    # Symmetries to augment with (hpo.augment); None: what the data declare (seed preset: none).
    augment: tuple[str, ...] | None = None
    seed: int = DEFAULT_SEED
    run: str = "default"

    def __post_init__(self):
        if self.latent is not None:
            values = (self.latent,) if isinstance(self.latent, int) else tuple(self.latent)
            object.__setattr__(self, "latent", tuple(sorted(set(values))))
        if self.augment is not None:
            object.__setattr__(self, "augment", tuple(self.augment))

    def names(self) -> tuple[str, ...]:
        return self.architectures or tuple(architectures.names())

    def latents(self) -> tuple[int, ...]:
        """The latent sizes screened, ascending."""
        if self.preset == "seed":
            return (SEED_LATENT,)
        return self.latent or DEFAULT_LATENTS

    def early_stopping_patience(self) -> int:
        from hpo.training import scaled_patience

        if self.patience is not None:
            return self.patience
        return SEED_PATIENCE if self.preset == "seed" else scaled_patience(self.epochs)

    def comparable(self) -> dict[str, Any]:
        """The settings that must match for stored runs to be reused on resume (the latent sizes and
        repeats may grow: each run is keyed by them)."""
        compared = ("epochs", "n_params", "preset", "loss", "metric", "batch_size", "learning_rate",
                    "seed")
        return {"version": SETTINGS_VERSION, **{key: getattr(self, key) for key in compared},
                "patience": self.early_stopping_patience(),
                "augment": list(self.augment or ())}


# A smoke/demo budget: about a minute and a half on 2 cores with the quick embedded dataset (10 runs
# of 15 epochs): two latent sizes, the fewest that draw a curve.
QUICK_OVERRIDES = {"epochs": 15, "repeats": 1, "patience": None, "batch_size": 8}
QUICK_LATENTS = (8, 16)


def quick(config: ScreenConfig) -> ScreenConfig:
    """The smoke/demo budget; latent sizes given explicitly are kept."""
    latent = config.latent if config.latent is not None or config.preset == "seed" else QUICK_LATENTS
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
        raise ConfigError(f"unknown architecture {', '.join(map(repr, unknown))}; "
                          f"choose from: {', '.join(known)}")
    if len(set(config.architectures)) != len(config.architectures):
        raise ConfigError("--architectures lists a name twice; list each once")
    if config.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, but got {config.epochs}")
    if config.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, but got {config.repeats}")
    if config.metric not in METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(METRICS)}, but got {config.metric!r}")
    if config.loss not in LOSSES:
        raise ConfigError(f"--loss must be one of {', '.join(LOSSES)}, but got {config.loss!r}")
    if config.preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, but got {config.preset!r}")
    if config.latent is not None:
        bad = [v for v in config.latent if not isinstance(v, int) or isinstance(v, bool) or v < 2]
        if bad or not config.latent:
            raise ConfigError(f"--latent must list integers >= 2 (vqvae2 splits the code in two), "
                              f"but got {','.join(map(str, config.latent)) or 'nothing'}")
    if config.preset == "seed" and (config.latent is not None or config.n_params is not None):
        raise ConfigError("--params and --latent size the matched preset; drop them or use "
                          "--preset matched")
    if config.patience is not None and config.patience < 0:
        raise ConfigError(f"--patience must be at least 0, but got {config.patience}")
    if config.augment is not None:
        augment.check(config.augment)
    if not config.run or any(c in config.run for c in "/\\ "):
        raise ConfigError(f"--run must be a plain name (no spaces or slashes), but got {config.run!r}")


def parse_latents(text: str) -> tuple[int, ...]:
    """`--latent 8,16,32` (or one value) as a tuple of ints.

    Raises:
        ConfigError: anything but comma-separated integers.
    """
    try:
        values = tuple(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        values = ()
    if not values:
        raise ConfigError(f"--latent must be one integer or a comma-separated list (8,16,32), "
                          f"but got {text!r}")
    return values


def study_name(run: str) -> str:
    return f"{run}-screen"


def run_dir(run: str) -> Path:
    return studies_dir() / run


@dataclass
class ScreenResult:
    study_name: str
    ranking: list[str]  # at the smallest latent size (what `hpo.optimize --top` reads)
    leaderboard: pd.DataFrame  # every latent size's rows, smallest latent first
    pca: dict[int, dict[str, Any]]  # latent -> PCA baseline (keys.PCA's form)
    csv_path: Path
    html_path: Path
    n_trained: int  # runs trained by this call (0 when everything was stored already)
    rankings: dict[int, list[str]] = field(default_factory=dict)  # latent -> names, best first
    leaderboards: dict[int, pd.DataFrame] = field(default_factory=dict)  # latent -> its leaderboard
    persistence: dict[str, Any] | None = None  # next-step baseline on val/test (None: no pairs)
    augment: tuple[str, ...] = ()
    runs: pd.DataFrame | None = None  # one row per run: the compression curve's data (screen.csv)
    notes: list[str] = field(default_factory=list)


def screen(config: ScreenConfig, data: FlowData, storage: str | None = None,
           progress: Callable[[str], None] | None = print) -> ScreenResult:
    """Train every architecture `config.repeats` times at each latent size, add the PCA (and
    persistence) baselines, rank per latent size, store, report.

    Args:
        config: what to train (validated here).
        data: the loaded data; ranking uses `data.val`, `data.test` is only reported.
        storage: Optuna storage URL (None: $HPO_STORAGE or SQLite under studies/).
        progress: receives one line per epoch and per finished run; None keeps quiet.

    Raises:
        ConfigError: bad flags, an infeasible budget, or a stored screen of this run that used other
            data or settings.
    """
    from hpo import augment, training
    from hpo.architectures.presets import preset_params
    from hpo.baseline import fit_pca, persistence

    validate(config)
    say = progress or (lambda line: None)
    # Augmentation: as asked; else what the data declare, except for the seed's original recipe.
    asked = config.augment if config.augment is not None or config.preset == "matched" else ()
    symmetries = augment.resolve(asked, data)
    config = replace(config, augment=symmetries)
    names, latents = config.names(), config.latents()
    # Size every (architecture, latent) first: an infeasible budget stops the screen before anything
    # is stored. The screen's own training knobs win over the presets' (the same for every run).
    params = {}
    for latent in latents:
        for name in names:
            sized = (preset_params(name, "seed") if config.preset == "seed" else
                     preset_params(name, "matched", data.input_shape, config.n_params, latent))
            params[name, latent] = {**sized, "learning_rate": config.learning_rate,
                                    "batch_size": config.batch_size, **augment.as_params(symmetries)}
    study = _open_study(config, data, storage)
    done = _finished_runs(study)
    n_trained = 0
    for latent in latents:
        for name in names:
            for repeat in range(config.repeats):
                if (name, latent, repeat) in done:
                    continue
                say(f"[{name} z{latent} #{repeat}] training ({config.epochs} epochs max)")
                study.add_trial(_train_one(training, config, data, name, latent, repeat,
                                           params[name, latent], say))
                n_trained += 1

    # Baselines: one SVD (or orbit eigenproblem) at the largest size, truncated for the others.
    largest = max(latents)
    plain = fit_pca(data, largest)
    fair = fit_pca(data, largest, augment=symmetries) if symmetries else plain
    steps = {split.name: persistence(split, data) for split in (data.val, data.test)}
    steps = steps if all(v is not None for v in steps.values()) else None
    pca = {latent: _pca_baseline(data, fair.truncate(latent), plain.truncate(latent), config.metric,
                                 steps is not None) for latent in latents}

    trials = [t for t in study.get_trials(deepcopy=False)
              if t.params.get(keys.ARCHITECTURE) in names and latent_of(t) in latents
              and t.params.get(keys.REPEAT, 0) < config.repeats]
    boards = {latent: leaderboard([t for t in trials if latent_of(t) == latent], config.metric,
                                  pca[latent]) for latent in latents}
    rankings = {latent: ranking_of(board) for latent, board in boards.items()}
    smallest = latents[0]
    study.set_user_attr(keys.RANKING, rankings[smallest])
    study.set_user_attr(keys.RANKING_BY_LATENT, {keys.latent_key(z): r for z, r in rankings.items()})
    study.set_user_attr(keys.METRIC, config.metric)
    study.set_user_attr(keys.LATENTS, list(latents))
    study.set_user_attr(keys.AUGMENT, list(symmetries))
    study.set_user_attr(keys.PCA, pca[smallest])
    study.set_user_attr(keys.PCA_BY_LATENT, {keys.latent_key(z): p for z, p in pca.items()})
    study.set_user_attr(keys.PERSISTENCE, json_safe(steps))
    study.set_user_attr(keys.LEADERBOARD, json_safe(boards[smallest].to_dict(orient="records")))
    study.set_user_attr(keys.LEADERBOARD_BY_LATENT, {
        keys.latent_key(z): json_safe(b.to_dict(orient="records")) for z, b in boards.items()})

    out = run_dir(config.run)
    out.mkdir(parents=True, exist_ok=True)
    runs = runs_table(trials, pca, steps)
    csv_path = out / "screen.csv"
    runs.to_csv(csv_path, index=False)
    board = pd.concat(boards.values(), ignore_index=True)
    board.to_csv(out / "screen-leaderboard.csv", index=False)
    samples = _reconstruction_samples(out, data, trials, boards[smallest], smallest,
                                      fair.truncate(smallest))
    html_path = _write_report(out / "screen.html", config, boards, runs, trials, pca, steps, samples,
                              data.channel_names)
    notes = [*plain.messages, *(fair.messages if fair is not plain else ())]
    return ScreenResult(study.study_name, rankings[smallest], board, pca, csv_path, html_path,
                        n_trained, rankings=rankings, leaderboards=boards, persistence=steps,
                        augment=symmetries, runs=runs, notes=notes)


def read_by_latent(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """A stored screen's ranking and PCA baseline per latent size: {latent: {"ranking", "pca"}}.

    Reads screens stored before latent sizes were an axis too (one latent: the PCA's size).
    """
    attrs = study.user_attrs
    if keys.RANKING_BY_LATENT in attrs:
        pcas = attrs.get(keys.PCA_BY_LATENT, {})
        return {int(z): {"ranking": list(r), "pca": pcas.get(z, {})}
                for z, r in attrs[keys.RANKING_BY_LATENT].items()}
    pca = attrs.get(keys.PCA, {})
    latent = int(pca.get("n_components", 0)) or next(
        (row.get("latent") for row in attrs.get(keys.LEADERBOARD, []) if row.get("latent")), 0)
    return {int(latent): {"ranking": list(attrs.get(keys.RANKING, [])), "pca": pca}}


def _open_study(config: ScreenConfig, data: FlowData, storage: str | None) -> optuna.Study:
    """Create or load `<run>-screen`; refuse to mix runs made on other data or settings."""
    study = optuna.create_study(study_name=study_name(config.run), storage=open_storage(storage),
                                direction="minimize", load_if_exists=True)
    described = data.describe()
    stored_data = study.user_attrs.get(keys.DATA)
    if stored_data is not None:
        problems = data.mismatches(stored_data)
        if problems:
            raise ConfigError(f"the stored screen {study.study_name!r} was run on other data "
                              f"({'; '.join(problems)}); pass the same data flags or a new --run")
        stored_settings = study.user_attrs.get(keys.SETTINGS, {})
        changed = [f"{key} {stored_settings.get(key)!r} -> {value!r}"
                   for key, value in config.comparable().items()
                   if stored_settings.get(key) != value]
        if changed:
            raise ConfigError(f"the stored screen {study.study_name!r} used other settings "
                              f"({', '.join(changed)}); repeat them or pass a new --run")
    else:
        study.set_user_attr(keys.DATA, json_safe(described))
        study.set_user_attr(keys.SETTINGS, config.comparable())
    return study


def latent_of(trial: optuna.trial.FrozenTrial) -> int | None:
    """The run's latent slot: its param, or (screens stored before the axis) the size it built."""
    value = trial.params.get(keys.LATENT, trial.user_attrs.get(keys.LATENT))
    return None if value is None else int(value)


def _finished_runs(study: optuna.Study) -> set[tuple[str, int, int]]:
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return {(t.params[keys.ARCHITECTURE], latent_of(t), t.params[keys.REPEAT])
            for t in study.get_trials(deepcopy=False, states=finished)
            if keys.ARCHITECTURE in t.params and keys.REPEAT in t.params}


def _train_one(training, config: ScreenConfig, data: FlowData, name: str, latent: int, repeat: int,
               params: dict, say) -> optuna.trial.FrozenTrial:
    """Train one (architecture, latent, repeat) and return it as a finished trial (COMPLETE or FAIL)."""
    train_config = training.TrainConfig(
        epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        loss=config.loss, patience=config.early_stopping_patience(), seed=config.seed + repeat,
        monitor=f"val_{config.metric}")
    label = f"{name} z{latent} #{repeat}"
    distributions = {
        keys.ARCHITECTURE: optuna.distributions.CategoricalDistribution(list(architectures.names())),
        keys.LATENT: optuna.distributions.IntDistribution(1, max(latent, 2)),
        keys.REPEAT: optuna.distributions.IntDistribution(0, max(config.repeats - 1, 1)),
    }
    trial_params = {keys.ARCHITECTURE: name, keys.LATENT: latent, keys.REPEAT: repeat}
    try:
        result = training.fit(name, params, data, train_config, label=label, progress=say)
    except training.TrainingFailed as exc:  # e.g. out of memory: this run fails, the screen goes on
        say(f"[{label}] failed: {exc}")
        return optuna.trial.create_trial(params=trial_params, distributions=distributions,
                                         state=optuna.trial.TrialState.FAIL,
                                         user_attrs={"failure": str(exc)})
    metric_key = f"val_{config.metric}"
    intermediate = {epoch: float(row[metric_key]) for epoch, row in enumerate(result.history)
                    if math.isfinite(row.get(metric_key, math.nan))}
    attrs: dict[str, Any] = {"n_params": result.n_params, keys.LATENT: int(params.get("latent", 0)),
                             "epochs_run": result.epochs_run,
                             "seconds_per_epoch": result.seconds_per_epoch,
                             "params": json_safe(params),
                             # Training error and rate per epoch, beside the validation curve.
                             keys.CURVES: json_safe({
                                 config.metric: [row.get(config.metric) for row in result.history],
                                 "learning_rate": [row.get("learning_rate") for row in result.history]})}
    if result.diverged:
        say(f"[{label}] diverged (NaN/Inf loss); recorded as failed, the screen goes on")
        attrs["failure"] = "diverged: NaN/Inf loss"
        return optuna.trial.create_trial(params=trial_params, distributions=distributions,
                                         state=optuna.trial.TrialState.FAIL,
                                         intermediate_values=intermediate, user_attrs=attrs)
    _save_sample(run_dir(config.run), data, result.model, name, latent, repeat)
    val = training.evaluate(result.model, data.val, data, config.batch_size)
    test = training.evaluate(result.model, data.test, data, config.batch_size)
    attrs.update({"val": json_safe(val), "test": json_safe(test)})
    value = float(val[config.metric])
    say(f"[{label}] done: val {config.metric} {value:.4g}, test {config.metric} "
        f"{test[config.metric]:.4g}, {result.epochs_run} epochs, {result.seconds_per_epoch:.2f} s/epoch")
    if not math.isfinite(value):
        attrs["failure"] = "non-finite validation metric"
        return optuna.trial.create_trial(params=trial_params, distributions=distributions,
                                         state=optuna.trial.TrialState.FAIL,
                                         intermediate_values=intermediate, user_attrs=attrs)
    return optuna.trial.create_trial(params=trial_params, distributions=distributions, value=value,
                                     intermediate_values=intermediate, user_attrs=attrs)


def _pca_baseline(data: FlowData, fair, plain, metric: str, with_steps: bool) -> dict[str, Any]:
    """keys.PCA's dict for one latent size: the PCA the autoencoders are compared with (fitted on the
    same, possibly augmented, training set), plain PCA beside it, and persistence through it."""
    from hpo.baseline import persistence

    scores = {"val": fair.evaluate(data.val, data), "test": fair.evaluate(data.test, data)}
    baseline = {"n_components": fair.n_components, "metric": metric, **scores,
                "augment": list(fair.augment)}
    baseline["plain"] = ({"val": plain.evaluate(data.val, data), "test": plain.evaluate(data.test, data)}
                         if fair is not plain and fair.augment else dict(scores))
    if with_steps:
        baseline["persistence"] = {split.name: persistence(split, data, fair)
                                   for split in (data.val, data.test)}
    return json_safe(baseline)


def ranking_of(board: pd.DataFrame) -> list[str]:
    """The architectures of a leaderboard that finished a run, best first."""
    return [row["architecture"] for _, row in board.iterrows() if not math.isnan(row["val_mean"])]


def leaderboard(trials: Sequence[optuna.trial.FrozenTrial], metric: str,
                pca: dict[str, Any]) -> pd.DataFrame:
    """One row per architecture at one latent size, best (lowest mean validation metric) first;
    failed ones last. Dual's next-step head is scored beside persistence (columns next_step_*)."""
    rows = {}
    for trial in trials:
        name = trial.params[keys.ARCHITECTURE]
        row = rows.setdefault(name, {"architecture": name, "val": [], "test": [], "n_failed": 0,
                                     "n_params": None, "latent": None, "seconds_per_epoch": [],
                                     "epochs_run": [], "mse_per_channel": [], "next_val": [],
                                     "next_test": []})
        attrs = trial.user_attrs
        row["n_params"] = attrs.get("n_params", row["n_params"])
        row["latent"] = attrs.get(keys.LATENT, row["latent"])
        if trial.state != optuna.trial.TrialState.COMPLETE:
            row["n_failed"] += 1
            continue
        row["val"].append(trial.value)
        row["test"].append(attrs["test"][metric])
        row["seconds_per_epoch"].append(attrs["seconds_per_epoch"])
        row["epochs_run"].append(attrs["epochs_run"])
        row["mse_per_channel"].append(attrs["val"]["mse_per_channel"])
        if f"next_step_{metric}" in attrs["val"]:
            row["next_val"].append(attrs["val"][f"next_step_{metric}"])
            row["next_test"].append(attrs["test"][f"next_step_{metric}"])
    pca_val = pca["val"][metric]
    table = []
    for row in rows.values():
        val = np.array(row["val"], float)
        per_channel = {}
        for channel_values in row["mse_per_channel"]:
            for channel, value in channel_values.items():
                per_channel.setdefault(channel, []).append(value)
        table.append({
            "architecture": row["architecture"], "n_params": row["n_params"], "latent": row["latent"],
            "val_mean": val.mean() if val.size else np.nan,
            "val_std": val.std(ddof=1) if val.size > 1 else (0.0 if val.size else np.nan),
            "test_mean": np.mean(row["test"]) if row["test"] else np.nan,
            **{f"val_mse_{channel}": float(np.mean(v)) for channel, v in per_channel.items()},
            "seconds_per_epoch": np.mean(row["seconds_per_epoch"]) if row["seconds_per_epoch"] else np.nan,
            "epochs_run": np.mean(row["epochs_run"]) if row["epochs_run"] else np.nan,
            "n_runs": val.size, "n_failed": row["n_failed"],
            "beats_pca": bool(val.size and val.mean() < pca_val),
            "next_step_val_mean": np.mean(row["next_val"]) if row["next_val"] else np.nan,
            "next_step_test_mean": np.mean(row["next_test"]) if row["next_test"] else np.nan,
        })
    board = pd.DataFrame(table).sort_values("val_mean", na_position="last", kind="stable")
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)


RUN_COLUMNS = ("architecture", "latent", "repeat", "state", "n_params", "epochs_run",
               "val_rel_l2", "test_rel_l2", "pca_val_rel_l2", "pca_test_rel_l2",
               "plain_pca_val_rel_l2", "plain_pca_test_rel_l2", "val_mse", "test_mse", "pca_val_mse",
               "pca_test_mse", "next_step_val_rel_l2", "next_step_test_rel_l2",
               "persistence_val_rel_l2", "persistence_test_rel_l2", "pca_persistence_val_rel_l2",
               "pca_persistence_test_rel_l2")


def runs_table(trials: Iterable[optuna.trial.FrozenTrial], pca: dict[int, dict[str, Any]],
               steps: dict[str, Any] | None) -> pd.DataFrame:
    """One row per run (the compression curve's data; screen.csv): the run's errors beside PCA's at
    its latent size (pca_*: the PCA it is compared with; plain_pca_*: PCA of the plain training set,
    the same unless augmented), and for two-headed models the next-step error beside persistence."""
    rows = []
    for trial in trials:
        latent = latent_of(trial)
        baseline = pca[latent]
        attrs = trial.user_attrs
        val, test = attrs.get("val", {}), attrs.get("test", {})
        row = {"architecture": trial.params[keys.ARCHITECTURE], "latent": latent,
               "repeat": trial.params[keys.REPEAT], "state": trial.state.name.lower(),
               "n_params": attrs.get("n_params"), "epochs_run": attrs.get("epochs_run")}
        for metric in METRICS:
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
                steps[split]["rel_l2"] if two_headed and steps else np.nan)
            row[f"pca_persistence_{split}_rel_l2"] = (
                baseline["persistence"][split]["rel_l2"]
                if two_headed and "persistence" in baseline else np.nan)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    return table.sort_values(["latent", "architecture", "repeat"], kind="stable").reset_index(drop=True)


def format_leaderboard(board: pd.DataFrame, metric: str, pca: dict[str, Any]) -> str:
    """One latent size's table, as `hpo.screen` prints it."""
    channels = [c for c in board.columns if c.startswith("val_mse_")]
    header = (f"{'rank':>4}  {'architecture':<13}{'params':>9}{'latent':>7}  "
              f"{'val ' + metric + ' (mean ± std)':<26}{'test':>9}  "
              + "".join(f"{c[len('val_mse_'):][:11]:>12}" for c in channels)
              + f"{'s/epoch':>9}{'epochs':>7}  beats PCA")
    lines = [header]
    for row in board.itertuples(index=False):
        row = row._asdict()
        if math.isnan(row["val_mean"]):
            summary = f"failed ({row['n_failed']} of {row['n_failed']} runs)"
            lines.append(f"{row['rank']:>4}  {row['architecture']:<13}{row['n_params'] or 0:>9,}"
                         f"{row['latent'] or 0:>7}  {summary}")
            continue
        failed = f" ({row['n_failed']} failed)" if row["n_failed"] else ""
        lines.append(
            f"{row['rank']:>4}  {row['architecture']:<13}{row['n_params']:>9,}{row['latent']:>7}  "
            f"{row['val_mean']:>10.4g} ± {row['val_std']:<12.3g}{row['test_mean']:>9.4g}  "
            + "".join(f"{row[c]:>12.4g}" for c in channels)
            + f"{row['seconds_per_epoch']:>9.2f}{row['epochs_run']:>7.1f}  "
            + ("yes" if row["beats_pca"] else "no") + failed)
    label = "PCA (augmented)" if pca.get("augment") else "PCA"
    lines.append(_baseline_line(label, pca["n_components"], pca["val"], pca["test"], metric, channels))
    if pca.get("augment"):
        lines.append(_baseline_line("PCA (plain)", pca["n_components"], pca["plain"]["val"],
                                    pca["plain"]["test"], metric, channels))
    return "\n".join(lines)


def _baseline_line(label: str, size: int, val: dict, test: dict, metric: str, channels) -> str:
    return (f"{'':>4}  {label:<22}{size:>7}  {val[metric]:>10.4g}{'':>15}{test[metric]:>9.4g}  "
            + "".join(f"{val['mse_per_channel'].get(c[len('val_mse_'):], math.nan):>12.4g}"
                      for c in channels))


def format_next_step(board: pd.DataFrame, metric: str, pca: dict[str, Any],
                     steps: dict[str, Any] | None) -> str | None:
    """The two-headed models' next-step error beside persistence, at one latent size; None when no
    architecture has a next-step head or the data have no next-step pairs."""
    rows = board.dropna(subset=["next_step_val_mean"])
    if rows.empty or not steps or "persistence" not in pca:
        return None
    through = pca["persistence"]
    lines = []
    for _, row in rows.iterrows():
        verdict = ("beats persistence" if row["next_step_test_mean"] < steps["test"][metric]
                   else "does not beat persistence")
        lines.append(f"{row['architecture']} next step ({metric}): val {row['next_step_val_mean']:.4g}, "
                     f"test {row['next_step_test_mean']:.4g}; persistence x(t+1) = x(t): val "
                     f"{steps['val'][metric]:.4g}, test {steps['test'][metric]:.4g}; persistence "
                     f"through PCA({pca['n_components']}): val {through['val'][metric]:.4g}, test "
                     f"{through['test'][metric]:.4g} -> {verdict}")
    return "\n".join(lines)


def format_screen(result: ScreenResult, metric: str) -> str:
    """Every latent size's block: its leaderboard, PCA, and dual's next step beside persistence."""
    blocks = []
    for latent in sorted(result.pca):
        rows = result.leaderboards[latent]
        pca = result.pca[latent]
        fair = "PCA fitted on the augmented training set" if pca.get("augment") else "PCA"
        lines = [f"latent {latent} ({fair}, {pca['n_components']} components; per-channel columns: "
                 f"validation MSE, scaled units)", format_leaderboard(rows, metric, pca)]
        steps = format_next_step(rows, metric, pca, result.persistence)
        if steps:
            lines.append(steps)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _sample_path(out: Path, name: str, latent: int, repeat: int) -> Path:
    return out / "samples" / f"{name}-z{latent}-{repeat}.npy"


def _save_sample(out: Path, data: FlowData, model, name: str, latent: int, repeat: int) -> None:
    """Keep one validation reconstruction per run: the screen keeps no models, the report needs it."""
    sample = data.val.take([_sample_index(data)])  # (1, H, W, C), scaled units
    output = model.predict(sample, verbose=0)
    if isinstance(output, dict):
        output = output["reconstruction"]
    path = _sample_path(out, name, latent, repeat)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(output[0], np.float32))
    np.save(path.parent / "input.npy", sample[0])


def _sample_index(data: FlowData) -> int:
    return len(data.val) // 2  # a developed frame, the same for every architecture


def _reconstruction_samples(out: Path, data: FlowData, trials, board: pd.DataFrame, latent: int,
                            pca) -> dict[str, np.ndarray]:
    """The input and, per architecture, the reconstruction by its best stored run at `latent`, and
    PCA's at the same size."""
    samples = {}
    if (out / "samples" / "input.npy").exists():
        samples["input"] = np.load(out / "samples" / "input.npy")
    for name in board["architecture"]:
        done = [t for t in trials if t.params[keys.ARCHITECTURE] == name and latent_of(t) == latent
                and t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            best = min(done, key=lambda t: t.value)
            path = _sample_path(out, name, latent, best.params[keys.REPEAT])
            if path.exists():
                samples[name] = np.load(path)
    if "input" in samples:
        samples[f"PCA({pca.n_components})"] = pca.reconstruct(samples["input"][None])[0]
    return samples if "input" in samples and len(samples) > 2 else {}


def _write_report(path: Path, config, boards, runs, trials, pca, steps, samples, channels) -> Path:
    from hpo import report

    metric = config.metric
    latents = sorted(boards)
    fair = "PCA on the augmented training set" if config.augment else "PCA"
    sections = [
        (f"Compression curve: {metric} against latent size (mean and min-max over repeats; "
         f"{fair}, same size, dashed)", report.compression_curve_figure(runs, metric)),
        ("Beats PCA at latent ...", report.beats_pca_html(boards, pca, metric)),
    ]
    two_headed = report.next_step_html(boards, pca, steps, metric)
    if two_headed:
        sections.append(("Next step: the second head against persistence", two_headed))
    for latent in latents:
        sections.append((f"Leaderboard, latent {latent}", report.table_html(boards[latent])))
    sections.append(("Learning curves (validation solid, training dotted)",
                     report.learning_curves_figure(trials, metric, latents)))
    if samples:
        shown = [name for name in samples if name != "input"]
        sections.append((f"One validation sample at latent {latents[0]}: input, reconstruction, error",
                         report.reconstructions_figure(samples, channels, shown)))
    return report.write_html(path, f"Screen: {config.run}", sections)
