"""Layers and search-space entries shared by the architectures.

Every model follows one plan (the seed study's), which the architecture modules vary:

    input (H, W, C) -> zero-pad to a multiple of TOTAL_STRIDE -> encoder levels (strided convolutions)
    -> Flatten -> Dense(latent) -> Dense back to the deepest feature map -> Reshape
    -> decoder levels (Conv2DTranspose, the encoder mirrored) -> linear Conv2DTranspose(C)
    -> crop back to (H, W, C)

Strides: the total stride is 20 at every depth (the seed's [2, 2, 5]; [4, 5] with two levels, [20]
with one), so the deepest feature map is (H/20, W/20) whatever the depth: 10 x 5 on the seed's grid.
Keeping it fixed keeps the Dense bottleneck, by far the largest block, comparable across depths, which
the matched budgets rely on. A level's kernel is never smaller than its stride (kernel 3 becomes 5
under stride 5, 20 under stride 20): a smaller kernel would make the strided convolution skip cells
and leave holes in the transposed one. The Dense layers take the deepest level's activation and L2;
the output layer is linear and takes the first level's kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from hpo.errors import ConfigError
from hpo.space import Categorical, Fixed, FloatParam, IntParam, PerLayer

STRIDES = {1: (20,), 2: (4, 5), 3: (2, 2, 5)}  # per depth; see the module docstring
TOTAL_STRIDE = 20

# Per-layer knobs of every encoder level (the decoder mirrors them), with the original study's ranges.
# Defaults are the seed's choices where they lie in range (its first level had 3 filters, below 4).
LAYER_SPACE = {
    "filters": PerLayer(IntParam(4, 128, log=True), default=(4, 9, 27)),
    "kernel": PerLayer(Categorical([3, 5], default=5)),
    "activation": PerLayer(Categorical(["relu", "elu", "tanh", "linear"], default="tanh")),
    "l2": PerLayer(FloatParam(1e-7, 1e-3, log=True, default=1e-7)),  # the seed had none; 1e-7 ~ none
}

# The two knobs every architecture shares, so that architectures can be matched: the latent size and
# a multiplier on every width (solved by hpo.sizing for matched budgets, 1.0 when searching widths).
CODE_SPACE = {
    "latent": IntParam(5, 150, default=50),
    "width": Fixed(1.0),
}

# Read by training, ignored by build.
TRAINING_SPACE = {
    "learning_rate": FloatParam(1e-5, 1e-2, log=True, default=1e-3),  # Adam's default
    "batch_size": IntParam(2, 32, default=8),  # the geometric middle of the study's 2..32
}


@dataclass(frozen=True)
class Level:
    """One encoder level (and the decoder layer that mirrors it), with widths already scaled."""

    filters: int
    kernel: int
    stride: int
    activation: str
    l2: float


def scale(width: float, base: int) -> int:
    """`base` channels times the width multiplier, rounded half up, at least one."""
    return max(1, int(width * base + 0.5))


def levels(params: dict) -> list[Level]:
    """The encoder levels described by complete params (`n_layers`, `filters_i`, `kernel_i`, ...)."""
    n_layers = params["n_layers"]
    if n_layers not in STRIDES:
        raise ConfigError(f"n_layers must be one of {sorted(STRIDES)}, but got {n_layers}")
    return [
        Level(filters=scale(params["width"], params[f"filters_{i}"]),
              kernel=max(params[f"kernel_{i}"], stride),
              stride=stride,
              activation=params[f"activation_{i}"],
              l2=params[f"l2_{i}"])
        for i, stride in enumerate(STRIDES[n_layers])
    ]


def pad(x, multiple: int = TOTAL_STRIDE):
    """Zero-pad (H, W) up to multiples of `multiple`, split evenly; return (x, cropping to undo it)."""
    height, width = x.shape[1], x.shape[2]
    extra_h, extra_w = -height % multiple, -width % multiple
    cropping = ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2))
    if extra_h or extra_w:
        x = layers.ZeroPadding2D(cropping, name="pad")(x)
    return x, cropping


def crop(x, cropping, name: str):
    """Undo `pad`; always a layer, so every model's output layer carries its head's name."""
    return layers.Cropping2D(cropping, name=name)(x)


def encode(x, levels: list[Level], dropout: float = 0.0) -> list:
    """Strided Conv2D levels; returns every level's output (vqvae2 taps the first)."""
    outputs = []
    for i, level in enumerate(levels):
        x = layers.Conv2D(level.filters, level.kernel, strides=level.stride, padding="same",
                          activation=level.activation, kernel_regularizer=regularizer(level.l2),
                          name=f"encoder_{i}")(x)
        x = _dropout(x, dropout, f"encoder_{i}_dropout")
        outputs.append(x)  # (batch, H/s_0.../s_i, W/..., filters_i)
    return outputs


def bottleneck(x, latent: int, level: Level, name: str = "latent"):
    """Flatten -> Dense(latent) with the deepest level's activation: the code."""
    x = layers.Flatten(name=f"{name}_flatten")(x)
    return layers.Dense(latent, activation=level.activation, kernel_regularizer=regularizer(level.l2),
                        name=name)(x)  # (batch, latent)


def decode(code, grid: tuple[int, int], levels: list[Level], channels: int, dropout: float = 0.0,
           before_last=None, prefix: str = "decoder"):
    """Dense back to the deepest feature map, then the encoder's levels mirrored, then a linear output.

    Args:
        code: the latent code, (batch, latent).
        grid: (h, w) of the deepest feature map.
        levels: the encoder levels; the decoder walks them from deepest to first.
        channels: output channels (the input's C).
        dropout: rate after every transposed convolution but the output (0: none).
        before_last: a tensor added to the main path before the last upsampling (vqvae2's bottom
            code), shaped like the first level's output with the second level's filters.
        prefix: layer-name prefix, distinct per decoder (dual has two).
    """
    deepest = levels[-1]
    x = layers.Dense(grid[0] * grid[1] * deepest.filters, activation=deepest.activation,
                     kernel_regularizer=regularizer(deepest.l2), name=f"{prefix}_dense")(code)
    x = layers.Reshape((grid[0], grid[1], deepest.filters), name=f"{prefix}_reshape")(x)
    for j, level in enumerate(reversed(levels)):
        if before_last is not None and j == len(levels) - 1:
            x = layers.Add(name=f"{prefix}_add_bottom")([x, before_last])
        x = layers.Conv2DTranspose(level.filters, level.kernel, strides=level.stride, padding="same",
                                   activation=level.activation, kernel_regularizer=regularizer(level.l2),
                                   name=f"{prefix}_{j}")(x)
        x = _dropout(x, dropout, f"{prefix}_{j}_dropout")
    return layers.Conv2DTranspose(channels, levels[0].kernel, padding="same", activation=None,
                                  kernel_regularizer=regularizer(levels[0].l2),
                                  name=f"{prefix}_output")(x)  # (batch, padded H, padded W, C)


def regularizer(factor: float):
    """An L2 kernel regularizer, or None for a factor of 0."""
    # l2 = 0 (the seed presets) means no regularizer at all, not a zero-weighted one.
    return keras.regularizers.L2(factor) if factor else None


def _dropout(x, rate: float, name: str):
    return layers.Dropout(rate, name=name)(x) if rate else x
