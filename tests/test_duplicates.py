"""No configuration trained twice (hpo.optimize.duplicates) through the real Worker on real Optuna
storage: a configuration already finished is answered from its stored trial without training, counts
toward neither --trials, --epoch-budget nor --max-failures, and a study whose space is exhausted
stops and says so. Trivial objectives: what is checked is which trials train; a tiny-training test
at the end runs the whole of hpo.optimize."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo.adapters.optuna_internals import epochs_reported
from hpo.errors import StudyFailed
from hpo.keys import DUPLICATE_OF, FAILURE
from hpo.optimize import duplicates
from hpo.optimize.claims import ClaimLock
from hpo.optimize.duplicates import (
    exhaustion_message,
    find_original,
    n_points,
)
from hpo.optimize.optimization import optimize
from hpo.optimize.settings import StudySettings
from hpo.optimize.trials import counted_trials, epochs_spent, failure_streak, finished_trials
from hpo.optimize.worker import TrialResult, Worker
from hpo.space import Categorical, FloatParam, IntParam, PerLayer, suggest
from hpo.storage import open_storage

from helpers import optimize_config, sqlite

C, P, F = TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL
STUDY = "s"
# A tiny discrete space: 2 x 2 = 4 points.
SPACE = {"a": Categorical((0, 1)), "b": Categorical(("x", "y"))}
# Each point's learning curve (3 epochs); the value is the last epoch's.
CURVES = {
    (0, "x"): [0.9, 0.8, 0.7],
    (0, "y"): [0.5, 0.4, 0.3],
    (1, "x"): [0.6, 0.5, 0.45],
    (1, "y"): [0.95, 0.9, 0.85],
}


class Training:
    """An objective that "trains" a point of SPACE: reports its curve epoch by epoch (from the first
    step not already reported, as hpo.optimize's pruning callback does), asks the pruner after each,
    and records every training in `trained` (in a file too, when given: for worker processes).

    Args:
        fail: points whose training fails (a bug) every time.
    """

    def __init__(self, fail=(), log: Path | None = None, pause_s: float = 0.0):
        self.fail, self.log, self.pause_s = set(fail), log, pause_s
        self.trained: list[tuple] = []

    def __call__(self, trial: optuna.Trial) -> TrialResult:
        params = suggest(trial, SPACE)
        point = (params["a"], params["b"])
        self.trained.append(point)
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write(f"{trial.number} {point[0]} {point[1]}\n")
        time.sleep(self.pause_s)
        if point in self.fail:
            raise ValueError(f"bug at {point}")
        for step in range(epochs_reported(trial), len(CURVES[point])):
            trial.report(CURVES[point][step], step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return TrialResult(C, CURVES[point][-1])


def make_worker(url: str, objective, pruner=None, sampler=None, **settings) -> Worker:
    settings = StudySettings(**{"n_trials": 3, **settings})
    study = optuna.load_study(
        study_name=STUDY,
        storage=open_storage(url),
        sampler=sampler or optuna.samplers.RandomSampler(seed=0),
        pruner=pruner or optuna.pruners.NopPruner(),
    )
    return Worker(
        study, settings, ClaimLock(url, STUDY), objective, progress=None, space=dict(SPACE)
    )


def new_study(folder: Path, queue=()) -> str:
    """A study on SQLite in `folder`, with points queued to be proposed first (in order)."""
    url = f"sqlite:///{folder / 'hpo.db'}"
    study = optuna.create_study(study_name=STUDY, storage=open_storage(url))
    for a, b in queue:
        study.enqueue_trial({"a": a, "b": b})
    return url


def stored(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=STUDY, storage=open_storage(url)).get_trials()


def point(trial) -> tuple:
    return trial.params["a"], trial.params["b"]


def test_each_point_of_a_tiny_space_is_trained_once_and_the_study_stops_exhausted(tmp_path):
    url = new_study(tmp_path)
    objective = Training()
    worker = make_worker(url, objective, n_trials=10)  # more than the space holds
    worker.run()
    assert sorted(objective.trained) == sorted(CURVES)  # every point trained, and once
    trials = stored(url)
    answered = [t for t in trials if DUPLICATE_OF in t.user_attrs]
    assert answered, "the seeded sampler proposed no point twice: pick another seed"
    for trial in answered:  # the original's result, from its stored trial
        original = trials[trial.user_attrs[DUPLICATE_OF]]
        assert point(original) == point(trial) and DUPLICATE_OF not in original.user_attrs
        assert (trial.state, trial.value) == (C, original.value)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    assert finished_trials(study) == counted_trials(study) == 4  # duplicates do not count
    assert len(trials) == 4 + len(answered)
    message = "study 's': the search space is exhausted (4 distinct configurations finished"
    assert worker.exhausted.startswith(message), worker.exhausted
    assert len(worker.answered) == len(answered) and len(worker.outcomes) == 4


def test_a_pruned_point_proposed_again_is_not_trained_again(tmp_path):
    # (1, "y") starts at 0.95: pruned at its first step; proposed again it is answered PRUNED at
    # the same step, its stored curve replayed through the pruner, nothing trained.
    url = new_study(tmp_path, queue=[(1, "y"), (0, "x"), (1, "y"), (0, "x")])
    objective = Training()
    pruner = optuna.pruners.ThresholdPruner(upper=0.92)
    make_worker(url, objective, pruner=pruner, n_trials=2).run()
    assert objective.trained == [(1, "y"), (0, "x")]
    trials = stored(url)
    assert [(t.state, t.user_attrs.get(DUPLICATE_OF)) for t in trials] == [
        (P, None),
        (C, None),
        (P, 0),
        (C, 1),
    ]
    assert trials[2].intermediate_values == {0: 0.95} == trials[0].intermediate_values


class Relenting(optuna.pruners.BasePruner):
    """Prunes every trial at step 0 while `strict`, none after."""

    strict = True

    def prune(self, study, trial) -> bool:
        return self.strict


def test_a_pruned_point_the_pruner_now_lets_through_is_trained_from_where_it_stopped(tmp_path):
    """PRUNED at a rung the new trial would pass: not finished, so trained; the steps its stored
    curve already reported (and the pruner judged) are not reported again."""
    url = new_study(tmp_path, queue=[(0, "y"), (0, "y")])
    pruner, objective = Relenting(), Training()
    worker = make_worker(url, objective, pruner=pruner, n_trials=2)
    worker.run(max_trials=1)  # trial 0: pruned at step 0
    pruner.strict = False
    worker.run()
    assert objective.trained == [(0, "y"), (0, "y")]
    first, second = stored(url)
    assert (first.state, second.state) == (P, C) and DUPLICATE_OF not in second.user_attrs
    assert second.intermediate_values == dict(enumerate(CURVES[(0, "y")]))


def test_duplicates_cost_no_epoch_of_the_budget(tmp_path):
    # Three points twice, then the fourth (the space is then exhausted): each second one answered,
    # with the curve reported (what training it again would show the sampler and pruner) but no
    # epoch spent.
    url = new_study(tmp_path, queue=[(0, "x"), (0, "x"), (0, "y"), (0, "y"), (1, "x"), (1, "x")])
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    study.enqueue_trial({"a": 1, "b": "y"})
    objective = Training()
    make_worker(url, objective, n_trials=100, epoch_budget=100).run()
    assert len(objective.trained) == 4
    answered = [t for t in study.trials if DUPLICATE_OF in t.user_attrs]
    assert len(answered) == 3 and all(len(t.intermediate_values) == 3 for t in answered)
    assert epochs_spent(study) == 4 * 3  # the trained trials' epochs only
    # A budget of two trainings (6 epochs) with duplicates between them: both are trained.
    (tmp_path / "b").mkdir()
    url = new_study(tmp_path / "b", queue=[(0, "x"), (0, "x"), (0, "x"), (0, "y"), (1, "x")])
    objective = Training()
    make_worker(url, objective, n_trials=100, epoch_budget=6).run()
    assert objective.trained == [(0, "x"), (0, "y")]


def test_duplicates_neither_count_as_failures_nor_hide_a_failing_point(tmp_path):
    # (1, "x") fails every time (a bug). Answered duplicates in between are no failures, and no
    # results either: the two failures are still two in a row, and --max-failures 2 stops the run.
    url = new_study(tmp_path, queue=[(0, "x"), (1, "x"), (0, "x"), (0, "x"), (1, "x"), (0, "y")])
    objective = Training(fail={(1, "x")})
    with pytest.raises(StudyFailed, match="its last 2 trials failed"):
        make_worker(url, objective, n_trials=10, max_failures=2).run()
    trials = stored(url)
    assert [(t.state, t.user_attrs.get(DUPLICATE_OF)) for t in trials] == [
        (C, None),
        (F, None),
        (C, 0),
        (C, 0),
        (F, None),
        (TrialState.WAITING, None),  # stopped before asking for it
    ]
    assert [t.number for t in failure_streak(trials)] == [4, 1]
    assert objective.trained == [(0, "x"), (1, "x"), (1, "x")]


def test_a_space_too_large_to_count_stops_after_a_run_of_duplicates(tmp_path, monkeypatch):
    """With a continuous parameter the space's size is unknown: MAX_DUPLICATES_IN_A_ROW proposals in
    a row that were all finished ones end the study, counted from this run's first trial (5 here:
    the bound itself is generous, see its comment)."""
    monkeypatch.setattr(duplicates, "MAX_DUPLICATES_IN_A_ROW", 5)
    url = new_study(tmp_path)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    for _ in range(5 + 2):
        study.enqueue_trial({"a": 0, "b": "x", "lr": 1e-3})
    objective = Training()
    worker = make_worker(url, objective, n_trials=50)
    worker.space = {**SPACE, "lr": FloatParam(1e-4, 1e-2, log=True)}
    assert n_points(worker.space) is None
    worker.run()
    trials = stored(url)
    assert len(objective.trained) == 1
    assert sum(DUPLICATE_OF in t.user_attrs for t in trials) == 5
    assert worker.exhausted.endswith(
        "(1 distinct configurations finished; the last 5 proposals were all finished ones)"
    )
    # The same command run again (its first trial the next) gives the sampler another run.
    assert exhaustion_message(STUDY, trials, None, first_trial=len(trials)) is None


def test_the_size_of_a_space_counts_every_layer_count():
    assert n_points(SPACE) == 4
    layered = {
        "n_layers": IntParam(1, 2),
        "kernel": PerLayer(Categorical([3, 5])),
        "batch_size": IntParam(8, 32, step=8),
    }
    assert n_points(layered) == (2 + 2 * 2) * 4  # one level: 2 kernels; two levels: 2 x 2
    assert n_points({**layered, "lr": FloatParam(1e-4, 1e-2)}) is None  # continuous
    assert n_points({}) is None  # nothing declared: the objective samples its own


def test_the_original_is_the_most_informative_trial_with_the_same_params(tmp_path):
    url = new_study(tmp_path, queue=[(0, "x")] * 4)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    states = [F, P, C, TrialState.RUNNING]
    for state in states:
        trial = study.ask()
        suggest(trial, SPACE)
        if state == P:
            trial.report(0.9, 0)
        if state != TrialState.RUNNING:
            study.tell(trial, 0.5 if state == C else None, state=state)
    trials = study.get_trials()
    params = {"a": 0, "b": "x"}
    assert find_original(params, trials).number == 2  # COMPLETE first
    assert find_original(params, trials[:2]).number == 1  # then PRUNED with a curve
    assert find_original(params, [trials[0], trials[3]]).number == 3  # then RUNNING
    assert find_original(params, trials[:1]) is None  # a FAIL answers nothing
    assert find_original({"a": 1, "b": "x"}, trials) is None


def _worker_process(url: str, log: str, start) -> None:
    """A spawned worker training points of SPACE slowly, so the two overlap."""
    start.wait()
    objective = Training(log=Path(log), pause_s=0.3)
    worker = make_worker(
        url, objective, n_trials=20, sampler=optuna.samplers.RandomSampler(seed=None)
    )
    worker.run()


@pytest.mark.slow  # worker processes: a few seconds
def test_two_worker_processes_on_sqlite_never_train_a_point_twice(tmp_path):
    url = new_study(tmp_path)
    log = tmp_path / "trained.log"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [
        context.Process(target=_worker_process, args=(url, str(log), start)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0]
    trained = Counter(tuple(line.split()[1:]) for line in log.read_text().splitlines())
    assert sorted(trained) == sorted((str(a), b) for a, b in CURVES), trained
    assert set(trained.values()) == {1}, trained  # each point trained by one worker, once
    trials = stored(url)
    assert [t for t in trials if t.state == F and FAILURE in t.user_attrs] == []
    assert sum(DUPLICATE_OF not in t.user_attrs for t in trials) == 4


@pytest.mark.slow  # trains: a few seconds
def test_hpo_optimize_trains_each_point_of_a_tiny_space_once(home, capsys):
    """The whole of hpo.optimize on a space narrowed to two points (schedule constant or cosine),
    asked for more trials than that: two trained, the rest answered, the study stopped with a line
    saying so, the summary counting the duplicates."""
    space = home / "two.toml"
    space.write_text(
        '[all]\nn_layers = 1\nfilters = 4\nkernel = 3\nactivation = "gelu"\nnorm = "none"\n'
        'l2 = 1e-7\nupsample = "resize"\nlearning_rate = 0.001\nbatch_size = 4\n'
        'schedule = { choices = ["constant", "cosine"] }\n'
    )
    config = optimize_config(
        home, architectures=("conv",), space_file=space, settings={"n_trials": 6, "epochs": 1}
    )
    lines: list[str] = []
    result = optimize(config, sqlite(home), progress=lines.append)
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    trained = [t for t in study.trials if DUPLICATE_OF not in t.user_attrs]
    assert len(trained) == 2 and {t.params["schedule"] for t in trained} == {"constant", "cosine"}
    assert all(t.state in (C, P) for t in trained)
    assert epochs_spent(study) == sum(len(t.intermediate_values) for t in trained)
    exhausted = "study 't-conv-z8': the search space is exhausted (2 distinct configurations"
    assert sum(line.startswith(exhausted) for line in lines) == 1, lines
    row = result.summary.iloc[0]
    assert row["n_complete"] + row["n_pruned"] == 2
    assert row["n_duplicates"] == len(study.trials) - 2
