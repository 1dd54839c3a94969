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

from typing import Callable

import keras
import numpy as np
from keras import layers, ops
from numpy.typing import NDArray


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
    """During training, a random periodic shift, mirror of each spatial axis and swap of the
    last two spatial axes; inactive at inference.

    For a square slice these are its eight flips and quarter turns; for a cube, the sixteen
    mirrors and quarter turns about axis 0 that leave E along axis 0 unchanged
    (:func:`symmetric_images`). With a periodic cell and a square cross-section they leave the
    FE label unchanged, so they are exact augmentations.

    Parameters
    ----------
    seed : int
        Seed of the draws.
    per_sample : bool
        Draw a shift and symmetry for each image of a batch (the 3D route's networks, which
        learn from a few thousand cubes), instead of one for the whole batch (the 2D route's,
        which learn from 10,000 slices).
    """

    def __init__(self, seed: int = 0, per_sample: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.per_sample = bool(per_sample)
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        rank = len(x.shape)
        spatial, size = rank - 2, ops.shape(x)[1]
        draws = ops.shape(x)[0] if self.per_sample else 1
        shifts = keras.random.randint((draws, spatial), 0, size, seed=self.generator)
        coins = keras.random.uniform((draws, spatial + 1), seed=self.generator) < 0.5
        for axis in range(spatial):
            if self.per_sample:
                # Sample i rolled by shifts[i]: its element j comes from j − shift (mod size).
                index = (ops.arange(size)[None, :] - shifts[:, axis:axis + 1]) % size
                shape = [draws] + [1] * (rank - 1)
                shape[axis + 1] = size
                x = ops.take_along_axis(x, ops.reshape(index, shape), axis=axis + 1)
            else:
                x = ops.roll(x, shifts[0, axis], axis=axis + 1)
        chosen = lambda k: ops.reshape(coins[:, k], [draws] + [1] * (rank - 1))
        for axis in range(spatial):
            x = ops.where(chosen(axis), ops.flip(x, axis=axis + 1), x)
        swapped = list(range(rank))
        swapped[spatial - 1], swapped[spatial] = spatial, spatial - 1
        return ops.where(chosen(spatial), ops.transpose(x, swapped), x)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "per_sample": self.per_sample}


def symmetric_images(images: NDArray) -> list[NDArray]:
    """The images of a batch of square slices (N, a, a, C) or cubes (N, a, a, a, C) under the
    symmetries of their label: a slice's eight flips and quarter turns; a cube's sixteen
    mirrors and quarter turns about axis 0 (which leave E along axis 0 unchanged). The first
    is the batch itself.

    >>> import numpy as np
    >>> len(symmetric_images(np.zeros((1, 4, 4, 1)))), len(symmetric_images(np.zeros((1, 4, 4, 4, 1))))
    (8, 16)
    """
    spatial = images.ndim - 2
    if spatial not in (2, 3):
        raise ValueError(f"expected slices (N, a, a, C) or cubes (N, a, a, a, C), got shape {images.shape}")
    views = []
    for base in ([images] if spatial == 2 else [images, np.flip(images, axis=1)]):
        turns = [np.rot90(base, k, axes=(spatial - 1, spatial)) for k in range(4)]
        views += turns + [np.flip(turn, axis=spatial) for turn in turns]
    return views


def symmetric_mean(predict: Callable[[NDArray], NDArray], images: NDArray) -> NDArray[np.float64]:
    """The mean of ``predict`` (a batch → one value per image) over each image's
    :func:`symmetric_images`: a prediction exactly invariant to the symmetries of the label."""
    return np.mean([predict(np.ascontiguousarray(view)) for view in symmetric_images(images)],
                   axis=0).astype(np.float64)
