"""Circular padding in x for data periodic in x (a Rayleigh-Bénard box with periodic side walls).

Keras convolutions pad with zeros only. WrapX pads axis 1 (x) with the cells from the other end and
axis 2 (z) with zeros, so a convolution with padding="valid" after it sees the box as the flow does:

    x = WrapX(same_padding(200, 3, 2), same_padding(100, 3, 2))(x)   # (batch, 201, 101, C)
    x = layers.Conv2D(16, 3, strides=2, padding="valid")(x)           # (batch, 100, 50, 16)

`same_padding` gives the amounts that padding="same" would add (TensorFlow's convention, which
Keras follows on every backend), so the output shape, and every parameter count, is unchanged.
"""

from __future__ import annotations

import keras

from hpo.errors import ConfigError


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) that padding="same" adds along an axis of `size` cells."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package="hpo")
class WrapX(keras.layers.Layer):
    """Pad (batch, H, W, C): axis 1 circularly by `x_pad` = (before, after), axis 2 with zeros by
    `z_pad`."""

    def __init__(self, x_pad=(0, 0), z_pad=(0, 0), **kwargs):
        super().__init__(**kwargs)
        self.x_pad = tuple(int(n) for n in x_pad)
        self.z_pad = tuple(int(n) for n in z_pad)

    def build(self, input_shape):
        size = input_shape[1]
        if max(self.x_pad) > size:
            raise ConfigError(
                f"{self.name}: cannot wrap {max(self.x_pad)} cells around an x axis of {size}"
            )

    def call(self, x):
        before, after = self.x_pad
        size = x.shape[1]
        parts = [x[:, size - before :]] if before else []
        parts += [x] + ([x[:, :after]] if after else [])
        if len(parts) > 1:
            x = keras.ops.concatenate(parts, axis=1)
        if any(self.z_pad):
            x = keras.ops.pad(x, ((0, 0), (0, 0), self.z_pad, (0, 0)))
        return x

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        return (
            batch,
            None if h is None else h + sum(self.x_pad),
            None if w is None else w + sum(self.z_pad),
            c,
        )

    def get_config(self):
        return {**super().get_config(), "x_pad": self.x_pad, "z_pad": self.z_pad}
