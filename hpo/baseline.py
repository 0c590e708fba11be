"""Baselines: PCA, the linear reference every autoencoder has to beat, and persistence for next
    steps.

    pca = fit_pca(data, n_components=50)    # fitted on the training split only
    pca.evaluate(data.val, data)            # the dict of hpo.training.evaluate, in scaled units
    pca.reconstruct(x)                      # (n, H, W, C) -> (n, H, W, C)
    fit_pca(data, 64).truncate(8)           # the same as fit_pca(data, 8), without a second SVD
    fit_pca(data, 16, augment=("shift-x", "mirror-x"))   # on the augmented training set
    persistence(data.val, data)             # next step x̂(t+1) = x(t)
    persistence(data.val, data, pca)        # x̂(t+1) = PCA reconstruction of x(t)

Each sample is flattened to H*W*C features; the components are the leading right singular vectors
of the centred training matrix (numpy SVD of (n_train, n_features): n_train is small, ~800 frames
on the default data, so this costs n_features * n_train² and no covariance matrix is formed).

PCA of the augmented training set: the autoencoders that train on shifted and mirrored copies see
every circular shift in x of every training frame (and its mirror image), so the fair PCA is fitted
on that whole set, the training frames' orbit under the symmetries, not on a sample of it. With the
shift that set has H times as many frames, but it needs no enumeration: its covariance commutes with
shifts in x, so it is block-diagonal in the Fourier basis along x, one (W*C, W*C) block per
wavenumber k (plus, with the mirror, its reflection: (A_k + S conj(A_k) S) / 2, S the sign of each
channel under the mirror). The components are then cos/sin pairs e^{2 pi i k x / H} u(z, c), with u
an eigenvector of a block: exactly the PCA of the enumerated set (a test checks it on a small grid).
With the mirror alone, the training frames and their mirror images are stacked and fitted as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from hpo.augment import Augmentation, check
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
        augment: the symmetries whose orbit of the training set it was fitted on (() : plain PCA).
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    sample_shape: tuple[int, int, int]
    messages: tuple[str, ...] = ()
    augment: tuple[str, ...] = ()

    @property
    def n_components(self) -> int:
        return len(self.components)

    def truncate(self, n_components: int) -> PCABaseline:
        """The leading `n_components` (at most those fitted): PCA with fewer components is exactly
        this truncation, so one fit serves every latent size of a screen."""
        n = min(int(n_components), self.n_components)
        return replace(
            self, components=self.components[:n], explained_variance=self.explained_variance[:n]
        )

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


def fit_pca(data: FlowData, n_components: int, augment: Sequence[str] = ()) -> PCABaseline:
    """Fit PCA with `n_components` on the training split only (read whole, also when streamed).

    A centred matrix of n_train rows has rank at most n_train − 1, so more components than that
    cannot help: n_components is capped there, and `messages` says so.

    Args:
        data: the loaded data; only `data.train` is read.
        n_components: the latent size.
        augment: symmetries (hpo.augment.SYMMETRIES): fit on the training set's orbit under them,
            the set the augmented autoencoders train on (see the module docstring).

    Raises:
        ConfigError: n_components below 1, an unknown symmetry.
        DataError: fewer than two training samples.
    """
    if not isinstance(n_components, int) or isinstance(n_components, bool) or n_components < 1:
        raise ConfigError(f"n_components must be a positive integer, but got {n_components!r}")
    augmentation = Augmentation.for_data(data, check(augment))
    x = data.train.arrays()
    n_train = len(x)
    if n_train < 2:
        raise DataError(
            f"PCA needs at least 2 training samples, but the training split has {n_train}"
        )
    if augmentation.shift:
        return _fit_orbit_pca(x, n_components, augmentation)
    if augmentation.mirror:  # the frames and their mirror images
        x = np.concatenate(
            [x, augmentation.apply(x, np.zeros(n_train, int), np.ones(n_train, bool))]
        )
        return replace(_fit_flat_pca(x, n_components), augment=augmentation.symmetries)
    return _fit_flat_pca(x, n_components)


def _fit_flat_pca(x: np.ndarray, n_components: int) -> PCABaseline:
    """PCA of the samples x (n, H, W, C) by SVD of the centred (n, H*W*C) matrix."""
    n_train = len(x)
    flat = x.reshape(n_train, -1)
    messages = []
    most = min(n_train - 1, flat.shape[1])
    if n_components > most:
        messages.append(
            f"PCA: n_components {n_components} capped at {most} "
            f"(n_train - 1: {n_train} centred training samples span at most {most} directions)"
        )
        n_components = most
    mean = flat.mean(axis=0, dtype=np.float64).astype(np.float32)
    # (n_train, n_features) = U S Vt; the rows of Vt are the components, S² / (n - 1) their
    # variance.
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return PCABaseline(
        mean=mean,
        components=np.ascontiguousarray(vt[:n_components]),
        explained_variance=singular[:n_components] ** 2 / (n_train - 1),
        sample_shape=tuple(x.shape[1:]),
        messages=tuple(messages),
    )


def _fit_orbit_pca(x: np.ndarray, n_components: int, augmentation: Augmentation) -> PCABaseline:
    """PCA of every circular shift in x of the samples x (n, H, W, C) (and their mirror images, with
    the mirror): one Hermitian eigenproblem of size W*C per wavenumber along x."""
    n, n_x, n_z, n_c = x.shape
    x = np.asarray(x, np.float64)
    # The orbit's mean is constant in x; under the mirror a signed channel's is its physical zero.
    mean = np.broadcast_to(x.mean(axis=(0, 1)), (n_z, n_c)).copy()  # (W, C)
    if augmentation.mirror:
        mean[:, augmentation.signed] = augmentation.zero[augmentation.signed]
    spectrum = np.fft.rfft(x - mean, axis=1, norm="ortho")  # (n, H//2 + 1, W, C); Parseval holds
    sign = np.tile(np.where(augmentation.signed, -1.0, 1.0), n_z)  # S on the flattened (W*C) axis
    modes = []  # (variance, wavenumber, eigenvector u over W*C)
    n_k = spectrum.shape[1]
    for k in range(n_k):
        block = spectrum[:, k].reshape(n, n_z * n_c)
        covariance = block.T @ block.conj() / n  # (W*C, W*C): mean over frames of Y_k Y_k^H
        if augmentation.mirror:  # the mirror maps Y_k to S conj(Y_k)
            covariance = (covariance + sign[:, None] * covariance.conj() * sign[None, :]) / 2
        real = k == 0 or 2 * k == n_x  # the zero and Nyquist wavenumbers have real coefficients
        if real:
            covariance = covariance.real
        values, vectors = np.linalg.eigh(covariance)
        keep = np.argsort(values)[::-1][:n_components]
        for i in keep:
            modes.append((float(values[i]), k, vectors[:, i]))
    modes.sort(key=lambda mode: -mode[0])
    positions = np.arange(n_x)
    components, variances = [], []
    for variance, k, u in modes:
        if len(components) >= n_components:
            break
        u = u.reshape(n_z, n_c)
        if k == 0:
            parts = [np.broadcast_to(u.real, (n_x, n_z, n_c)) / np.sqrt(n_x)]
        elif 2 * k == n_x:
            parts = [np.cos(np.pi * positions)[:, None, None] * u.real / np.sqrt(n_x)]
        else:  # a cos/sin pair of equal variance: Re and Im of u e^{2 pi i k x / H}, normalised
            wave = np.exp(2j * np.pi * k * positions / n_x)[:, None, None] * u
            parts = [np.sqrt(2.0 / n_x) * wave.real, np.sqrt(2.0 / n_x) * wave.imag]
        for part in parts[: n_components - len(components)]:
            components.append(part.reshape(-1))
            variances.append(variance)
    full_mean = np.broadcast_to(mean, (n_x, n_z, n_c)).reshape(-1)
    return PCABaseline(
        mean=full_mean.astype(np.float32),
        components=np.ascontiguousarray(np.array(components, np.float32)),
        explained_variance=np.array(variances),
        sample_shape=(n_x, n_z, n_c),
        augment=augmentation.symmetries,
    )


def persistence(
    split: Split, data: FlowData, pca: PCABaseline | None = None, batch_size: int = 64
) -> dict | None:
    """Next-step errors of the forecasts x̂(t+1) = x(t) (persistence), or, given `pca`, the PCA
    reconstruction of x(t) (persistence through a code of the same size as the model's).

    Returns:
        {"rel_l2", "mse", "mse_per_channel"} over the split's next-step pairs, scored against x(t+1)
        like a two-headed model's next-step head; None when the split has no pairs (no simulations).
    """
    t, t_next = split.next_step_pairs()
    if len(t) == 0:
        return None
    sums = ErrorSums(data.channel_names)
    for i in range(0, len(t), batch_size):
        both = split.take(np.concatenate([t[i : i + batch_size], t_next[i : i + batch_size]]))
        now, following = both[: len(both) // 2], both[len(both) // 2 :]
        sums.add(following, now if pca is None else pca.reconstruct(now))
    return sums.result()
