"""Layers and search-space entries shared by the architectures.

Every model follows one plan (the original study's), which the architecture modules vary:

    input (H, W, C) -> zero-pad to a multiple of TOTAL_STRIDE -> encoder levels (strided
    convolutions) -> Flatten -> Dense(latent) -> Dense back to the deepest feature map -> Reshape
    -> decoder levels (the encoder mirrored; upsampling by `upsample`) -> linear output conv (C)
    -> crop back to (H, W, C)

Strides: the total stride is 20 at every depth (the original study's [2, 2, 5]; [4, 5] with two
levels, [20] with one), so the deepest feature map is (H/20, W/20) whatever the depth: 10 x 5 on the
original study's grid. Keeping it fixed keeps the Dense bottleneck, by far the largest block,
comparable across depths, which the matched budgets rely on. A level's kernel is never smaller than
its stride (kernel 3 becomes 5 under stride 5, 20 under stride 20): a smaller kernel would make the
strided convolution skip cells and leave holes in the transposed one. The Dense layers take the
deepest level's activation and L2; the output layer is linear and takes the first level's kernel.

The recipe knobs (searched like the rest; the original preset sets the original recipe explicitly):
- `activation_i`: also gelu and silu, smooth and non-saturating where tanh saturates.
- `norm_i`: none, group (GroupNormalization, the largest divisor of the level's channels up to
  MAX_GROUPS groups) or layer (GroupNormalization with one group: mean and variance over the whole
  feature map, as Wu & He define layer norm for convolutions), between each convolution and its
  activation, in the encoder and the mirrored decoder level alike. Never on the Dense code.
- `upsample`: the decoder's upsampling. transpose: a strided Conv2DTranspose (the original study's;
  its kernel overlaps unevenly when it is not a multiple of the stride, which prints a checkerboard
  on the output, Odena et al. 2016); resize: bilinear UpSampling2D by the stride, then a Conv2D with
  the level's own kernel (3 or 5, no longer raised to the stride) and a Conv2D output layer.
- `periodic_x`: circular padding in x (axis 1) for data periodic in x, zeros in z as before. Every
  convolution, the bilinear resize and the padding to a multiple of the stride then wrap around x,
  so a feature leaving the box on the right enters on the left, as the flow does. Same shapes and
  parameter counts as zero padding. Fixed off in the declared spaces; switched on where the data
  declare the shift symmetry (hpo.augment: a box periodic in x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import keras
from keras import layers

from hpo.architectures.periodic import WrapX, same_padding
from hpo.errors import ConfigError
from hpo.schedules import SCHEDULES
from hpo.space import Categorical, Fixed, FloatParam, IntParam, PerLayer

STRIDES = {1: (20,), 2: (4, 5), 3: (2, 2, 5)}  # per depth; see the module docstring
TOTAL_STRIDE = 20

ACTIVATIONS = ("relu", "elu", "tanh", "linear", "gelu", "silu")
NORMS = ("none", "group", "layer")
UPSAMPLING = ("transpose", "resize")
MAX_GROUPS = 8  # group norm: at most 8 groups (a level has 3-60 channels at the matched budgets)

# The default recipe: what the matched preset trains and the spaces default to, chosen by
# measurement on the quick embedded data (conv and dual, latents 8 and 16, 30 epochs at rate 1e-3;
# README, "The training recipe"): with tanh the models stall at validation rel_l2 0.77 with either
# schedule; gelu or silu with resize-then-convolve reach 0.57-0.64 (strided transposed convolutions
# 0.70-0.77 at this rate); group/layer norm and reduce-on-plateau do not help consistently; 3x3
# kernels do as well as 5x5 at ~0.65x the multiply-adds on 200 x 100. The original preset keeps
# ORIGINAL_RECIPE.
RECIPE = {
    "activation": "gelu",
    "norm": "none",
    "upsample": "resize",
    "schedule": "cosine",
    "kernel": 3,
    "weight_decay": 0.0,
}
ORIGINAL_RECIPE = {
    "activation": "tanh",
    "norm": "none",
    "upsample": "transpose",
    "schedule": "constant",
    "kernel": 5,
    "weight_decay": 0.0,
}

# Per-layer knobs of every encoder level (the decoder mirrors them), with the original study's
# ranges. Defaults are the original study's choices where they lie in range (its first level had 3
# filters, below 4), and the default recipe's.
LAYER_SPACE = {
    "filters": PerLayer(IntParam(4, 128, log=True), default=(4, 9, 27)),
    "kernel": PerLayer(Categorical([3, 5], default=RECIPE["kernel"])),
    "activation": PerLayer(Categorical(ACTIVATIONS, default=RECIPE["activation"])),
    "norm": PerLayer(Categorical(NORMS, default=RECIPE["norm"])),
    # The original study had none; 1e-7 ~ none
    "l2": PerLayer(FloatParam(1e-7, 1e-3, log=True, default=1e-7)),
}

# The decoder's upsampling, one choice for all its levels.
DECODER_SPACE = {
    "upsample": Categorical(UPSAMPLING, default=RECIPE["upsample"]),
}

# The two knobs every architecture shares, so that architectures can be matched: the latent size and
# a multiplier on every width (solved by hpo.sizing for matched budgets, 1.0 when searching widths).
CODE_SPACE = {
    "latent": IntParam(5, 150, default=50),
    "width": Fixed(1.0),
}

# How every convolution treats the box's ends in x (see the module docstring); build reads it.
BOUNDARY_SPACE = {
    "periodic_x": Fixed(False),
}

# Read by training, ignored by build.
TRAINING_SPACE = {
    "learning_rate": FloatParam(1e-5, 1e-2, log=True, default=1e-3),  # Adam's default
    "batch_size": IntParam(2, 32, default=8),  # the geometric middle of the study's 2..32
    "schedule": Categorical(SCHEDULES, default=RECIPE["schedule"]),  # see hpo.schedules
    # AdamW's decoupled weight decay (0: plain Adam; hpo.training). Not searched: Keras, like
    # PyTorch, multiplies it by the learning rate, so at 1e-3 over the ~3,000 steps of a 30-epoch
    # run on the default data even 1e-2 left conv's validation rel_l2 unchanged in its 4th digit
    # (bench.recipe), a knob that only dilutes a search. A --space file may set it
    # (`weight_decay = 0.5`).
    "weight_decay": Fixed(RECIPE["weight_decay"]),
    # Symmetry augmentation (hpo.augment): fixed off here, so no study shifts a user's field that is
    # not periodic; hpo.augment.searchable(space, symmetries) searches the ones the data allow.
    "shift_x": Fixed(False),
    "mirror_x": Fixed(False),
}


@dataclass(frozen=True)
class Level:
    """One encoder level (and the decoder layer that mirrors it), with widths already scaled."""

    filters: int
    kernel: int  # the strided convolutions': never below the stride
    stride: int
    activation: str
    l2: float
    norm: str = "none"
    resize_kernel: int = 5  # the resize decoder's convolution: the declared kernel, any stride
    periodic_x: bool = False  # circular padding in x (BOUNDARY_SPACE)


def scale(width: float, base: int) -> int:
    """`base` channels times the width multiplier, rounded half up, at least one."""
    return max(1, int(width * base + 0.5))


def levels(params: dict) -> list[Level]:
    """The encoder levels described by complete params (`n_layers`, `filters_i`, `kernel_i`,
    ...)."""
    n_layers = params["n_layers"]
    if n_layers not in STRIDES:
        raise ConfigError(f"n_layers must be one of {sorted(STRIDES)}, but got {n_layers}")
    return [
        Level(
            filters=scale(params["width"], params[f"filters_{i}"]),
            kernel=max(params[f"kernel_{i}"], stride),
            stride=stride,
            activation=params[f"activation_{i}"],
            l2=params[f"l2_{i}"],
            norm=params.get(f"norm_{i}", "none"),
            resize_kernel=params[f"kernel_{i}"],
            periodic_x=bool(params.get("periodic_x", False)),
        )
        for i, stride in enumerate(STRIDES[n_layers])
    ]


def pad(x, multiple: int = TOTAL_STRIDE, periodic_x: bool = False):
    """Pad (H, W) up to multiples of `multiple`, split evenly (zeros; wrapped in x when
    `periodic_x`); return (x, cropping to undo it)."""
    height, width = x.shape[1], x.shape[2]
    extra_h, extra_w = -height % multiple, -width % multiple
    cropping = ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2))
    if periodic_x and (extra_h or extra_w):
        x = WrapX(cropping[0], cropping[1], name="pad")(x)
    elif extra_h or extra_w:
        x = layers.ZeroPadding2D(cropping, name="pad")(x)
    return x, cropping


def crop(x, cropping, name: str):
    """Undo `pad`; always a layer, so every model's output layer carries its head's name. In
    float32 whatever the precision: a mixed-precision model hands on full-precision fields."""
    return layers.Cropping2D(cropping, name=name, dtype="float32")(x)


def encode(x, levels: list[Level], dropout: float = 0.0) -> list:
    """Strided Conv2D levels; returns every level's output (vqvae2 taps the first)."""
    outputs = []
    for i, level in enumerate(levels):
        x, padding = boundary(x, level.kernel, level.stride, level.periodic_x, f"encoder_{i}")
        x = layers.Conv2D(
            level.filters,
            level.kernel,
            strides=level.stride,
            padding=padding,
            activation=conv_activation(level),
            kernel_regularizer=regularizer(level.l2),
            name=f"encoder_{i}",
        )(x)
        x = normalise(x, level, f"encoder_{i}")
        x = _dropout(x, dropout, f"encoder_{i}_dropout")
        outputs.append(x)  # (batch, H/s_0.../s_i, W/..., filters_i)
    return outputs


