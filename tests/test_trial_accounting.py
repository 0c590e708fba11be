"""Trial accounting of hpo.optimize.worker.Worker with trivial objectives: what counts toward
n_trials, when failures stop a study (also across worker processes), and a trial whose worker
died."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.adapters.optuna_internals import record_heartbeat
from hpo.errors import StudyFailed
from hpo.keys import FAILURE, WORKER_PID
from hpo.optimize.claims import ClaimLock
from hpo.optimize.settings import StudySettings
from hpo.optimize.trials import counted_trials, finished_trials
from hpo.optimize.worker import TrialResult, Worker
from hpo.storage import open_storage

C, P, F = TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL
STUDY = "s"


class Scripted:
    """An objective that plays a script, one letter per call: C completes with value = the call's
    index, B raises a bug (ValueError), N returns a failed result as a NaN loss does, P prunes."""

    def __init__(self, script: str, pause_s: float = 0.0):
        self.script, self.pause_s, self.calls = script, pause_s, 0

    def __call__(self, trial: optuna.Trial) -> TrialResult:
        call, self.calls = self.calls, self.calls + 1
        trial.suggest_float("x", 0, 1)
        time.sleep(self.pause_s)
        letter = self.script[call]
        if letter == "B":
            raise ValueError(f"bug in call {call}")
        if letter == "N":
            return TrialResult(F, note="diverged: NaN/Inf loss")
        if letter == "P":
            raise optuna.TrialPruned()
        return TrialResult(C, float(call))


def sqlite_url(folder: Path) -> str:
    url = f"sqlite:///{folder / 'hpo.db'}"
    optuna.create_study(study_name=STUDY, storage=open_storage(url), load_if_exists=True)
    return url


def make_worker(url: str, objective, first_trial: int = 0, **settings) -> Worker:
    settings = StudySettings(**{"n_trials": 3, **settings})
    storage = open_storage(
        url,
        heartbeat_interval=settings.heartbeat_interval,
        grace_period=settings.grace_period,
        max_retry=settings.max_retry,
    )
    study = optuna.load_study(
        study_name=STUDY, storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    return Worker(
        study, settings, ClaimLock(url, STUDY), objective, progress=None, first_trial=first_trial
    )


def stored(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=STUDY, storage=open_storage(url)).get_trials()


def test_failed_trials_do_not_count_and_are_replaced(tmp_path):
    url = sqlite_url(tmp_path)
    make_worker(url, Scripted("CBNPCC"), n_trials=4).run()
    trials = stored(url)
    # 4 COMPLETE + PRUNED, as asked; the bug and the NaN trial failed alone and were replaced.
    assert [t.state for t in trials] == [C, F, F, P, C, C]
    assert [t.value for t in trials if t.state == C] == [0.0, 4.0, 5.0]
    assert trials[1].user_attrs[FAILURE] == "ValueError: bug in call 1"
    assert trials[2].user_attrs[FAILURE] == "diverged: NaN/Inf loss"
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    assert finished_trials(study) == counted_trials(study) == 4
    assert {t.user_attrs[WORKER_PID] for t in trials} == {os.getpid()}


def test_max_failures_in_a_row_stop_the_run_with_the_last_error(tmp_path):
    url = sqlite_url(tmp_path)
    with pytest.raises(StudyFailed) as raised:
        make_worker(url, Scripted("CBNB" + "C" * 5), n_trials=5, max_failures=3).run()
    message = str(raised.value)
    assert "\n" not in message and raised.value.exit_code == 1
    assert "last 3 trials failed" in message and "--max-failures 3" in message
    assert "trial 3: ValueError: bug in call 3" in message
    trials = stored(url)  # stopped before asking for a fifth trial; the first is kept as it was
    assert [t.state for t in trials] == [C, F, F, F] and trials[0].value == 0.0


def test_failures_that_are_not_in_a_row_do_not_stop_the_run(tmp_path):
    url = sqlite_url(tmp_path)
    make_worker(url, Scripted("BBCBNPBBC"), n_trials=3, max_failures=3).run()
    assert [t.state for t in stored(url)] == [F, F, C, F, F, P, F, F, C]


def test_an_earlier_runs_failures_do_not_stop_the_next_run(tmp_path):
    url = sqlite_url(tmp_path)
    with pytest.raises(StudyFailed):
        make_worker(url, Scripted("BBB"), max_failures=3).run()
    # Counting from trial 0, a worker sees the same three failures as the study's last: it stops
    # at once, without asking for a trial ...
    with pytest.raises(StudyFailed):
        make_worker(url, Scripted("C"), max_failures=3).run()
    assert len(stored(url)) == 3
    # ... while the same command run again (after a fix) counts from its own first trial on.
    make_worker(url, Scripted("CCC"), first_trial=3, max_failures=3).run()
    assert [t.state for t in stored(url)] == [F, F, F, C, C, C]


def test_a_trial_whose_worker_died_is_retried_and_is_no_failure_of_the_study(tmp_path):
    url = sqlite_url(tmp_path)
    heartbeat = {"heartbeat_interval": 1, "grace_period": 1}
    make_worker(url, Scripted("BB"), **heartbeat).run(max_trials=2)  # two failures in a row
    # A third trial whose worker dies (kill -9) mid-trial: it started, beat once, never told.
    dying = make_worker(url, Scripted(""), **heartbeat)
    trial = dying.study.ask()
    trial.suggest_float("x", 0, 1)
    record_heartbeat(dying.study, trial)
    time.sleep(2.2)  # past the 1 s grace period, on SQLite's whole-second clock: stale
    # The next worker fails it as stale; Optuna queues a copy, which it runs. Had the stale trial
    # counted as the third failure in a row, this run would stop with StudyFailed instead.
    make_worker(url, Scripted("CC"), n_trials=2, max_failures=3, **heartbeat).run()
    trials = stored(url)
    assert [t.state for t in trials] == [F, F, F, C, C]
    assert FAILURE not in trials[2].user_attrs
    assert trials[3].system_attrs["failed_trial"] == 2 and trials[3].params == trials[2].params


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_retried(tmp_path):
    """A kill -9 between Optuna's ask and the first heartbeat: the trial has no heartbeat, so
    Optuna never finds it stale; without hpo's own check it would stay RUNNING forever."""
    url = sqlite_url(tmp_path)
    heartbeat = {"heartbeat_interval": 1, "grace_period": 1}
    dying = make_worker(url, Scripted(""), **heartbeat)
    orphan = dying.study.ask()  # created RUNNING; then the worker died: no beat, no pid
    # Within the grace period a worker leaves it alone (its own worker may be about to sign it).
    make_worker(url, Scripted("C"), n_trials=1, **heartbeat).run()
    assert stored(url)[orphan.number].state == TrialState.RUNNING
    time.sleep(2.2)  # past the grace period
    make_worker(url, Scripted("CC"), n_trials=2, **heartbeat).run()
    trials = stored(url)
    assert trials[orphan.number].state == F and FAILURE not in trials[orphan.number].user_attrs
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retried) == 1 and retried[0].state == C
    assert all(t.user_attrs[WORKER_PID] == os.getpid() for t in trials if t.state == C)


