"""screen(): train every architecture at matched size on the same data and budget, at every latent
size asked for, beside PCA of the same size, and rank them per latent size.

By default the runs are screened by successive halving (hpo.screen.halving): every run trains to the
first rung, and per latent size only the best architectures train on to the full budget; `--schedule
full` trains every run to the end. Each (architecture, latent, repeat) run becomes one trial of the
Optuna study `<run>-screen` (params `architecture`, `latent`, `repeat`), added only once the run is
over: COMPLETE when it reached the last rung, PRUNED (user attr `rung`) when halving stopped it,
FAIL when it diverged or ran out of memory. Between rungs a run waits on disk, paused
(hpo.checkpoints, under `<run>/screen-runs/`): re-running the same command, after a crash, Ctrl-C or
SIGTERM, resumes every run from its last finished rung and trains only what is missing; adding a
latent size to `--latent` trains only that size. What the screen hands `hpo.optimize` is one
ScreenRecord (hpo.screen.record), stored in the study's user attrs.

The curve a researcher wants from this is the compression curve: reconstruction error against the
latent size, one line per architecture, PCA beside them (screen.html draws it, screen.csv holds it).
"""

from __future__ import annotations

import json
import math
import shutil
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from hpo import architectures, backend, checkpoints, devices, keys
from hpo.data import FlowData
from hpo.errors import ConfigError
from hpo.progress import Progress, or_silent, silent
from hpo.registry import PRESETS
from hpo.reports.screen import write_screen_report
from hpo.screen import halving
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
    if len(config.slots) > 1 and not config.data_kwargs:
        raise ConfigError(
            "a screen on several device slots needs ScreenConfig.data_kwargs (the hpo.data.load "
            "keywords its worker processes load the data with)"
        )
    study = _open_study(config, data, storage)
    with backend.precision_of(config.precision):
        n_trained = _halve(training, config, data, study, params, progress)

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
        asked = config.comparable()
        # A float32 screen stores no precision (as before it was a setting).
        asked.setdefault("precision", backend.DEFAULT_PRECISION)
        stored_settings.setdefault("precision", backend.DEFAULT_PRECISION)
        changed = [
            f"{key} {stored_settings.get(key)!r} -> {value!r}"
            for key, value in asked.items()
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


def _halve(training, config: ScreenConfig, data: FlowData, study, params, progress) -> int:
    """Train the screen's runs rung by rung (every latent size's first rung before any second one,
    so an early stop leaves a whole coarse picture), stopping the architectures that halving drops;
    return how many runs trained now (a run counts once, however many of its rungs).

    With several slots, each rung's runs first train in parallel in the slots' worker processes
    (`_train_rung`); the loop then finds them paused at the rung and only stores and ranks.
    """
    names, latents, rungs = config.names(), config.latents(), config.rungs()
    alive = {latent: list(names) for latent in latents}
    trained = set()
    here = _here(config)
    placed: dict[tuple, dict] = {}  # run -> where it trained its last segment (keys.DEVICE, SLOT)
    several = len(config.slots) > 1
    talk = progress is not silent  # the slots' workers print their epochs themselves
    setup = (config, data.describe(), talk)
    with devices.SlotPool(config.slots, _slot_setup, setup) if several else nullcontext() as pool:
        for index, rung in enumerate(rungs):
            last = index == len(rungs) - 1
            # Several slots: the rung's runs train there first, in parallel; below they are found
            # paused at the rung and only stored and ranked.
            segments = _train_rung(pool, config, study, alive, params, rung, index) if pool else {}
            placed |= {key: where for key, (_, where) in segments.items()}
            for latent in latents:
                done = _finished_runs(study)
                for name in alive[latent]:
                    for repeat in range(config.repeats):
                        run = _Run(name, latent, repeat)
                        if run.key in done:
                            continue
                        folder = _run_folder(config, run)
                        paused = checkpoints.load(folder)
                        if run.key in segments or _needs_segment(paused, rung):
                            if run.key in segments:  # trained by a slot's worker just now
                                failure = segments[run.key][0]
                            else:
                                started = 0 if paused is None else paused.epochs
                                progress(
                                    f"[{run.label}] training epochs {started + 1}-{rung} of "
                                    f"{config.epochs} (rung {index + 1} of {len(rungs)})"
                                )
                                failure = _train_segment(
                                    training,
                                    config,
                                    data,
                                    run,
                                    params[name, latent],
                                    rung,
                                    paused,
                                    progress,
                                )
                                placed[run.key] = here
                            trained.add(run.key)
                            if failure is not None:  # out of memory: this run fails, the rest go on
                                study.add_trial(
                                    _failed_trial(
                                        run, config, failure, user_attrs=placed.get(run.key, {})
                                    )
                                )
                                continue
                            paused = checkpoints.load(folder)
                        if paused.stopped == "diverged" or last:
                            study.add_trial(
                                _finished_trial(
                                    training,
                                    config,
                                    data,
                                    run,
                                    params[name, latent],
                                    paused,
                                    rung,
                                    progress,
                                    placed.get(run.key, {}),
                                )
                            )
                            shutil.rmtree(folder, ignore_errors=True)
                if not last:
                    alive[latent] = _going_on(
                        config,
                        study,
                        alive[latent],
                        latent,
                        rung,
                        data,
                        params,
                        training,
                        progress,
                        placed,
                    )
    return len(trained)


def _train_rung(pool, config, study, alive, params, rung: int, index: int) -> dict:
    """Train every run still going, of every latent size, to `rung` in the pool's slots at once
    (each pauses on disk); {run key: (its failure or None, where it trained)}."""
    todo = [
        (run, params[run.name, run.latent], rung, index)
        for run in _runs_to_train(config, study, alive, rung)
    ]
    finished = pool.map(_train_in_slot, todo, name=lambda task: task[0].label)
    return {task[0].key: outcome for task, outcome in finished}


def _needs_segment(paused, rung: int) -> bool:
    """Whether a run paused so (None: never started) trains before it reaches `rung`."""
    return paused is None or (paused.epochs < rung and not paused.stopped)


def _runs_to_train(config: ScreenConfig, study, alive: dict, rung: int) -> list[_Run]:
    """The runs of every latent size still going that train a segment to reach `rung`."""
    done = _finished_runs(study)
    runs = [
        _Run(name, latent, repeat)
        for latent in config.latents()
        for name in alive[latent]
        for repeat in range(config.repeats)
    ]
    return [
        run
        for run in runs
        if run.key not in done and _needs_segment(checkpoints.load(_run_folder(config, run)), rung)
    ]


def _here(config: ScreenConfig) -> dict:
    """Where a run trained in this process trains: the first slot (the CPU when none is set)."""
    slot = config.slots[0] if config.slots else devices.Slot(0, devices.CPU, pinned=False)
    return {keys.DEVICE: slot.label, keys.SLOT: slot.index}


def _slot_setup(slot: devices.Slot, config: ScreenConfig, described: dict, talk: bool):
    """A slot's worker process, once (it is pinned already): Keras, threads, precision, the data
    loaded again and checked to be the screen's."""
    from hpo import training
    from hpo.data import load

    backend.import_keras_quietly()
    backend.configure_threads(len(config.slots))
    backend.set_precision(config.precision)
    data = load(**config.data_kwargs)
    problems = data.mismatches(json.loads(json.dumps(json_safe(described))))
    if problems:
        raise ConfigError(
            f"the screen's worker on {slot.label} loaded other data ({'; '.join(problems)})"
        )
    return training, config, data, slot, talk


def _train_in_slot(state, task) -> tuple[str | None, dict]:
    """In a slot's worker process: train one run's segment to its rung and pause it on disk; its
    failure (None: none) and where it trained."""
    training, config, data, slot, talk = state
    run, params, rung, index = task

    def progress(line: str) -> None:
        if talk:
            print(f"s{slot.index} {slot.label} {line}", flush=True)

    paused = checkpoints.load(_run_folder(config, run))
    started = 0 if paused is None else paused.epochs
    progress(
        f"[{run.label}] training epochs {started + 1}-{rung} of {config.epochs} "
        f"(rung {index + 1} of {len(config.rungs())})"
    )
    failure = _train_segment(training, config, data, run, params, rung, paused, progress)
    return failure, {keys.DEVICE: slot.label, keys.SLOT: slot.index}


@dataclass(frozen=True)
class _Run:
    name: str
    latent: int
    repeat: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.name, self.latent, self.repeat)

    @property
    def label(self) -> str:
        return f"{self.name} z{self.latent} #{self.repeat}"


