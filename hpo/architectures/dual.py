"""dual: one encoder and code, two decoders: the input frame and the next time step of its
    simulation.

    encoder and bottleneck as in conv -> code
    code -> decoder (as in conv) -> "reconstruction"   (the frame itself; what dual is ranked on)
    code -> decoder (as in conv) -> "next_step"        (the frame one snapshot later)

The model has one input and a dict of two named outputs, so it trains as

    model.compile(optimizer="adam", loss={"reconstruction": "mse", "next_step": "mse"})
    model.fit(x, {"reconstruction": x, "next_step": x_next})

and `model.predict(x)` returns {"reconstruction": ..., "next_step": ...}. Each decoder has its own
Dense layer back to the feature map; only the code is shared, which is what forces it to hold the
dynamics as well as the frame.
"""

from __future__ import annotations

import keras

from hpo.architectures import blocks, register
from hpo.architectures.conv import SPACE as CONV_SPACE

SPACE = dict(CONV_SPACE)  # conv's knobs; both decoders mirror the same encoder levels

OUTPUTS = ("reconstruction", "next_step")


@register("dual", space=SPACE)
def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """The two-headed autoencoder for complete `params` (see SPACE)."""
    levels = blocks.levels(params)
    inputs = keras.Input(input_shape, name="frame")
    x, cropping = blocks.pad(inputs, periodic_x=levels[0].periodic_x)
    features = blocks.encode(x, levels)[-1]  # (batch, H/20, W/20, filters_{n-1})
    code = blocks.bottleneck(features, params["latent"], levels[-1])
    outputs = {}
    for head, prefix in zip(OUTPUTS, ("decoder", "next_step_decoder")):
        x = blocks.decode(
            code,
            features.shape[1:3],
            levels,
            input_shape[2],
            prefix=prefix,
            upsample=params["upsample"],
        )
        outputs[head] = blocks.crop(x, cropping, name=head)
    return keras.Model(inputs, outputs, name="dual")
