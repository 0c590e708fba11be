"""Worker processes of one study: spawned, replaced after their share of trials (TensorFlow keeps
memory per fitted model), stopped together on SIGTERM/SIGINT. Worker i trains in slot i
(hpo.devices: its GPU, or the CPU), pinned before its backend starts; a replacement takes the same
slot."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

import optuna

from hpo import architectures, devices, keys
from hpo.backend import configure_threads, set_precision
from hpo.errors import StudyFailed
from hpo.optimize.claims import ClaimLock
from hpo.optimize.config import OptimizeConfig, StudyPlan
from hpo.optimize.duplicates import exhaustion_message, n_points
from hpo.optimize.objective import KerasObjective
from hpo.optimize.record import StudyRecord, stored_space
from hpo.optimize.settings import make_pruner, make_sampler
from hpo.optimize.trials import failure_message, finished_trials, study_needs_trials
from hpo.optimize.worker import Worker
from hpo.progress import Progress
from hpo.stopping import StopRequested, StopSignals
from hpo.storage import open_storage


def run_optuna_study(
    config: OptimizeConfig, plan: StudyPlan, space: dict, storage_url: str, data, progress: Progress
) -> None:
    """The optuna engine (hpo.registry.ENGINES): the study's remaining trials, by worker
    processes."""
    settings = config.settings
    record = StudyRecord.from_study(
        optuna.load_study(study_name=plan.name, storage=open_storage(storage_url))
    )
    symmetries = record.augment if record else ()
    placed = any(slot.pinned for slot in config.slots)
    progress(
        f"study {plan.name!r}: {settings.n_trials} trials, {settings.pruner} pruning, "
        f"{settings.sampler} sampler, "
        + (devices.describe(config.slots) if placed else f"{config.n_workers} worker(s)")
        + (f", latent {plan.latent}" if plan.latent is not None else "")
        + (f", augment {'/'.join(symmetries)} searched" if symmetries else "")
    )
    run_workers(config, plan.name, plan.architecture, storage_url, space, data, progress)


def run_workers(
    config: OptimizeConfig,
    name: str,
    architecture: str,
    storage_url: str,
    space: dict,
    data,
    progress: Progress,
    process_target: Callable | None = None,
) -> None:
    """Run the study's remaining trials with N worker processes (or this process, when one worker
    has no more than `trials_per_process` trials to run). A process that has run its share of trials
    is replaced by a fresh one, so TensorFlow's per-model memory is given back.

    Args:
        process_target: what each spawned process runs, with `worker_process`'s arguments
            (default `worker_process`; tests pass one with a trivial objective).

    Raises:
        StudyFailed: the study's last `max_failures` trials of this run failed (whichever process
        ran
            them); no process is started after that, and those running stop at their next claim. Or
            a worker process crashed, and the study still lacks trials.
    """
    settings = config.settings
    deadline = None if settings.timeout is None else time.time() + settings.timeout
    study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    # Failures count from this run's first trial
    first_trial = len(study.get_trials(deepcopy=False))
    remaining = settings.expected_trials() - finished_trials(study)
    size = n_points(space)
    if config.n_workers == 1 and remaining <= settings.trials_per_process:
        configure_threads(1)
        set_precision(config.precision)  # this process is the one worker (its device: the CLI's)
        _worker(
            config,
            name,
            architecture,
            storage_url,
            space,
            data,
            0,
            progress,
            deadline,
            first_trial=first_trial,
        )
        _say_if_exhausted(study, size, first_trial, progress)
        return
    context = multiprocessing.get_context("spawn")
    slots: list = [None] * config.n_workers
    exits = []
    with StopSignals() as stop:
        failure, timed_out = _supervise(
            config,
            name,
            architecture,
            storage_url,
            deadline,
            first_trial,
            study,
            context,
            slots,
            exits,
            stop,
            process_target or worker_process,
            size,
        )
    if failure:
        raise StudyFailed(failure)
    exhausted = _say_if_exhausted(study, size, first_trial, progress)
    crashed = [code for code in exits if code != 0]
    if crashed:
        message = (
            f"{len(crashed)} worker process(es) of {name!r} exited with {crashed}; finished "
            f"trials are stored, running the same command again completes the rest"
        )
        lacks = study_needs_trials(study, settings.n_trials, settings.epoch_budget)
        if not timed_out and not exhausted and lacks:
            raise StudyFailed(message)  # the study lacks trials: the run must not end as if done
        progress(f"note: {message}")


def _say_if_exhausted(
    study: optuna.Study, size: int | None, first_trial: int, progress: Progress
) -> str | None:
    """Print (once, whichever process stopped on it) and return the line of a study whose space is
    exhausted; None if it is not."""
    message = exhaustion_message(
        study.study_name, study.get_trials(deepcopy=False), size, first_trial
    )
    if message:
        progress(message)
    return message


def _supervise(
    config: OptimizeConfig,
    name: str,
    architecture: str,
    storage_url: str,
    deadline: float | None,
    first_trial: int,
    study: optuna.Study,
    context,
    slots: list,
    exits: list,
    stop: StopSignals,
    target: Callable,
    size: int | None = None,
) -> tuple[str | None, bool]:
    """Keep `slots` filled with worker processes until the study holds its trials (or its space of
    `size` points is exhausted); (the failure message, whether the timeout passed). A stop signal
    is passed on to the workers (each queues its running trial again), and StopRequested raised
    once they have exited."""
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
        trials = study.get_trials(deepcopy=False)
        needs = study_needs_trials(study, settings.n_trials, settings.epoch_budget)
        needs = needs and not exhaustion_message(name, trials, size, first_trial)
        failure = (
            failure_message(name, trials, settings.max_failures, first_trial) if needs else None
        )
        needed = not timed_out and needs and not failure and not any(code != 0 for code in exits)
        for index in range(len(slots)):
            if slots[index] is None and needed:
                slots[index] = context.Process(
                    target=devices.run_pinned,  # pinned to its device before target runs
                    args=(
                        config.slot(index),
                        target,
                        (config, name, architecture, storage_url, index, deadline, first_trial),
                    ),
                )
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


def worker_process(
    config: OptimizeConfig,
    name: str,
    architecture: str,
    storage_url: str,
    index: int,
    deadline: float | None,
    first_trial: int,
) -> None:
    """Entry point of a spawned worker, pinned to its slot's device already (devices.run_pinned):
    reload data, divide threads, set the precision, run its share of trials."""
    from hpo.backend import import_keras_quietly, quiet_optuna
    from hpo.data import load

    import_keras_quietly()
    quiet_optuna()
    configure_threads(config.n_workers)
    set_precision(config.precision)
    data = load(**config.data_kwargs)
    space = stored_space(
        architectures.load_spaces(config.space_file)[architecture], name, storage_url
    )
    try:
        _worker(
            config,
            name,
            architecture,
            storage_url,
            space,
            data,
            index,
            print,
            deadline,
            max_trials=config.settings.trials_per_process,
            first_trial=first_trial,
        )
    except StudyFailed:
        pass  # the parent finds the same failed trials in the study and stops the run, once
    except StopRequested:
        pass  # its trial is queued again; exit 0, the parent stops the run


def _worker(
    config: OptimizeConfig,
    name: str,
    architecture: str,
    storage_url: str,
    space: dict,
    data,
    index: int,
    progress: Progress,
    deadline: float | None,
    max_trials: int | None = None,
    first_trial: int = 0,
) -> None:
    settings = config.settings
    storage = open_storage(
        storage_url,
        heartbeat_interval=settings.heartbeat_interval,
        grace_period=settings.grace_period,
        max_retry=settings.max_retry,
    )
    probe = optuna.load_study(study_name=name, storage=storage)
    # Distinct seeds per worker and per process, so parallel workers don't propose the same points.
    seed = settings.seed + 1000 * index + len(probe.get_trials(deepcopy=False))
    sampler = make_sampler(
        settings.sampler,
        seed,
        settings.expected_trials(),
        n_startup_trials=settings.n_startup_trials,
    )
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(settings.pruner, settings.epochs),
    )
    lock = ClaimLock(storage_url, name)
    label = (f"w{index} " if config.n_workers > 1 else "") + f"[{architecture}] "
    slot = config.slot(index)
    objective = KerasObjective(architecture, space, data, settings)
    try:
        Worker(
            study,
            settings,
            lock,
            objective,
            progress,
            label,
            first_trial,
            workspace=config.workspace,
            space=space,
            placement={keys.DEVICE: slot.label, keys.SLOT: slot.index},
        ).run(deadline, max_trials)
    finally:
        lock.close()
