"""The KerasTuner engine of `hpo.optimize --engine keras-tuner`, mirrored into our Optuna storage.

KerasTuner searches the same declared space (`hpo.space.to_keras_tuner`), on the same data, splits
and metric as the Optuna engine. Its own state lives in
`<workspace>/<run>/keras-tuner/<architecture>-<tuner>` (so a re-run resumes); each of its trials is
then copied into the Optuna study `<run>-<architecture>-keras-tuner` (params with the declared
space's distributions, the per-epoch validation metric as intermediate values, the best epoch's as
value), so one optuna-dashboard compares both engines. Trials already copied (user attr
`keras_tuner_trial_id`) are skipped.

Budgets: random and bayesian run `--trials` trials in all (counting those already run); hyperband
ignores `--trials` and runs the trials its brackets need for max_epochs=`--epochs` (factor 3, one
iteration), continuing promoted trials from their parent's weights. With `--epoch-budget`, every
tuner stops starting trials once its trials have run that many epochs (hyperband then iterates its
brackets until then). The best model is kept as an Optuna artifact of the mirrored study, as the
Optuna engine keeps its own, so `hpo.optimize` evaluates both on the test split.
"""

from __future__ import annotations

import json
import math

import keras
import keras_tuner as kt
import optuna

from hpo import architectures, keys, training
from hpo.adapters.keras_tuner_internals import trial_and_tuner
from hpo.augment import from_params
from hpo.optimize.artifacts import store_best_model
from hpo.optimize.config import OptimizeConfig, StudyPlan
from hpo.optimize.settings import StudySettings
from hpo.optimize.trials import epochs_spent
from hpo.progress import Progress
from hpo.registry import TUNERS
from hpo.space import suggest, to_keras_tuner
from hpo.storage import open_storage
from hpo.workspace import Workspace

HISTORY_FILE = "hpo_history.json"  # per KerasTuner trial: the per-epoch validation metric


class FlowHyperModel(kt.HyperModel):
    """Builds a registered architecture from KerasTuner's hyperparameters; trains it as `hpo`
    does."""

    def __init__(
        self, architecture: str, space: dict, data, settings: StudySettings, epochs_spent: int = 0
    ):
        super().__init__(name=architecture)
        self.architecture, self.space, self.data, self.settings = (
            architecture,
            space,
            data,
            settings,
        )
        self.epochs_spent = epochs_spent  # by this search's trials, for settings.epoch_budget

    def build(self, hp):
        params = to_keras_tuner(hp, self.space)
        keras.backend.clear_session()
        return architectures.build(self.architecture, params, self.data.input_shape)

    def fit(self, hp, model, *args, **kwargs):
        """Train with `training.fit_model`; return the best epoch's validation metric.

        KerasTuner's callbacks (its trial reporter, the best-epoch checkpoint that Hyperband resumes
        from) are passed on to Keras; they run after ours, so they read `val_<metric>`. Hyperband
        passes `epochs` and `initial_epoch` (the parent's epochs, whose weights are loaded already).
        """
        params = to_keras_tuner(hp, self.space)
        callbacks = list(kwargs.get("callbacks", []))
        trial, tuner = trial_and_tuner(callbacks)
        first = int(kwargs.get("initial_epoch", 0))
        epochs = int(kwargs.get("epochs", self.settings.epochs)) - first
        seed = self.settings.seed + (
            int(trial.trial_id) if trial and trial.trial_id.isdigit() else 0
        )
        keras.utils.set_random_seed(seed)
        config = training.TrainConfig(
            epochs=max(1, epochs),
            patience=self.settings.patience,
            loss=self.settings.loss,
            seed=seed,
            monitor=keys.monitor_key(self.settings.metric),
        )
        metric = keys.monitor_key(self.settings.metric)
        try:
            result = training.fit_model(
                model,
                self.data,
                config,
                learning_rate=params["learning_rate"],
                batch_size=params["batch_size"],
                schedule=params.get("schedule"),
                weight_decay=params.get("weight_decay"),
                augment=from_params(params),
                callbacks=callbacks,
                progress=None,
            )
        except training.TrainingFailed as exc:
            raise kt.errors.FailedTrialError(str(exc)) from None
        values = [float(epoch[metric]) for epoch in result.history]
        self._spend(len(values), tuner)
        if trial is not None:
            path = f"{tuner.get_trial_dir(trial.trial_id)}/{HISTORY_FILE}"
            with open(path, "w") as f:
                json.dump({"first_epoch": first, metric: values}, f)
        finite = [v for v in values if math.isfinite(v)]
        if result.diverged or not finite:
            raise kt.errors.FailedTrialError("diverged: NaN/Inf loss")
        return min(finite)

    def _spend(self, epochs: int, tuner: kt.Tuner | None) -> None:
        """Count a trial's epochs; once the budget is spent, cap the oracle at the trials it has, so
        it starts no more (KerasTuner has no epoch budget of its own)."""
        self.epochs_spent += epochs
        budget = self.settings.epoch_budget
        if tuner is not None and budget is not None and self.epochs_spent >= budget:
            tuner.oracle.max_trials = len(tuner.oracle.trials)


