"""One architecture's Optuna study: objective, pruning, the worker loop, and the best model kept.

A worker repeatedly (1) takes the claim lock, fails trials whose worker died (heartbeat) so they are
queued again, counts the trials that are finished or in flight and stops at `n_trials`, asks for a
trial; (2) trains it with per-epoch pruning, beating the heartbeat meanwhile; (3) tells the result.
Failures come in three tiers: pruning is control flow (PRUNED); a bad trial (NaN loss, out of memory,
over --max-params) ends as FAIL/PRUNED with a `failure`/`rejected` attr and the study goes on; a
configuration error stops the run before anything is written.
"""

from __future__ import annotations

import gc
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import TrialState

from hpo.claims import ClaimLock
from hpo.config import DEFAULT_SEED, studies_dir
from hpo.errors import ConfigError
from hpo.serialize import json_safe

PRUNERS = ("median", "hyperband", "sha", "none")
SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class StudySettings:
    """How each study is searched; defaults are the issue's, each with its reason."""

    n_trials: int = 30  # per architecture: enough for TPE to move past its random start-up
    timeout: float | None = None  # seconds per architecture and worker; None: until n_trials
    epochs: int = 30  # max per trial, as the screen: pruning and early stopping cut most short
    # A compute budget: no trial starts once the study's trials have run this many epochs in all
    # (what the benchmarks hold equal between engines); None: n_trials alone decides.
    epoch_budget: int | None = None
    patience: int = 5  # EarlyStopping inside a trial (best weights restored)
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


def _has_result(trial: optuna.trial.FrozenTrial) -> bool:
    """COMPLETE, PRUNED, or FAIL of our own making (a `failure` attr: NaN, out of memory, a bug)."""
    return (trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (trial.state == TrialState.FAIL and "failure" in trial.user_attrs))


def counted_trials(study: optuna.Study) -> int:
    """Trials that count against n_trials: those with a result, or in flight (RUNNING, WAITING).
    A trial failed because its worker died does not count: its WAITING copy does."""
    in_flight = (TrialState.RUNNING, TrialState.WAITING)
    return sum(1 for t in study.get_trials(deepcopy=False) if _has_result(t) or t.state in in_flight)


def epochs_spent(study: optuna.Study) -> int:
    """Epochs the study's trials have run in all (one intermediate value per epoch)."""
    return sum(len(t.intermediate_values) for t in study.get_trials(deepcopy=False))


def study_needs_trials(study: optuna.Study, n_trials: int, epoch_budget: int | None = None) -> bool:
    """Whether a worker would still find a trial to run: the epoch budget (if any) is not spent,
    and there is a WAITING trial (queued again after its worker died, already part of the count)
    or room in the count."""
    if epoch_budget is not None and epochs_spent(study) >= epoch_budget:
        return False
    return (bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
            or counted_trials(study) < n_trials)


