"""optimize(): Optuna studies on the screen's top-ranked architectures, one study each.

Reads the ranking of `<run>-screen`, runs `<run>-<architecture>` studies (created or resumed) with
one or more worker processes on the same storage, keeps each study's best model as an Optuna
artifact, evaluates it on the test split at the end, and writes `studies/<run>/optimize.html`.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import optuna
import pandas as pd

from hpo import architectures
from hpo.claims import ClaimLock
from hpo.config import studies_dir
from hpo.errors import ConfigError, StudyFailed
from hpo.screening import study_name as screen_study_name
from hpo.serialize import json_safe
from hpo.storage import open_storage, redact, resolve_storage_url
from hpo.study import (PRUNERS, SAMPLERS, KerasObjective, StudySettings, Worker, configure_threads,
                       failure_message, finished_trials, load_best_model, make_pruner, make_sampler,
                       study_needs_trials)


@dataclass(frozen=True)
class OptimizeConfig:
    run: str = "default"
    top: int | None = None  # the K best of the screen; or name them in `architectures`
    architectures: tuple[str, ...] = ()
    settings: StudySettings = StudySettings()
    n_workers: int = 1  # processes on the same study; more machines: run the same command there
    space_file: Path | None = None  # TOML that narrows or widens the declared spaces
    data_kwargs: dict = field(default_factory=dict)  # hpo.data.load keywords (workers reload)
    engine: str = "optuna"  # or "keras-tuner": KerasTuner searches, its trials mirrored to Optuna
    tuner: str = "hyperband"  # the KerasTuner tuner (engine keras-tuner): hyperband, bayesian, random


# A smoke/demo budget: a few minutes on 2 cores with the quick embedded dataset.
QUICK_SETTINGS = {"n_trials": 10, "epochs": 8, "patience": 3}
ENGINES = ("optuna", "keras-tuner")
TUNERS = ("hyperband", "bayesian", "random")  # hpo.tuner_engine.TUNERS, without importing KerasTuner


def study_name(run: str, architecture: str, engine: str = "optuna") -> str:
    return f"{run}-{architecture}" + ("-keras-tuner" if engine == "keras-tuner" else "")


def validate(config: OptimizeConfig) -> None:
    settings = config.settings
    if config.top is None and not config.architectures:
        raise ConfigError("say which architectures to optimize: --top K (the screen's best K) or "
                          "--architectures a,b")
    if config.top is not None and config.architectures:
        raise ConfigError("--top and --architectures both choose the architectures; pass one")
    if config.top is not None and config.top < 1:
        raise ConfigError(f"--top must be at least 1, but got {config.top}")
    unknown = [a for a in config.architectures if a not in architectures.names()]
    if unknown:
        raise ConfigError(f"unknown architecture {', '.join(map(repr, unknown))}; choose from: "
                          f"{', '.join(architectures.names())}")
    checks = [(settings.n_trials >= 1, f"--trials must be at least 1, but got {settings.n_trials}"),
              (settings.epochs >= 1, f"--epochs must be at least 1, but got {settings.epochs}"),
              (config.n_workers >= 1, f"--workers must be at least 1, but got {config.n_workers}"),
              (settings.max_failures >= 1,
               f"--max-failures must be at least 1, but got {settings.max_failures}"),
              (settings.heartbeat_interval >= 1,
               f"--heartbeat must be at least 1 second, but got {settings.heartbeat_interval}"),
              (settings.epoch_budget is None or settings.epoch_budget >= 1,
               f"--epoch-budget must be at least 1, but got {settings.epoch_budget}"),
              (settings.timeout is None or settings.timeout > 0,
               f"--timeout must be positive, but got {settings.timeout}"),
              (settings.max_params is None or settings.max_params > 0,
               f"--max-params must be positive, but got {settings.max_params}"),
              (settings.pruner in PRUNERS,
               f"--pruner must be one of {', '.join(PRUNERS)}, but got {settings.pruner!r}"),
              (settings.sampler in SAMPLERS,
               f"--sampler must be one of {', '.join(SAMPLERS)}, but got {settings.sampler!r}"),
              (config.engine in ENGINES,
               f"--engine must be one of {', '.join(ENGINES)}, but got {config.engine!r}"),
              (config.tuner in TUNERS,
               f"--tuner must be one of {', '.join(TUNERS)}, but got {config.tuner!r}"),
              (config.engine == "optuna" or config.n_workers == 1,
               f"--workers applies to the optuna engine; pass --workers 1 with --engine "
               f"keras-tuner, not {config.n_workers}")]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def read_screen(run: str, storage_url: str) -> optuna.Study:
    """The stored screen of `run`, or a one-line error saying which command to run first."""
    storage = open_storage(storage_url)
    names = [s.study_name for s in storage.get_all_studies()]
    name = screen_study_name(run)
    if name not in names:
        raise ConfigError(f"no screen stored for run {run!r} in {redact(storage_url)}; run "
                          f"`python -m hpo.screen --run {run}` (same --storage and data flags) first")
    study = optuna.load_study(study_name=name, storage=storage)
    if not study.user_attrs.get("ranking"):
        raise ConfigError(f"the screen {name!r} has no ranking yet (no run finished); run "
                          f"`python -m hpo.screen --run {run}` again")
    return study


def choose_architectures(config: OptimizeConfig, screen: optuna.Study) -> list[str]:
    ranking = list(screen.user_attrs["ranking"])
    if config.architectures:
        return list(config.architectures)
    if config.top > len(ranking):
        raise ConfigError(f"--top must be between 1 and {len(ranking)} (the screen of run "
                          f"{config.run!r} ranked {len(ranking)}), but got {config.top}")
    return ranking[: config.top]


@dataclass
class OptimizeResult:
    studies: list[str]
    summary: pd.DataFrame
    html_path: Path


def optimize(config: OptimizeConfig, storage: str | None = None,
             progress: Callable[[str], None] | None = print) -> OptimizeResult:
    """Run (or resume) one study per chosen architecture, then evaluate and report.

    Raises:
        ConfigError: bad flags, no screen for the run, data that differ from the screened data.
        StudyFailed: a study's last `max_failures` trials failed; its stored trials are kept, the
            studies after it are not run.
    """
    from hpo.data import load

    validate(config)
    say = progress or (lambda line: None)
    storage_url = resolve_storage_url(storage)
    screen = read_screen(config.run, storage_url)
    data = load(**config.data_kwargs)
    problems = data.mismatches(screen.user_attrs.get("data", {}))
    if problems:
        raise ConfigError(f"the data differ from what run {config.run!r} screened "
                          f"({'; '.join(problems)}); pass the screen's data flags or screen again")
    chosen = choose_architectures(config, screen)
    settings = replace(config.settings,
                       metric=screen.user_attrs.get("metric", config.settings.metric),
                       loss=screen.user_attrs.get("settings", {}).get("loss", config.settings.loss))
    config = replace(config, settings=settings)
    spaces = architectures.load_spaces(config.space_file)  # a bad --space file fails here, early
    names = [study_name(config.run, a, config.engine) for a in chosen]
    for architecture, name in zip(chosen, names):
        _create_study(name, storage_url, data, architecture, settings)
        if config.engine == "keras-tuner":
            from hpo.tuner_engine import run_keras_tuner

            say(f"study {name!r}: KerasTuner {config.tuner}, mirrored into Optuna")
            run_keras_tuner(config, architecture, storage_url, data, config.tuner, say)
            continue
        say(f"study {name!r}: {settings.n_trials} trials, {settings.pruner} pruning, "
            f"{settings.sampler} sampler, {config.n_workers} worker(s)")
        _run_workers(config, name, architecture, storage_url, spaces[architecture], data, say)
    summary = _evaluate_best(config, chosen, storage_url, screen, data, say)
    from hpo.optimize_report import write_optimize_report

    html_path = write_optimize_report(studies_dir() / config.run / "optimize.html", config.run,
                                      names, storage_url, summary, data, settings.metric)
    return OptimizeResult(names, summary, html_path)


def _create_study(name: str, storage_url: str, data, architecture: str,
                  settings: StudySettings) -> None:
    study = optuna.create_study(study_name=name, storage=open_storage(storage_url),
                                direction="minimize", load_if_exists=True)
    stored = study.user_attrs.get("data")
    if stored is None:
        study.set_user_attr("data", data.describe())
        study.set_user_attr("architecture", architecture)
        study.set_user_attr("metric", settings.metric)
        return
    problems = data.mismatches(stored)
    if problems:
        raise ConfigError(f"the study {name!r} was run on other data ({'; '.join(problems)}); "
                          f"pass the same data flags or use another --run")


def _run_workers(config: OptimizeConfig, name: str, architecture: str, storage_url: str,
                 space: dict, data, say, process_target: Callable | None = None) -> None:
    """Run the study's remaining trials with N worker processes (or this process, when one worker
    has no more than `trials_per_process` trials to run). A process that has run its share of trials
    is replaced by a fresh one, so TensorFlow's per-model memory is given back.

    Args:
        process_target: what each spawned process runs, with `_worker_process`'s arguments
            (default `_worker_process`; tests pass one with a trivial objective).

    Raises:
        StudyFailed: the study's last `max_failures` trials of this run failed (whichever process ran
            them); no process is started after that, and those running stop at their next claim. Or
            a worker process crashed, and the study still lacks trials.
    """
    settings = config.settings
    deadline = None if settings.timeout is None else time.time() + settings.timeout
    study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    first_trial = len(study.get_trials(deepcopy=False))  # failures count from this run's first trial
    remaining = settings.expected_trials() - finished_trials(study)
    if config.n_workers == 1 and remaining <= settings.trials_per_process:
        configure_threads(1)
        _worker(config, name, architecture, storage_url, space, data, 0, say, deadline,
                first_trial=first_trial)
        return
    context = multiprocessing.get_context("spawn")
    slots: list = [None] * config.n_workers
    exits = []
    while True:
        for index, process in enumerate(slots):
            if process is not None and process.exitcode is not None:
                exits.append(process.exitcode)
                slots[index] = None
        timed_out = deadline is not None and time.time() >= deadline
        needs = study_needs_trials(study, settings.n_trials, settings.epoch_budget)
        failure = failure_message(name, study.get_trials(deepcopy=False), settings.max_failures,
                                  first_trial) if needs else None
        needed = not timed_out and needs and not failure and not any(code != 0 for code in exits)
        for index in range(len(slots)):
            if slots[index] is None and needed:
                slots[index] = context.Process(target=process_target or _worker_process, args=(
                    config, name, architecture, storage_url, index, deadline, first_trial))
                slots[index].start()
        if all(process is None for process in slots):
            break
        time.sleep(0.5)
    if failure:
        raise StudyFailed(failure)
    crashed = [code for code in exits if code != 0]
    if crashed:
        message = (f"{len(crashed)} worker process(es) of {name!r} exited with {crashed}; finished "
                   f"trials are stored, running the same command again completes the rest")
        if not timed_out and study_needs_trials(study, settings.n_trials, settings.epoch_budget):
            raise StudyFailed(message)  # the study lacks trials: the run must not end as if done
        say(f"note: {message}")


def _worker_process(config: OptimizeConfig, name: str, architecture: str, storage_url: str,
                    index: int, deadline: float | None, first_trial: int) -> None:
    """Entry point of a spawned worker: reload data, divide threads, run its share of trials."""
    from hpo.backend import import_keras_quietly, quiet_optuna
    from hpo.data import load

    import_keras_quietly()
    quiet_optuna()
    configure_threads(config.n_workers)
    data = load(**config.data_kwargs)
    space = architectures.load_spaces(config.space_file)[architecture]
    try:
        _worker(config, name, architecture, storage_url, space, data, index, print, deadline,
                max_trials=config.settings.trials_per_process, first_trial=first_trial)
    except StudyFailed:
        pass  # the parent finds the same failed trials in the study and stops the run, once


def _worker(config: OptimizeConfig, name: str, architecture: str, storage_url: str, space: dict,
            data, index: int, say, deadline: float | None, max_trials: int | None = None,
            first_trial: int = 0) -> None:
    settings = config.settings
    storage = open_storage(storage_url, heartbeat_interval=settings.heartbeat_interval,
                           grace_period=settings.grace_period, max_retry=settings.max_retry)
    probe = optuna.load_study(study_name=name, storage=storage)
    # Distinct seeds per worker and per process, so parallel workers don't propose the same points.
    seed = settings.seed + 1000 * index + len(probe.get_trials(deepcopy=False))
    sampler = make_sampler(settings.sampler, seed, settings.expected_trials())
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                              pruner=make_pruner(settings.pruner, settings.epochs))
    lock = ClaimLock(storage_url, name)
    label = (f"w{index} " if config.n_workers > 1 else "") + f"[{architecture}] "
    objective = KerasObjective(architecture, space, data, settings)
    try:
        Worker(study, settings, lock, objective, say, label, first_trial).run(deadline, max_trials)
    finally:
        lock.close()


def _evaluate_best(config: OptimizeConfig, chosen: list[str], storage_url: str,
                   screen: optuna.Study, data, say) -> pd.DataFrame:
    """Evaluate each study's best model on the test split; store and return the summary."""
    from hpo import training

    metric = config.settings.metric
    screen_rows = {row["architecture"]: row for row in screen.user_attrs.get("leaderboard", [])}
    pca = screen.user_attrs.get("pca", {})
    rows = []
    for architecture in chosen:
        study = optuna.load_study(study_name=study_name(config.run, architecture, config.engine),
                                  storage=open_storage(storage_url))
        states = [t.state for t in study.get_trials(deepcopy=False)]
        row = {"architecture": architecture, "study": study.study_name,
               "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
               "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
               "n_failed": states.count(optuna.trial.TrialState.FAIL)}
        artifact_id = study.user_attrs.get("best_model_artifact_id")
        model = load_best_model(study, say) if artifact_id else None
        if model is not None:
            test = training.evaluate(model, data.test, data)
            val = training.evaluate(model, data.val, data)
            study.set_user_attr("best_test", json_safe(test))
            study.set_user_attr("best_val", json_safe(val))
            row.update({"best_trial": study.user_attrs["best_model_trial"],
                        f"val_{metric}": val[metric], "test_rel_l2": test["rel_l2"],
                        "test_mse": test["mse"],
                        **{f"test_mse_{c}": v for c, v in test["mse_per_channel"].items()}})
        elif not artifact_id:
            say(f"note: {study.study_name!r} has no completed trial, so no best model to evaluate")
        screened = screen_rows.get(architecture, {})
        row.update({"screen_val_mean": screened.get("val_mean", math.nan),
                    "screen_test_mean": screened.get("test_mean", math.nan),
                    "pca_test_rel_l2": pca.get("test", {}).get("rel_l2", math.nan)})
        rows.append(row)
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame, metric: str) -> str:
    """The table `hpo.optimize` prints: best model per study on the test split, beside the screen."""
    lines = [f"{'architecture':<13}{'trials C/P/F':>13}{'best':>6}{'val ' + metric:>13}"
             f"{'test rel_l2':>12}{'test mse':>10}{'screen val':>12}{'screen test':>12}{'PCA test':>10}"]
    for row in summary.to_dict(orient="records"):
        counts = f"{row['n_complete']}/{row['n_pruned']}/{row['n_failed']}"
        if "best_trial" in row and not _missing(row.get("best_trial")):
            best = (f"{int(row['best_trial']):>6}{row[f'val_{metric}']:>13.4g}"
                    f"{row['test_rel_l2']:>12.4g}{row['test_mse']:>10.4g}")
        else:
            best = f"{'-':>6}{'-':>13}{'-':>12}{'-':>10}"
        lines.append(f"{row['architecture']:<13}{counts:>13}{best}{row['screen_val_mean']:>12.4g}"
                     f"{row['screen_test_mean']:>12.4g}{row['pca_test_rel_l2']:>10.4g}")
    lines.append("(C/P/F: complete/pruned/failed; test figures: the best model, held-out test split; "
                 "screen: the matched-size screen's means)")
    return "\n".join(lines)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
