"""The end of `hpo.optimize`: each study's best model on the test split, beside the screen and PCA
of the same latent size."""

from __future__ import annotations

import math

import optuna
import pandas as pd

from hpo import keys
from hpo.optimize.artifacts import load_best_model
from hpo.optimize.config import OptimizeConfig, StudyPlan
from hpo.optimize.duplicates import is_duplicate
from hpo.progress import Progress
from hpo.registry import METRICS
from hpo.screen.record import ScreenRecord
from hpo.serialize import json_safe
from hpo.storage import open_storage


def evaluate_best(
    config: OptimizeConfig,
    plans: list[StudyPlan],
    storage_url: str,
    screen: ScreenRecord,
    data,
    symmetries: tuple[str, ...],
    progress: Progress,
) -> pd.DataFrame:
    """Evaluate each study's best model on the test split beside PCA at the best model's latent size
    (fitted on the same, possibly augmented, training set; plain PCA beside it); store and return
    the summary, one row per study. `ratio_to_pca` is in the study's metric."""
    from hpo import training

    metric = config.settings.metric
    pca = PCAAtLatent(data, symmetries)
    rows = []
    for plan in plans:
        study = optuna.load_study(study_name=plan.name, storage=open_storage(storage_url))
        trials = study.get_trials(deepcopy=False)
        states = [t.state for t in trials if not is_duplicate(t)]  # the trained ones
        row = {
            "architecture": plan.architecture,
            "latent": plan.latent,
            "latent_searched": plan.latent is None,
            "study": study.study_name,
            "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
            "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
            "n_failed": states.count(optuna.trial.TrialState.FAIL),
            "n_duplicates": len(trials) - len(states),  # answered without training
        }
        artifact_id = study.user_attrs.get(keys.BEST_MODEL_ARTIFACT_ID)
        model = load_best_model(study, config.workspace, progress) if artifact_id else None
        if model is not None:
            best = study.user_attrs[keys.BEST_MODEL_TRIAL]
            latent = plan.latent or best_latent(trials, best)
            test = training.evaluate(model, data.test, data)
            val = training.evaluate(model, data.val, data)
            study.set_user_attr(keys.BEST_TEST, json_safe(test))
            study.set_user_attr(keys.BEST_VAL, json_safe(val))
            row.update(
                {
                    "latent": latent,
                    "best_trial": best,
                    keys.monitor_key(metric): val[metric],
                    **{f"test_{m}": test[m] for m in METRICS.names()},
                    **{f"test_mse_{c}": v for c, v in test["mse_per_channel"].items()},
                }
            )
            if latent is not None:
                fair, plain = pca.at(latent)
                for m in METRICS.names():
                    row.update({f"pca_test_{m}": fair[m], f"plain_pca_test_{m}": plain[m]})
                row["ratio_to_pca"] = test[metric] / fair[metric]
        elif not artifact_id:
            progress(
                f"note: {study.study_name!r} has no completed trial, so no best model to evaluate"
            )
        # The screen's figures at the best model's latent size; none when the screen did not rank
        # that size, or a study that searches the size has no best model yet.
        latent = row["latent"]
        screened = {} if latent is None else screen.leaderboard_row(plan.architecture, latent)
        row.update(
            {
                "screen_val_mean": screened.get("val_mean", math.nan),
                "screen_test_mean": screened.get("test_mean", math.nan),
            }
        )
        for m in METRICS.names():
            row.setdefault(f"pca_test_{m}", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def best_latent(trials, number: int) -> int | None:
    """The latent size of a searched study's best trial."""
    value = next((t.params.get(keys.LATENT) for t in trials if t.number == number), None)
    return None if value is None else int(value)


class PCAAtLatent:
    """Test scores of PCA at any latent size: one fit at the largest size asked so far,
    truncated."""

    def __init__(self, data, symmetries: tuple[str, ...]):
        self.data, self.symmetries = data, symmetries
        self._fitted: dict[int, tuple] = {}

    def at(self, latent: int) -> tuple[dict, dict]:
        """(PCA fitted on the training set augmented like the models', plain PCA) test scores."""
        from hpo.baseline import fit_pca

        if latent not in self._fitted:
            fair = fit_pca(self.data, latent, augment=self.symmetries)
            plain = fit_pca(self.data, latent) if self.symmetries else fair
            self._fitted[latent] = tuple(
                p.evaluate(self.data.test, self.data) for p in (fair, plain)
            )
        return self._fitted[latent]
