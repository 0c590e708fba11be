"""The PCA baseline: fitted on the training split only, exact at the data's rank, better with more
components, scored like the autoencoders."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.baseline import fit_pca
from hpo.data import load
from hpo.errors import ConfigError

from helpers import N_FRAMES, N_SIMS, write_original

GRID, N_CHANNELS = (24, 20), 3


def _low_rank(rank: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(N_SIMS * N_FRAMES, 24, 20, 3): a fixed field plus `rank` patterns with random weights (+
    noise).

    Per-channel scaling is affine, so the scaled samples keep their rank around the training mean.
    """
    rng = np.random.default_rng(seed)
    n = N_SIMS * N_FRAMES
    patterns = rng.normal(size=(rank, *GRID, N_CHANNELS))
    weights = rng.normal(size=(n, rank)) * np.linspace(3.0, 1.0, rank)
    data = rng.normal(size=(*GRID, N_CHANNELS)) + np.tensordot(weights, patterns, axes=1)
    return (data + noise * rng.normal(size=data.shape)).astype(np.float32)


def _rel_l2(x, x_hat):
    error, size = (x_hat - x).reshape(len(x), -1), x.reshape(len(x), -1)
    return np.mean(np.linalg.norm(error, axis=1) / np.linalg.norm(size, axis=1))


def test_the_fit_ignores_the_test_split(tmp_path):
    values = _low_rank(4, noise=0.1)
    data = load(write_original(tmp_path / "a.h5", data=values.copy()))
    changed = values.copy()
    changed[data.test.indices] = changed[data.test.indices] * 10.0 + 5.0
    other = load(write_original(tmp_path / "b.h5", data=changed))
    first, second = fit_pca(data, 3), fit_pca(other, 3)
    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.components, second.components)
    # The change did reach the test split: its scores differ.
    assert first.evaluate(data.test, data)["mse"] != pytest.approx(
        second.evaluate(other.test, other)["mse"]
    )


def test_more_components_reconstruct_better(tmp_path):
    data = load(write_original(tmp_path / "seed.h5", data=_low_rank(4, noise=0.05)))
    val = [fit_pca(data, k).evaluate(data.val, data)["rel_l2"] for k in (1, 2, 3, 4)]
    train = [fit_pca(data, k).evaluate(data.train, data)["rel_l2"] for k in (1, 2, 3, 4, 8)]
    assert all(a > b for a, b in zip(val, val[1:])), val
    assert all(a > b for a, b in zip(train, train[1:])), train


def test_reconstruction_is_exact_once_components_reach_the_rank(tmp_path):
    data = load(write_original(tmp_path / "seed.h5", data=_low_rank(3)))
    exact = fit_pca(data, 3)
    for split in (data.train, data.val, data.test):
        assert exact.evaluate(split, data)["rel_l2"] < 1e-4
    assert fit_pca(data, 2).evaluate(data.val, data)["rel_l2"] > 1e-2
    np.testing.assert_allclose(exact.components @ exact.components.T, np.eye(3), atol=1e-5)


def test_components_are_capped_at_n_train_minus_one(tiny_flow_data):
    n_train = len(tiny_flow_data.train)
    pca = fit_pca(tiny_flow_data, 100)
    assert pca.n_components == n_train - 1
    assert any(f"capped at {n_train - 1}" in m for m in pca.messages)
    x = np.asarray(tiny_flow_data.train.arrays())
    assert _rel_l2(x, pca.reconstruct(x)) < 1e-4  # every training sample lies in the span
    assert fit_pca(tiny_flow_data, 2).messages == ()


