"""The label of a sample: the paper's FE route from one 2D CT slice to its effective modulus.

:func:`label` is the one definition of a sample's label, used by the dataset build and by
anyone checking it: Gaussian smoothing (σ = 1.2, support 2, periodic edges) → ρ_HA through
the scanner calibration → E (Eq. 1) and ν per pixel → periodic Q4 homogenisation
(Eq. 2–5) (Lu et al. 2023, section 2.2). Smoothing with periodic edges matches the periodic
cell of the FE model, so the label is exactly invariant under periodic shifts, flips and
90° rotations of the image. :func:`density_map` and :func:`label_density` are its two
halves; :func:`slice_record` adds the descriptors that the dataset stores beside it.

The input is checked once, at the public function called; the steps after it run on the
checked array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.fe.homogenise import Homogenisation, homogenise
from bonelib.imaging.density import (
    Calibration,
    check_calibration,
    material_maps,
    smooth,
    to_vbmd,
)
from bonelib.morphometry.planar import slice_descriptors


def _checked_slice(image: ArrayLike, name: str) -> NDArray:
    """A finite 2D float64 image of at least 2 × 2 pixels, or ValueError naming ``name``."""
    array = finite_array(image, name, ndim=2).astype(np.float64, copy=False)
    if min(array.shape) < 2:
        raise ValueError(f"{name} must be at least 2 × 2 pixels, got {array.shape[0]} × {array.shape[1]}")
    return array


def _density_map(grey: NDArray, calibration: Calibration) -> NDArray:
    return to_vbmd(smooth(grey, 1.2, 2.0, "periodic", check_input=False), calibration, check_input=False)


def _label_density(rho_ha: NDArray, voxel_size_mm: float, fields: bool, solver: str) -> Homogenisation:
    if not voxel_size_mm > 0:
        raise ValueError(f"voxel_size_mm must be positive, got {voxel_size_mm}")
    E, nu = material_maps(rho_ha, check_input=False)
    return homogenise(E, nu, voxel_size_mm, fields, solver, check_input=False)


def density_map(grey: ArrayLike, calibration: Calibration) -> NDArray:
    """ρ_HA (mg HA/cm³) of a 2D slice as the FE model sees it: smoothed with periodic edges.

    Computed in float64 whatever the input dtype, so that a label does not depend on how
    the grey values were stored.
    """
    check_calibration(calibration)
    return _density_map(_checked_slice(grey, "grey"), calibration)


def label_density(
    rho_ha: ArrayLike,
    voxel_size_mm: float = VOXEL_SIZE_MM,
    fields: bool = False,
    solver: str = "auto",
) -> Homogenisation:
    """The FE half of :func:`label`: Eq. 1 materials and periodic homogenisation of a ρ_HA map.

    Parameters
    ----------
    rho_ha : array_like
        2D mineral density after smoothing (mg HA/cm³), as :func:`density_map` returns it.
    voxel_size_mm, fields, solver
        As in :func:`label`.
    """
    return _label_density(_checked_slice(rho_ha, "rho_ha"), voxel_size_mm, fields, solver)


def label(
    grey: ArrayLike,
    calibration: Calibration,
    voxel_size_mm: float = VOXEL_SIZE_MM,
    fields: bool = False,
    solver: str = "auto",
) -> Homogenisation:
    """Effective plane-stress properties of one 2D CT slice, the paper's FE route.

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

    Examples
    --------
    >>> from bonelib import synth
    >>> from bonelib.imaging import scanner
    >>> grey = synth.plan(n_donors=1)[0].scan(n_slices=1).volume[0]
    >>> round(label(grey, scanner.CALIBRATION).E_eff)  # MPa
    808
    """
    check_calibration(calibration)
    return _label_density(_density_map(_checked_slice(grey, "grey"), calibration), voxel_size_mm, fields, solver)


def slice_record(grey: ArrayLike, calibration: Calibration, voxel_size_mm: float = VOXEL_SIZE_MM,
                 solver: str = "auto") -> dict[str, float | NDArray]:
    """Everything the dataset stores of one slice: its label and its descriptors.

    Returns
    -------
    dict
        ``E_eff`` (MPa), ``nu_eff``, ``C`` (3 × 3, MPa) of :func:`label`, and ``vbmd``,
        ``bv_tv``, ``tb_th``, ``fabric`` of :func:`bonelib.morphometry.planar.slice_descriptors`
        on the same ρ_HA map.
    """
    check_calibration(calibration)
    rho_ha = _density_map(_checked_slice(grey, "grey"), calibration)
    result = _label_density(rho_ha, voxel_size_mm, False, solver)
    return {"E_eff": result.E_eff, "nu_eff": result.nu_eff, "C": result.C,
            **slice_descriptors(rho_ha, voxel_size_mm, check_input=False)}