def bottleneck(x, latent: int, level: Level, name: str = "latent"):
    """Flatten -> Dense(latent) with the deepest level's activation: the code."""
    x = layers.Flatten(name=f"{name}_flatten")(x)
    return layers.Dense(
        latent, activation=level.activation, kernel_regularizer=regularizer(level.l2), name=name
    )(x)  # (batch, latent)


def decode(
    code,
    grid: tuple[int, int],
    levels: list[Level],
    channels: int,
    dropout: float = 0.0,
    before_last=None,
    prefix: str = "decoder",
    upsample: str = "transpose",
):
    """Dense back to the deepest feature map, then the encoder's levels mirrored, then a linear
    output.

    Args:
        code: the latent code, (batch, latent).
        grid: (h, w) of the deepest feature map.
        levels: the encoder levels; the decoder walks them from deepest to first.
        channels: output channels (the input's C).
        dropout: rate after every transposed convolution but the output (0: none).
        before_last: a tensor added to the main path before the last upsampling (vqvae2's bottom
            code), shaped like the first level's output with the second level's filters.
        prefix: layer-name prefix, distinct per decoder (dual has two).
        upsample: "transpose" (strided Conv2DTranspose) or "resize" (bilinear UpSampling2D, Conv2D).
    """
    if upsample not in UPSAMPLING:
        raise ConfigError(f"upsample must be one of {', '.join(UPSAMPLING)}, but got {upsample!r}")
    deepest = levels[-1]
    x = layers.Dense(
        grid[0] * grid[1] * deepest.filters,
        activation=deepest.activation,
        kernel_regularizer=regularizer(deepest.l2),
        name=f"{prefix}_dense",
    )(code)
    x = layers.Reshape((grid[0], grid[1], deepest.filters), name=f"{prefix}_reshape")(x)
    for j, level in enumerate(reversed(levels)):
        if before_last is not None and j == len(levels) - 1:
            x = layers.Add(name=f"{prefix}_add_bottom")([x, before_last])
        if upsample == "transpose":
            x = upsample_transposed(
                x,
                layers.Conv2DTranspose(
                    level.filters,
                    level.kernel,
                    strides=level.stride,
                    padding="same",
                    activation=conv_activation(level),
                    kernel_regularizer=regularizer(level.l2),
                    name=f"{prefix}_{j}",
                ),
                level,
            )
        else:
            x = resize_and_convolve(
                x,
                level,
                layers.Conv2D(
                    level.filters,
                    level.resize_kernel,
                    padding="same",
                    activation=conv_activation(level),
                    kernel_regularizer=regularizer(level.l2),
                    name=f"{prefix}_{j}",
                ),
            )
        x = normalise(x, level, f"{prefix}_{j}")
        x = _dropout(x, dropout, f"{prefix}_{j}_dropout")
    first = levels[0]
    if upsample == "transpose":
        output = layers.Conv2DTranspose(
            channels,
            first.kernel,
            padding="same",
            activation=None,
            kernel_regularizer=regularizer(first.l2),
            name=f"{prefix}_output",
            dtype="float32",  # the output in full precision under mixed precision too
        )
        return upsample_transposed(x, output, replace(first, stride=1))  # (batch, H, W, C) padded
    x, padding = boundary(x, first.resize_kernel, 1, first.periodic_x, f"{prefix}_output")
    return layers.Conv2D(
        channels,
        first.resize_kernel,
        padding=padding,
        activation=None,
        kernel_regularizer=regularizer(first.l2),
        name=f"{prefix}_output",
        dtype="float32",
    )(x)  # (batch, padded H, padded W, C)


