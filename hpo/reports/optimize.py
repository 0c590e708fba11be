"""`<workspace>/<run>/optimize.html`: each study's history, learning curves, importances, parallel
coordinates, and its best model's reconstructions of test samples. Reads the storage; never
trains."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import optuna
import pandas as pd

from hpo import keys
from hpo.optimize.artifacts import load_best_model
from hpo.reports import figures as report
from hpo.storage import open_storage
from hpo.workspace import Workspace


def write_optimize_report(
    path: Path,
    run: str,
    names: Sequence[str],
    storage_url: str,
    summary: pd.DataFrame,
    data,
    metric: str,
    workspace: Workspace,
) -> Path:
    from optuna import visualization as vis

    sections: list = [("Best models on the test split", report.table_html(summary))]
    front = report.front_figure(summary, metric)
    if front is not None:
        sections.append(
            (
                "Error against latent size: each study's best model on the test split, "
                "PCA of the same size beside it",
                front,
            )
        )
    storage = open_storage(storage_url)
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        sections.append((f"{name}: optimization history", vis.plot_optimization_history(study)))
        sections.append(
            (
                f"{name}: validation {metric} per epoch (pruned trials stop early)",
                vis.plot_intermediate_values(study),
            )
        )
        if len(complete) >= 2:
            try:
                sections.append(
                    (f"{name}: parameter importances", vis.plot_param_importances(study))
                )
            except (RuntimeError, ValueError) as exc:  # e.g. a single distinct point
                sections.append((f"{name}: parameter importances", f"<p>not computed: {exc}</p>"))
            sections.append((f"{name}: parallel coordinates", vis.plot_parallel_coordinate(study)))
        samples = _best_model_samples(study, data, workspace)
        if samples:
            sections.append(
                (
                    f"{name}: best model (trial {study.user_attrs[keys.BEST_MODEL_TRIAL]}) on "
                    f"a test sample",
                    report.reconstructions_figure(samples, data.channel_names, ["best model"]),
                )
            )
    return report.write_html(path, f"Optimization: {run}", sections)


def _best_model_samples(study: optuna.Study, data, workspace: Workspace) -> dict:
    import numpy as np

    from hpo.metrics import RECONSTRUCTION

    artifact_id = study.user_attrs.get(keys.BEST_MODEL_ARTIFACT_ID)
    if not artifact_id or len(data.test) == 0:
        return {}
    model = load_best_model(study, workspace)
    if model is None:
        return {}
    # The split's last frame: the flow there has developed the longest.
    x = data.test.take([len(data.test) - 1])
    output = model.predict(x, verbose=0)
    if isinstance(output, dict):
        output = output[RECONSTRUCTION]
    return {"input": x[0], "best model": np.asarray(output[0])}
