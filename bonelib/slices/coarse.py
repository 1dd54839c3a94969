"""The coarse-FE baseline: the same periodic FE on a ρ_HA image averaged over blocks of pixels.

A reviewer's first question of a CNN that replaces an FE model is whether a cheaper FE model
does as well. Averaging the smoothed ρ_HA map over ``factor × factor`` pixels divides the
elements by ``factor²`` (the direct solve's cost falls faster still); Eq. 1 and the periodic
homogenisation are then applied unchanged at the coarser pixel size. The coarse modulus is
biased (averaging blurs struts into marrow and thresholds them away), so the baseline is
the coarse modulus through a linear correction fitted on training data
(:class:`~bonelib.slices.baselines.LinearCorrection`).

The image side need not be a multiple of ``factor``: :func:`block_mean` averages over
coarse cells of exactly ``n / m`` fine pixels (``m = round(n / factor)``), weighting the
pixels a cell boundary cuts by their overlap, so the cells tile the periodic cell exactly
and the mean density is conserved.

Examples
--------
>>> import numpy as np
>>> rho = np.random.default_rng(0).uniform(0, 1000, (182, 182))
>>> coarse = block_mean(rho, 4)
>>> coarse.shape, bool(np.isclose(coarse.mean(), rho.mean()))
((46, 46), True)
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.constants import VOXEL_SIZE_MM


def _averaging(n: int, m: int) -> NDArray:
    """(m, n) matrix averaging n fine pixels into m equal coarse cells (rows sum to 1)."""
    edges = np.arange(m + 1) * (n / m)
    left, right = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n)[None, :]
    overlap = np.clip(np.minimum(right, pixels + 1) - np.maximum(left, pixels), 0, None)
    return overlap / (n / m)


def block_mean(image: ArrayLike, factor: int) -> NDArray:
    """Average a 2D image over cells of about ``factor × factor`` pixels, conserving its mean.

    Parameters
    ----------
    image : array_like
        (rows, cols) image, e.g. ρ_HA in mg HA/cm³.
    factor : int
        Coarsening factor (≥ 1); the result has ``round(rows / factor)`` × ``round(cols / factor)`` cells.

    Returns
    -------
    numpy.ndarray
        The coarse image, in the unit of ``image``.
    """
    array = finite_array(image, "image", ndim=2).astype(np.float64)
    if not (isinstance(factor, (int, np.integer)) and factor >= 1):
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    rows, cols = array.shape
    m_rows, m_cols = max(1, round(rows / factor)), max(1, round(cols / factor))
    if min(m_rows, m_cols) < 2:
        raise ValueError(f"a {rows} × {cols} image is too small to coarsen by {factor}")
    return _averaging(rows, m_rows) @ array @ _averaging(cols, m_cols).T


def coarse_modulus(rho_ha: ArrayLike, factor: int, voxel_size_mm: float = VOXEL_SIZE_MM,
                   solver: str = "auto") -> tuple[float, float]:
    """E_eff (MPa) of the periodic FE model of a ρ_HA map averaged ``factor × factor``, and its time (s).

    Parameters
    ----------
    rho_ha : array_like
        Smoothed ρ_HA map (mg HA/cm³), as :func:`bonelib.slices.label.density_map` returns it.
    factor : int
        Coarsening factor; 1 gives the full label.
    voxel_size_mm : float
        Pixel size of ``rho_ha`` (mm); the coarse pixel is larger by the side ratio.
    solver : str
        FE backend (:func:`bonelib.fe.homogenise`).
    """
    from bonelib.slices.label import label_density

    start = time.perf_counter()
    coarse = block_mean(rho_ha, factor)
    pixel = voxel_size_mm * np.shape(rho_ha)[0] / coarse.shape[0]
    modulus = label_density(coarse, pixel, solver=solver).E_eff
    return float(modulus), time.perf_counter() - start
