"""CNNs that predict the effective modulus of a slice (paper section 2.3).

Both models take a calibrated image of shape (182, 182, 1), so that a model transfers
between scanners, and return E_eff in MPa. The paper's network takes ρ_HA (mg HA/cm³); the
improved network takes the tissue modulus map of the FE model (GPa): ρ_HA smoothed as the
label smooths it, through Eq. 1. The modulus jumps from marrow (10 kPa) to about 3.9 GPa at
the bone threshold; a network given ρ_HA has to learn that step from noisy grey values, one
given the modulus map only has to learn the homogenisation. The name of a model's input
layer says which input it takes (:data:`INPUT_KINDS`).

:func:`paper_model` follows the paper; where it is silent we chose, and say so:

- 8 convolutions 3 × 3 in four blocks of two, filters 16, 32, 64, 128 (not given);
- each convolution followed by batch normalisation and ReLU (activation not given);
- 2 × 2 max pooling after each block, 20 % dropout after each pooling (as in the paper);
- 4 fully connected layers: 256, 128, 64 ReLU units (not given) and the output;
- input standardised with the training set's mean and variance (not given);
- output in MPa through a fixed ×1000 scale, so that the last layer works in GPa;
- loss: mean absolute error in MPa (Eq. 6); Adam, learning rate 10⁻³ (optimiser not given);
  batch 128, 200 epochs.

:func:`improved_model` uses what the physics guarantees. The FE label is exactly invariant
under periodic shifts, flips and 90° rotations of the image (the cell is periodic), so:
circular padding in every convolution; global average pooling (no position dependence);
random periodic shifts, flips and rotations as free augmentation during training; and,
at prediction, the average over the eight flips and rotations, which makes the prediction
exactly invariant to them. A strided stem (182 → 91 px) keeps it cheap on a CPU; four
stride-2 stages give a receptive field (≈ 185 px) that spans the whole periodic cell, since
whether a strut carries load depends on connections across the cell. It learns log E with
an absolute-error loss, i.e. the relative error that RPE measures, with Adam on a cosine
learning-rate decay over the run.

Both networks use batch normalisation, whose running statistics (used at inference) lag
behind the weights while they change: at paper scale this biased the improved network's
predictions by about −17 % (mean |log error| 0.19 at inference against 0.08 with batch
statistics). :func:`bonelib.learn.train.recalibrate_batch_norm` re-estimates them with the current weights
("precise BN"); training does so before every validation, so that validation, the choice of
the best epoch and the saved model all use statistics that match the weights.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.constants import SLICE_PX
from bonelib.imaging.density import Calibration, check_calibration, material_maps
from bonelib.learn.layers import CircularPad, PeriodicAugment, symmetric_mean

#: Shape of one input image: (rows, cols, channels).
INPUT_SHAPE = (SLICE_PX, SLICE_PX, 1)
#: The inputs a network can take (the name of its input layer): ρ_HA (mg HA/cm³) or the
#: FE tissue modulus (GPa).
INPUT_KINDS = ("rho_ha", "modulus_gpa")


def inputs(grey: ArrayLike, calibration: Calibration, kind: str = "rho_ha") -> NDArray[np.float32]:
    """The networks' input in float32, shape (N, rows, cols, 1), from grey values.

    The one input step of every route (training, evaluation, ``bonelib predict``).

    Parameters
    ----------
    grey : array_like
        (N, rows, cols) or (N, rows, cols, 1) grey values.
    calibration : Calibration
        Grey value → mg HA/cm³.
    kind : {"rho_ha", "modulus_gpa"}
        ``"rho_ha"``: the calibrated grey values (mg HA/cm³); ``"modulus_gpa"``: the tissue
        modulus map of the FE label (GPa), i.e. ρ_HA smoothed with periodic edges
        (:func:`bonelib.slices.label.density_map`) through Eq. 1.
    """
    from bonelib.slices.label import density_map

    check_calibration(calibration)
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    images = finite_array(grey, "grey", ndim=(3, 4))
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"grey must have one channel, got shape {images.shape}")
        images = images[..., 0]
    if kind == "rho_ha":
        rho_ha = calibration.slope * images.astype(np.float32, copy=False) + calibration.intercept
        return rho_ha[..., None]
    moduli = np.stack([material_maps(density_map(image, calibration), check_input=False)[0] for image in images])
    return (moduli / 1000.0).astype(np.float32)[..., None]


def input_kind(model: keras.Model) -> str:
    """Which input a model takes (one of :data:`INPUT_KINDS`), from the name of its input layer."""
    name = model.layers[0].name
    if name not in INPUT_KINDS:
        raise ValueError(f"model {model.name!r} takes an input called {name!r}, not one of {INPUT_KINDS}")
    return name


@keras.saving.register_keras_serializable(package="bonelib")
class Exponential(layers.Layer):
    """exp(x) · scale: from a log-modulus to MPa."""

    def __init__(self, scale: float = 1000.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, x):
        return ops.exp(x) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="bonelib")
def log_absolute_error(y_true, y_pred):
    """Mean |log y_pred − log y_true|: the relative error, symmetric in over- and under-prediction."""
    return ops.mean(ops.abs(ops.log(y_pred) - ops.log(ops.maximum(y_true, 1e-6))), axis=-1)


def _normalization(mean: float, variance: float) -> layers.Layer:
    return layers.Normalization(mean=mean, variance=variance, name="standardise")


def paper_model(input_shape: tuple[int, int, int] = INPUT_SHAPE, mean: float = 0.0, variance: float = 1.0,
                filters: tuple[int, ...] = (16, 32, 64, 128), dense: tuple[int, ...] = (256, 128, 64),
                learning_rate: float = 1e-3) -> keras.Model:
    """The paper's network (see the module docstring for every choice).

    Parameters
    ----------
    input_shape : tuple of int
        (rows, cols, 1).
    mean, variance : float
        Statistics of the training images (mg HA/cm³ and its square) for standardisation.
    filters : tuple of int
        Filters of the four convolution blocks.
    dense : tuple of int
        Units of the three hidden fully connected layers.
    learning_rate : float
        Adam's learning rate.
    """
    inputs = keras.Input(input_shape, name="rho_ha")
    x = _normalization(mean, variance)(inputs)
    for width in filters:
        for _ in range(2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    for units in dense:
        x = layers.Dense(units, activation="relu")(x)
    outputs = layers.Rescaling(1000.0, name="to_mpa")(layers.Dense(1, name="modulus_gpa")(x))
    model = keras.Model(inputs, outputs, name="paper")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mae", metrics=["mae"])
    return model


def _circular_conv(x, filters: int, kernel: int, strides: int = 1):
    x = CircularPad(kernel // 2)(x)
    x = layers.Conv2D(filters, kernel, strides=strides, padding="valid", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.Activation("relu")(x)


def improved_model(input_shape: tuple[int, int, int] = INPUT_SHAPE, mean: float = 0.0, variance: float = 1.0,
                   widths: tuple[int, ...] = (24, 48, 96, 192), learning_rate: float = 2e-3,
                   decay_steps: int | None = None, seed: int = 0, kind: str = "modulus_gpa") -> keras.Model:
    """A periodic, pooled CNN with symmetry augmentation, cheap enough to train on a CPU.

    Parameters
    ----------
    input_shape : tuple of int
        (rows, cols, 1).
    mean, variance : float
        Statistics of the training images for standardisation.
    widths : tuple of int
        Filters of the stages after the stem; each stage halves the resolution.
    learning_rate : float
        Adam's (initial) learning rate.
    decay_steps : int, optional
        Optimiser steps of the whole run: the learning rate then follows a cosine decay to
        1 % of its initial value; None: constant.
    seed : int
        Seed of the augmentation.
    kind : {"modulus_gpa", "rho_ha"}
        Which input it takes (:func:`inputs`).
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    inputs = keras.Input(input_shape, name=kind)
    x = _normalization(mean, variance)(inputs)
    x = PeriodicAugment(seed)(x)
    x = _circular_conv(x, 16, 5, strides=2)  # stem: 182 → 91
    for width in widths:
        x = _circular_conv(x, width, 3, strides=2)
        x = _circular_conv(x, width, 3)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = Exponential(1000.0, name="to_mpa")(layers.Dense(1, name="log_modulus_gpa")(x))
    model = keras.Model(inputs, outputs, name="improved")
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=log_absolute_error, metrics=["mae"])
    return model


