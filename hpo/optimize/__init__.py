"""The second stage: Optuna studies with pruning on the screen's best architectures
(`python -m hpo.optimize`), or KerasTuner on the same space.

    from hpo.optimize import OptimizeConfig, StudySettings, optimize
    result = optimize(OptimizeConfig(top=2, settings=StudySettings(n_trials=30)))  # screened sizes

The rooms: config (what runs), optimization (the stage, start to end), screened_data (the screen's
data), processes (worker processes), worker (the claim/run/tell loop), duplicates (no configuration
trained twice), trials (accounting), objective (the Keras trial), artifacts (the best model kept),
evaluation (the best models on the test split), tuner_engine (KerasTuner), claims (the lock),
settings (StudySettings). This module is the public surface.
"""

from hpo.optimize.config import OptimizeConfig, study_name, validate
from hpo.optimize.optimization import OptimizeResult, optimize
from hpo.optimize.settings import StudySettings

__all__ = [
    "OptimizeConfig",
    "OptimizeResult",
    "StudySettings",
    "optimize",
    "study_name",
    "validate",
]