def test_evaluate_gives_the_training_dict_computed_from_reconstructions(tiny_flow_data):
    pca = fit_pca(tiny_flow_data, 5)
    scores = pca.evaluate(tiny_flow_data.val, tiny_flow_data, batch_size=4)  # uneven batches: 4 + 2
    x = np.asarray(tiny_flow_data.val.arrays(), np.float64)
    x_hat = pca.reconstruct(x)
    assert set(scores) == {"rel_l2", "mse", "mse_per_channel"}
    assert scores["rel_l2"] == pytest.approx(_rel_l2(x, x_hat), rel=1e-5)
    assert scores["mse"] == pytest.approx(np.square(x_hat - x).mean(), rel=1e-5)
    expected = {
        c: np.square(x_hat - x)[..., i].mean() for i, c in enumerate(tiny_flow_data.channel_names)
    }
    assert scores["mse_per_channel"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n_components", [0, -3, 2.5])
def test_a_bad_component_count_is_refused(tiny_flow_data, n_components):
    with pytest.raises(ConfigError, match="n_components must be a positive integer"):
        fit_pca(tiny_flow_data, n_components)


# --- PCA of the augmented training set, truncation, persistence
# -------------------------------------


@pytest.fixture(scope="module")
def velocity_data(tmp_path_factory):
    """Noise with an offset on a 16 x 17 grid (x has an even and z an odd number of cells), channels
    temperature and a signed velocity_x whose physical zero is not the training mean."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(N_SIMS * N_FRAMES, 16, 17, 2)).astype(np.float32)
    values[..., 1] += 0.7
    path = write_original(
        tmp_path_factory.mktemp("pca") / "seed.h5",
        data=values,
        n_channels=2,
        channel_names=["temperature", "velocity_x"],
    )
    return load(path, seed=0)


def _enumerated_orbit(data, augment):
    """Every shift in x (and mirror image) of every training sample, listed one by one."""
    from hpo.augment import Augmentation

    maps = Augmentation.for_data(data, augment)
    x = data.train.arrays()
    n, n_x = len(x), x.shape[1]
    return np.concatenate(
        [
            maps.apply(x, np.full(n, s), np.full(n, m))
            for s in range(n_x if maps.shift else 1)
            for m in ((False, True) if maps.mirror else (False,))
        ]
    )


@pytest.mark.parametrize("augment", [("shift-x",), ("shift-x", "mirror-x"), ("mirror-x",)])
def test_augmented_pca_is_the_pca_of_the_enumerated_orbit(velocity_data, augment):
    from hpo.baseline import _fit_flat_pca

    orbit = _enumerated_orbit(velocity_data, augment)
    reference = _fit_flat_pca(orbit, 12)
    fitted = fit_pca(velocity_data, 12, augment=augment)
    assert fitted.augment == augment
    np.testing.assert_allclose(fitted.mean, reference.mean, atol=1e-5)
    # Same variances (the orbit's, population vs sample normalisation aside) ...
    variances = reference.explained_variance * (len(orbit) - 1) / len(orbit)
    scale = 1.0 if "shift-x" in augment else (len(orbit) - 1) / len(orbit)
    np.testing.assert_allclose(fitted.explained_variance * scale, variances, rtol=1e-4)
    np.testing.assert_allclose(fitted.components @ fitted.components.T, np.eye(12), atol=1e-5)
    # ... and the same subspace wherever k does not cut a pair of equal variances in two.
    for k in range(1, 12):
        if variances[k - 1] > variances[k] * (1 + 1e-4):
            a, b = fitted.truncate(k).components, reference.truncate(k).components
            np.testing.assert_allclose(a.T @ a, b.T @ b, atol=1e-4)


def test_augmented_pca_generalises_to_shifted_frames(tmp_path):
    # Travelling waves: training sees a few phases, validation and test others. PCA of the plain
    # training set misses the unseen phases; PCA of its shifts holds them all.
    rng = np.random.default_rng(0)
    n = N_SIMS * N_FRAMES
    x = np.arange(24)[None, :, None, None]
    phases = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 1))
    profile = rng.normal(size=(1, 1, 20, 3))
    values = (np.sin(2 * np.pi * 2 * x / 24 + phases) * profile).astype(np.float32)
    data = load(write_original(tmp_path / "waves.h5", data=values), seed=0)
    plain = fit_pca(data, 1).evaluate(data.test, data)["rel_l2"]
    shifted = fit_pca(data, 2, augment=("shift-x",)).evaluate(data.test, data)["rel_l2"]
    assert shifted < 1e-3 < plain  # two components (cos, sin) span every phase


def test_truncation_equals_fitting_fewer_components(tiny_flow_data):
    wide, narrow = fit_pca(tiny_flow_data, 9).truncate(4), fit_pca(tiny_flow_data, 4)
    assert wide.n_components == 4
    np.testing.assert_allclose(np.abs(wide.components @ narrow.components.T), np.eye(4), atol=1e-4)
    assert wide.evaluate(tiny_flow_data.val, tiny_flow_data)["rel_l2"] == pytest.approx(
        narrow.evaluate(tiny_flow_data.val, tiny_flow_data)["rel_l2"], rel=1e-5
    )


def test_persistence_and_persistence_through_pca(tiny_flow_data):
    from hpo.baseline import persistence

    split = tiny_flow_data.val
    x = np.asarray(split.arrays(), np.float64)
    t, t_next = split.next_step_pairs()
    scores = persistence(split, tiny_flow_data, batch_size=2)
    assert scores["rel_l2"] == pytest.approx(_rel_l2(x[t_next], x[t]), rel=1e-5)
    assert scores["mse"] == pytest.approx(np.square(x[t] - x[t_next]).mean(), rel=1e-5)
    pca = fit_pca(tiny_flow_data, 3)
    through = persistence(split, tiny_flow_data, pca)
    assert through["rel_l2"] == pytest.approx(_rel_l2(x[t_next], pca.reconstruct(x[t])), rel=1e-5)
