"""The materials of an FE cell: one Young's modulus and Poisson's ratio per pixel or voxel.

>>> import numpy as np
>>> E, nu = tissue_maps(np.eye(3, dtype=bool)[None].repeat(2, axis=0))
>>> E.shape, float(E.max()), float(nu.min())
((2, 3, 3), 10000.0, 0.3)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.imaging.density import MARROW_MODULUS, MARROW_POISSON

#: The tissue of a segmented micro-CT volume (MPa, -): 10 GPa is usual for micro-FE models.
TISSUE_MODULUS, TISSUE_POISSON = 10_000.0, 0.3


def check_materials(E: ArrayLike, nu: ArrayLike, ndim: int = 2) -> tuple[NDArray, NDArray]:
    """Return E (MPa) and ν as float64 images (``ndim`` 2) or volumes (3), or raise ValueError
    naming what is wrong: not finite, other shapes, under 2 pixels or voxels along an axis,
    E not positive, ν outside (−1, 0.5)."""
    E = finite_array(E, "E", ndim=ndim).astype(np.float64, copy=False)
    nu = finite_array(nu, "nu", ndim=ndim).astype(np.float64, copy=False)
    if E.shape != nu.shape:
        raise ValueError(f"E and nu must have the same shape, got {E.shape} and {nu.shape}")
    if min(E.shape) < 2:
        raise ValueError(f"the image must be at least 2 × 2 pixels, got {E.shape[0]} × {E.shape[1]}" if ndim == 2 else
                         f"the cube must be at least 2 voxels along each axis, got {E.shape}")
    if np.any(E <= 0):
        raise ValueError(f"E must be positive everywhere (MPa); minimum is {E.min()}")
    if np.any(nu <= -1) or np.any(nu >= 0.5):
        raise ValueError(f"nu must lie in (-1, 0.5); range is [{nu.min()}, {nu.max()}]")
    return E, nu


def tissue_maps(bone: ArrayLike, tissue_modulus: float = TISSUE_MODULUS, tissue_poisson: float = TISSUE_POISSON,
                marrow_modulus: float = MARROW_MODULUS, marrow_poisson: float = MARROW_POISSON
                ) -> tuple[NDArray, NDArray]:
    """E (MPa) and ν of a segmented volume: homogeneous tissue in the bone, marrow elsewhere.

    Parameters
    ----------
    bone : array_like
        Boolean volume, True where bone.
    tissue_modulus : float
        Young's modulus of the bone tissue (MPa); 10 GPa is usual for micro-CT models.
    """
    bone = np.asarray(bone, dtype=bool)
    return (np.where(bone, tissue_modulus, marrow_modulus), np.where(bone, tissue_poisson, marrow_poisson))