def finished_trials(study: optuna.Study) -> int:
    """Trials with a result."""
    return sum(1 for t in study.get_trials(deepcopy=False) if _has_result(t))


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
class Worker:
    """Runs trials of one study until it holds `settings.n_trials` (or the timeout passes, or the
    epoch budget is spent)."""

    study: optuna.Study
    architecture: str
    space: dict
    data: Any  # FlowData
    settings: StudySettings
    lock: ClaimLock
    progress: Callable[[str], None] | None = print
    label: str = ""
    outcomes: list[TrialOutcome] = field(default_factory=list)

    def run(self, deadline: float | None = None, max_trials: int | None = None) -> list[TrialOutcome]:
        """Run trials until the study holds n_trials, `deadline` (time.time()) passes, or this
        worker has run `max_trials`."""
        while deadline is None or time.time() < deadline:
            if max_trials is not None and len(self.outcomes) >= max_trials:
                break
            trial = self._claim()
            if trial is None:
                break
            self.outcomes.append(self._run_trial(trial))
        return self.outcomes

    def _claim(self) -> optuna.Trial | None:
        with self.lock.held():
            optuna.storages.fail_stale_trials(self.study)
            settings = self.settings
            if not study_needs_trials(self.study, settings.n_trials, settings.epoch_budget):
                return None
            return self.study.ask()  # takes a WAITING trial first

    def _run_trial(self, trial: optuna.Trial) -> TrialOutcome:
        started = time.monotonic()
        storage = self.study._storage  # noqa: SLF001 - Optuna exposes no public accessor
        with _Heartbeat(storage, trial._trial_id, self.settings.heartbeat_interval):  # noqa: SLF001
            state, value, note, model = self._evaluate(trial)
            trial.set_user_attr("rss_mib", round(resident_mib()))  # memory stays flat? (see bench)
        if state == TrialState.COMPLETE:
            self._keep_if_best(trial, value, model)  # while the trial runs: artifacts attach to it
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=state)
        del model
        gc.collect()  # the model and its graph go before the next trial builds
        outcome = TrialOutcome(trial.number, state, value, time.monotonic() - started, note)
        self._report(outcome)
        return outcome

    def _evaluate(self, trial: optuna.Trial):
        """Train one trial; return (state, value, note, model or None). Never raises for a bad trial."""
        from optuna_integration import KerasPruningCallback

        from hpo import architectures, training
        from hpo.space import suggest

        params = suggest(trial, self.space)
        n_params = architectures.count_params(self.architecture, params, self.data.input_shape)
        trial.set_user_attr("n_params", n_params)
        if self.settings.max_params is not None and n_params > self.settings.max_params:
            trial.set_user_attr("rejected", f"{n_params:,} parameters > --max-params "
                                            f"{self.settings.max_params:,}")
            return TrialState.PRUNED, None, f"rejected: {n_params:,} parameters", None
        config = training.TrainConfig(epochs=self.settings.epochs, patience=self.settings.patience,
                                      loss=self.settings.loss, seed=self.settings.seed + trial.number,
                                      monitor=f"val_{self.settings.metric}")
        pruning = KerasPruningCallback(trial, f"val_{self.settings.metric}")
        try:
            result = training.fit(self.architecture, params, self.data, config,
                                  callbacks=[pruning], progress=None)
        except optuna.TrialPruned:
            epochs = len(self.study._storage.get_trial(trial._trial_id).intermediate_values)  # noqa: SLF001
            trial.set_user_attr("epochs_run", epochs)
            return TrialState.PRUNED, None, f"pruned after {epochs} epochs", None
        except training.TrainingFailed as exc:
            trial.set_user_attr("failure", str(exc))
            return TrialState.FAIL, None, str(exc), None
        except Exception as exc:  # a bug or a broken point of the space: this trial fails alone
            message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            trial.set_user_attr("failure", message)
            return TrialState.FAIL, None, message, None
        trial.set_user_attr("epochs_run", result.epochs_run)
        trial.set_user_attr("seconds_per_epoch", result.seconds_per_epoch)
        if result.diverged:
            trial.set_user_attr("failure", "diverged: NaN/Inf loss")
            return TrialState.FAIL, None, "diverged (NaN/Inf loss)", result.model
        scores = training.evaluate(result.model, self.data.val, self.data)
        trial.set_user_attr("val", json_safe(scores))
        value = float(scores[self.settings.metric])
        if not math.isfinite(value):
            trial.set_user_attr("failure", "non-finite validation metric")
            return TrialState.FAIL, None, "non-finite validation metric", result.model
        return TrialState.COMPLETE, value, f"{result.epochs_run} epochs", result.model

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
        self.progress(f"{self.label}[{self.architecture}] trial {outcome.number:>3} "
                      f"{outcome.state.name:<8} value {value:<9} best {best:<9} "
                      f"{outcome.seconds:6.1f} s  rss {resident_mib():5.0f} MiB  {outcome.note}")


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
