"""Exact effective stiffnesses that the FE solver must reproduce or respect.

All matrices are 3 × 3 plane-stress stiffnesses in Voigt order (xx, yy, xy) with
engineering shear strain, in MPa.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.fe.element import plane_stress_matrix


def isotropic(E: float, nu: float) -> NDArray:
    """Plane-stress stiffness of an isotropic material (E in MPa)."""
    return plane_stress_matrix(E, nu)


def laminate(E: ArrayLike, nu: ArrayLike, fractions: ArrayLike, normal: str = "y") -> NDArray:
    """Exact effective stiffness of a laminate of isotropic plane-stress layers.

    Across the layers (along ``normal``) the traction is continuous; along them the strain
    is. With p the in-layer normal strain and n the other two components (the normal strain
    across the layers and the shear):

    ``σ_n = ⟨C_nn⁻¹⟩⁻¹ (ε̄_n + ⟨C_nn⁻¹ C_np⟩ ε̄_p)``,
    ``σ̄_p = ⟨C_pp − C_pn C_nn⁻¹ C_np⟩ ε̄_p + ⟨C_pn C_nn⁻¹⟩ σ_n``.

    Parameters
    ----------
    E, nu : array_like
        Young's modulus (MPa) and Poisson's ratio of each layer.
    fractions : array_like
        Volume fraction of each layer (normalised to sum 1).
    normal : {"x", "y"}
        Axis across the layers (``"y"``: layers are rows of the image).
    """
    layers = plane_stress_matrix(np.asarray(E, float), np.asarray(nu, float))
    f = np.asarray(fractions, float)
    f = f / f.sum()
    p, n = ([0], [1, 2]) if normal == "y" else ([1], [0, 2])
    if normal not in ("x", "y"):
        raise ValueError(f"normal must be 'x' or 'y', got {normal!r}")

    def average(values: NDArray) -> NDArray:
        return np.einsum("k,k...->...", f, values)

    C_pp, C_pn = layers[:, p][:, :, p], layers[:, p][:, :, n]
    C_np, C_nn = layers[:, n][:, :, p], layers[:, n][:, :, n]
    inv_nn = np.linalg.inv(C_nn)
    stiff_n = np.linalg.inv(average(inv_nn))  # σ_n per unit ε̄_n
    coupling = average(inv_nn @ C_np)  # σ_n = stiff_n (ε̄_n + coupling ε̄_p)
    C = np.zeros((3, 3))
    C[np.ix_(n, n)] = stiff_n
    C[np.ix_(n, p)] = stiff_n @ coupling
    C[np.ix_(p, p)] = average(C_pp - C_pn @ inv_nn @ C_np) + average(C_pn @ inv_nn) @ stiff_n @ coupling
    C[np.ix_(p, n)] = average(C_pn @ inv_nn) @ stiff_n
    return C


def voigt_bound(E: ArrayLike, nu: ArrayLike) -> NDArray:
    """Upper (Voigt) bound: the volume average of the pixel stiffnesses (uniform strain)."""
    return plane_stress_matrix(np.ravel(E), np.ravel(nu)).mean(axis=0)


def reuss_bound(E: ArrayLike, nu: ArrayLike) -> NDArray:
    """Lower (Reuss) bound: the inverse of the averaged compliances (uniform stress)."""
    return np.linalg.inv(np.linalg.inv(plane_stress_matrix(np.ravel(E), np.ravel(nu))).mean(axis=0))
