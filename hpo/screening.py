"""screen(): train every architecture at matched size on the same data and budget, and rank them.

Each (architecture, repeat) run becomes one trial of the Optuna study `<run>-screen`, added only once
the run has finished (so the storage never holds half a run, and re-running the same command trains
only the pairs still missing). The study's user attrs hold the ranking, the metric, the PCA baseline
and a description of the data, which `hpo.optimize` reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import optuna
import pandas as pd

from hpo import architectures
from hpo.config import DEFAULT_SEED, studies_dir
from hpo.data import FlowData
from hpo.errors import ConfigError
from hpo.serialize import json_safe
from hpo.storage import open_storage

METRICS = ("rel_l2", "mse")
LOSSES = ("mse", "rel_l2")
PRESETS = ("matched", "seed")


@dataclass(frozen=True)
class ScreenConfig:
    """What a screen trains and how; the defaults are the issue's (and the seed study's)."""

    architectures: tuple[str, ...] = ()  # empty: all registered, in registry order
    epochs: int = 30  # the seed's screening budget; enough to separate the five
    repeats: int = 3  # seeds per architecture: the spread tells a real gap from luck
    n_params: int | None = None  # matched budget; None: the presets' default (170,000)
    latent: int | None = None  # matched latent; None: the presets' default (50)
    preset: str = "matched"  # same size and latent for all: a fair comparison
    loss: str = "mse"  # the seed screened with MSE
    metric: str = "rel_l2"  # ranking metric on the validation split (the seed's optimization loss)
    batch_size: int = 8  # small data (hundreds of frames): small batches, many updates per epoch
    learning_rate: float = 1e-3  # Adam's usual default; the optimize stage searches it
    patience: int = 5  # epochs without improvement before EarlyStopping (best weights restored)
    seed: int = DEFAULT_SEED
    run: str = "default"

    def names(self) -> tuple[str, ...]:
        return self.architectures or tuple(architectures.names())

    def comparable(self) -> dict[str, Any]:
        """The settings that must match for stored runs to be reused on resume."""
        keys = ("epochs", "n_params", "latent", "preset", "loss", "metric", "batch_size",
                "learning_rate", "patience", "seed")
        return {key: getattr(self, key) for key in keys}


# A smoke/demo budget: about a minute on 2 cores with the quick embedded dataset.
QUICK_OVERRIDES = {"epochs": 15, "repeats": 1, "patience": 5, "batch_size": 8}


def quick(config: ScreenConfig) -> ScreenConfig:
    return replace(config, **QUICK_OVERRIDES)


def validate(config: ScreenConfig) -> None:
    """Check flags before anything is trained or written.

    Raises:
        ConfigError: with the valid choices or ranges.
    """
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
    if not config.run or any(c in config.run for c in "/\\ "):
        raise ConfigError(f"--run must be a plain name (no spaces or slashes), but got {config.run!r}")


def study_name(run: str) -> str:
    return f"{run}-screen"


def run_dir(run: str) -> Path:
    return studies_dir() / run


@dataclass
class ScreenResult:
    study_name: str
    ranking: list[str]
    leaderboard: pd.DataFrame
    pca: dict[str, Any]
    csv_path: Path
    html_path: Path
    n_trained: int  # runs trained by this call (0 when everything was stored already)
    notes: list[str] = field(default_factory=list)


def screen(config: ScreenConfig, data: FlowData, storage: str | None = None,
           progress: Callable[[str], None] | None = print) -> ScreenResult:
    """Train every architecture `config.repeats` times, add a PCA baseline, rank, store, report.

    Args:
        config: what to train (validated here).
        data: the loaded data; ranking uses `data.val`, `data.test` is only reported.
        storage: Optuna storage URL (None: $HPO_STORAGE or SQLite under studies/).
        progress: receives one line per epoch and per finished run; None keeps quiet.

    Raises:
        ConfigError: bad flags, an infeasible budget, or a stored screen of this run that used other
            data or settings.
    """
    from hpo import training
    from hpo.architectures.presets import preset_params
    from hpo.baseline import fit_pca

    validate(config)
    say = progress or (lambda line: None)
    names = config.names()
    # Size every architecture first: an infeasible budget stops the screen before anything is stored.
    # The screen's own training knobs win over the presets' (the same for every architecture).
    params = {name: {**preset_params(name, config.preset, data.input_shape, config.n_params,
                                     config.latent),
                     "learning_rate": config.learning_rate, "batch_size": config.batch_size}
              for name in names}
    study = _open_study(config, data, storage)
    done = _finished_pairs(study)
    n_trained = 0
    for name in names:
        for repeat in range(config.repeats):
            if (name, repeat) in done:
                continue
            say(f"[{name} #{repeat}] training ({config.epochs} epochs max)")
            study.add_trial(_train_one(training, config, data, name, repeat, params[name], say))
            n_trained += 1

    latent = int(params[names[0]].get("latent", config.latent or 50))
    pca = _pca_baseline(fit_pca, data, latent, config.metric)
    trials = [t for t in study.get_trials(deepcopy=False)
              if t.params.get("architecture") in names and t.params.get("repeat", 0) < config.repeats]
    board = leaderboard(trials, config.metric, pca)
    ranking = [name for name in board["architecture"] if not board.loc[
        board["architecture"] == name, "val_mean"].isna().all()]
    study.set_user_attr("ranking", ranking)
    study.set_user_attr("metric", config.metric)
    study.set_user_attr("pca", pca)
    study.set_user_attr("leaderboard", board.to_dict(orient="records"))

    out = run_dir(config.run)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "screen.csv"
    board.to_csv(csv_path, index=False)
    samples = _reconstruction_samples(out, trials, board)
    html_path = _write_report(out / "screen.html", config, board, trials, pca, samples,
                              data.channel_names)
    return ScreenResult(study.study_name, ranking, board, pca, csv_path, html_path, n_trained)


def _open_study(config: ScreenConfig, data: FlowData, storage: str | None) -> optuna.Study:
    """Create or load `<run>-screen`; refuse to mix runs made on other data or settings."""
    study = optuna.create_study(study_name=study_name(config.run), storage=open_storage(storage),
                                direction="minimize", load_if_exists=True)
    described = data.describe()
    stored_data = study.user_attrs.get("data")
    if stored_data is not None:
        problems = data.mismatches(stored_data)
        if problems:
            raise ConfigError(f"the stored screen {study.study_name!r} was run on other data "
                              f"({'; '.join(problems)}); pass the same data flags or a new --run")
        stored_settings = study.user_attrs.get("settings", {})
        changed = [f"{key} {stored_settings[key]!r} -> {value!r}"
                   for key, value in config.comparable().items()
                   if key in stored_settings and stored_settings[key] != value]
        if changed:
            raise ConfigError(f"the stored screen {study.study_name!r} used other settings "
                              f"({', '.join(changed)}); repeat them or pass a new --run")
    else:
        study.set_user_attr("data", json_safe(described))
        study.set_user_attr("settings", config.comparable())
    return study


def _finished_pairs(study: optuna.Study) -> set[tuple[str, int]]:
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return {(t.params["architecture"], t.params["repeat"])
            for t in study.get_trials(deepcopy=False, states=finished)
            if "architecture" in t.params and "repeat" in t.params}


def _train_one(training, config: ScreenConfig, data: FlowData, name: str, repeat: int,
               params: dict, say) -> optuna.trial.FrozenTrial:
    """Train one (architecture, repeat) and return it as a finished trial (COMPLETE or FAIL)."""
    train_config = training.TrainConfig(
        epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        loss=config.loss, patience=config.patience, seed=config.seed + repeat,
        monitor=f"val_{config.metric}")
    label = f"{name} #{repeat}"
    distributions = {
        "architecture": optuna.distributions.CategoricalDistribution(list(architectures.names())),
        "repeat": optuna.distributions.IntDistribution(0, max(config.repeats - 1, 1)),
    }
    trial_params = {"architecture": name, "repeat": repeat}
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
    attrs: dict[str, Any] = {"n_params": result.n_params, "latent": int(params.get("latent", 0)),
                             "epochs_run": result.epochs_run,
                             "seconds_per_epoch": result.seconds_per_epoch,
                             "params": json_safe(params)}
    if result.diverged:
        say(f"[{label}] diverged (NaN/Inf loss); recorded as failed, the screen goes on")
        attrs["failure"] = "diverged: NaN/Inf loss"
        return optuna.trial.create_trial(params=trial_params, distributions=distributions,
                                         state=optuna.trial.TrialState.FAIL,
                                         intermediate_values=intermediate, user_attrs=attrs)
    _save_sample(run_dir(config.run), data, result.model, name, repeat)
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


def _pca_baseline(fit_pca, data: FlowData, latent: int, metric: str) -> dict[str, Any]:
    baseline = fit_pca(data, latent)
    return {"n_components": baseline.n_components, "metric": metric,
            "val": json_safe(baseline.evaluate(data.val, data)),
            "test": json_safe(baseline.evaluate(data.test, data))}


def leaderboard(trials: Sequence[optuna.trial.FrozenTrial], metric: str,
                pca: dict[str, Any]) -> pd.DataFrame:
    """One row per architecture, best (lowest mean validation metric) first; failed ones last."""
    rows = {}
    for trial in trials:
        name = trial.params["architecture"]
        row = rows.setdefault(name, {"architecture": name, "val": [], "test": [], "n_failed": 0,
                                     "n_params": None, "latent": None, "seconds_per_epoch": [],
                                     "epochs_run": [], "mse_per_channel": []})
        attrs = trial.user_attrs
        row["n_params"] = attrs.get("n_params", row["n_params"])
        row["latent"] = attrs.get("latent", row["latent"])
        if trial.state != optuna.trial.TrialState.COMPLETE:
            row["n_failed"] += 1
            continue
        row["val"].append(trial.value)
        row["test"].append(attrs["test"][metric])
        row["seconds_per_epoch"].append(attrs["seconds_per_epoch"])
        row["epochs_run"].append(attrs["epochs_run"])
        row["mse_per_channel"].append(attrs["val"]["mse_per_channel"])
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
        })
    board = pd.DataFrame(table).sort_values("val_mean", na_position="last", kind="stable")
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)


def format_leaderboard(board: pd.DataFrame, metric: str, pca: dict[str, Any]) -> str:
    """The table `hpo.screen` prints."""
    channels = [c for c in board.columns if c.startswith("val_mse_")]
    header = (f"{'rank':>4}  {'architecture':<13}{'params':>9}{'latent':>7}  "
              f"{'val ' + metric + ' (mean ± std)':<26}{'test':>9}  "
              + "".join(f"{c[len('val_mse_'):][:11]:>12}" for c in channels)
              + f"{'s/epoch':>9}{'epochs':>7}  beats PCA")
    lines = ["per-channel columns: validation MSE (scaled units)", header]
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
    lines.append(f"{'':>4}  {'PCA':<13}{'':>9}{pca['n_components']:>7}  "
                 f"{pca['val'][metric]:>10.4g}{'':>15}{pca['test'][metric]:>9.4g}  "
                 + "".join(f"{pca['val']['mse_per_channel'].get(c[len('val_mse_'):], math.nan):>12.4g}"
                           for c in channels))
    return "\n".join(lines)


def _sample_path(out: Path, name: str, repeat: int) -> Path:
    return out / "samples" / f"{name}-{repeat}.npy"


def _save_sample(out: Path, data: FlowData, model, name: str, repeat: int) -> None:
    """Keep one validation reconstruction per run: the screen keeps no models, the report needs it."""
    sample = data.val.take([_sample_index(data)])  # (1, H, W, C), scaled units
    output = model.predict(sample, verbose=0)
    if isinstance(output, dict):
        output = output["reconstruction"]
    path = _sample_path(out, name, repeat)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(output[0], np.float32))
    np.save(path.parent / "input.npy", sample[0])


def _sample_index(data: FlowData) -> int:
    return len(data.val) // 2  # a developed frame, the same for every architecture


def _reconstruction_samples(out: Path, trials, board: pd.DataFrame) -> dict[str, np.ndarray]:
    """The input and, per architecture, the reconstruction by its best stored run."""
    samples = {}
    if (out / "samples" / "input.npy").exists():
        samples["input"] = np.load(out / "samples" / "input.npy")
    for name in board["architecture"]:
        done = [t for t in trials if t.params["architecture"] == name
                and t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            best = min(done, key=lambda t: t.value)
            path = _sample_path(out, name, best.params["repeat"])
            if path.exists():
                samples[name] = np.load(path)
    return samples if "input" in samples and len(samples) > 1 else {}


def _write_report(path: Path, config, board, trials, pca, samples, channels) -> Path:
    from hpo import report

    sections = [("Leaderboard", report.table_html(board)),
                (f"Validation {config.metric} by architecture",
                 report.leaderboard_figure(board, config.metric, pca["val"][config.metric])),
                ("Learning curves", report.learning_curves_figure(trials, config.metric))]
    if samples:
        sections.append(("One validation sample: input, reconstruction, error",
                         report.reconstructions_figure(samples, channels, list(board["architecture"]))))
    return report.write_html(path, f"Screen: {config.run}", sections)
