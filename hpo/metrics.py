"""Losses and metrics: Keras functions for `compile`, numpy sums for `evaluate`, and one set of
names.

Every value is in scaled units: each channel standardised with the training split's mean and std
(see hpo.data.scaling), so channels weigh alike whatever their physical units.

    rel_l2          ‖y − ŷ‖₂ / ‖y‖₂ per sample (over H, W, C), averaged over samples; models are
                    ranked on it (the original study's optimization target)
    mse             mean squared error over every value
    mse_<channel>   mean squared error of one channel ("mse_temperature")

Keras names the metrics of a multi-output model after the output (`val_reconstruction_rel_l2`);
`normalise` maps every epoch's logs to the names callers read, whatever the architecture:

    loss, val_loss                            the total loss (dual: both heads, weighted)
    rel_l2, mse, mse_<channel>, val_...       the reconstruction (the head models are ranked on)
    next_step_rel_l2, next_step_mse, val_...  the next-step head (two-headed models only)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from hpo.registry import LOSSES

# Guards only an all-zero target: a standardised field of H*W*C values has ‖y‖ ~ sqrt(H W C) >> 1.
EPSILON = 1e-12

# What screening ranks on, EarlyStopping monitors and Optuna prunes on, for every architecture.
RANKING_METRIC = "val_rel_l2"

# The output names models give their heads
RECONSTRUCTION, NEXT_STEP = "reconstruction", "next_step"


def _float32(y_true, y_pred):
    """Both in float32: under mixed precision (`--precision mixed_bfloat16`) a model's output is
    bfloat16, and Keras casts it for a loss but not for a metric function."""
    return keras.ops.cast(y_true, "float32"), keras.ops.cast(y_pred, "float32")


@keras.saving.register_keras_serializable(package="hpo")
def rel_l2(y_true, y_pred):
    """Relative L2 error of each sample, ‖y − ŷ‖₂ / (‖y‖₂ + EPSILON) over (H, W, C); shape
    (batch,)."""
    y_true, y_pred = _float32(y_true, y_pred)
    axes = tuple(range(1, len(y_true.shape)))
    error = keras.ops.sqrt(keras.ops.sum(keras.ops.square(y_pred - y_true), axis=axes))
    return error / (keras.ops.sqrt(keras.ops.sum(keras.ops.square(y_true), axis=axes)) + EPSILON)


@keras.saving.register_keras_serializable(package="hpo")
def mse(y_true, y_pred):
    """Mean squared error of each sample over (H, W, C); shape (batch,). Averaged: the overall
    MSE."""
    y_true, y_pred = _float32(y_true, y_pred)
    axes = tuple(range(1, len(y_true.shape)))
    return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=axes)


def _channel_mse(y_true, y_pred, channel: int):
    """Mean squared error of each sample over (H, W) of one channel; shape (batch,)."""
    y_true, y_pred = _float32(y_true, y_pred)
    return keras.ops.mean(
        keras.ops.square(y_pred[..., channel] - y_true[..., channel]), axis=(1, 2)
    )


@keras.saving.register_keras_serializable(package="hpo")
class ChannelMSE(keras.metrics.MeanMetricWrapper):
    """The mean squared error of one channel (last axis), named `mse_<channel name>`."""

    def __init__(self, channel: int, name: str, dtype=None):
        super().__init__(fn=_channel_mse, name=name, dtype=dtype, channel=channel)
        self.channel = channel

    def get_config(self) -> dict:
        return {"channel": self.channel, "name": self.name, "dtype": self.dtype}


def loss_function(name: str):
    """The per-sample Keras loss called `name` (hpo.registry.LOSSES); Keras averages it over the
    batch.

    Raises:
        ConfigError: an unknown name, with the choices.
    """
    return LOSSES.get(name)


def compile_arguments(
    heads: Sequence[str], channels: Sequence[str], loss: str, next_step_weight: float
) -> dict:
    """`loss`, `loss_weights` and `metrics` for `model.compile`, for a model with these output
    heads.

    Args:
        heads: ("reconstruction",) or ("reconstruction", "next_step").
        channels: channel names, in the order of the last axis (they name `mse_<channel>`).
        loss: a name of hpo.registry.LOSSES, used for every head.
        next_step_weight: the next-step head's share of the total loss (reconstruction's is 1).
    """
    reconstruction = [
        rel_l2,
        mse,
        *(ChannelMSE(i, f"mse_{name}") for i, name in enumerate(channels)),
    ]
    fn = loss_function(loss)
    if tuple(heads) == (RECONSTRUCTION,):
        return {"loss": fn, "metrics": reconstruction}
    if tuple(heads) != (RECONSTRUCTION, NEXT_STEP):
        raise ValueError(
            f"models have the heads ({RECONSTRUCTION},) or ({RECONSTRUCTION}, {NEXT_STEP}), "
            f"but this one has {tuple(heads)}"
        )
    return {
        "loss": {RECONSTRUCTION: fn, NEXT_STEP: fn},
        "loss_weights": {RECONSTRUCTION: 1.0, NEXT_STEP: float(next_step_weight)},
        "metrics": {RECONSTRUCTION: reconstruction, NEXT_STEP: [rel_l2, mse]},
    }


def normalise(logs: Mapping[str, float]) -> dict[str, float]:
    """One epoch's Keras logs under the names of the module docstring, for any architecture.

    A two-headed model's `reconstruction_` prefix is dropped (its `rel_l2` is the one models are
    ranked on); its per-head losses are left out (`loss` is their weighted sum); other keys pass.
    """
    named = {}
    for key, value in logs.items():
        stage, name = ("val_", key[4:]) if key.startswith("val_") else ("", key)
        if name in (f"{RECONSTRUCTION}_loss", f"{NEXT_STEP}_loss"):
            continue
        name = name.removeprefix(f"{RECONSTRUCTION}_")
        named[stage + name] = float(value)
    return named


class ErrorSums:
    """Sums over batches for the numpy twins of the Keras metrics (float64): what `evaluate`
    returns.

    sums = ErrorSums(data.channel_names)
    for x in split.batches(64, shuffle=False):
        sums.add(x, model.predict_on_batch(x))
    sums.result()   # {"rel_l2": ..., "mse": ..., "mse_per_channel": {"temperature": ...}}
    """

    def __init__(self, channels: Sequence[str]):
        self.channels = tuple(channels)
        self.n_samples = 0
        self.rel_l2_sum = 0.0
        self.squared_sum = np.zeros(len(self.channels))  # per channel
        self.n_per_channel = 0  # values summed in each channel

    def add(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Add a batch of targets and predictions, both (batch, H, W, C)."""
        y_true = np.asarray(y_true, np.float64)
        error = np.asarray(y_pred, np.float64) - y_true
        if error.shape != y_true.shape or error.shape[-1] != len(self.channels):
            raise ValueError(
                f"targets {y_true.shape} and predictions {np.shape(y_pred)} must agree and "
                f"have {len(self.channels)} channels"
            )
        n = len(y_true)
        norms = np.linalg.norm(y_true.reshape(n, -1), axis=1)
        self.rel_l2_sum += float(
            np.sum(np.linalg.norm(error.reshape(n, -1), axis=1) / (norms + EPSILON))
        )
        self.squared_sum += np.square(error).reshape(-1, len(self.channels)).sum(axis=0)
        self.n_samples += n
        self.n_per_channel += error.size // len(self.channels)

    def result(self) -> dict:
        """{"rel_l2": mean over samples, "mse": overall, "mse_per_channel": {channel: mse}}."""
        if self.n_samples == 0:
            raise ValueError("no samples were added")
        per_channel = self.squared_sum / self.n_per_channel
        return {
            "rel_l2": self.rel_l2_sum / self.n_samples,
            "mse": float(self.squared_sum.sum() / (self.n_per_channel * len(self.channels))),
            "mse_per_channel": {c: float(v) for c, v in zip(self.channels, per_channel)},
        }
