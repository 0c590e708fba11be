"""conv: convolutional autoencoder without pooling (strided Conv2D, Dense bottleneck, upsampling
    decoder).

    (H, W, C) -> pad -> Conv2D(filters_i, stride s_i) x n_layers     # (H/20, W/20, filters_{n-1})
    -> Flatten -> Dense(latent) -> Dense -> Reshape                  # (H/20, W/20, filters_{n-1})
    -> upsample by s_i and convolve (filters_i), i = n-1 .. 0 -> linear convolution (C) -> crop

The original study's first architecture; the others are variations of it.
"""

from __future__ import annotations

import keras

from hpo.architectures import blocks, register
from hpo.space import IntParam

SPACE = {
    "n_layers": IntParam(1, 3, default=3),  # the study's 1..3; strides per depth in blocks.STRIDES
    **blocks.LAYER_SPACE,
    **blocks.DECODER_SPACE,
    **blocks.BOUNDARY_SPACE,
    **blocks.CODE_SPACE,
    **blocks.TRAINING_SPACE,
}


@register("conv", space=SPACE)
def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """The convolutional autoencoder for complete `params` (see SPACE)."""
    return autoencoder(params, input_shape, dropout=0.0, name="conv")


def autoencoder(
    params: dict, input_shape: tuple[int, int, int], dropout: float, name: str
) -> keras.Model:
    """conv's model, with `dropout` after every encoder and decoder convolution (0: none)."""
    levels = blocks.levels(params)
    inputs = keras.Input(input_shape, name="frame")
    x, cropping = blocks.pad(inputs, periodic_x=levels[0].periodic_x)
    features = blocks.encode(x, levels, dropout)[-1]  # (batch, H/20, W/20, filters_{n-1})
    code = blocks.bottleneck(features, params["latent"], levels[-1])
    x = blocks.decode(
        code, features.shape[1:3], levels, input_shape[2], dropout, upsample=params["upsample"]
    )
    return keras.Model(inputs, blocks.crop(x, cropping, name="reconstruction"), name=name)