def _run_folder(config: ScreenConfig, run: _Run) -> Path:
    """Where a run waits between rungs."""
    return (
        config.workspace.run_dir(config.run)
        / "screen-runs"
        / f"{run.name}-z{run.latent}-r{run.repeat}"
    )


def _going_on(
    config, study, names, latent, rung, data, params, training, progress, placed=None
) -> list[str]:
    """Rank the architectures of one latent size at `rung` and store the runs of those that stop
    (PRUNED, at this rung; `placed`: where runs trained, by run key); return those that go on."""
    stored = {
        (t.params[keys.ARCHITECTURE], t.params[keys.REPEAT]): t
        for t in study.get_trials(deepcopy=False)
        if keys.REPEAT in t.params and latent_of(t) == latent
    }
    values = {}
    for name in names:
        values[name] = []
        for repeat in range(config.repeats):
            run = _Run(name, latent, repeat)
            trial = stored.get((name, repeat))
            if trial is not None:  # a failed run (diverged, out of memory) counts as no value
                failed = trial.state == optuna.trial.TrialState.FAIL
                values[name].append(math.nan if failed else _best_until(trial_curve(trial), rung))
                continue
            paused = checkpoints.load(_run_folder(config, run))
            curve = (
                []
                if paused is None
                else [row.get(keys.monitor_key(config.metric), math.nan) for row in paused.history]
            )
            values[name].append(_best_until(curve, rung))
    going_on, stopped = halving.promote(values, config.eta, config.keep)
    if stopped:
        progress(
            f"rung {rung} epochs, latent {latent}: {', '.join(going_on)} go on; "
            f"{', '.join(stopped)} stop here"
        )
    for name in stopped:
        for repeat in range(config.repeats):
            run = _Run(name, latent, repeat)
            if (name, repeat) in stored:
                continue
            folder = _run_folder(config, run)
            paused = checkpoints.load(folder)
            if paused is None:
                continue
            study.add_trial(
                _finished_trial(
                    training,
                    config,
                    data,
                    run,
                    params[name, latent],
                    paused,
                    rung,
                    progress,
                    (placed or {}).get(run.key, {}),
                )
            )
            shutil.rmtree(folder, ignore_errors=True)
    return going_on