def make_tuner(
    name: str, hypermodel: FlowHyperModel, settings: StudySettings, directory, project: str
) -> kt.Tuner:
    """KerasTuner's `name` tuner (hpo.registry.TUNERS) keeping its state in `directory/project`."""
    common = dict(
        objective=kt.Objective(keys.monitor_key(settings.metric), direction="min"),
        seed=settings.seed,
        directory=str(directory),
        # One project per tuner: switching --tuner starts its own search, not a clash.
        project_name=project,
        overwrite=False,
        # The same rule as the Optuna engine's --max-failures.
        max_consecutive_failed_trials=settings.max_failures,
    )
    return TUNERS.create(name, hypermodel, settings, **common)


def hyperband_tuner(hypermodel: FlowHyperModel, settings: StudySettings, **common) -> kt.Tuner:
    # With an epoch budget, iterate the brackets until it is spent (None: no iteration limit).
    iterations = 1 if settings.epoch_budget is None else None
    return kt.Hyperband(
        hypermodel, max_epochs=settings.epochs, factor=3, hyperband_iterations=iterations, **common
    )


def bayesian_tuner(hypermodel: FlowHyperModel, settings: StudySettings, **common) -> kt.Tuner:
    return kt.BayesianOptimization(hypermodel, max_trials=settings.n_trials, **common)


def random_tuner(hypermodel: FlowHyperModel, settings: StudySettings, **common) -> kt.Tuner:
    return kt.RandomSearch(hypermodel, max_trials=settings.n_trials, **common)


def run_keras_tuner_study(
    config: OptimizeConfig, plan: StudyPlan, space: dict, storage_url: str, data, progress: Progress
) -> int:
    """The keras-tuner engine (hpo.registry.ENGINES) on one planned study."""
    progress(f"study {plan.name!r}: KerasTuner {config.tuner}, mirrored into Optuna")
    return run_keras_tuner(
        config, plan.architecture, plan.name, space, storage_url, data, config.tuner, progress
    )


def run_keras_tuner(
    config: OptimizeConfig,
    architecture: str,
    name: str,
    space: dict,
    storage_url: str,
    data,
    tuner_name: str,
    progress: Progress,
) -> int:
    """Run (or resume) KerasTuner on one architecture's study `name` (its latent size fixed or not,
    as `space` says), then mirror its trials into that Optuna study.

    Returns:
        The number of trials newly written to the Optuna study.
    """
    study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    hypermodel = FlowHyperModel(architecture, space, data, config.settings, epochs_spent(study))
    # A study per latent size gets its own project (name:
    # <run>-<architecture>-z<latent>-keras-tuner).
    suffix = name[len(f"{config.run}-{architecture}") :].removesuffix("-keras-tuner")
    tuner = make_tuner(
        tuner_name,
        hypermodel,
        config.settings,
        config.workspace.keras_tuner_dir(config.run),
        f"{architecture}{suffix}-{tuner_name}",
    )
    if (
        config.settings.epoch_budget is None
        or hypermodel.epochs_spent < config.settings.epoch_budget
    ):
        tuner.search(verbose=0)
    slot = config.slot(0)  # KerasTuner trains in this process, placed as worker 0
    added = mirror_to_optuna(
        tuner,
        space,
        name,
        storage_url,
        keys.monitor_key(config.settings.metric),
        tuner_name,
        placement={keys.DEVICE: slot.label, keys.SLOT: slot.index},
    )
    progress(f"study {name!r}: {added} KerasTuner trial(s) added")
    _keep_best_model(tuner, study, tuner_name, config.workspace)
    return added


