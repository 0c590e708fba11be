"""The worker loop: claim a trial under the lock, run its objective with a heartbeat, tell the
result.

A worker repeatedly (1) takes the claim lock, fails trials whose worker died (heartbeat) so they are
queued again, counts the trials that are finished or in flight and stops at `n_trials` (or when the
space is exhausted), stops the run after `max_failures` failed trials in a row, asks for a trial and
samples its params: a configuration already finished is answered from its stored trial there, not
trained (hpo.optimize.duplicates), and the worker asks again; (2) runs its objective (the Keras
training, `KerasObjective`, with per-epoch pruning; tests and bench/stress.py pass a trivial one),
beating the heartbeat meanwhile; (3) tells the result.
Failures come in three tiers: pruning is control flow (PRUNED); a bad trial (NaN loss, out of
memory, a bug, over --max-params) ends as FAIL/PRUNED with a `failure`/`rejected` attr and the study
goes on, a FAIL not counting toward `n_trials` (another trial replaces it) unless `max_failures`
fail in a row, which stops the run (StudyFailed, exit code 1); a configuration error stops the run
before anything is written.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import gc
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import keys
from hpo.adapters.optuna_internals import record_heartbeat, storage_of, trial_id_of
from hpo.errors import StudyFailed
from hpo.keys import FAILURE, STOPPED, WORKER_PID
from hpo.optimize.artifacts import store_best_model
from hpo.optimize.claims import ClaimLock
from hpo.optimize.duplicates import answer, exhaustion_message, find_original, n_points
from hpo.optimize.resources import resident_mib
from hpo.optimize.settings import StudySettings
from hpo.optimize.trials import _needs_trials, failure_message
from hpo.progress import Progress
from hpo.space import suggest
from hpo.stopping import StopRequested, StopSignals
from hpo.storage import redact
from hpo.workspace import Workspace


class _Heartbeat:
    """Records a running trial's heartbeat every `interval` seconds from a daemon thread."""

    def __init__(self, storage, trial_id: int, interval: int):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        while not self._stop.wait(self.interval):
            # A missed beat is harmless; the next one may get through.
            with contextlib.suppress(Exception):
                self.storage.record_heartbeat(self.trial_id)


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
    progress: Progress | None = print
    label: str = ""  # what the progress lines call this worker and its study
    first_trial: int = 0  # this run's first trial number: earlier trials' failures are not counted
    outcomes: list[TrialOutcome] = field(default_factory=list)
    workspace: Workspace = Workspace()  # where the best model is kept
    # The space (hpo.space) each trial's params are sampled from under the claim lock, so that a
    # configuration already finished, or being trained by another worker, is answered there instead
    # of trained (hpo.optimize.duplicates). None: the objective samples, unchecked.
    space: dict | None = None
    answered: list[TrialOutcome] = field(default_factory=list)  # duplicates, not trained
    # User attrs every trial it trains records: where it trains (keys.DEVICE, keys.SLOT).
    placement: dict[str, Any] = field(default_factory=dict)
    exhausted: str | None = None  # once the study's space is exhausted: the line that says so

    def run(
        self, deadline: float | None = None, max_trials: int | None = None
    ) -> list[TrialOutcome]:
        """Run trials until the study holds n_trials, `deadline` (time.time()) passes, this
        worker has trained `max_trials`, or the study's space is exhausted.

        Raises:
            StudyFailed: the study's last `settings.max_failures` trials failed.
        """
        with StopSignals() as stop:
            while deadline is None or time.time() < deadline:
                if max_trials is not None and len(self.outcomes) >= max_trials:
                    break
                if stop.received:  # arrived between trials: nothing to queue again
                    raise StopRequested(stop.received)
                claimed = self._claim()
                if claimed is None:
                    break
                if isinstance(claimed, TrialOutcome):  # a duplicate, answered: nothing to train
                    continue
                self.outcomes.append(self._run_trial(claimed, stop))
        return self.outcomes

    def _claim(self) -> optuna.Trial | TrialOutcome | None:
        """Under the lock: fail stale trials, then a new trial (a WAITING one first) to train; or
        the outcome of one answered instead, its configuration already finished (the lock is let go
        between two answers, so other workers claim meanwhile); or None when the study holds enough
        or its space is exhausted.

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
            if self.space is not None:
                self.exhausted = exhaustion_message(
                    self.study.study_name, trials, n_points(self.space), self.first_trial
                )
                if self.exhausted:
                    return None
            message = failure_message(
                self.study.study_name, trials, settings.max_failures, self.first_trial
            )
            if message:
                raise StudyFailed(message)
            trial = self.study.ask()  # takes a WAITING trial first
            # Beat and sign at once: a trial that has neither is one whose worker died right here.
            record_heartbeat(self.study, trial)
            trial.set_user_attr(WORKER_PID, os.getpid())
            if self.space is None:
                return trial
            return self._answer(trial) or trial

    def _answer(self, trial: optuna.Trial) -> TrialOutcome | None:
        """Sample the trial's params; if a trial with the same ones has finished (or is training),
        answer it from that one (hpo.optimize.duplicates) and return the outcome; None when it is
        to be trained."""
        started = time.monotonic()
        try:
            suggest(trial, self.space)
        except Exception:  # a broken point of the space: the objective fails the trial alone
            return None
        others = [t for t in self.study.get_trials(deepcopy=False) if t.number != trial.number]
        original = find_original(trial.params, others)
        state = None if original is None else answer(self.study, trial, original)
        if state is None:
            return None
        value = original.value if state == TrialState.COMPLETE else None
        what = "trained by another worker now" if state == TrialState.FAIL else "answered from it"
        outcome = TrialOutcome(
            trial.number,
            state,
            value,
            time.monotonic() - started,
            f"duplicate of trial {original.number}: {what}, not trained",
        )
        self.answered.append(outcome)
        self._report(outcome)
        return outcome

    def _fail_orphans(self) -> None:
        """Fail and queue again the RUNNING trials whose worker died between Optuna's ask and its
        first heartbeat (a kill -9 in that instant): Optuna never counts a trial without a heartbeat
        as stale, so it would stay RUNNING forever. Such a trial carries no worker pid; a live
        worker signs its trial milliseconds after ask, so one unsigned for longer than the grace
        period is dead."""
        storage = storage_of(self.study)
        now = datetime.datetime.now()
        retry = storage.get_heartbeat_stale_trial_callback()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            unsigned_for = (now - trial.datetime_start).total_seconds()
            if WORKER_PID in trial.user_attrs or unsigned_for <= self.settings.grace_period:
                continue
            try:
                failed = storage.set_trial_state_values(trial_id_of(trial), state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
                continue
            if failed and retry is not None:
                retry(self.study, copy.deepcopy(storage.get_trial(trial_id_of(trial))))

    def _run_trial(self, trial: optuna.Trial, stop: StopSignals | None = None) -> TrialOutcome:
        started = time.monotonic()
        storage = storage_of(self.study)
        for key, value in self.placement.items():
            trial.set_user_attr(key, value)
        with _Heartbeat(storage, trial_id_of(trial), self.settings.heartbeat_interval):
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
            # Memory stays flat? (see bench)
            trial.set_user_attr(keys.RSS_MIB, round(resident_mib()))
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
        outcome = TrialOutcome(
            trial.number, result.state, result.value, time.monotonic() - started, result.note
        )
        self._report(outcome)
        return outcome

    def _evaluate(self, trial: optuna.Trial) -> TrialResult:
        """Run the objective; never raises for a bad trial."""
        try:
            return self.objective(trial)
        except optuna.TrialPruned as exc:
            return TrialResult(TrialState.PRUNED, note=f"pruned: {exc}" if str(exc) else "pruned")
        except Exception as exc:  # a bug or a broken point of the space: this trial fails alone
            return TrialResult(
                TrialState.FAIL, note=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            )

    def _queue_again(self, trial: optuna.Trial, signal_name: str) -> None:
        """A stop signal cut this trial short: FAIL it now and queue a copy, as the heartbeat path
        does for a trial whose worker was killed (Optuna's retry callback: same params, system
        attr `failed_trial`), so the next run picks it up first."""
        storage = storage_of(self.study)
        trial.set_user_attr(STOPPED, f"stopped by {signal_name}; queued again")
        self.study.tell(trial, state=TrialState.FAIL)
        retry = storage.get_heartbeat_stale_trial_callback()
        frozen = copy.deepcopy(storage.get_trial(trial_id_of(trial)))
        # The copy inherits the user attrs (from_screen, ...), but is not itself stopped.
        frozen.user_attrs = {k: v for k, v in frozen.user_attrs.items() if k != STOPPED}
        if retry is not None:
            retry(self.study, frozen)
        else:
            self.study.enqueue_trial(frozen.params, user_attrs={keys.FAILED_TRIAL: frozen.number})
        if self.progress is not None:
            self.progress(
                f"{self.label}trial {trial.number:>3} stopped by {signal_name}: marked "
                "FAIL and queued again"
            )

    def _keep_if_best(self, trial: optuna.Trial, value: float, model) -> None:
        """Store the model if it is the study's best so far."""
        with self.lock.held():  # two workers improving at once must not both win
            attrs = self.study.user_attrs
            if keys.BEST_MODEL_VALUE in attrs and attrs[keys.BEST_MODEL_VALUE] <= value:
                return
            store_best_model(
                self.study, model, trial.number, value, attach_to=trial, workspace=self.workspace
            )

    def _report(self, outcome: TrialOutcome) -> None:
        if self.progress is None:
            return
        try:
            best = f"{self.study.best_value:.4g}"
        except ValueError:
            best = "-"
        value = "-" if outcome.value is None else f"{outcome.value:.4g}"
        self.progress(
            f"{self.label}trial {outcome.number:>3} "
            f"{outcome.state.name:<8} value {value:<9} best {best:<9} "
            f"{outcome.seconds:6.1f} s  rss {resident_mib():5.0f} MiB  {outcome.note}"
        )


@contextlib.contextmanager
def _nothing():
    yield
