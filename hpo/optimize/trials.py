"""Trial accounting: which trials count toward --trials, the epochs spent, the failure streak
that stops a run. Pure functions of a study's trials, so they are tested with trivial objectives.

A trial answered from a finished one with the same params (hpo.optimize.duplicates) was not trained:
it counts nowhere, neither as a result, nor as epochs, nor as a failure."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.keys import FAILURE
from hpo.optimize.duplicates import is_duplicate as _answered

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
    return sum(
        1 for t in trials if (t.state in _RESULTS or t.state in _IN_FLIGHT) and not _answered(t)
    )


def epochs_spent(study: optuna.Study) -> int:
    """Epochs the study's trials have run in all (one intermediate value per epoch trained)."""
    return _epochs(study.get_trials(deepcopy=False))


def _epochs(trials: Sequence[FrozenTrial]) -> int:
    return sum(len(t.intermediate_values) for t in trials if not _answered(t))


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
    """Trials with a result that counts toward n_trials: COMPLETE or PRUNED, and trained."""
    return sum(
        1 for t in study.get_trials(deepcopy=False) if t.state in _RESULTS and not _answered(t)
    )


def failure_streak(trials: Sequence[FrozenTrial], first_trial: int = 0) -> list[FrozenTrial]:
    """The trials failed by their own error since the study's last COMPLETE or PRUNED one, latest
    first, in the order they ended, whichever worker ran them.

    Args:
        trials: the study's trials.
        first_trial: trials numbered below it (an earlier run's) are left out, so running the same
            command again after a fix starts a new count. Trials failed because their worker died
            are left out too: neither a result nor a failure, their WAITING copy runs again. So
            are trials answered as duplicates: not trained, they say nothing about the code.
    """
    ended = [
        t
        for t in trials
        if t.number >= first_trial
        and not _answered(t)
        and (t.state in _RESULTS or failed_by_its_own_error(t))
    ]
    ended.sort(key=lambda t: (t.datetime_complete, t.number), reverse=True)
    streak = []
    for trial in ended:
        if trial.state != TrialState.FAIL:
            break
        streak.append(trial)
    return streak


def failure_message(
    study_name: str, trials: Sequence[FrozenTrial], max_failures: int, first_trial: int = 0
) -> str | None:
    """The one-line error of a study whose last `max_failures` trials failed; None if it goes on."""
    streak = failure_streak(trials, first_trial)
    if len(streak) < max_failures:
        return None
    last = streak[0]
    return (
        f"study {study_name!r} stopped: its last {len(streak)} trials failed "
        f"(--max-failures {max_failures}); the last, trial {last.number}: "
        f"{last.user_attrs[FAILURE]}. The stored trials are kept: fix the cause and run the same "
        f"command again"
    )
