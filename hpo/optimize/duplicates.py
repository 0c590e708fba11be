"""No configuration trained twice: a trial whose params equal a finished trial's is answered from
the stored trial, without training.

TPE proposes the same point of a discrete space again and again (bench.replay: a median 61% of the
default search's epochs re-trained configurations already finished). So once a worker's trial has
its params (sampled under the claim lock, hpo.optimize.worker, so two workers never both start a
point), they are compared with the study's trials: the same names with equal values (floats
exactly: they come from the same distributions). A configuration is its params; the trial's weight
seed (the trial number) is not part of it.

- A COMPLETE or PRUNED trial with the same params (the original) answers the new trial: the
  original's learning curve is reported into it step by step, the study's pruner asked after each
  step as during training, so the new trial ends as training it again would end if the curve
  repeats (it does: bench.live_check): PRUNED at the first step the pruner stops it, else COMPLETE
  with the original's value. A PRUNED original therefore answers exactly when it was pruned at the
  same or a later step (rung) than the new trial would be; if the pruner now lets its whole curve
  through (the trials it is compared with have changed), the configuration has earned more epochs
  than it got and is trained: the steps already reported are not reported again (the objective's
  pruning callback skips them). A PRUNED original with no curve (rejected before training by
  --max-params) answers nothing: checking it again costs no epoch.
- A RUNNING trial with the same params (another worker trains it now) makes the new trial FAIL at
  once: training it too would be the waste this module prevents.

An answered trial carries the user attr DUPLICATE_OF (the original's number). It costs no epoch and
counts neither toward --trials, --epoch-budget nor --max-failures (hpo.optimize.trials); the sampler
learns from it what training it again would have taught it (TPE, sure of a point, may propose it
many times before it moves on: these answers are what makes that free).

A study whose space is exhausted stops (`exhaustion_message`): every point of a fully discrete space
finished, or the sampler proposed nothing but duplicates MAX_DUPLICATES_IN_A_ROW times in a row.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.keys import DUPLICATE_OF
from hpo.space import Categorical, Fixed, FloatParam, IntParam, PerLayer

# Proposals in a row that were all finished configurations before a study stops as exhausted: the
# guard for a space whose size is unknown (a continuous parameter: exact repeats are then rare) or
# for a sampler that never moves on. Answering one costs no epoch, only a sampler call, so the
# bound is generous: on the replay's 128-point space, TPE with successive halving proposed up to 496
# finished configurations in a row before a new one (the longest such run per seed: median 116 and
# 142 for the two TPE + successive-halving searches, 50 seeds each; bench.replay's table, measured
# without this bound). A short bound (20) would stop such a study with most of its space unexplored.
MAX_DUPLICATES_IN_A_ROW = 1000

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def is_duplicate(trial: FrozenTrial) -> bool:
    """Answered from another trial, not trained."""
    return DUPLICATE_OF in trial.user_attrs


def find_original(params: dict, trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The trial that answers a new trial with `params`: a COMPLETE one first, else the PRUNED one
    that got furthest (a trained one before an answered one), else a RUNNING one; None if no trial
    with those params has a result to give or is being trained (FAIL and WAITING ones give none)."""
    same = [
        t
        for t in trials
        if t.params == params
        and (
            t.state == TrialState.COMPLETE
            or (t.state == TrialState.PRUNED and t.intermediate_values)
            or (t.state == TrialState.RUNNING and not is_duplicate(t))
        )
    ]
    rank = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.RUNNING: 2}
    same.sort(key=lambda t: (rank[t.state], -len(t.intermediate_values), is_duplicate(t), t.number))
    return same[0] if same else None


def answer(study: optuna.Study, trial: optuna.Trial, original: FrozenTrial) -> TrialState | None:
    """End `trial` from `original` (same params) without training, as this module describes.

    Returns:
        The state told (COMPLETE, PRUNED, or FAIL for a RUNNING original); None when the trial must
        be trained: a PRUNED original whose whole curve the pruner now lets through (its steps are
        then reported in `trial` already).
    """
    if original.state == TrialState.RUNNING:
        trial.set_user_attr(DUPLICATE_OF, original.number)
        study.tell(trial, state=TrialState.FAIL)
        return TrialState.FAIL
    for step, value in sorted(original.intermediate_values.items()):
        trial.report(value, step)
        if trial.should_prune():
            trial.set_user_attr(DUPLICATE_OF, original.number)
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
    if original.state == TrialState.PRUNED:
        return None
    trial.set_user_attr(DUPLICATE_OF, original.number)
    study.tell(trial, original.value)
    return TrialState.COMPLETE


def distinct_finished(trials: Sequence[FrozenTrial]) -> int:
    """How many distinct configurations the study has finished (COMPLETE or PRUNED)."""
    return len({frozenset(t.params.items()) for t in trials if t.state in _FINISHED and t.params})


def duplicates_in_a_row(trials: Sequence[FrozenTrial], first_trial: int = 0) -> int:
    """How many of the latest trials (by number, from `first_trial` on: this run's) were answered as
    duplicates, up to the latest that was not (queued WAITING ones are not proposals yet)."""
    streak = 0
    proposed = [t for t in trials if t.state != TrialState.WAITING]
    for trial in sorted(proposed, key=lambda t: t.number, reverse=True):
        if trial.number < first_trial or not is_duplicate(trial):
            break
        streak += 1
    return streak


def exhaustion_message(
    study_name: str, trials: Sequence[FrozenTrial], n_points: int | None, first_trial: int = 0
) -> str | None:
    """The one line of a study whose space is exhausted; None while it is not.

    Args:
        n_points: the space's size (`n_points`); None: unknown, only the run of duplicates counts.
        first_trial: duplicates in a row count from this trial on (this run's: the same command
            run again gives the sampler another MAX_DUPLICATES_IN_A_ROW proposals).
    """
    finished = distinct_finished(trials)
    if n_points is not None and finished >= n_points:
        reason = "every point"
    elif duplicates_in_a_row(trials, first_trial) >= MAX_DUPLICATES_IN_A_ROW:
        reason = f"the last {MAX_DUPLICATES_IN_A_ROW} proposals were all finished ones"
    else:
        return None
    return (
        f"study {study_name!r}: the search space is exhausted ({finished} distinct "
        f"configurations finished; {reason})"
    )


def n_points(space: dict) -> int | None:
    """How many configurations an hpo.space space holds (per-layer parameters counted for each
    layer count); None when it has a continuous parameter, or declares nothing (the objective then
    samples its own)."""
    if not space:
        return None
    entries = {name: e.param if isinstance(e, PerLayer) else e for name, e in space.items()}
    if any(_size(param) is None for param in entries.values()):
        return None
    counts = sorted({e.count for e in space.values() if isinstance(e, PerLayer)})
    total = 0
    for layers in itertools.product(*(_values(space[name]) for name in counts)):
        chosen = dict(zip(counts, layers))
        points = 1
        for name, entry in space.items():
            if name in chosen:
                continue
            size = _size(entries[name])
            points *= size ** chosen[entry.count] if isinstance(entry, PerLayer) else size
        total += points
    return total


def _values(param) -> list:
    if isinstance(param, IntParam):
        return list(range(param.low, param.high + 1, param.step))
    if isinstance(param, Categorical):
        return list(param.choices)
    return [param.value]  # Fixed


def _size(param) -> int | None:
    if isinstance(param, FloatParam):
        return 1 if param.low == param.high else None
    if isinstance(param, (IntParam, Categorical, Fixed)):
        return len(_values(param))
    return None
