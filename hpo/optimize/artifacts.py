"""Each study's best model, kept as one Optuna artifact (a `.keras` file) in the workspace.

The study's user attrs say which (keys.BEST_MODEL_*): the artifact's id and path, the trial and its
value. With workers on several machines each keeps its files in its own workspace; the attrs are
shared through the storage, so the machine that ran the best trial is the one that can load it.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import optuna
from optuna.artifacts.exceptions import ArtifactNotFound

from hpo import keys
from hpo.progress import Progress
from hpo.workspace import Workspace


def artifact_store(workspace: Workspace) -> optuna.artifacts.FileSystemArtifactStore:
    path = workspace.artifacts_dir
    path.mkdir(parents=True, exist_ok=True)
    return optuna.artifacts.FileSystemArtifactStore(path)


def load_best_model(study: optuna.Study, workspace: Workspace, progress: Progress | None = None):
    """The study's kept best model, from this workspace's artifact store; None if it has none here
    (no completed trial yet, or with workers on several machines, its trial ran elsewhere)."""
    import keras

    artifact_id = study.user_attrs.get(keys.BEST_MODEL_ARTIFACT_ID)
    if not artifact_id:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "best.keras"
        try:
            optuna.artifacts.download_artifact(
                artifact_store=artifact_store(workspace),
                file_path=str(path),
                artifact_id=artifact_id,
            )
        except (OSError, ArtifactNotFound):
            if progress:
                progress(
                    f"note: the best model of {study.study_name!r} ({artifact_id}) is not in "
                    f"{workspace.artifacts_dir}; evaluate it on the machine where its trial "
                    f"ran"
                )
            return None
        return keras.models.load_model(path, compile=False)


def store_best_model(
    study: optuna.Study,
    model,
    trial_number: int,
    value: float,
    attach_to: optuna.Trial | optuna.Study,
    workspace: Workspace,
) -> None:
    """Keep `model` as the study's best: one `.keras` artifact per study (the previous best's file
    is removed), its id, path, trial and value in the study's user attrs."""
    store = artifact_store(workspace)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{study.study_name}-trial{trial_number}.keras"
        model.save(path)
        artifact_id = optuna.artifacts.upload_artifact(
            artifact_store=store, file_path=str(path), study_or_trial=attach_to
        )
    previous = study.user_attrs.get(keys.BEST_MODEL_ARTIFACT_ID)
    study.set_user_attr(keys.BEST_MODEL_ARTIFACT_ID, artifact_id)
    study.set_user_attr(keys.BEST_MODEL_PATH, str(workspace.artifacts_dir / artifact_id))
    study.set_user_attr(keys.BEST_MODEL_TRIAL, trial_number)
    study.set_user_attr(keys.BEST_MODEL_VALUE, value)
    if previous:
        # Already gone (another machine's store): nothing to free.
        with contextlib.suppress(Exception):
            store.remove(previous)
