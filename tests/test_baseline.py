"""The PCA baseline: fitted on the training split only, exact at the data's rank, better with more
components, scored like the autoencoders."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.baseline import fit_pca
from hpo.data import load
from hpo.errors import ConfigError

from conftest import N_FRAMES, N_SIMS, write_seed

GRID, N_CHANNELS = (24, 20), 3


def _low_rank(rank: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(N_SIMS * N_FRAMES, 24, 20, 3): a fixed field plus `rank` patterns with random weights (+ noise).

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
    data = load(write_seed(tmp_path / "a.h5", data=values.copy()))
    changed = values.copy()
    changed[data.test.indices] = changed[data.test.indices] * 10.0 + 5.0
    other = load(write_seed(tmp_path / "b.h5", data=changed))
    first, second = fit_pca(data, 3), fit_pca(other, 3)
    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.components, second.components)
    # The change did reach the test split: its scores differ.
    assert first.evaluate(data.test, data)["mse"] != pytest.approx(second.evaluate(other.test, other)["mse"])


def test_more_components_reconstruct_better(tmp_path):
    data = load(write_seed(tmp_path / "seed.h5", data=_low_rank(4, noise=0.05)))
    val = [fit_pca(data, k).evaluate(data.val, data)["rel_l2"] for k in (1, 2, 3, 4)]
    train = [fit_pca(data, k).evaluate(data.train, data)["rel_l2"] for k in (1, 2, 3, 4, 8)]
    assert all(a > b for a, b in zip(val, val[1:])), val
    assert all(a > b for a, b in zip(train, train[1:])), train


def test_reconstruction_is_exact_once_components_reach_the_rank(tmp_path):
    data = load(write_seed(tmp_path / "seed.h5", data=_low_rank(3)))
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
    expected = {c: np.square(x_hat - x)[..., i].mean() for i, c in enumerate(tiny_flow_data.channel_names)}
    assert scores["mse_per_channel"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n_components", [0, -3, 2.5])
def test_a_bad_component_count_is_refused(tiny_flow_data, n_components):
    with pytest.raises(ConfigError, match="n_components must be a positive integer"):
        fit_pca(tiny_flow_data, n_components)
