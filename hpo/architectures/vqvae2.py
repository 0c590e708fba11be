"""vqvae2: VQ-VAE-2-style two-level autoencoder: a top code (deepest level), a bottom one (first
    level).

    encoder as in conv; levels 0 .. n-1                       # level 0: (H/s_0, W/s_0, filters_0)
    top:    deepest level -> Flatten -> Dense(latent_top)
    bottom: level 0 -> Conv2D(1, 1x1) -> Flatten -> Dense(latent_bottom)
    decoder as in conv from the top code; before the last upsampling it adds
            Dense(H/s_0 * W/s_0, linear)(bottom) -> Reshape (H/s_0, W/s_0, 1) -> Conv2D(filters_1,
            1x1)

Like VQ-VAE-2 the bottom code carries the fine, local structure and the top the global one; unlike
it, the codes are continuous (no vector quantisation), as in the original study. `latent` is split
between them: round(latent * latent_split) to the top, the rest to the bottom (each at least 1).
The 1x1 projections are linear. Two levels at least, so the first level is not the deepest.
"""

from __future__ import annotations

import keras
from keras import layers

from hpo.architectures import blocks, register
from hpo.errors import ConfigError
from hpo.space import FloatParam, IntParam

SPACE = {
    "n_layers": IntParam(2, 3, default=3),  # a bottom level distinct from the top one needs two
    **blocks.LAYER_SPACE,
    **blocks.DECODER_SPACE,
    **blocks.BOUNDARY_SPACE,
    **blocks.CODE_SPACE,
    # The top code's share; the original study's 25 + 25
    "latent_split": FloatParam(0.3, 0.7, default=0.5),
    **blocks.TRAINING_SPACE,
}


def split_latent(latent: int, latent_split: float) -> tuple[int, int]:
    """(top, bottom) sizes of a `latent` split with the top's share `latent_split`; both >= 1."""
    top = min(latent - 1, max(1, int(latent * latent_split + 0.5)))
    return top, latent - top


@register("vqvae2", space=SPACE)
def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """The two-level autoencoder for complete `params` (see SPACE)."""
    if params["latent"] < 2:
        raise ConfigError(
            f"vqvae2 splits the latent in two, so latent must be >= 2, but got {params['latent']}"
        )
    levels = blocks.levels(params)
    if len(levels) < 2:
        raise ConfigError(f"vqvae2 needs n_layers >= 2, but got {len(levels)}")
    top_size, bottom_size = split_latent(params["latent"], params["latent_split"])
    first = levels[0]

    inputs = keras.Input(input_shape, name="frame")
    x, cropping = blocks.pad(inputs, periodic_x=levels[0].periodic_x)
    features = blocks.encode(x, levels)
    top = blocks.bottleneck(features[-1], top_size, levels[-1], name="top_latent")

    grid = features[0].shape[1:3]  # (H/s_0, W/s_0)
    bottom = layers.Conv2D(
        1, 1, kernel_regularizer=blocks.regularizer(first.l2), name="bottom_project"
    )(features[0])  # (batch, H/s_0, W/s_0, 1)
    bottom = blocks.bottleneck(bottom, bottom_size, first, name="bottom_latent")
    bottom = layers.Dense(
        grid[0] * grid[1], kernel_regularizer=blocks.regularizer(first.l2), name="bottom_dense"
    )(bottom)
    bottom = layers.Reshape((grid[0], grid[1], 1), name="bottom_reshape")(bottom)
    bottom = layers.Conv2D(
        levels[1].filters, 1, kernel_regularizer=blocks.regularizer(first.l2), name="bottom_expand"
    )(bottom)  # (batch, H/s_0, W/s_0, filters_1)

    x = blocks.decode(
        top,
        features[-1].shape[1:3],
        levels,
        input_shape[2],
        before_last=bottom,
        upsample=params["upsample"],
    )
    return keras.Model(inputs, blocks.crop(x, cropping, name="reconstruction"), name="vqvae2")
