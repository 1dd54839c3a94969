"""The labelled dataset: CT slices and their FE effective moduli (paper section 2.3).

:func:`label` is the one definition of a sample's label, used by the dataset build and by
anyone checking it.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from bonelib.density import Calibration, material_maps, smooth, to_vbmd
from bonelib.fe import Homogenisation, homogenise


def label(
    grey: ArrayLike,
    calibration: Calibration,
    voxel_size_mm: float = 0.082,
    fields: bool = False,
    solver: str = "auto",
) -> Homogenisation:
    """Effective plane-stress properties of one 2D CT slice, the paper's FE route.

    Gaussian smoothing (σ = 1.2, support 2, periodic edges) → ρ_HA through the scanner
    calibration → E (Eq. 1) and ν per pixel → periodic Q4 homogenisation (Eq. 2–5).
    Smoothing with periodic edges matches the periodic cell of the FE model, so the label
    is exactly invariant under periodic shifts, flips and 90° rotations of the image.

    Parameters
    ----------
    grey : array_like
        2D grey values (rows, cols).
    calibration : Calibration
        Grey value → mg HA/cm³.
    voxel_size_mm : float
        Pixel size (mm).
    fields : bool
        Also compute the strain and stress fields.
    solver : str
        FE backend (see :func:`bonelib.fe.homogenise`).

    Returns
    -------
    Homogenisation
        ``C`` (MPa), ``E_eff`` (MPa), ``nu_eff`` and, if asked, ``fields``.
    """
    rho_ha = to_vbmd(smooth(grey, edges="periodic"), calibration)
    E, nu = material_maps(rho_ha)
    return homogenise(E, nu, voxel_size=voxel_size_mm, fields=fields, solver=solver)
