"""How each study is searched (StudySettings), and the factories of its samplers and pruners.

The factories are what hpo.registry's SAMPLERS and PRUNERS name; `make_sampler` / `make_pruner`
build one by name (the live run, and bench.replay, which replays the same objects on a table).
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from hpo.config import DEFAULT_SEED
from hpo.registry import PRUNERS, SAMPLERS


@dataclass(frozen=True)
class StudySettings:
    """How each study is searched; defaults are the issue's, each with its reason."""

    n_trials: int = 30  # per architecture, COMPLETE + PRUNED: a failed trial is replaced
    timeout: float | None = None  # seconds per architecture and worker; None: until n_trials
    # Max per trial, as the screen: pruning and early stopping cut most short. The replayed defaults
    # grid ranks 30 above 20 and 10 (trials cut at 10 or 20 epochs never reached random's best).
    epochs: int = 30
    # A compute budget: no trial starts once the study's trials have run this many epochs in all
    # (what the benchmarks hold equal between engines); None: n_trials alone decides.
    epoch_budget: int | None = None
    # EarlyStopping inside a trial (best weights restored); None: a quarter of `epochs`, at least 3
    # (hpo.training.scaled_patience), as in the screen.
    patience: int | None = None
    # Successive halving (rungs at 1, 3, 9, 27 epochs, the best third going on) and 3 random
    # start-up trials: chosen as the best of 36 combinations of pruner x start-up trials x epochs
    # per trial replayed on the learning-curve table, 50 seeds (bench.replay's defaults grid,
    # bench/results/replay.json): random search's final best in 23% of its budget (median; 95%
    # interval 20-29%), against 32% (28-40%) for the median pruner with a third of the trials as
    # start-up, the earlier default. Replayed again with finished configurations answered instead of
    # trained (hpo.optimize.duplicates): 19% (16-21%), the fastest still, but at the whole budget
    # TPE without pruning now has the lower median regret (0.0000 against 0.0011, intervals
    # overlapping): it turns the epochs saved into new points, while this pruner stops the table's
    # optimum after 2 epochs in 45 of 50 seeds. Kept pending that decision (README, Results 1).
    pruner: str = "sha"
    sampler: str = "tpe"  # model-based, seeded
    # TPE's random start-up trials (None: a third of the expected trials, 3..10, startup_trials).
    n_startup_trials: int | None = 3
    max_params: int | None = None  # trials above it are rejected before training
    loss: str = "mse"  # the screen's loss
    metric: str = "rel_l2"  # the screen's ranking metric, on the validation split
    seed: int = DEFAULT_SEED  # a random seed: split, sampler (+ worker index), weights (+ trial)
    # A process grows ~36 MiB a trial (TF 2.21 / Keras 3.15, even after clear_session(): measured
    # by bench/optimize.py's memory part, bench/results/optimize.json), so a worker process is
    # replaced by a fresh one after this many trials.
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
        """Trials the study will likely run: n_trials, or fewer when an epoch budget ends it
        first."""
        if self.epoch_budget is None:
            return self.n_trials
        return max(1, min(self.n_trials, self.epoch_budget // self.epochs))


def startup_trials(n_trials: int) -> int:
    """TPE's random start-up trials for a study of `n_trials`, when not set: a third (3..10), so
    TPE has points to model."""
    return max(3, min(10, n_trials // 3))


def make_sampler(
    name: str, seed: int, n_trials: int, n_startup_trials: int | None = None
) -> optuna.samplers.BaseSampler:
    """The sampler `name` (hpo.registry.SAMPLERS), seeded.

    Raises:
        ConfigError: an unknown name.
    """
    return SAMPLERS.create(name, seed=seed, n_trials=n_trials, n_startup_trials=n_startup_trials)


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """The pruner `name` (hpo.registry.PRUNERS) for trials of at most `epochs` epochs.

    Raises:
        ConfigError: an unknown name.
    """
    return PRUNERS.create(name, epochs=epochs)


def tpe_sampler(seed: int, n_trials: int, n_startup_trials: int | None = None):
    n_startup = startup_trials(n_trials) if n_startup_trials is None else n_startup_trials
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup)


def random_sampler(seed: int, n_trials: int, n_startup_trials: int | None = None):
    return optuna.samplers.RandomSampler(seed=seed)


def median_pruner(epochs: int):
    # Prune only once 3 trials have finished and after 2 epochs: early epochs are noisy.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)


def hyperband_pruner(epochs: int):
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)


def sha_pruner(epochs: int):
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)


def no_pruner(epochs: int):
    return optuna.pruners.NopPruner()
