"""A 3D CNN that predicts the superior–inferior modulus of a bone cube from its HR-pQCT-like grey values.

The input is the calibrated cube, ρ_HA in g HA/cm³ (:func:`cube_inputs`), superior–inferior
along axis 0; the output is the logarithm of the modulus it learns: E_z / 1 MPa, E_z the
periodic micro-FE modulus of the cube's bone along axis 0
(:func:`bonelib.cubes.dataset.label_cube`), or, as :mod:`bonelib.cubes.evaluate` trains it,
the ratio of E_z to a density (or fabric) law's, so that the network learns what the image
adds to the law. The network is small enough to
train on a 2-core CPU in minutes (:func:`cube_model`).

E_z is unchanged by mirroring the cube along any axis and by 90° turns about axis 0; the
network learns with those sixteen symmetries, and random periodic shifts of the cube (the
label of a periodic cell does not depend on where the cell starts), drawn for each cube, as
free augmentation (:class:`bonelib.learn.layers.PeriodicAugment`), and
:func:`predict_modulus` averages over all sixteen, which makes the prediction exactly
invariant to them. It trains by the loop of both routes (:func:`bonelib.learn.train.fit`). The
loss is the mean absolute error of log E: the relative error that RPE measures, alike for weak
and stiff cubes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.versions import CUBE_NETWORK

#: Name of the input layer: what the network reads.
INPUT_NAME = "rho_ha_g_cm3"
#: Cubes of the precise batch-norm pass after each epoch (:func:`bonelib.learn.train.fit`): two
#: batches of 128, each averaging its statistics over 128 · 25³ positions of the first stage.
#: Covering all training cubes once, as the 2D route covers its slices, took 15 s of a 43 s
#: epoch (1,600 cubes, 2 cores).
RECALIBRATION_CUBES = 256
#: Filters of the network's three stages (:func:`cube_model`), unless told otherwise.
WIDTHS = (8, 16, 32)
#: Version of :func:`cube_model`'s layers (:data:`bonelib.versions.CUBE_NETWORK`), recorded
#: with trained networks: 2 added batch normalisation after every convolution. Networks of
#: another version are not loaded.
ARCHITECTURE = CUBE_NETWORK


def cube_inputs(grey: ArrayLike, calibration) -> NDArray[np.float32]:
    """The network's input (N, s, s, s, 1) in g HA/cm³ from int16 grey cubes (N, s, s, s)."""
    from bonelib.imaging.density import to_vbmd

    grey = finite_array(grey, "grey", ndim=4)
    if len(set(grey.shape[1:])) != 1:
        raise ValueError(f"expected cubes (N, s, s, s), got shape {grey.shape}")
    return (to_vbmd(grey, calibration) / 1000.0).astype(np.float32)[..., None]