MODELS = {"paper": paper_model, "improved": improved_model}
#: The input each network is built for.
MODEL_INPUTS = {"paper": "rho_ha", "improved": "modulus_gpa"}


def with_input_shape(model: keras.Model, input_shape: tuple[int, int, int]) -> keras.Model:
    """The improved network, trained, rebuilt for images of another size.

    The improved network is fully convolutional with periodic padding and global pooling, so
    its weights apply to any periodic image; the paper's network ends in dense layers tied
    to 182 × 182 px and cannot be resized.

    Parameters
    ----------
    model : keras.Model
        A trained :func:`improved_model`.
    input_shape : tuple of int
        (rows, cols, 1) of the new images.
    """
    if model.name != "improved":
        raise ValueError(f"only the improved network takes other image sizes, not {model.name!r}")
    norm = model.get_layer("standardise").get_config()
    resized = improved_model(input_shape, mean=float(np.squeeze(norm["mean"])), variance=float(np.squeeze(norm["variance"])),
                             kind=input_kind(model))
    resized.set_weights(model.get_weights())
    return resized


def fit_to_input(slices: NDArray, side: int = INPUT_SHAPE[0], mode: str | None = None) -> tuple[NDArray, NDArray]:
    """Cut a stack of 2D slices (n, rows, cols) into the square images a network takes.

    Parameters
    ----------
    slices : numpy.ndarray
        (n, rows, cols) images.
    side : int
        Side of the network's input (px).
    mode : {None, "crop", "tile"}
        None: the slices must already be ``side`` × ``side``; ``"crop"``: the central square of
        each slice; ``"tile"``: every whole square of a grid centred on each slice.

    Returns
    -------
    images : numpy.ndarray
        (m, side, side) images.
    origin : numpy.ndarray
        (m, 3) integers: slice index, and row and column (px) of each image's top-left corner.
    """
    n, rows, cols = slices.shape
    if mode not in (None, "crop", "tile"):
        raise ValueError(f"mode must be None, 'crop' or 'tile', got {mode!r}")
    if (rows, cols) != (side, side) and mode is None:
        raise ValueError(f"the model takes {side} × {side} px slices, got {rows} × {cols}; crop the central "
                         f"{side} × {side} px or cut the slices into tiles")
    if min(rows, cols) < side:
        raise ValueError(f"slices of {rows} × {cols} px are smaller than {side} × {side}")
    counts = (1, 1) if mode != "tile" else (rows // side, cols // side)
    starts = [(rows - counts[0] * side) // 2 + i * side for i in range(counts[0])]
    columns = [(cols - counts[1] * side) // 2 + j * side for j in range(counts[1])]
    origin = np.array([(k, r, c) for k in range(n) for r in starts for c in columns], dtype=np.int64)
    images = np.stack([slices[k, r:r + side, c:c + side] for k, r, c in origin])
    return images, origin


def predict(model: keras.Model, images: NDArray, symmetrise: bool | None = None, batch_size: int = 64) -> NDArray:
    """E_eff (MPa) of input images of shape (N, 182, 182, 1), made by :func:`inputs` with the
    model's :func:`input_kind`.

    With ``symmetrise`` (default: for the improved model), the prediction is the mean over
    the eight flips and rotations of each image: exactly invariant to them, like the label.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != tuple(model.input_shape[1:]):
        raise ValueError(f"expected images of shape (N, {', '.join(map(str, model.input_shape[1:]))}), got {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images hold NaN or infinite values")
    symmetrise = model.name == "improved" if symmetrise is None else symmetrise
    run = lambda batch: model.predict(batch, batch_size=batch_size, verbose=0)[:, 0]
    return symmetric_mean(run, images) if symmetrise else run(images).astype(np.float64)
