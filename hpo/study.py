"""One architecture's Optuna study: objective, pruning, the worker loop, and the best model kept.

A worker repeatedly (1) takes the claim lock, fails trials whose worker died (heartbeat) so they are
queued again, counts the trials that are finished or in flight and stops at `n_trials`, stops the run
after `max_failures` failed trials in a row, asks for a trial; (2) runs its objective (the Keras
training, `KerasObjective`, with per-epoch pruning; tests and bench/stress.py pass a trivial one),
beating the heartbeat meanwhile; (3) tells the result.
Failures come in three tiers: pruning is control flow (PRUNED); a bad trial (NaN loss, out of memory,
a bug, over --max-params) ends as FAIL/PRUNED with a `failure`/`rejected` attr and the study goes on,
a FAIL not counting toward `n_trials` (another trial replaces it) unless `max_failures` fail in a row,
which stops the run (StudyFailed, exit code 1); a configuration error stops the run before anything is
written.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import gc
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState

from hpo.claims import ClaimLock
from hpo.config import DEFAULT_SEED, studies_dir
from hpo.errors import ConfigError, StudyFailed
from hpo.serialize import json_safe
from hpo.stopping import StopRequested, StopSignals
from hpo.storage import redact

PRUNERS = ("median", "hyperband", "sha", "none")
SAMPLERS = ("tpe", "random")

# Trial user attrs the worker writes (read by tests, benchmarks and reports).
FAILURE = "failure"  # why a trial of ours failed (NaN, out of memory, a bug); absent if its worker died
WORKER_PID = "worker_pid"  # the process that ran the trial
# Why a stop signal (SIGTERM, SIGINT) cut the trial short; like a worker that died, no failure of the
# study's (no FAILURE attr): its queued copy runs again.
STOPPED = "stopped"
# The screen's configuration queued as a study's first trial: {"study", "trial", "latent", "repeat",
# "value"} of the screen run it repeats.
FROM_SCREEN = "from_screen"


@dataclass(frozen=True)
class StudySettings:
    """How each study is searched; defaults are the issue's, each with its reason."""

    n_trials: int = 30  # per architecture, COMPLETE + PRUNED: a failed trial is replaced
    timeout: float | None = None  # seconds per architecture and worker; None: until n_trials
    epochs: int = 30  # max per trial, as the screen: pruning and early stopping cut most short
    # A compute budget: no trial starts once the study's trials have run this many epochs in all
    # (what the benchmarks hold equal between engines); None: n_trials alone decides.
    epoch_budget: int | None = None
    # EarlyStopping inside a trial (best weights restored); None: a quarter of `epochs`, at least 3
    # (hpo.training.scaled_patience), as in the screen.
    patience: int | None = None
    pruner: str = "median"  # prunes a trial whose epoch-k value is worse than the median at k
    sampler: str = "tpe"  # model-based, seeded
    max_params: int | None = None  # trials above it are rejected before training
    loss: str = "mse"  # the screen's loss
    metric: str = "rel_l2"  # the screen's ranking metric, on the validation split
    seed: int = DEFAULT_SEED
    # TensorFlow keeps ~17 MiB per fitted model (TF 2.21 / Keras 3.15, even after clear_session():
    # see bench/optimize.py), so a worker process is replaced by a fresh one after this many trials.
    trials_per_process: int = 10
    heartbeat_interval: int = 10  # seconds between a running trial's heartbeats
    grace_period: int = 30  # a trial silent this long is stale: failed, then retried
    max_retry: int = 3  # re-queues of one stale trial
    # Failed trials are replaced, so a bug that fails every trial would run forever: after this many
    # in a row (across all workers) the run stops with the last error. 3 as KerasTuner's
    # max_consecutive_failed_trials: one NaN or out-of-memory point is the search's business, three
    # in a row are almost always the code's or the data's.
    max_failures: int = 3

    def expected_trials(self) -> int:
        """Trials the study will likely run: n_trials, or fewer when an epoch budget ends it first."""
        if self.epoch_budget is None:
            return self.n_trials
        return max(1, min(self.n_trials, self.epoch_budget // self.epochs))


def make_sampler(name: str, seed: int, n_trials: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        # A third of the budget (3..10) as random start-up, so TPE has points to model.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(3, min(10, n_trials // 3)))
    raise ConfigError(f"--sampler must be one of {', '.join(SAMPLERS)}, but got {name!r}")


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "median":
        # Prune only once 3 trials have finished and after 2 epochs: early epochs are noisy.
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner must be one of {', '.join(PRUNERS)}, but got {name!r}")


_RESULTS = (TrialState.COMPLETE, TrialState.PRUNED)
_IN_FLIGHT = (TrialState.RUNNING, TrialState.WAITING)


def failed_by_its_own_error(trial: FrozenTrial) -> bool:
    """FAIL with a `failure` attr: NaN, out of memory, a bug. A trial failed because its worker died
    (heartbeat) has none: it is queued again as a WAITING copy and is no failure of the study's."""
    return trial.state == TrialState.FAIL and FAILURE in trial.user_attrs


def counted_trials(study: optuna.Study) -> int:
    """Trials that count against n_trials: COMPLETE, PRUNED, or in flight (RUNNING, WAITING).
    A FAIL does not count: another trial replaces it (see failure_streak for the limit)."""
    return _count(study.get_trials(deepcopy=False))


def _count(trials: Sequence[FrozenTrial]) -> int:
    return sum(1 for t in trials if t.state in _RESULTS or t.state in _IN_FLIGHT)


def epochs_spent(study: optuna.Study) -> int:
    """Epochs the study's trials have run in all (one intermediate value per epoch)."""
    return _epochs(study.get_trials(deepcopy=False))


def _epochs(trials: Sequence[FrozenTrial]) -> int:
    return sum(len(t.intermediate_values) for t in trials)


def study_needs_trials(study: optuna.Study, n_trials: int, epoch_budget: int | None = None) -> bool:
    """Whether a worker would still find a trial to run: the epoch budget (if any) is not spent,
    and there is a WAITING trial (queued again after its worker died, already part of the count)
    or room in the count."""
    return _needs_trials(study.get_trials(deepcopy=False), n_trials, epoch_budget)


def _needs_trials(trials: Sequence[FrozenTrial], n_trials: int, epoch_budget: int | None) -> bool:
    if epoch_budget is not None and _epochs(trials) >= epoch_budget:
        return False
    return any(t.state == TrialState.WAITING for t in trials) or _count(trials) < n_trials


def finished_trials(study: optuna.Study) -> int:
    """Trials with a result that counts toward n_trials: COMPLETE or PRUNED."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state in _RESULTS)


def failure_streak(trials: Sequence[FrozenTrial], first_trial: int = 0) -> list[FrozenTrial]:
    """The trials failed by their own error since the study's last COMPLETE or PRUNED one, latest
    first, in the order they ended, whichever worker ran them.

    Args:
        trials: the study's trials.
        first_trial: trials numbered below it (an earlier run's) are left out, so running the same
            command again after a fix starts a new count. Trials failed because their worker died
            are left out too: neither a result nor a failure, their WAITING copy runs again.
    """
    ended = [t for t in trials if t.number >= first_trial
             and (t.state in _RESULTS or failed_by_its_own_error(t))]
    ended.sort(key=lambda t: (t.datetime_complete, t.number), reverse=True)
    streak = []
    for trial in ended:
        if trial.state != TrialState.FAIL:
            break
        streak.append(trial)
    return streak


def failure_message(study_name: str, trials: Sequence[FrozenTrial], max_failures: int,
                    first_trial: int = 0) -> str | None:
    """The one-line error of a study whose last `max_failures` trials failed; None if it goes on."""
    streak = failure_streak(trials, first_trial)
    if len(streak) < max_failures:
        return None
    last = streak[0]
    return (f"study {study_name!r} stopped: its last {len(streak)} trials failed "
            f"(--max-failures {max_failures}); the last, trial {last.number}: "
            f"{last.user_attrs[FAILURE]}. The stored trials are kept: fix the cause and run the same "
            f"command again")


class _Heartbeat:
    """Records a running trial's heartbeat every `interval` seconds from a daemon thread."""

    def __init__(self, storage, trial_id: int, interval: int):
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self):
        self._storage.record_heartbeat(self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        while not self._stop.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a missed beat is harmless; the next one may get through
                pass


@dataclass
class TrialOutcome:
    number: int
    state: TrialState
    value: float | None
    seconds: float
    note: str = ""


@dataclass
class TrialResult:
    """What an objective returns for one trial. It raises optuna.TrialPruned to prune; any other
    exception fails the trial alone (the worker records it as the trial's `failure`)."""

    state: TrialState  # COMPLETE, PRUNED or FAIL
    value: float | None = None  # COMPLETE: the value to minimise
    note: str = ""  # one line for the progress output; for FAIL the reason, stored as `failure`
    model: Any = None  # COMPLETE: the trained model, kept if it is the study's best so far


Objective = Callable[[optuna.Trial], TrialResult]


def artifact_store() -> optuna.artifacts.FileSystemArtifactStore:
    path = studies_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return optuna.artifacts.FileSystemArtifactStore(path)


def load_best_model(study: optuna.Study, say: Callable[[str], None] | None = None):
    """The study's kept best model, from this machine's artifact store; None if it has none here
    (no completed trial yet, or with workers on several machines, its trial ran elsewhere)."""
    import keras

    artifact_id = study.user_attrs.get("best_model_artifact_id")
    if not artifact_id:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "best.keras"
        try:
            optuna.artifacts.download_artifact(artifact_store=artifact_store(), file_path=str(path),
                                               artifact_id=artifact_id)
        except (OSError, ArtifactNotFound):
            if say:
                say(f"note: the best model of {study.study_name!r} ({artifact_id}) is not in "
                    f"{studies_dir() / 'artifacts'}; evaluate it on the machine where its trial ran")
            return None
        return keras.models.load_model(path, compile=False)


def store_best_model(study: optuna.Study, model, trial_number: int, value: float,
                     attach_to: optuna.Trial | optuna.Study) -> None:
    """Keep `model` as the study's best: one `.keras` artifact per study (the previous best's file
    is removed), its id, path, trial and value in the study's user attrs."""
    store = artifact_store()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{study.study_name}-trial{trial_number}.keras"
        model.save(path)
        artifact_id = optuna.artifacts.upload_artifact(
            artifact_store=store, file_path=str(path), study_or_trial=attach_to)
    previous = study.user_attrs.get("best_model_artifact_id")
    study.set_user_attr("best_model_artifact_id", artifact_id)
    study.set_user_attr("best_model_path", str(studies_dir() / "artifacts" / artifact_id))
    study.set_user_attr("best_model_trial", trial_number)
    study.set_user_attr("best_model_value", value)
    if previous:
        try:
            store.remove(previous)
        except Exception:  # already gone (another machine's store): nothing to free
            pass


@dataclass
class KerasObjective:
    """The objective of `hpo.optimize`: train one point of the space with per-epoch pruning, score
    it on the validation split."""

    architecture: str
    space: dict
    data: Any  # FlowData
    settings: StudySettings

    def __call__(self, trial: optuna.Trial) -> TrialResult:
        from optuna_integration import KerasPruningCallback

        from hpo import architectures, training
        from hpo.space import suggest

        settings = self.settings
        params = suggest(trial, self.space)
        n_params = architectures.count_params(self.architecture, params, self.data.input_shape)
        trial.set_user_attr("n_params", n_params)
        trial.set_user_attr("latent", params.get("latent"))  # also when the study fixes it
        if settings.max_params is not None and n_params > settings.max_params:
            trial.set_user_attr("rejected", f"{n_params:,} parameters > --max-params "
                                            f"{settings.max_params:,}")
            return TrialResult(TrialState.PRUNED, note=f"rejected: {n_params:,} parameters")
        config = training.TrainConfig(epochs=settings.epochs, patience=settings.patience,
                                      loss=settings.loss, seed=settings.seed + trial.number,
                                      monitor=f"val_{settings.metric}")
        pruning = KerasPruningCallback(trial, f"val_{settings.metric}")
        try:
            result = training.fit(self.architecture, params, self.data, config,
                                  callbacks=[pruning], progress=None)
        except optuna.TrialPruned:
            epochs = len(trial.study._storage.get_trial(trial._trial_id).intermediate_values)  # noqa: SLF001
            trial.set_user_attr("epochs_run", epochs)
            return TrialResult(TrialState.PRUNED, note=f"pruned after {epochs} epochs")
        except training.TrainingFailed as exc:  # out of memory: this trial fails alone
            return TrialResult(TrialState.FAIL, note=str(exc))
        trial.set_user_attr("epochs_run", result.epochs_run)
        trial.set_user_attr("seconds_per_epoch", result.seconds_per_epoch)
        if result.diverged:
            return TrialResult(TrialState.FAIL, note="diverged: NaN/Inf loss", model=result.model)
        scores = training.evaluate(result.model, self.data.val, self.data)
        trial.set_user_attr("val", json_safe(scores))
        value = float(scores[settings.metric])
        if not math.isfinite(value):
            return TrialResult(TrialState.FAIL, note="non-finite validation metric",
                               model=result.model)
        return TrialResult(TrialState.COMPLETE, value, f"{result.epochs_run} epochs", result.model)


@dataclass
class Worker:
    """Runs trials of one study until it holds `settings.n_trials` COMPLETE or PRUNED trials (or the
    timeout passes, or the epoch budget is spent); stops with StudyFailed after
    `settings.max_failures` failed trials in a row.

    `objective` runs one trial: `KerasObjective` in `hpo.optimize`; tests and bench/stress.py pass a
    trivial one, so the claim protocol they check is this one.
    """

    study: optuna.Study
    settings: StudySettings
    lock: ClaimLock
    objective: Objective
    progress: Callable[[str], None] | None = print
    label: str = ""  # what the progress lines call this worker and its study
    first_trial: int = 0  # this run's first trial number: earlier trials' failures are not counted
    outcomes: list[TrialOutcome] = field(default_factory=list)

    def run(self, deadline: float | None = None, max_trials: int | None = None) -> list[TrialOutcome]:
        """Run trials until the study holds n_trials, `deadline` (time.time()) passes, or this
        worker has run `max_trials`.

        Raises:
            StudyFailed: the study's last `settings.max_failures` trials failed.
        """
        with StopSignals() as stop:
            while deadline is None or time.time() < deadline:
                if max_trials is not None and len(self.outcomes) >= max_trials:
                    break
                if stop.received:  # arrived between trials: nothing to queue again
                    raise StopRequested(stop.received)
                trial = self._claim()
                if trial is None:
                    break
                self.outcomes.append(self._run_trial(trial, stop))
        return self.outcomes

    def _claim(self) -> optuna.Trial | None:
        """Under the lock: fail stale trials, then a new trial (a WAITING one first), or None when
        the study holds enough.

        Raises:
            StudyFailed: the study still needs trials, and its last max_failures trials failed.
        """
        settings = self.settings
        with self.lock.held():
            optuna.storages.fail_stale_trials(self.study)
            self._fail_orphans()
            trials = self.study.get_trials(deepcopy=False)
            if not _needs_trials(trials, settings.n_trials, settings.epoch_budget):
                return None
            message = failure_message(self.study.study_name, trials, settings.max_failures,
                                      self.first_trial)
            if message:
                raise StudyFailed(message)
            trial = self.study.ask()  # takes a WAITING trial first
            # Beat and sign at once: a trial that has neither is one whose worker died right here.
            self.study._storage.record_heartbeat(trial._trial_id)  # noqa: SLF001
            trial.set_user_attr(WORKER_PID, os.getpid())
            return trial

    def _fail_orphans(self) -> None:
        """Fail and queue again the RUNNING trials whose worker died between Optuna's ask and its
        first heartbeat (a kill -9 in that instant): Optuna never counts a trial without a heartbeat
        as stale, so it would stay RUNNING forever. Such a trial carries no worker pid; a live
        worker signs its trial milliseconds after ask, so one unsigned for longer than the grace
        period is dead."""
        storage = self.study._storage  # noqa: SLF001 - Optuna exposes no public accessor
        now = datetime.datetime.now()
        retry = storage.get_heartbeat_stale_trial_callback()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            unsigned_for = (now - trial.datetime_start).total_seconds()
            if WORKER_PID in trial.user_attrs or unsigned_for <= self.settings.grace_period:
                continue
            try:
                failed = storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)  # noqa: SLF001
            except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
                continue
            if failed and retry is not None:
                retry(self.study, copy.deepcopy(storage.get_trial(trial._trial_id)))  # noqa: SLF001

    def _run_trial(self, trial: optuna.Trial, stop: StopSignals | None = None) -> TrialOutcome:
        started = time.monotonic()
        storage = self.study._storage  # noqa: SLF001 - Optuna exposes no public accessor
        with _Heartbeat(storage, trial._trial_id, self.settings.heartbeat_interval):  # noqa: SLF001
            try:
                with stop.interruptible() if stop else _nothing():
                    result = self._evaluate(trial)
            except StopRequested as stopped:
                self._queue_again(trial, stopped.signal_name)
                raise
            if stop is not None and stop.received and result.state == TrialState.FAIL:
                # The interruption reached us as another exception (a library on the way wrapped
                # it; seen under load with two workers on PostgreSQL): a stop all the same.
                self._queue_again(trial, stop.received)
                raise StopRequested(stop.received)
            trial.set_user_attr("rss_mib", round(resident_mib()))  # memory stays flat? (see bench)
        if result.state == TrialState.FAIL:
            # An exception's text may quote a database URL: never store its password.
            trial.set_user_attr(FAILURE, redact(result.note or "failed"))
        if result.state == TrialState.COMPLETE:
            if result.model is not None:  # while the trial runs: artifacts attach to it
                self._keep_if_best(trial, result.value, result.model)
            self.study.tell(trial, result.value)
        else:
            self.study.tell(trial, state=result.state)
        if result.model is not None:
            result.model = None
            gc.collect()  # the model and its graph go before the next trial builds
        outcome = TrialOutcome(trial.number, result.state, result.value,
                               time.monotonic() - started, result.note)
        self._report(outcome)
        return outcome

    def _evaluate(self, trial: optuna.Trial) -> TrialResult:
        """Run the objective; never raises for a bad trial."""
        try:
            return self.objective(trial)
        except optuna.TrialPruned as exc:
            return TrialResult(TrialState.PRUNED, note=f"pruned: {exc}" if str(exc) else "pruned")
        except Exception as exc:  # a bug or a broken point of the space: this trial fails alone
            return TrialResult(TrialState.FAIL,
                               note=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")

    def _queue_again(self, trial: optuna.Trial, signal_name: str) -> None:
        """A stop signal cut this trial short: FAIL it now and queue a copy, as the heartbeat path
        does for a trial whose worker was killed (Optuna's retry callback: same params, system
        attr `failed_trial`), so the next run picks it up first."""
        storage = self.study._storage  # noqa: SLF001 - Optuna exposes no public accessor
        trial.set_user_attr(STOPPED, f"stopped by {signal_name}; queued again")
        self.study.tell(trial, state=TrialState.FAIL)
        retry = storage.get_heartbeat_stale_trial_callback()
        frozen = copy.deepcopy(storage.get_trial(trial._trial_id))  # noqa: SLF001
        # The copy inherits the user attrs (from_screen, ...), but is not itself stopped.
        frozen.user_attrs = {k: v for k, v in frozen.user_attrs.items() if k != STOPPED}
        if retry is not None:
            retry(self.study, frozen)
        else:
            self.study.enqueue_trial(frozen.params, user_attrs={"failed_trial": frozen.number})
        if self.progress is not None:
            self.progress(f"{self.label}trial {trial.number:>3} stopped by {signal_name}: marked "
                          "FAIL and queued again")

    def _keep_if_best(self, trial: optuna.Trial, value: float, model) -> None:
        """Store the model if it is the study's best so far."""
        with self.lock.held():  # two workers improving at once must not both win
            attrs = self.study.user_attrs
            if "best_model_value" in attrs and attrs["best_model_value"] <= value:
                return
            store_best_model(self.study, model, trial.number, value, attach_to=trial)

    def _report(self, outcome: TrialOutcome) -> None:
        if self.progress is None:
            return
        try:
            best = f"{self.study.best_value:.4g}"
        except ValueError:
            best = "-"
        value = "-" if outcome.value is None else f"{outcome.value:.4g}"
        self.progress(f"{self.label}trial {outcome.number:>3} "
                      f"{outcome.state.name:<8} value {value:<9} best {best:<9} "
                      f"{outcome.seconds:6.1f} s  rss {resident_mib():5.0f} MiB  {outcome.note}")


@contextlib.contextmanager
def _nothing():
    yield


def resident_mib() -> float:
    """This process's resident memory (Linux), for the progress lines; NaN elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def configure_threads(n_workers: int) -> None:
    """Divide the cores between workers: each TensorFlow process gets its share of threads."""
    import tensorflow as tf

    cores = os.cpu_count() or 1
    per_worker = max(1, cores // max(1, n_workers))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(per_worker)
        tf.config.threading.set_inter_op_parallelism_threads(1 if n_workers > 1 else 0)
    except RuntimeError:  # already initialised in this process: keep what it has
        pass
