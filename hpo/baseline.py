"""PCA baseline: the linear reference every autoencoder has to beat, on the same splits and metrics.

    pca = fit_pca(data, n_components=50)    # fitted on the training split only
    pca.evaluate(data.val, data)            # the dict of hpo.training.evaluate, in scaled units
    pca.reconstruct(x)                      # (n, H, W, C) -> (n, H, W, C)

Each sample is flattened to H*W*C features; the components are the leading right singular vectors
of the centred training matrix (numpy SVD of (n_train, n_features): n_train is small, ~380 frames
on the default data, so this costs n_features * n_train² and no covariance matrix is formed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpo.data import FlowData, Split
from hpo.errors import ConfigError, DataError
from hpo.metrics import ErrorSums


@dataclass(frozen=True)
class PCABaseline:
    """A fitted PCA: x ≈ mean + (x − mean) Vᵀ V, with V the `components`.

    Attributes:
        mean: (n_features,) the training samples' mean, float32.
        components: (n_components, n_features) orthonormal rows, by decreasing explained variance.
        explained_variance: (n_components,) variance of the training data along each component.
        sample_shape: (H, W, C) of one sample.
        messages: what the user should hear (e.g. that n_components was capped).
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    sample_shape: tuple[int, int, int]
    messages: tuple[str, ...] = ()

    @property
    def n_components(self) -> int:
        return len(self.components)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Samples (n, H, W, C) -> codes (n, n_components)."""
        flat = np.asarray(x, np.float32).reshape(len(x), -1)
        return (flat - self.mean) @ self.components.T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (n, n_components) -> samples (n, H, W, C), float32."""
        flat = np.asarray(codes, np.float32) @ self.components + self.mean
        return flat.reshape(len(codes), *self.sample_shape)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Project samples (n, H, W, C) on the components and back."""
        return self.decode(self.encode(x))

    def evaluate(self, split: Split, data: FlowData, batch_size: int = 64) -> dict:
        """Errors on a split, as `hpo.training.evaluate` gives them (scaled units).

        Returns:
            {"rel_l2": mean over samples, "mse": overall, "mse_per_channel": {channel: mse}}.
        """
        sums = ErrorSums(data.channel_names)
        for x in split.batches(batch_size, shuffle=False):
            sums.add(x, self.reconstruct(x))
        return sums.result()


def fit_pca(data: FlowData, n_components: int) -> PCABaseline:
    """Fit PCA with `n_components` on the training split only (read whole, also when streamed).

    A centred matrix of n_train rows has rank at most n_train − 1, so more components than that
    cannot help: n_components is capped there, and `messages` says so.

    Raises:
        ConfigError: n_components below 1.
        DataError: fewer than two training samples.
    """
    if not isinstance(n_components, int) or isinstance(n_components, bool) or n_components < 1:
        raise ConfigError(f"n_components must be a positive integer, but got {n_components!r}")
    x = data.train.arrays()
    n_train = len(x)
    if n_train < 2:
        raise DataError(f"PCA needs at least 2 training samples, but the training split has {n_train}")
    flat = x.reshape(n_train, -1)
    messages = []
    most = min(n_train - 1, flat.shape[1])
    if n_components > most:
        messages.append(f"PCA: n_components {n_components} capped at {most} "
                        f"(n_train - 1: {n_train} centred training samples span at most {most} directions)")
        n_components = most
    mean = flat.mean(axis=0, dtype=np.float64).astype(np.float32)
    # (n_train, n_features) = U S Vt; the rows of Vt are the components, S² / (n - 1) their variance.
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return PCABaseline(mean=mean, components=np.ascontiguousarray(vt[:n_components]),
                       explained_variance=singular[:n_components] ** 2 / (n_train - 1),
                       sample_shape=tuple(x.shape[1:]), messages=tuple(messages))