def _failing_worker(url: str, start, max_failures: int) -> None:
    """A spawned worker whose every trial fails; exit code 3 when it stopped with StudyFailed."""
    start.wait()
    worker = make_worker(
        url, Scripted("B" * 20, pause_s=0.02), n_trials=10, max_failures=max_failures
    )
    try:
        worker.run()
    except StudyFailed:
        sys.exit(3)


@pytest.mark.slow  # worker processes: a few seconds
def test_failures_in_a_row_are_counted_across_worker_processes(tmp_path):
    url = sqlite_url(tmp_path)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=_failing_worker, args=(url, start, 3)) for _ in range(2)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [3, 3]
    trials = stored(url)
    # One count for the study: 3 failures, plus at most one of the other worker's, claimed before
    # the third failure ended (a count per process would have run 2 x 3 = 6).
    assert 3 <= len(trials) <= 4 and all(t.state == F for t in trials), len(trials)
    assert {t.user_attrs[WORKER_PID] for t in trials} <= {p.pid for p in processes}


def _failing_worker_process(
    config, name: str, architecture: str, storage_url: str, index: int, deadline, first_trial: int
) -> None:
    """hpo.optimize.processes.worker_process with an objective whose every trial fails."""
    worker = make_worker(
        storage_url,
        Scripted("B" * 20),
        first_trial=first_trial,
        n_trials=config.settings.n_trials,
        max_failures=config.settings.max_failures,
    )
    with contextlib.suppress(StudyFailed):
        worker.run(deadline, max_trials=config.settings.trials_per_process)


@pytest.mark.slow
def test_the_parent_of_worker_processes_stops_and_raises_instead_of_spinning(tmp_path):
    from hpo.optimize.config import OptimizeConfig
    from hpo.optimize.processes import run_workers  # not in the spawned workers

    url = sqlite_url(tmp_path)
    # A process runs 2 trials, then is replaced: no single process ever sees 3 failures, only the
    # study does. Without a study-wide count the parent would replace its workers forever.
    settings = StudySettings(n_trials=5, trials_per_process=2, max_failures=3)
    config = OptimizeConfig(run="t", architectures=("conv",), settings=settings, n_workers=2)
    raised, lines = [], []

    def supervise():
        try:
            run_workers(
                config,
                STUDY,
                "conv",
                url,
                {},
                None,
                lines.append,
                process_target=_failing_worker_process,
            )
        except StudyFailed as exc:
            raised.append(exc)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the parent still runs: it keeps replacing failing workers"
    assert len(raised) == 1 and "ValueError: bug in call" in str(raised[0]), raised
    trials = stored(url)
    assert 3 <= len(trials) <= 4 and all(t.state == F for t in trials), len(trials)
    assert not lines, lines  # every process ended normally


def _crashing_worker_process(
    config, name, architecture, storage_url, index, deadline, first_trial
) -> None:
    os._exit(9)  # as a worker the kernel's out-of-memory killer ends


@pytest.mark.slow
def test_worker_processes_that_crash_end_the_run_with_an_error(tmp_path):
    from hpo.optimize.config import OptimizeConfig
    from hpo.optimize.processes import run_workers

    url = sqlite_url(tmp_path)
    config = OptimizeConfig(
        run="t", architectures=("conv",), settings=StudySettings(n_trials=2), n_workers=2
    )
    with pytest.raises(StudyFailed, match=r"2 worker process\(es\) of 's' exited with \[9, 9\]"):
        run_workers(
            config, STUDY, "conv", url, {}, None, print, process_target=_crashing_worker_process
        )
    assert stored(url) == []
