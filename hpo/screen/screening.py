"""screen(): train every architecture at matched size on the same data and budget, at every latent
size asked for, beside PCA of the same size, and rank them per latent size.

Each (architecture, latent, repeat) run becomes one trial of the Optuna study `<run>-screen` (params
`architecture`, `latent`, `repeat`), added only once the run has finished (so the storage never
holds half a run, and re-running the same command trains only the runs still missing; adding a
latent size to `--latent` trains only that size). What the screen hands `hpo.optimize` is one
ScreenRecord (hpo.screen.record), stored in the study's user attrs.

The curve a researcher wants from this is the compression curve: reconstruction error against the
latent size, one line per architecture, PCA beside them (screen.html draws it, screen.csv holds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from hpo import architectures, keys
from hpo.data import FlowData
from hpo.errors import ConfigError
from hpo.progress import Progress, or_silent
from hpo.registry import PRESETS
from hpo.reports.screen import write_screen_report
from hpo.screen.config import ScreenConfig, validate
from hpo.screen.leaderboard import leaderboard, ranking_of, runs_table
from hpo.screen.record import ScreenRecord, latent_of
from hpo.screen.samples import reconstruction_samples, save_sample
from hpo.serialize import json_safe
from hpo.storage import open_storage, resolve_storage_url


def study_name(run: str) -> str:
    return f"{run}-screen"


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


def screen(
    config: ScreenConfig,
    data: FlowData,
    storage: str | None = None,
    progress: Progress | None = print,
) -> ScreenResult:
    """Train every architecture `config.repeats` times at each latent size, add the PCA (and
    persistence) baselines, rank per latent size, store, report.

    Args:
        config: what to train (validated here).
        data: the loaded data; ranking uses `data.val`, `data.test` is only reported.
        storage: Optuna storage URL (None: SQLite in `config.workspace`).
        progress: receives one line per epoch and per finished run; None keeps quiet.

    Raises:
        ConfigError: bad flags, an infeasible budget, or a stored screen of this run that used other
            data or settings.
    """
    from hpo import augment, training
    from hpo.architectures.presets import preset_params
    from hpo.baseline import fit_pca, persistence

    validate(config)
    progress = or_silent(progress)
    storage = resolve_storage_url(storage, config.workspace)
    # Augmentation: as asked; else what the data declare, except for the original study's recipe.
    asked = config.augment if config.augment is not None or config.preset == "matched" else ()
    symmetries = augment.resolve(asked, data)
    config = replace(config, augment=symmetries)
    names, latents = config.names(), config.latents()
    # Size every (architecture, latent) first: an infeasible budget stops the screen before anything
    # is stored. The screen's own training knobs win over the presets' (the same for every run).
    params = {}
    for latent in latents:
        for name in names:
            sized = (
                preset_params(name, "original")
                if config.preset == "original"
                else preset_params(name, "matched", data.input_shape, config.n_params, latent)
            )
            params[name, latent] = {
                **sized,
                "learning_rate": config.learning_rate,
                "batch_size": config.batch_size,
                **augment.as_params(symmetries),
            }
    study = _open_study(config, data, storage)
    done = _finished_runs(study)
    n_trained = 0
    for latent in latents:
        for name in names:
            for repeat in range(config.repeats):
                if (name, latent, repeat) in done:
                    continue
                progress(f"[{name} z{latent} #{repeat}] training ({config.epochs} epochs max)")
                study.add_trial(
                    _train_one(
                        training, config, data, name, latent, repeat, params[name, latent], progress
                    )
                )
                n_trained += 1

    # Baselines: one SVD (or orbit eigenproblem) at the largest size, truncated for the others.
    largest = max(latents)
    plain = fit_pca(data, largest)
    fair = fit_pca(data, largest, augment=symmetries) if symmetries else plain
    steps = {split.name: persistence(split, data) for split in (data.val, data.test)}
    steps = steps if all(v is not None for v in steps.values()) else None
    pca = {
        latent: _pca_baseline(
            data, fair.truncate(latent), plain.truncate(latent), config.metric, steps is not None
        )
        for latent in latents
    }

    trials = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.params.get(keys.ARCHITECTURE) in names
        and latent_of(t) in latents
        and t.params.get(keys.REPEAT, 0) < config.repeats
    ]
    boards = {
        latent: leaderboard(
            [t for t in trials if latent_of(t) == latent], config.metric, pca[latent]
        )
        for latent in latents
    }
    rankings = {latent: ranking_of(board) for latent, board in boards.items()}
    smallest = latents[0]
    record = ScreenRecord(
        rankings=rankings,
        pca=pca,
        leaderboards={z: b.to_dict(orient="records") for z, b in boards.items()},
        persistence=steps,
        augment=symmetries,
        metric=config.metric,
        settings=config.comparable(),
        data=data.describe(),
    )
    record.store(study)

    out = config.workspace.run_dir(config.run)
    out.mkdir(parents=True, exist_ok=True)
    runs = runs_table(trials, pca, steps)
    csv_path = out / "screen.csv"
    runs.to_csv(csv_path, index=False)
    board = pd.concat(boards.values(), ignore_index=True)
    board.to_csv(out / "screen-leaderboard.csv", index=False)
    samples = reconstruction_samples(
        out, data, trials, boards[smallest], smallest, fair.truncate(smallest)
    )
    html_path = write_screen_report(
        out / "screen.html", config, boards, runs, trials, pca, steps, samples, data.channel_names
    )
    notes = [*plain.messages, *(fair.messages if fair is not plain else ())]
    return ScreenResult(
        study.study_name,
        rankings[smallest],
        board,
        pca,
        csv_path,
        html_path,
        n_trained,
        rankings=rankings,
        leaderboards=boards,
        persistence=steps,
        augment=symmetries,
        runs=runs,
        notes=notes,
    )


def _open_study(config: ScreenConfig, data: FlowData, storage: str | None) -> optuna.Study:
    """Create or load `<run>-screen`; refuse to mix runs made on other data or settings."""
    study = optuna.create_study(
        study_name=study_name(config.run),
        storage=open_storage(storage),
        direction="minimize",
        load_if_exists=True,
    )
    stored = ScreenRecord.from_study(study)
    if stored.data:
        problems = data.mismatches(stored.data)
        if problems:
            raise ConfigError(
                f"the stored screen {study.study_name!r} was run on other data "
                f"({'; '.join(problems)}); pass the same data flags or a new --run"
            )
        stored_settings = dict(stored.settings)
        if "preset" in stored_settings:  # a screen stored as "seed" resumes as "original"
            stored_settings["preset"] = PRESETS.check(stored_settings["preset"])
        changed = [
            f"{key} {stored_settings.get(key)!r} -> {value!r}"
            for key, value in config.comparable().items()
            if stored_settings.get(key) != value
        ]
        if changed:
            raise ConfigError(
                f"the stored screen {study.study_name!r} used other settings "
                f"({', '.join(changed)}); repeat them or pass a new --run"
            )
    else:
        study.set_user_attr(keys.DATA, json_safe(data.describe()))
        study.set_user_attr(keys.SETTINGS, config.comparable())
    return study


def _finished_runs(study: optuna.Study) -> set[tuple[str, int, int]]:
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return {
        (t.params[keys.ARCHITECTURE], latent_of(t), t.params[keys.REPEAT])
        for t in study.get_trials(deepcopy=False, states=finished)
        if keys.ARCHITECTURE in t.params and keys.REPEAT in t.params
    }


def _train_one(
    training,
    config: ScreenConfig,
    data: FlowData,
    name: str,
    latent: int,
    repeat: int,
    params: dict,
    progress: Progress,
) -> optuna.trial.FrozenTrial:
    """Train one (architecture, latent, repeat) and return it as a finished trial (COMPLETE or
    FAIL)."""
    train_config = training.TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        loss=config.loss,
        patience=config.early_stopping_patience(),
        seed=config.seed + repeat,
        monitor=keys.monitor_key(config.metric),
    )
    label = f"{name} z{latent} #{repeat}"
    distributions = {
        keys.ARCHITECTURE: optuna.distributions.CategoricalDistribution(
            list(architectures.names())
        ),
        keys.LATENT: optuna.distributions.IntDistribution(1, max(latent, 2)),
        keys.REPEAT: optuna.distributions.IntDistribution(0, max(config.repeats - 1, 1)),
    }
    trial_params = {keys.ARCHITECTURE: name, keys.LATENT: latent, keys.REPEAT: repeat}
    try:
        result = training.fit(name, params, data, train_config, label=label, progress=progress)
    except training.TrainingFailed as exc:  # e.g. out of memory: this run fails, the screen goes on
        progress(f"[{label}] failed: {exc}")
        return optuna.trial.create_trial(
            params=trial_params,
            distributions=distributions,
            state=optuna.trial.TrialState.FAIL,
            user_attrs={keys.FAILURE: str(exc)},
        )
    metric_key = keys.monitor_key(config.metric)
    intermediate = {
        epoch: float(row[metric_key])
        for epoch, row in enumerate(result.history)
        if math.isfinite(row.get(metric_key, math.nan))
    }
    attrs: dict[str, Any] = {
        keys.N_PARAMS: result.n_params,
        keys.LATENT: int(params.get("latent", 0)),
        keys.EPOCHS_RUN: result.epochs_run,
        keys.SECONDS_PER_EPOCH: result.seconds_per_epoch,
        keys.PARAMS: json_safe(params),
        # Training error and rate per epoch, beside the validation curve.
        keys.CURVES: json_safe(
            {
                config.metric: [row.get(config.metric) for row in result.history],
                "learning_rate": [row.get("learning_rate") for row in result.history],
            }
        ),
    }
    if result.diverged:
        progress(f"[{label}] diverged (NaN/Inf loss); recorded as failed, the screen goes on")
        attrs[keys.FAILURE] = "diverged: NaN/Inf loss"
        return optuna.trial.create_trial(
            params=trial_params,
            distributions=distributions,
            state=optuna.trial.TrialState.FAIL,
            intermediate_values=intermediate,
            user_attrs=attrs,
        )
    save_sample(config.workspace.run_dir(config.run), data, result.model, name, latent, repeat)
    val = training.evaluate(result.model, data.val, data, config.batch_size)
    test = training.evaluate(result.model, data.test, data, config.batch_size)
    attrs.update({keys.VAL: json_safe(val), keys.TEST: json_safe(test)})
    value = float(val[config.metric])
    progress(
        f"[{label}] done: val {config.metric} {value:.4g}, test {config.metric} "
        f"{test[config.metric]:.4g}, {result.epochs_run} epochs, {result.seconds_per_epoch:.2f} "
        f"s/epoch"
    )
    if not math.isfinite(value):
        attrs[keys.FAILURE] = "non-finite validation metric"
        return optuna.trial.create_trial(
            params=trial_params,
            distributions=distributions,
            state=optuna.trial.TrialState.FAIL,
            intermediate_values=intermediate,
            user_attrs=attrs,
        )
    return optuna.trial.create_trial(
        params=trial_params,
        distributions=distributions,
        value=value,
        intermediate_values=intermediate,
        user_attrs=attrs,
    )


def _pca_baseline(data: FlowData, fair, plain, metric: str, with_steps: bool) -> dict[str, Any]:
    """keys.PCA's dict for one latent size: the PCA the autoencoders are compared with (fitted on
    the same, possibly augmented, training set), plain PCA beside it, and persistence through it."""
    from hpo.baseline import persistence

    scores = {"val": fair.evaluate(data.val, data), "test": fair.evaluate(data.test, data)}
    baseline = {
        "n_components": fair.n_components,
        "metric": metric,
        **scores,
        "augment": list(fair.augment),
    }
    baseline["plain"] = (
        {"val": plain.evaluate(data.val, data), "test": plain.evaluate(data.test, data)}
        if fair is not plain and fair.augment
        else dict(scores)
    )
    if with_steps:
        baseline["persistence"] = {
            split.name: persistence(split, data, fair) for split in (data.val, data.test)
        }
    return json_safe(baseline)
