"""Timing the two routes to a modulus: the FE label and a CNN's prediction (paper section 3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib._files import write_json
from bonelib.constants import SLICE_PX


def seconds_per_call(function: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time (s) of ``function()`` over ``repeats`` calls, after one untimed warm-up call."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def periodic_tile(image: ArrayLike, side: int) -> NDArray:
    """A ``side`` × ``side`` image cut from the periodic continuation of a 2D image (tiles or crops)."""
    image = finite_array(image, "image", ndim=2)
    if side < 2:
        raise ValueError(f"side must be at least 2 px, got {side}")
    rows, cols = (np.arange(side) % n for n in image.shape)
    return image[np.ix_(rows, cols)]


def fe_seconds(rho_ha: ArrayLike, repeats: int = 3) -> float:
    """Seconds for the FE label of one 2D ρ_HA map (mg HA/cm³): materials, assembly, solve, averaging."""
    from bonelib.slices.label import label_density

    return seconds_per_call(lambda: label_density(rho_ha), repeats)


def cnn_seconds(model, rho_ha: NDArray, symmetrise: bool | None = None, batch_size: int = 128,
                repeats: int = 3) -> float:
    """Seconds per sample of batch prediction by a CNN on images (N, side, side, 1) of ρ_HA (mg HA/cm³)."""
    from bonelib.slices.network import predict

    return seconds_per_call(lambda: predict(model, rho_ha, symmetrise, batch_size), repeats) / len(rho_ha)


def scaling(rho_ha: ArrayLike, sizes: list[int], networks: dict[str, Callable], repeats: int = 3,
            pixels_per_batch: int = 64 * SLICE_PX**2, path: str | Path | None = None) -> dict[str, list[float]]:
    """Seconds per sample of the FE label and of each network at several image sizes.

    Parameters
    ----------
    rho_ha : array_like
        A 2D ρ_HA map (mg HA/cm³), tiled or cropped periodically to each size.
    sizes : list of int
        Image sides (px).
    networks : dict of str to callable
        Name → ``build(input_shape) -> keras.Model``; weights do not change the cost.
    repeats : int
        Timed calls per measurement (median).
    pixels_per_batch : int
        Pixels predicted per batch; the batch size follows from it (at least 2 images).
    path : path, optional
        JSON file to write the table to (atomically).

    Returns
    -------
    dict
        ``"size"``, ``"FE"`` and one entry per network: seconds per sample, one per size.
    """
    table: dict[str, list[float]] = {"size": [float(s) for s in sizes], "FE": [], **{name: [] for name in networks}}
    for side in sizes:
        image = periodic_tile(rho_ha, side).astype(np.float32)
        table["FE"].append(fe_seconds(image, repeats))
        batch = np.repeat(image[None, :, :, None], max(2, pixels_per_batch // side**2), axis=0)
        for name, build in networks.items():
            table[name].append(cnn_seconds(build((side, side, 1)), batch, batch_size=len(batch), repeats=repeats))
    if path is not None:
        write_json(path, table)
    return table
