"""conv_dropout: `conv` with Dropout after every encoder and decoder convolution.

The output convolution and the Dense bottleneck get none: dropping code units or output pixels would
only add noise to the reconstruction the model is ranked on.
"""

from __future__ import annotations

import keras

from hpo.architectures import blocks, register
from hpo.architectures.conv import autoencoder
from hpo.space import FloatParam, IntParam

SPACE = {
    "n_layers": IntParam(1, 3, default=3),
    **blocks.LAYER_SPACE,
    # The original study's 0.2; above 0.5 the AE mostly denoises
    "dropout": FloatParam(0.0, 0.5, default=0.2),
    **blocks.DECODER_SPACE,
    **blocks.BOUNDARY_SPACE,
    **blocks.CODE_SPACE,
    **blocks.TRAINING_SPACE,
}


@register("conv_dropout", space=SPACE)
def build(params: dict, input_shape: tuple[int, int, int]) -> keras.Model:
    """conv's model with `params["dropout"]` after each convolution but the output."""
    return autoencoder(params, input_shape, dropout=params["dropout"], name="conv_dropout")
