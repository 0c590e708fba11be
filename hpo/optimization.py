"""optimize(): Optuna studies on the screen's top-ranked architectures, one study each.

Reads the ranking of `<run>-screen`, runs `<run>-<architecture>` studies (created or resumed) with
one or more worker processes on the same storage, keeps each study's best model as an Optuna
artifact, evaluates it on the test split at the end beside PCA of the same latent size, and writes
`studies/<run>/optimize.html`.

With latent sizes (`--latent 8,16`) each (architecture, latent) gets its own study
`<run>-<architecture>-z<latent>`, the latent size fixed and the rest searched with pruning as usual:
their best models draw the front of error against latent size (optimize.html), which Optuna's
multi-objective studies cannot give with per-epoch pruning (their pruners are single-objective).
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

from hpo import architectures, augment, keys
from hpo.claims import ClaimLock
from hpo.config import studies_dir
from hpo.errors import ConfigError, StudyFailed
from hpo.screening import latent_of
from hpo.screening import study_name as screen_study_name
from hpo.serialize import json_safe
from hpo.space import Fixed, nearest_inside
from hpo.stopping import StopRequested, StopSignals
from hpo.storage import open_storage, redact, resolve_storage_url
from hpo.study import (FROM_SCREEN, PRUNERS, SAMPLERS, KerasObjective, StudySettings, Worker,
                       configure_threads, failure_message, finished_trials, load_best_model,
                       make_pruner, make_sampler, study_needs_trials)


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
    # Fixed latent sizes, one study per (architecture, latent); empty: the latent size is searched.
    latents: tuple[int, ...] = ()
    # Symmetries searched as training knobs (hpo.augment); None: those the screen trained with.
    augment: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StudyPlan:
    """One study of a run: its architecture, its fixed latent size (None: searched) and its name."""

    architecture: str
    latent: int | None
    name: str


# A smoke/demo budget: a few minutes on 2 cores with the quick embedded dataset.
QUICK_SETTINGS = {"n_trials": 10, "epochs": 8}
ENGINES = ("optuna", "keras-tuner")
TUNERS = ("hyperband", "bayesian", "random")  # hpo.tuner_engine.TUNERS, without importing KerasTuner


def study_name(run: str, architecture: str, engine: str = "optuna", latent: int | None = None) -> str:
    """`<run>-<architecture>[-z<latent>][-keras-tuner]`."""
    return (f"{run}-{architecture}" + (f"-z{latent}" if latent is not None else "")
            + ("-keras-tuner" if engine == "keras-tuner" else ""))


def study_space(space: dict, latent: int | None, symmetries: tuple[str, ...]) -> dict:
    """An architecture's space for one study: the latent size fixed (when given), and the allowed
    symmetries searched as training knobs (on by default; the others fixed off)."""
    if latent is not None:
        space = {**space, "latent": Fixed(latent)}
    return augment.searchable(space, symmetries)


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
    bad_latents = [v for v in config.latents if isinstance(v, bool) or not isinstance(v, int) or v < 2]
    checks.append((not bad_latents, f"--latent must list integers >= 2, but got "
                                    f"{','.join(map(str, config.latents))}"))
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if config.augment is not None:
        augment.check(config.augment)


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


def choose_architectures(config: OptimizeConfig, screen: optuna.Study,
                         latent: int | None = None) -> list[str]:
    """`--architectures`, or the screen's best `--top` K: at `latent` when the screen ranked that
    size, else at its smallest (keys.RANKING)."""
    if config.architectures:
        return list(config.architectures)
    by_latent = screen.user_attrs.get(keys.RANKING_BY_LATENT) or {}
    ranking = list(by_latent.get(keys.latent_key(latent)) if latent is not None and
                   keys.latent_key(latent) in by_latent else screen.user_attrs[keys.RANKING])
    if config.top > len(ranking):
        raise ConfigError(f"--top must be between 1 and {len(ranking)} (the screen of run "
                          f"{config.run!r} ranked {len(ranking)}), but got {config.top}")
    return ranking[: config.top]


def plan_studies(config: OptimizeConfig, screen: optuna.Study) -> list[StudyPlan]:
    """The studies to run, in order: per latent size (ascending), the chosen architectures."""
    plans = []
    for latent in sorted(config.latents) or [None]:
        plans += [StudyPlan(a, latent, study_name(config.run, a, config.engine, latent))
                  for a in choose_architectures(config, screen, latent)]
    return plans


def screened_symmetries(config: OptimizeConfig, screen: optuna.Study) -> tuple[str, ...]:
    """`--augment`, else what the screen trained with (a screen from before augmentation: none)."""
    if config.augment is not None:
        return augment.check(config.augment)
    return augment.check(screen.user_attrs.get(keys.AUGMENT) or ())


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
    plans = plan_studies(config, screen)
    symmetries = screened_symmetries(config, screen)
    settings = replace(config.settings,
                       metric=screen.user_attrs.get("metric", config.settings.metric),
                       loss=screen.user_attrs.get("settings", {}).get("loss", config.settings.loss))
    config = replace(config, settings=settings)
    spaces = architectures.load_spaces(config.space_file)  # a bad --space file fails here, early
    for plan in plans:
        created = _create_study(plan, storage_url, data, settings, symmetries)
        space = _stored_space(spaces[plan.architecture], plan.name, storage_url)
        if created and config.engine == "optuna":
            _enqueue_screen_winner(plan, space, storage_url, screen, say)
        if config.engine == "keras-tuner":
            from hpo.tuner_engine import run_keras_tuner

            say(f"study {plan.name!r}: KerasTuner {config.tuner}, mirrored into Optuna")
            run_keras_tuner(config, plan.architecture, plan.name, space, storage_url, data,
                            config.tuner, say)
            continue
        say(f"study {plan.name!r}: {settings.n_trials} trials, {settings.pruner} pruning, "
            f"{settings.sampler} sampler, {config.n_workers} worker(s)"
            + (f", latent {plan.latent}" if plan.latent is not None else "")
            + (f", augment {'/'.join(symmetries)} searched" if symmetries else ""))
        _run_workers(config, plan.name, plan.architecture, storage_url, space, data, say)
    summary = _evaluate_best(config, plans, storage_url, screen, data, symmetries, say)
    from hpo.optimize_report import write_optimize_report

    names = [plan.name for plan in plans]
    html_path = write_optimize_report(studies_dir() / config.run / "optimize.html", config.run,
                                      names, storage_url, summary, data, settings.metric)
    return OptimizeResult(names, summary, html_path)


def _create_study(plan: StudyPlan, storage_url: str, data, settings: StudySettings,
                  symmetries: tuple[str, ...]) -> bool:
    """Create the study (or check a stored one's data); True when it was created now."""
    name = plan.name
    study = optuna.create_study(study_name=name, storage=open_storage(storage_url),
                                direction="minimize", load_if_exists=True)
    stored = study.user_attrs.get("data")
    if stored is None:
        study.set_user_attr("data", data.describe())
        study.set_user_attr("architecture", plan.architecture)
        study.set_user_attr("metric", settings.metric)
        study.set_user_attr(keys.LATENT, plan.latent)  # None: searched
        study.set_user_attr(keys.AUGMENT, list(symmetries))
        return True
    problems = data.mismatches(stored)
    if problems:
        raise ConfigError(f"the study {name!r} was run on other data ({'; '.join(problems)}); "
                          f"pass the same data flags or use another --run")
    return False


def _stored_space(declared: dict, name: str, storage_url: str) -> dict:
    """The space of study `name`: the declared one with the latent size and the searched symmetries
    stored when the study was created (a study from before they were stored: latent searched, no
    augmentation), so every worker, in any process or on any machine, searches the same space."""
    attrs = optuna.load_study(study_name=name, storage=open_storage(storage_url)).user_attrs
    return study_space(declared, attrs.get(keys.LATENT), augment.check(attrs.get(keys.AUGMENT) or ()))


def _enqueue_screen_winner(plan: StudyPlan, space: dict, storage_url: str, screen: optuna.Study,
                           say) -> None:
    """Queue the screen's configuration of this architecture (its best repeat, at the study's latent
    size, or the smallest screened for a study that searches it) as the new study's first trial,
    user attr `from_screen`: trained with the same recipe and budget, the study's best is then never
    worse than what the screen found."""
    from hpo.architectures.presets import in_search_terms

    runs = [t for t in screen.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.params.get(keys.ARCHITECTURE) == plan.architecture and "params" in t.user_attrs]
    latents = sorted({latent_of(t) for t in runs})
    latent = plan.latent if plan.latent is not None else (latents[0] if latents else None)
    runs = [t for t in runs if latent_of(t) == latent]
    if not runs:
        say(f"note: the screen has no finished {plan.architecture} run at latent {latent}; "
            f"{plan.name!r} starts from the sampler alone")
        return
    best = min(runs, key=lambda t: t.value)
    params, moved = nearest_inside(space, in_search_terms(best.user_attrs["params"]))
    if moved:  # e.g. a small --params budget left fewer filters than the space's lowest
        say(f"note: the screen's {plan.architecture} lies outside the search space of "
            f"{plan.name!r} ({', '.join(moved)}); its nearest point inside is queued instead")
    study = optuna.load_study(study_name=plan.name, storage=open_storage(storage_url))
    study.enqueue_trial(params, user_attrs={FROM_SCREEN: {
        "study": screen.study_name, "trial": best.number, "latent": latent,
        "repeat": best.params.get(keys.REPEAT), "value": best.value, "moved": moved}},
        skip_if_exists=True)  # two machines creating the study at once queue it once
    say(f"study {plan.name!r}: trial 0 is the screen's {plan.architecture} at latent {latent} "
        f"(value {best.value:.4g})")


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
    with StopSignals() as stop:
        failure, timed_out = _supervise(config, name, architecture, storage_url, deadline,
                                        first_trial, study, context, slots, exits, stop,
                                        process_target or _worker_process)
    if failure:
        raise StudyFailed(failure)
    crashed = [code for code in exits if code != 0]
    if crashed:
        message = (f"{len(crashed)} worker process(es) of {name!r} exited with {crashed}; finished "
                   f"trials are stored, running the same command again completes the rest")
        if not timed_out and study_needs_trials(study, settings.n_trials, settings.epoch_budget):
            raise StudyFailed(message)  # the study lacks trials: the run must not end as if done
        say(f"note: {message}")


def _supervise(config: OptimizeConfig, name: str, architecture: str, storage_url: str,
               deadline: float | None, first_trial: int, study: optuna.Study, context, slots: list,
               exits: list, stop: StopSignals, target: Callable) -> tuple[str | None, bool]:
    """Keep `slots` filled with worker processes until the study holds its trials; (the failure
    message, whether the timeout passed). A stop signal is passed on to the workers (each queues
    its running trial again), and StopRequested raised once they have exited."""
    settings = config.settings
    failure, timed_out = None, False
    while True:
        if stop.received:
            _stop_workers(slots)
            raise StopRequested(stop.received)
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
                slots[index] = context.Process(target=target, args=(
                    config, name, architecture, storage_url, index, deadline, first_trial))
                slots[index].start()
        if all(process is None for process in slots):
            return failure, timed_out
        time.sleep(0.5)


def _stop_workers(slots: list, wait: float = 60.0) -> None:
    """SIGTERM every live worker process (each fails and queues its running trial, then exits) and
    wait for them; one that does not exit within `wait` seconds is killed (its heartbeat then
    queues the trial again)."""
    live = [process for process in slots if process is not None and process.exitcode is None]
    for process in live:
        process.terminate()
    for process in live:
        process.join(wait)
        if process.exitcode is None:
            process.kill()
            process.join()


def _worker_process(config: OptimizeConfig, name: str, architecture: str, storage_url: str,
                    index: int, deadline: float | None, first_trial: int) -> None:
    """Entry point of a spawned worker: reload data, divide threads, run its share of trials."""
    from hpo.backend import import_keras_quietly, quiet_optuna
    from hpo.data import load

    import_keras_quietly()
    quiet_optuna()
    configure_threads(config.n_workers)
    data = load(**config.data_kwargs)
    space = _stored_space(architectures.load_spaces(config.space_file)[architecture], name,
                          storage_url)
    try:
        _worker(config, name, architecture, storage_url, space, data, index, print, deadline,
                max_trials=config.settings.trials_per_process, first_trial=first_trial)
    except StudyFailed:
        pass  # the parent finds the same failed trials in the study and stops the run, once
    except StopRequested:
        pass  # its trial is queued again; exit 0, the parent stops the run


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


def _evaluate_best(config: OptimizeConfig, plans: list[StudyPlan], storage_url: str,
                   screen: optuna.Study, data, symmetries: tuple[str, ...], say) -> pd.DataFrame:
    """Evaluate each study's best model on the test split beside PCA at the best model's latent size
    (fitted on the same, possibly augmented, training set; plain PCA beside it); store and return
    the summary, one row per study."""
    from hpo import training

    metric = config.settings.metric
    pca = _PCAAtLatent(data, symmetries)
    rows = []
    for plan in plans:
        study = optuna.load_study(study_name=plan.name, storage=open_storage(storage_url))
        trials = study.get_trials(deepcopy=False)
        states = [t.state for t in trials]
        row = {"architecture": plan.architecture, "latent": plan.latent, "study": study.study_name,
               "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
               "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
               "n_failed": states.count(optuna.trial.TrialState.FAIL)}
        artifact_id = study.user_attrs.get("best_model_artifact_id")
        model = load_best_model(study, say) if artifact_id else None
        if model is not None:
            best = study.user_attrs["best_model_trial"]
            latent = plan.latent or _best_latent(trials, best)
            test = training.evaluate(model, data.test, data)
            val = training.evaluate(model, data.val, data)
            study.set_user_attr("best_test", json_safe(test))
            study.set_user_attr("best_val", json_safe(val))
            row.update({"latent": latent, "best_trial": best,
                        f"val_{metric}": val[metric], "test_rel_l2": test["rel_l2"],
                        "test_mse": test["mse"],
                        **{f"test_mse_{c}": v for c, v in test["mse_per_channel"].items()}})
            if latent is not None:
                fair, plain = pca.at(latent)
                row.update({"pca_test_rel_l2": fair["rel_l2"], "plain_pca_test_rel_l2": plain["rel_l2"],
                            "ratio_to_pca": test["rel_l2"] / fair["rel_l2"]})
        elif not artifact_id:
            say(f"note: {study.study_name!r} has no completed trial, so no best model to evaluate")
        screened = _screen_row(screen, plan.architecture, row["latent"])
        row.update({"screen_val_mean": screened.get("val_mean", math.nan),
                    "screen_test_mean": screened.get("test_mean", math.nan)})
        row.setdefault("pca_test_rel_l2", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _best_latent(trials, number: int) -> int | None:
    """The latent size of a searched study's best trial."""
    value = next((t.params.get("latent") for t in trials if t.number == number), None)
    return None if value is None else int(value)


def _screen_row(screen: optuna.Study, architecture: str, latent: int | None) -> dict:
    """The screen's leaderboard row of `architecture` at `latent` (when the screen ran that size;
    a searched study without a best model: the smallest latent's row)."""
    by_latent = screen.user_attrs.get(keys.LEADERBOARD_BY_LATENT) or {}
    if latent is not None:
        rows = by_latent.get(keys.latent_key(latent), [])
        if not rows and not by_latent:  # a screen from before the latent axis: its one size
            rows = [r for r in screen.user_attrs.get(keys.LEADERBOARD, []) if r.get("latent") == latent]
    else:
        rows = screen.user_attrs.get(keys.LEADERBOARD, [])
    return next((r for r in rows if r["architecture"] == architecture), {})


class _PCAAtLatent:
    """Test scores of PCA at any latent size: one fit at the largest size asked so far, truncated."""

    def __init__(self, data, symmetries: tuple[str, ...]):
        self.data, self.symmetries = data, symmetries
        self._fitted: dict[int, tuple] = {}

    def at(self, latent: int) -> tuple[dict, dict]:
        """(PCA fitted on the training set augmented like the models', plain PCA) test scores."""
        from hpo.baseline import fit_pca

        if latent not in self._fitted:
            fair = fit_pca(self.data, latent, augment=self.symmetries)
            plain = fit_pca(self.data, latent) if self.symmetries else fair
            self._fitted[latent] = tuple(p.evaluate(self.data.test, self.data) for p in (fair, plain))
        return self._fitted[latent]


def format_summary(summary: pd.DataFrame, metric: str) -> str:
    """The table `hpo.optimize` prints: best model per study on the test split, beside the screen and
    PCA at the best model's latent size."""
    lines = [f"{'study':<26}{'latent':>7}{'trials C/P/F':>13}{'best':>6}{'val ' + metric:>13}"
             f"{'test rel_l2':>12}{'test mse':>10}{'screen val':>12}{'screen test':>12}"
             f"{'PCA test':>10}{'x PCA':>7}"]
    for row in summary.to_dict(orient="records"):
        counts = f"{row['n_complete']}/{row['n_pruned']}/{row['n_failed']}"
        if "best_trial" in row and not _missing(row.get("best_trial")):
            best = (f"{int(row['best_trial']):>6}{row[f'val_{metric}']:>13.4g}"
                    f"{row['test_rel_l2']:>12.4g}{row['test_mse']:>10.4g}")
        else:
            best = f"{'-':>6}{'-':>13}{'-':>12}{'-':>10}"
        latent = "-" if _missing(row.get("latent")) else str(int(row["latent"]))
        ratio = row.get("ratio_to_pca", math.nan)
        lines.append(f"{row['study']:<26}{latent:>7}{counts:>13}{best}{row['screen_val_mean']:>12.4g}"
                     f"{row['screen_test_mean']:>12.4g}{row['pca_test_rel_l2']:>10.4g}"
                     f"{'-' if _missing(ratio) else f'{ratio:.2f}':>7}")
    lines.append("(C/P/F: complete/pruned/failed; test figures: the best model, held-out test split; "
                 "screen: the matched-size screen's means at that latent size; PCA: same latent size, "
                 "fitted on the same (augmented) training set; x PCA: test rel_l2 / PCA's)")
    return "\n".join(lines)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