def boundary(x, kernel: int, stride: int, periodic_x: bool, name: str):
    """What a convolution needs at the box's ends: (x, "same") for zero padding, or (x wrapped in x
    and zero-padded in z as "same" would, "valid") for periodic x, with the same output shape."""
    if not periodic_x:
        return x, "same"
    x_pad = same_padding(x.shape[1], kernel, stride)
    z_pad = same_padding(x.shape[2], kernel, stride)
    return WrapX(x_pad, z_pad, name=f"{name}_wrap")(x), "valid"


def resize_and_convolve(x, level: Level, conv):
    """Bilinear upsampling by the level's stride, then `conv` (padding "same").

    For periodic x, on the input wrapped by as few cells as make every kept output exact: the
    resize of the wrapped input is the periodic resize away from its ends, `conv` reads at most
    kernel // 2 cells further, and what the ends spoil is cut off (one cheap low-resolution copy
    and one crop, where wrapping each of the two full-resolution steps measured 1.8x the step
    time of the whole model on 2 cores)."""
    name = conv.name
    resize = layers.UpSampling2D(level.stride, interpolation="bilinear", name=f"{name}_resize")
    if not level.periodic_x:
        return conv(resize(x))
    reach, stride = level.resize_kernel // 2, level.stride
    # Output cell q of the wrapped resize is exact where it interpolates between input cells,
    # q >= (stride - 1) / 2 from the end; the kept cells' convolution reaches `reach` beyond them.
    wrap = math.ceil((reach + (stride - 1) / 2) / stride)
    x = WrapX((wrap, wrap), (0, 0), name=f"{name}_resize_wrap")(x)
    cut = wrap * stride
    return layers.Cropping2D(((cut, cut), (0, 0)), name=f"{name}_crop")(conv(resize(x)))


