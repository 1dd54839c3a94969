"""From CT grey values to the tissue properties of the FE model (Lu et al. 2023, section 2.2).

The chain, one function per step:

1. :func:`smooth`: Gaussian filter with Scanco's ``sigma``/``support`` convention;
2. :func:`to_vbmd`: grey value → volumetric bone mineral density ρ_HA (mg HA/cm³)
   through the scanner's linear :class:`Calibration`;
3. :func:`ash_density`: ρ_HA → ash density ρ_ash (mg/cm³);
4. :func:`youngs_modulus`: ρ_ash → Young's modulus E (MPa), Eq. 1 of the paper;
5. :func:`material_maps`: ρ_HA → the ``(E, nu)`` maps that the FE solver takes.

Every function is vectorised: arrays in, arrays of the same shape out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from bonelib._checks import finite_array

#: Ash density below which a voxel is marrow, not bone (mg/cm³).
MARROW_THRESHOLD = 400.0
#: Ash density above which E is clipped, against beam-hardening artefacts (mg/cm³).
CLIP_DENSITY = 1200.0
#: Young's modulus given to marrow (MPa).
MARROW_MODULUS = 0.0104
#: Poisson's ratio of bone tissue.
BONE_POISSON = 0.30
#: Poisson's ratio of marrow (nearly incompressible).
MARROW_POISSON = 0.49
#: Coefficient and exponent of the power law of Eq. 1 (E in MPa, ρ_ash in mg/cm³).
POWER_LAW = (0.1127, 1.746)
#: Slope of ρ_ash on ρ_HA.
ASH_SLOPE = 0.877
#: Intercept of ρ_ash on ρ_HA (mg/cm³), as the paper prints it, with both densities in mg/cm³.
ASH_INTERCEPT = 0.079
#: The intercept (mg/cm³) by the unit its relation is read in: mg/cm³ as the paper prints it, or
#: g/cm³ as in the relation the paper cites (0.079 g/cm³ = 79 mg/cm³).
ASH_INTERCEPT_READINGS = {"mg/cm³": ASH_INTERCEPT, "g/cm³": 79.0}

Edges = Literal["reflect", "periodic"]


def smooth(
    grey: ArrayLike,
    sigma: float = 1.2,
    support: float = 2.0,
    edges: Edges = "reflect",
    check_input: bool = True,
) -> NDArray:
    """Gaussian filter with the Scanco convention used to denoise the scans.

    Parameters
    ----------
    grey : array_like
        Image or volume of grey values (any unit, any number of dimensions);
        every axis is filtered.
    sigma : float
        Standard deviation of the Gaussian, in voxels (paper: 1.2).
    support : float
        Half-width of the kernel, in voxels (paper: 2.0); the kernel is cut
        at ``round(support)`` voxels from its centre, as in Scanco IPL.
    edges : {"reflect", "periodic"}
        How the image continues past its border: mirrored (a cropped scan)
        or wrapped around (a periodic cell, consistent with the periodic FE
        boundary conditions).
    check_input : bool
        Check that the values are finite (False: the caller already did, as
        :func:`bonelib.slices.label.label` does once for a whole slice).

    Returns
    -------
    numpy.ndarray
        Filtered array, same shape; floating-point input keeps its dtype,
        integer input becomes ``float64``.
    """
    image = finite_array(grey, "grey") if check_input else grey
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    radius = int(round(support))
    if radius < 1:
        raise ValueError(f"support must be at least 0.5 voxel, got {support}")
    modes = {"reflect": "reflect", "periodic": "wrap"}
    if edges not in modes:
        raise ValueError(f"edges must be 'reflect' or 'periodic', got {edges!r}")
    return ndimage.gaussian_filter(image, sigma=sigma, radius=radius, mode=modes[edges])


@dataclass(frozen=True)
class Calibration:
    """Linear scanner calibration ρ_HA = slope · grey + intercept.

    Parameters
    ----------
    slope : float
        mg HA/cm³ per grey unit; must be non-zero.
    intercept : float
        mg HA/cm³ at grey value 0.
    """

    slope: float
    intercept: float

    def __post_init__(self) -> None:
        for field in ("slope", "intercept"):
            value = getattr(self, field)
            if not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
                raise ValueError(f"calibration {field} must be a finite number, got {value!r}")
        if self.slope == 0:
            raise ValueError("calibration slope must be non-zero")

    @classmethod
    def from_dicom(cls, dataset) -> "Calibration":
        """Calibration from the ``RescaleSlope``/``RescaleIntercept`` of a DICOM dataset.

        Valid when the scanner's rescale maps stored values to mg HA/cm³, as
        Scanco's DICOM export does. Missing tags mean the identity (1, 0).
        """
        return cls(
            slope=float(getattr(dataset, "RescaleSlope", 1.0)),
            intercept=float(getattr(dataset, "RescaleIntercept", 0.0)),
        )

    def grey_of(self, rho_ha: ArrayLike) -> NDArray:
        """Inverse mapping: the grey value that has density ``rho_ha`` (mg HA/cm³)."""
        return (finite_array(rho_ha, "rho_ha") - self.intercept) / self.slope


def to_vbmd(grey: ArrayLike, calibration: Calibration, check_input: bool = True) -> NDArray:
    """Grey values → volumetric bone mineral density ρ_HA (mg HA/cm³) (``check_input``: as in
    :func:`smooth`, and the calibration's type)."""
    if check_input:
        check_calibration(calibration)
        grey = finite_array(grey, "grey")
    return calibration.slope * grey + calibration.intercept


def check_calibration(calibration: object) -> None:
    """Raise ValueError unless ``calibration`` is a :class:`Calibration`."""
    if not isinstance(calibration, Calibration):
        raise ValueError(f"calibration must be a bonelib.imaging.density.Calibration, got {type(calibration).__name__}")


def ash_density(rho_ha: ArrayLike, check_input: bool = True, intercept: float = ASH_INTERCEPT) -> NDArray:
    """Ash density ρ_ash = 0.877 · ρ_HA + 0.079 (mg/cm³), as in the paper.

    Parameters
    ----------
    rho_ha : array_like
        Mineral density in mg HA/cm³.
    check_input : bool
        Check that the values are finite (False: the caller already did, as
        :func:`bonelib.slices.label.label` does once for a whole slice).
    intercept : float
        The intercept (mg/cm³): the paper's 0.079 as printed, or 79 if its relation is read
        in g/cm³ (:data:`ASH_INTERCEPT_READINGS`; chapter "From grey values to a heterogeneous
        FE model" shows what the choice changes).

    Examples
    --------
    >>> float(ash_density(456.0)), float(ash_density(456.0, intercept=79.0))  # mg/cm³
    (399.991, 478.912)
    """
    return ASH_SLOPE * (finite_array(rho_ha, "rho_ha") if check_input else rho_ha) + intercept


def youngs_modulus(rho_ash: ArrayLike) -> NDArray:
    """Young's modulus of the tissue, Eq. 1 of the paper, in MPa.

    ``E = 0.1127 · ρ_ash^1.746`` for 400 ≤ ρ_ash ≤ 1200 mg/cm³, held at its value
    at 1200 above (artefact clip), and the marrow value 0.0104 MPa below 400.

    Parameters
    ----------
    rho_ash : array_like
        Ash density in mg/cm³.
    """
    return _youngs_modulus(finite_array(rho_ash, "rho_ash"))


def _youngs_modulus(rho: NDArray) -> NDArray:
    coefficient, exponent = POWER_LAW
    bone = coefficient * np.clip(rho, MARROW_THRESHOLD, CLIP_DENSITY) ** exponent
    return np.where(rho < MARROW_THRESHOLD, MARROW_MODULUS, bone).astype(rho.dtype, copy=False)


def material_maps(rho_ha: ArrayLike, check_input: bool = True,
                  intercept: float = ASH_INTERCEPT) -> tuple[NDArray, NDArray]:
    """Young's modulus (MPa) and Poisson's ratio per voxel from ρ_HA (mg HA/cm³).

    Parameters
    ----------
    rho_ha : array_like
        Mineral density in mg HA/cm³.
    check_input : bool
        Check that the values are finite (False: the caller already did, as
        :func:`bonelib.slices.label.label` does once for a whole slice).
    intercept : float
        Of :func:`ash_density` (mg/cm³).

    Returns
    -------
    E, nu : numpy.ndarray
        Same shape as ``rho_ha``; ν is 0.30 where the voxel is bone
        (ρ_ash ≥ 400 mg/cm³) and 0.49 in marrow.
    """
    rho_ash = ash_density(rho_ha, check_input, intercept)
    E = _youngs_modulus(rho_ash)
    nu = np.where(rho_ash < MARROW_THRESHOLD, MARROW_POISSON, BONE_POISSON).astype(E.dtype, copy=False)
    return E, nu
