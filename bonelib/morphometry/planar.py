"""2D bone morphometry of a slice: the density, structure and fabric descriptors stored with each sample.

The bone phase is the FE model's: pixels with ash density ≥ 400 mg/cm³ after smoothing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage
from skimage.morphology import medial_axis

from bonelib._checks import finite_array
from bonelib.imaging.density import MARROW_THRESHOLD, ash_density
from bonelib.morphometry.connectivity import (
    euler_density,
    largest_cluster_share,
    percolation,
)


def bone_mask(rho_ha: ArrayLike, check_input: bool = True) -> NDArray[np.bool_]:
    """Pixels that the FE model treats as bone: ρ_ash ≥ 400 mg/cm³ (ρ_HA in mg HA/cm³).

    The same pixels get the bone Poisson's ratio in :func:`bonelib.imaging.density.material_maps`;
    ``check_input`` as in :func:`bonelib.imaging.density.smooth`.
    """
    return ash_density(rho_ha, check_input) >= MARROW_THRESHOLD


def bone_volume_fraction(mask: ArrayLike) -> float:
    """BV/TV: the fraction of bone pixels in a 2D mask (dimensionless)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.size == 0:
        raise ValueError("mask is empty")
    return float(mask.mean())


def trabecular_thickness(mask: ArrayLike, voxel_size_mm: float, margin: int = 20) -> float:
    """Mean 2D trabecular thickness Tb.Th (mm): twice the distance to marrow along the medial axis.

    Periodic edges (the mask is wrapped by ``margin`` pixels before the medial axis is taken),
    so that trabeculae cut by the image border are measured whole, as the periodic FE cell
    sees them. Returns 0 for a mask without bone and NaN when the mask is all bone.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"mask must be a non-empty 2D array, got shape {mask.shape}")
    if not mask.any():
        return 0.0
    if mask.all():
        return float("nan")
    wrapped = np.pad(mask, margin, mode="wrap")
    inside = (slice(margin, -margin), slice(margin, -margin))
    skeleton = medial_axis(wrapped, rng=0)[inside]  # fixed tie-breaking: deterministic
    distance = ndimage.distance_transform_edt(wrapped)[inside]
    return float(2 * distance[skeleton].mean() * voxel_size_mm)


def slice_descriptors(rho_ha: ArrayLike, voxel_size_mm: float, check_input: bool = True) -> dict[str, float | NDArray]:
    """Density and structure of one slice of smoothed ρ_HA (mg HA/cm³), as the FE model sees it.

    Returns
    -------
    dict
        ``vbmd``: mean ρ_HA (mg HA/cm³); ``bv_tv``: bone area fraction; ``tb_th``: mean
        trabecular thickness (mm); ``fabric``: (2,) fabric eigenvalues m₁ ≥ m₂
        (:func:`fabric_eigenvalues`). ``check_input`` as in :func:`bonelib.imaging.density.smooth`.
    """
    rho = finite_array(rho_ha, "rho_ha", ndim=2) if check_input else rho_ha
    mask = bone_mask(rho, check_input=False)
    return {
        "vbmd": float(rho.mean()),
        "bv_tv": bone_volume_fraction(mask),
        "tb_th": trabecular_thickness(mask, voxel_size_mm),
        "fabric": fabric_eigenvalues(mask),
    }


def fabric_eigenvalues(mask: ArrayLike) -> NDArray[np.float64]:
    """2D fabric of a periodic bone mask: eigenvalues (m₁ ≥ m₂, m₁ + m₂ = 2) of its fabric tensor.

    The interface-orientation tensor T = Σ ∇b ∇bᵀ of the bone indicator b (periodic central
    differences) measures the directions of the bone–marrow interface normals; bone runs
    across them, so the fabric tensor is M = 2 (tr T · I − T) / tr T, normalised to trace 2
    as in Zysset–Curnier fabric elasticity (isotropic: m₁ = m₂ = 1; plates all along one
    axis: m₁ = 2, m₂ = 0). Invariant under periodic shifts, flips and 90° rotations.

    Parameters
    ----------
    mask : array_like
        2D boolean bone mask (:func:`bone_mask`).

    Returns
    -------
    numpy.ndarray
        (2,) m₁ ≥ m₂ (dimensionless); (1, 1) for a mask without an interface.
    """
    b = np.asarray(mask, dtype=float)
    if b.ndim != 2 or b.size == 0:
        raise ValueError(f"mask must be a non-empty 2D array, got shape {b.shape}")
    gy = (np.roll(b, -1, axis=0) - np.roll(b, 1, axis=0)) / 2
    gx = (np.roll(b, -1, axis=1) - np.roll(b, 1, axis=1)) / 2
    T = np.array([[np.sum(gx * gx), np.sum(gx * gy)], [np.sum(gx * gy), np.sum(gy * gy)]])
    trace = np.trace(T)
    if trace == 0:
        return np.ones(2)
    return np.sort(np.linalg.eigvalsh(2 * (trace * np.eye(2) - T) / trace))[::-1]


def section_measures(rho_ha: ArrayLike, voxel_size_mm: float) -> dict[str, float | bool]:
    """Connectivity of one section's bone phase as the FE model sees it (ρ_HA in mg HA/cm³).

    Returns
    -------
    dict
        ``bv_tv`` (-); ``euler_per_mm2``: Euler characteristic per area (1/mm²);
        ``largest_cluster``: share of the bone in the largest edge-connected cluster of the
        periodic cell; ``percolates_x``, ``percolates_y``: whether a bone cluster wraps
        around the cell along x (columns) and y (rows), i.e. whether bone carries load
        across the cell in that direction (otherwise the FE label of that direction is
        set by marrow).
    """
    mask = bone_mask(finite_array(rho_ha, "rho_ha", ndim=2), check_input=False)
    along = percolation(mask)
    return {"bv_tv": bone_volume_fraction(mask), "euler_per_mm2": euler_density(mask, voxel_size_mm),
            "largest_cluster": largest_cluster_share(mask), "percolates_x": bool(along[1]),
            "percolates_y": bool(along[0])}