def _best_until(curve: list[float], rung: int) -> float:
    """The best finite value of a validation curve over its first `rung` epochs (NaN: none)."""
    finite = [v for v in curve[:rung] if v is not None and math.isfinite(v)]
    return min(finite) if finite else math.nan


def trial_curve(trial: optuna.trial.FrozenTrial) -> list[float]:
    """A screen run's validation curve, one value per epoch (its intermediate values)."""
    steps = trial.intermediate_values
    return [steps.get(epoch, math.nan) for epoch in range(max(steps, default=-1) + 1)]


def _finished_runs(study: optuna.Study) -> set[tuple[str, int, int]]:
    finished = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    return {
        (t.params[keys.ARCHITECTURE], latent_of(t), t.params[keys.REPEAT])
        for t in study.get_trials(deepcopy=False, states=finished)
        if keys.ARCHITECTURE in t.params and keys.REPEAT in t.params
    }


def _train_config(training, config: ScreenConfig, repeat: int):
    return training.TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        loss=config.loss,
        patience=config.early_stopping_patience(),
        seed=config.seed + repeat,
        monitor=keys.monitor_key(config.metric),
    )


def _train_segment(training, config, data, run: _Run, params, rung, paused, progress) -> str | None:
    """Train one run from where it paused (or from scratch) to `rung` epochs and pause it on disk;
    the failure's text when it ran out of memory, else None."""
    try:
        training.fit(
            run.name,
            params,
            data,
            _train_config(training, config, run.repeat),
            label=run.label,
            progress=progress,
            until=rung,
            resume=paused,
            pause_to=_run_folder(config, run),
        )
    except training.TrainingFailed as exc:
        progress(f"[{run.label}] failed: {exc}")
        return str(exc)
    return None


