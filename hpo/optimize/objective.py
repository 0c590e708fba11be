"""The objective of `hpo.optimize`: one point of the space trained with per-epoch pruning."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import keys
from hpo.adapters.optuna_internals import epochs_reported
from hpo.optimize.settings import StudySettings
from hpo.optimize.worker import TrialResult
from hpo.serialize import json_safe


@dataclass
class KerasObjective:
    """The objective of `hpo.optimize`: train one point of the space with per-epoch pruning, score
    it on the validation split."""

    architecture: str
    space: dict
    data: Any  # FlowData
    settings: StudySettings

    def __call__(self, trial: optuna.Trial) -> TrialResult:
        from hpo import architectures, training
        from hpo.space import suggest

        settings = self.settings
        params = suggest(trial, self.space)
        n_params = architectures.count_params(self.architecture, params, self.data.input_shape)
        trial.set_user_attr(keys.N_PARAMS, n_params)
        trial.set_user_attr(keys.LATENT, params.get(keys.LATENT))  # also when the study fixes it
        if settings.max_params is not None and n_params > settings.max_params:
            trial.set_user_attr(
                keys.REJECTED, f"{n_params:,} parameters > --max-params {settings.max_params:,}"
            )
            return TrialResult(TrialState.PRUNED, note=f"rejected: {n_params:,} parameters")
        config = training.TrainConfig(
            epochs=settings.epochs,
            patience=settings.patience,
            loss=settings.loss,
            seed=settings.seed + trial.number,
            monitor=keys.monitor_key(settings.metric),
        )
        pruning = _pruning(trial, keys.monitor_key(settings.metric), epochs_reported(trial))
        try:
            result = training.fit(
                self.architecture, params, self.data, config, callbacks=[pruning], progress=None
            )
        except optuna.TrialPruned:
            epochs = epochs_reported(trial)
            trial.set_user_attr(keys.EPOCHS_RUN, epochs)
            return TrialResult(TrialState.PRUNED, note=f"pruned after {epochs} epochs")
        except training.TrainingFailed as exc:  # out of memory: this trial fails alone
            return TrialResult(TrialState.FAIL, note=str(exc))
        trial.set_user_attr(keys.EPOCHS_RUN, result.epochs_run)
        trial.set_user_attr(keys.SECONDS_PER_EPOCH, result.seconds_per_epoch)
        if result.diverged:
            return TrialResult(TrialState.FAIL, note="diverged: NaN/Inf loss", model=result.model)
        scores = training.evaluate(result.model, self.data.val, self.data)
        trial.set_user_attr(keys.VAL, json_safe(scores))
        value = float(scores[settings.metric])
        if not math.isfinite(value):
            return TrialResult(
                TrialState.FAIL, note="non-finite validation metric", model=result.model
            )
        return TrialResult(TrialState.COMPLETE, value, f"{result.epochs_run} epochs", result.model)


def _pruning(trial: optuna.Trial, monitor: str, replayed: int):
    """optuna-integration's KerasPruningCallback, which leaves alone the first `replayed` epochs: a
    PRUNED configuration trained again because the pruner now lets its stored curve through has
    those steps reported and judged already (hpo.optimize.duplicates)."""
    from optuna_integration import KerasPruningCallback

    class AfterReplayed(KerasPruningCallback):
        def on_epoch_end(self, epoch: int, logs=None) -> None:
            if epoch >= replayed:
                super().on_epoch_end(epoch, logs)

    return AfterReplayed(trial, monitor)
