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
label of a periodic cell does not depend on where the cell starts), as free augmentation, and :func:`predict_modulus` averages over all sixteen, which makes the
prediction exactly invariant to them. The loss is the mean absolute error of log E: the
relative error that RPE measures, alike for weak and stiff cubes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.versions import CUBE_NETWORK

#: Name of the input layer: what the network reads.
INPUT_NAME = "rho_ha_g_cm3"
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

    from bonelib.learn.layers import CircularPad

    keras.utils.set_random_seed(seed)
    rho = keras.Input((side, side, side, 1), name=INPUT_NAME)
    x = rho
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


def symmetries(cubes: NDArray) -> list[NDArray]:
    """The 16 images of cubes (N, s, s, s, …) under the symmetries that leave E_z unchanged:
    the mirror along axis 0, and the 8 mirrors and quarter turns about axis 0."""
    out = []
    for flipped in (cubes, cubes[:, ::-1]):
        for turn in range(4):
            turned = np.rot90(flipped, turn, axes=(2, 3))
            out += [turned, turned[:, :, ::-1]]
    return out


def _augment(batch: NDArray, rng: np.random.Generator) -> NDArray:
    """Each cube of a batch under one random symmetry of :func:`symmetries` and a random periodic shift."""
    out = np.empty_like(batch)
    for i, cube in enumerate(batch):
        if rng.random() < 0.5:
            cube = cube[::-1]
        cube = np.rot90(cube, int(rng.integers(4)), axes=(1, 2))
        cube = cube[:, ::-1] if rng.random() < 0.5 else cube
        out[i] = np.roll(cube, tuple(rng.integers(cube.shape[0], size=3)), axis=(0, 1, 2))
    return out


def train(inputs: NDArray, modulus: ArrayLike, epochs: int = 30, batch_size: int = 16, seed: int = 0,
          learning_rate: float = 1e-3, progress: bool = True, widths: Sequence[int] = WIDTHS):
    """Train :func:`cube_model` (of ``widths``) on cubes (N, s, s, s, 1) and their E_z (MPa, or a positive ratio).

    Adam on a cosine decay of the learning rate over the run, MAE of log E, a random
    symmetry of each cube in every batch. Returns the model and the mean loss per epoch.
    """
    import keras
    from tqdm import trange

    modulus = finite_array(modulus, "modulus", ndim=1)
    if inputs.ndim != 5 or len(inputs) != len(modulus) or np.any(modulus <= 0):
        raise ValueError("need cubes (N, s, s, s, 1) and one positive modulus (MPa) each")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    model = cube_model(inputs.shape[1], seed, widths)
    steps = int(np.ceil(len(inputs) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mean_absolute_error")
    rng, target, losses = np.random.default_rng(seed), np.log(modulus).astype(np.float32), []
    for _ in trange(epochs, desc="3D CNN", unit="epoch", disable=not progress):
        order, total = rng.permutation(len(inputs)), 0.0
        for start in range(0, len(order), batch_size):
            chosen = np.sort(order[start:start + batch_size])
            total += float(model.train_on_batch(_augment(inputs[chosen], rng), target[chosen])) * len(chosen)
        losses.append(total / len(inputs))
    return model, losses


def predict_modulus(model, inputs: NDArray, chunk: int = 8) -> NDArray[np.float64]:
    """E_z (MPa) of cubes (N, s, s, s, 1): the geometric mean over the 16 symmetric images.

    The images of ``chunk`` cubes go through the network as one batch."""
    if inputs.ndim != 5:
        raise ValueError(f"expected cubes (N, s, s, s, 1), got shape {inputs.shape}")
    out = []
    for start in range(0, len(inputs), chunk):
        images = symmetries(inputs[start:start + chunk])
        logs = model.predict(np.concatenate(images), batch_size=32, verbose=0)[:, 0]
        out.append(logs.reshape(len(images), -1).mean(axis=0, dtype=np.float64))
    return np.exp(np.concatenate(out))