def upsample_transposed(x, layer, level: Level):
    """A transposed convolution ("same"); for periodic x, on the input wrapped by as many cells as
    its kernel reaches, with their outputs cut off again."""
    if not level.periodic_x:
        return layer(x)
    reach = -(-level.kernel // level.stride)  # input cells one output cell hears from
    x = WrapX((reach, reach), (0, 0), name=f"{layer.name}_wrap")(x)
    cut = reach * level.stride
    return layers.Cropping2D(((cut, cut), (0, 0)), name=f"{layer.name}_crop")(layer(x))


def conv_activation(level: Level):
    """The convolution's own activation: the level's, unless a normalisation comes between them."""
    return level.activation if level.norm == "none" else None


def normalise(x, level: Level, name: str):
    """The level's normalisation and then its activation (nothing when norm is "none": the
    convolution applied the activation itself, so the original study's models keep their exact
    layers)."""
    if level.norm == "none":
        return x
    if level.norm not in NORMS:
        raise ConfigError(f"norm must be one of {', '.join(NORMS)}, but got {level.norm!r}")
    channels = x.shape[-1]
    groups = (
        1
        if level.norm == "layer"
        else max(d for d in range(1, min(MAX_GROUPS, channels) + 1) if channels % d == 0)
    )
    x = layers.GroupNormalization(groups, name=f"{name}_norm")(x)
    return layers.Activation(level.activation, name=f"{name}_activation")(x)


def regularizer(factor: float):
    """An L2 kernel regularizer, or None for a factor of 0."""
    # l2 = 0 (the original presets) means no regularizer at all, not a zero-weighted one.
    return keras.regularizers.L2(factor) if factor else None


def _dropout(x, rate: float, name: str):
    return layers.Dropout(rate, name=name)(x) if rate else x
