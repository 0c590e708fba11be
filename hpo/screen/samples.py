"""One validation reconstruction per screen run, kept as .npy files for the report (the screen keeps
no models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from hpo import keys
from hpo.data import FlowData
from hpo.screen.record import latent_of


def _sample_path(out: Path, name: str, latent: int, repeat: int) -> Path:
    return out / "samples" / f"{name}-z{latent}-{repeat}.npy"


def save_sample(out: Path, data: FlowData, model, name: str, latent: int, repeat: int) -> None:
    """Keep one validation reconstruction per run: the screen keeps no models, the report needs
    it."""
    sample = data.val.take([_sample_index(data)])  # (1, H, W, C), scaled units
    output = model.predict(sample, verbose=0)
    if isinstance(output, dict):
        from hpo.metrics import RECONSTRUCTION  # here: hpo.metrics imports Keras

        output = output[RECONSTRUCTION]
    path = _sample_path(out, name, latent, repeat)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(output[0], np.float32))
    np.save(path.parent / "input.npy", sample[0])


def _sample_index(data: FlowData) -> int:
    return len(data.val) // 2  # a developed frame, the same for every architecture


def reconstruction_samples(
    out: Path, data: FlowData, trials, board: pd.DataFrame, latent: int, pca
) -> dict[str, np.ndarray]:
    """The input and, per architecture, the reconstruction by its best stored run at `latent`, and
    PCA's at the same size."""
    samples = {}
    if (out / "samples" / "input.npy").exists():
        samples["input"] = np.load(out / "samples" / "input.npy")
    for name in board["architecture"]:
        done = [
            t
            for t in trials
            if t.params[keys.ARCHITECTURE] == name
            and latent_of(t) == latent
            and t.state == optuna.trial.TrialState.COMPLETE
        ]
        if done:
            best = min(done, key=lambda t: t.value)
            path = _sample_path(out, name, latent, best.params[keys.REPEAT])
            if path.exists():
                samples[name] = np.load(path)
    if "input" in samples:
        samples[f"PCA({pca.n_components})"] = pca.reconstruct(samples["input"][None])[0]
    return samples if "input" in samples and len(samples) > 2 else {}
