"""depthwise: an encoder of DepthwiseConv2D levels, so each physical channel gets its own filters.

    (H, W, C) -> pad -> DepthwiseConv2D(depth_multiplier m_i, stride s_i) x n_layers
                                                         # (H/20, W/20, C * m_0 * ... * m_{n-1})
    -> Flatten -> Dense(latent) -> decoder as in conv, with widths filters_i

The channels (u, w, T) never mix before the bottleneck. The `filters_i` are the decoder's widths
(the encoder's are set by the multipliers), and `width` scales only them: multipliers are small
integers whose product moves the encoder's size in jumps too coarse to match a budget.
"""

from __future__ import annotations

import keras
from keras import layers

from hpo.architectures import blocks, register
from hpo.space import IntParam, PerLayer

SPACE = {
    "n_layers": IntParam(1, 3, default=3),
    # The original study's 3; 4^3 = 64 per channel
    "depth_multiplier": PerLayer(IntParam(1, 4), default=(3,)),
    **blocks.LAYER_SPACE,
    **blocks.DECODER_SPACE,
    **blocks.BOUNDARY_SPACE,
    **blocks.CODE_SPACE,
    **blocks.TRAINING_SPACE,
}


@register("depthwise", space=SPACE)
def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """The depthwise-encoder autoencoder for complete `params` (see SPACE)."""
    levels = blocks.levels(params)
    inputs = keras.Input(input_shape, name="frame")
    x, cropping = blocks.pad(inputs, periodic_x=levels[0].periodic_x)
    for i, level in enumerate(levels):
        x, padding = blocks.boundary(
            x, level.kernel, level.stride, level.periodic_x, f"encoder_{i}"
        )
        x = layers.DepthwiseConv2D(
            level.kernel,
            strides=level.stride,
            padding=padding,
            depth_multiplier=params[f"depth_multiplier_{i}"],
            activation=blocks.conv_activation(level),
            depthwise_regularizer=blocks.regularizer(level.l2),
            name=f"encoder_{i}",
        )(x)  # channels times m_i
        x = blocks.normalise(x, level, f"encoder_{i}")
    code = blocks.bottleneck(x, params["latent"], levels[-1])
    x = blocks.decode(code, x.shape[1:3], levels, input_shape[2], upsample=params["upsample"])
    return keras.Model(inputs, blocks.crop(x, cropping, name="reconstruction"), name="depthwise")