def _keep_best_model(
    tuner: kt.Tuner, study: optuna.Study, tuner_name: str, workspace: Workspace
) -> None:
    """Store the tuner's best model (its best epoch's weights) as the mirrored study's best
    model."""
    best = tuner.oracle.get_best_trials(1)
    if not best or best[0].score is None:
        return
    mirrored = {
        t.user_attrs.get(keys.KERAS_TUNER_TRIAL_ID): t for t in study.get_trials(deepcopy=False)
    }
    trial = mirrored.get(f"{tuner_name}:{best[0].trial_id}")
    if trial is None or trial.value is None:
        return
    if study.user_attrs.get(keys.BEST_MODEL_TRIAL) == trial.number:
        return  # kept already by an earlier run
    store_best_model(
        study,
        tuner.load_model(best[0]),
        trial.number,
        trial.value,
        attach_to=study,
        workspace=workspace,
    )


def mirror_to_optuna(
    tuner: kt.Tuner,
    space: dict,
    name: str,
    storage_url: str,
    metric: str,
    tuner_name: str,
    placement: dict | None = None,
) -> int:
    """Add each finished KerasTuner trial not yet in the Optuna study `name` as one Optuna trial
    (user attr `keras_tuner_trial_id` = "<tuner>:<its trial id>", and `placement`: where it
    trained, keys.DEVICE and keys.SLOT)."""
    study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    stored = {t.user_attrs.get(keys.KERAS_TUNER_TRIAL_ID) for t in study.get_trials(deepcopy=False)}
    added = 0
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        if f"{tuner_name}:{trial_id}" in stored or trial.status not in ("COMPLETED", "FAILED"):
            continue
        params = to_keras_tuner(trial.hyperparameters.copy(), space)
        fixed = optuna.trial.FixedTrial(params)
        suggest(fixed, space)  # records the declared distribution of each searched param
        # Fixed ones, as in Optuna: none
        searched = {key: params[key] for key in fixed.distributions}
        history = _read_history(tuner, trial_id)
        steps = {
            history["first_epoch"] + i: v
            for i, v in enumerate(history.get(metric, []))
            if math.isfinite(v)
        }
        value = min(steps.values()) if steps and trial.status == "COMPLETED" else None
        study.add_trial(
            optuna.trial.create_trial(
                params=searched,
                distributions=fixed.distributions,
                value=value,
                intermediate_values=steps,
                state=optuna.trial.TrialState.COMPLETE
                if value is not None
                else optuna.trial.TrialState.FAIL,
                user_attrs={
                    keys.KERAS_TUNER_TRIAL_ID: f"{tuner_name}:{trial_id}",
                    keys.ENGINE: "keras-tuner",
                    keys.TUNER: tuner_name,
                    **(placement or {}),
                    **(
                        {keys.FAILURE: trial.message.splitlines()[-1][:300]}
                        if value is None and trial.message
                        else {}
                    ),
                },
            )
        )
        added += 1
    return added


def _read_history(tuner: kt.Tuner, trial_id: str) -> dict:
    try:
        with open(f"{tuner.get_trial_dir(trial_id)}/{HISTORY_FILE}") as f:
            return json.load(f)
    except FileNotFoundError:  # failed before its first epoch
        return {"first_epoch": 0}
