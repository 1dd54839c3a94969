"""Keras layers for images of a periodic cell, slices (N, a, b, C) or cubes (N, a, b, c, C).

The FE label of a periodic cell does not depend on where the cell starts, nor on the
mirrors and quarter turns that map the cell onto itself, so both routes' networks pad their
convolutions periodically (:class:`CircularPad`) and learn with those symmetries as free
augmentation (:class:`PeriodicAugment`).

Examples
--------
>>> import numpy as np
>>> cube = np.arange(8, dtype="float32").reshape(1, 2, 2, 2, 1)
>>> padded = np.asarray(CircularPad(1)(cube))
>>> padded.shape
(1, 4, 4, 4, 1)
>>> bool(np.array_equal(padded[0, ..., 0], np.pad(cube[0, ..., 0], 1, mode="wrap")))
True
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="bonelib")
class CircularPad(layers.Layer):
    """Pad every spatial axis periodically by ``width`` voxels (pixels) on each side."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)

    def call(self, x):
        w = self.width
        for axis in range(1, len(x.shape) - 1):
            head = [slice(None)] * axis
            x = ops.concatenate([x[(*head, slice(-w, None))], x, x[(*head, slice(None, w))]], axis=axis)
        return x

    def compute_output_shape(self, shape):
        grow = lambda n: None if n is None else n + 2 * self.width
        return (shape[0], *(grow(n) for n in shape[1:-1]), shape[-1])

    def get_config(self):
        return {**super().get_config(), "width": self.width}


@keras.saving.register_keras_serializable(package="bonelib")
class PeriodicAugment(layers.Layer):
    """During training, one random periodic shift, mirror of each spatial axis and swap of the
    last two spatial axes for each batch; inactive at inference.

    For a square slice these are its eight flips and quarter turns; for a cube, the sixteen
    mirrors and quarter turns about axis 0 that leave E along axis 0 unchanged. With a
    periodic cell and a square cross-section they leave the FE label unchanged, so they are
    exact augmentations.
    """

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        spatial = len(x.shape) - 2
        size = ops.shape(x)[1]
        shifts = keras.random.randint((spatial,), 0, size, seed=self.generator)
        for axis in range(spatial):
            x = ops.roll(x, shifts[axis], axis=axis + 1)
        coins = keras.random.uniform((spatial + 1,), seed=self.generator)
        for axis in range(spatial):
            x = ops.where(coins[axis] < 0.5, ops.flip(x, axis=axis + 1), x)
        swapped = list(range(len(x.shape)))
        swapped[spatial - 1], swapped[spatial] = spatial, spatial - 1
        return ops.where(coins[spatial] < 0.5, ops.transpose(x, swapped), x)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