def cube_model(side: int = 50, seed: int = 0, widths: Sequence[int] = WIDTHS):
    """The 3D network (Keras): (side, side, side, 1) ρ_HA in g/cm³ → log(E_z / MPa).

    Every 3 × 3 × 3 convolution pads periodically (:class:`bonelib.learn.layers.CircularPad`), as
    the FE cell is periodic: bone leaving one face re-enters at the opposite one, so the network
    sees the connections across the cell's seams that set the periodic modulus. Three stages
    (50 → 25 → 13 → 7 voxels) of a stride-2 and a stride-1 convolution with ``widths`` filters
    each, each convolution followed by batch normalisation and a leaky ReLU (slope 0.2), then
    global average pooling. With plain ReLUs four of five paper-scale folds trained into a
    constant output (every unit dead); without batch normalisation the networks fitted their
    own training cubes no better than unseen specimens (median relative error 0.14 on fold 0,
    0.10 with it), and a learning rate of 3e-3 diverged (architecture version
    :data:`ARCHITECTURE`).
    """
    import keras
    from keras import layers

    from bonelib.learn.layers import CircularPad, PeriodicAugment

    keras.utils.set_random_seed(seed)
    rho = keras.Input((side, side, side, 1), name=INPUT_NAME)
    x = PeriodicAugment(seed, per_sample=True)(rho)
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"widths must be three positive filter counts, got {tuple(widths)}")
    for filters, strides in ((w, s) for w in widths for s in (2, 1)):
        x = CircularPad(1)(x)
        x = layers.Conv3D(filters, 3, strides=strides, use_bias=False)(x)
        x = layers.LeakyReLU(negative_slope=0.2)(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling3D()(x)
    x = layers.Dense(32, activation="leaky_relu")(x)
    log_modulus = layers.Dense(1, name="log_E_z")(x)
    return keras.Model(rho, log_modulus, name="cube_cnn")


def train(inputs: NDArray, modulus: ArrayLike, validation: tuple[NDArray, ArrayLike] | None = None,
          epochs: int = 30, batch_size: int = 16, seed: int = 0, learning_rate: float = 1e-3, verbose: int = 2,
          widths: Sequence[int] = WIDTHS):
    """Train :func:`cube_model` (of ``widths``) on cubes (N, s, s, s, 1) and their E_z (MPa, or a positive ratio).

    The training loop of both routes (:func:`bonelib.learn.train.fit`): Adam on a cosine decay
    of the learning rate over the run, MAE of log E, a random symmetry and periodic shift of
    each cube in every batch (:class:`~bonelib.learn.layers.PeriodicAugment`), batch-norm
    statistics re-estimated after every epoch (on :data:`RECALIBRATION_CUBES` cubes), and the
    weights of the epoch with the lowest loss on the ``validation`` cubes (inputs, E_z) kept (the
    last epoch's without them).

    Returns
    -------
    model : keras.Model
        The network, with the best epoch's weights.
    history : dict
        Per-epoch ``loss`` (and ``val_loss``): the mean absolute error of log E.
    """
    import tempfile
    from pathlib import Path

    import keras

    from bonelib.learn import train as learn_train

    modulus = finite_array(modulus, "modulus", ndim=1)
    if inputs.ndim != 5 or len(inputs) != len(modulus) or np.any(modulus <= 0):
        raise ValueError("need cubes (N, s, s, s, 1) and one positive modulus (MPa) each")
    if validation is not None:
        valid = finite_array(validation[1], "validation modulus", ndim=1)
        if validation[0].shape[1:] != inputs.shape[1:] or len(validation[0]) != len(valid) or np.any(valid <= 0):
            raise ValueError(f"validation needs cubes of shape {inputs.shape[1:]} and one positive modulus each")
        validation = (validation[0], np.log(valid).astype(np.float32))
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    model = cube_model(inputs.shape[1], seed, widths)
    steps = int(np.ceil(len(inputs) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mean_absolute_error")
    with tempfile.TemporaryDirectory(prefix="cube-cnn-") as folder:
        best = Path(folder) / "best.weights.h5"
        learn_train.fit(model, inputs, np.log(modulus).astype(np.float32), folder, epochs, best,
                        validation=validation, batch_size=batch_size, seed=seed, verbose=verbose,
                        recalibration=RECALIBRATION_CUBES)
        model.load_weights(best)
        return model, learn_train.history(folder)


def predict_modulus(model, inputs: NDArray, chunk: int = 64) -> NDArray[np.float64]:
    """E_z (MPa) of cubes (N, s, s, s, 1): the mean over their 16 symmetric images
    (:func:`bonelib.learn.layers.symmetric_mean`), ``chunk`` cubes at a time."""
    from bonelib.learn.layers import symmetric_mean

    if inputs.ndim != 5:
        raise ValueError(f"expected cubes (N, s, s, s, 1), got shape {inputs.shape}")
    run = lambda batch: np.exp(model.predict(batch, batch_size=32, verbose=0)[:, 0])
    return np.concatenate([symmetric_mean(run, inputs[start:start + chunk]) for start in range(0, len(inputs), chunk)])