def _distributions(config: ScreenConfig, latent: int) -> dict:
    return {
        keys.ARCHITECTURE: optuna.distributions.CategoricalDistribution(
            list(architectures.names())
        ),
        keys.LATENT: optuna.distributions.IntDistribution(1, max(latent, 2)),
        keys.REPEAT: optuna.distributions.IntDistribution(0, max(config.repeats - 1, 1)),
    }


def _trial_params(run: _Run) -> dict:
    return {keys.ARCHITECTURE: run.name, keys.LATENT: run.latent, keys.REPEAT: run.repeat}


def _failed_trial(
    run: _Run, config: ScreenConfig, failure: str, **extra
) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params=_trial_params(run),
        distributions=_distributions(config, run.latent),
        state=optuna.trial.TrialState.FAIL,
        user_attrs={keys.FAILURE: failure, **extra.pop("user_attrs", {})},
        **extra,
    )


def _finished_trial(
    training,
    config: ScreenConfig,
    data: FlowData,
    run: _Run,
    params: dict,
    paused,
    rung: int,
    progress,
    placed: dict | None = None,
) -> optuna.trial.FrozenTrial:
    """A run that is over, as a trial: COMPLETE when it reached the last rung, PRUNED when halving
    stopped it at `rung`, FAIL when it diverged. Its best epoch's weights are scored on validation
    and test. `placed`: where it trained (keys.DEVICE, keys.SLOT), stored as user attrs."""
    from hpo import architectures as registry

    metric_key = keys.monitor_key(config.metric)
    history = paused.history
    intermediate = {
        epoch: float(row[metric_key])
        for epoch, row in enumerate(history)
        if math.isfinite(row.get(metric_key, math.nan))
    }
    attrs: dict[str, Any] = {
        keys.LATENT: int(params.get("latent", 0)),
        keys.EPOCHS_RUN: paused.epochs,
        keys.SECONDS_PER_EPOCH: float(
            sum(paused.epoch_seconds) / max(1, len(paused.epoch_seconds))
        ),
        keys.PARAMS: json_safe(params),
        keys.RUNG: rung,
        **(placed or {}),
        # Training error and rate per epoch, beside the validation curve.
        keys.CURVES: json_safe(
            {
                config.metric: [row.get(config.metric) for row in history],
                "learning_rate": [row.get("learning_rate") for row in history],
            }
        ),
    }
    if paused.stopped == "diverged":
        progress(f"[{run.label}] diverged (NaN/Inf loss); recorded as failed, the screen goes on")
        return _failed_trial(
            run,
            config,
            "diverged: NaN/Inf loss",
            intermediate_values=intermediate,
            user_attrs=attrs,
        )
    model = registry.build(run.name, params, data.input_shape)
    model.set_weights(paused.best_weights)
    attrs[keys.N_PARAMS] = registry.trainable_count(model)
    save_sample(config.workspace.run_dir(config.run), data, model, run.name, run.latent, run.repeat)
    val = training.evaluate(model, data.val, data, config.batch_size)
    test = training.evaluate(model, data.test, data, config.batch_size)
    attrs.update({keys.VAL: json_safe(val), keys.TEST: json_safe(test)})
    value = float(val[config.metric])
    last = rung == config.rungs()[-1]
    progress(
        f"[{run.label}] {'done' if last else f'stopped at rung {rung} epochs'}: "
        f"val {config.metric} {value:.4g}, test {config.metric} {test[config.metric]:.4g}, "
        f"{paused.epochs} epochs, "
        f"{attrs[keys.SECONDS_PER_EPOCH]:.2f} s/epoch"
    )
    if not math.isfinite(value):
        return _failed_trial(
            run,
            config,
            "non-finite validation metric",
            intermediate_values=intermediate,
            user_attrs=attrs,
        )
    if not last:
        return optuna.trial.create_trial(
            params=_trial_params(run),
            distributions=_distributions(config, run.latent),
            state=optuna.trial.TrialState.PRUNED,
            intermediate_values=intermediate,
            user_attrs=attrs,
        )
    return optuna.trial.create_trial(
        params=_trial_params(run),
        distributions=_distributions(config, run.latent),
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
