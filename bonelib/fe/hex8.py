"""The 8-node trilinear hexahedron on a cubic voxel, for 3D micro-FE.

A volume is indexed ``[z, y, x]`` (axis 0 is z: the stack of axial sections, superior–inferior
for the scans of this project). Local nodes are numbered as usual for hexahedra: 0–3
counter-clockwise in the bottom face z = 0 starting at the origin, 4–7 above them; node a sits
at ``(NODE_X[a], NODE_Y[a], NODE_Z[a])`` in the unit voxel. Element degrees of freedom are
``(u0, v0, w0, u1, …, w7)``. Strains and stresses are in Voigt order
(xx, yy, zz, yz, xz, xy) with engineering shear strains (γyz = 2εyz, …).

For an isotropic material the stiffness is linear in the Lamé constants,
``Kₑ = h · (λ K_λ + μ K_μ)`` on a voxel of side h, so every element matrix is built from two
constant 24 × 24 matrices of the unit voxel (full 2 × 2 × 2 Gauss integration).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Local node positions in the reference cube [-1, 1]³.
XI = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
ETA = np.array([-1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
ZETA = np.array([-1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
#: Local node positions in the unit voxel.
NODE_X, NODE_Y, NODE_Z = (XI + 1) / 2, (ETA + 1) / 2, (ZETA + 1) / 2
#: The six unit macro-strains, Voigt order.
LOAD_CASES_3D = ("xx", "yy", "zz", "yz", "xz", "xy")
#: Parts of the isotropic elasticity matrix, D = λ D_λ + μ D_μ.
D_LAMBDA = np.zeros((6, 6))
D_LAMBDA[:3, :3] = 1.0
D_MU = np.diag([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
_G = 1 / np.sqrt(3)


def strain_displacement_3d(xi: float, eta: float, zeta: float, size: float = 1.0) -> NDArray:
    """The 6 × 24 strain–displacement matrix B at reference point (ξ, η, ζ) of a voxel of side ``size``."""
    scale = 2 / size
    dN = np.stack([0.125 * XI * (1 + ETA * eta) * (1 + ZETA * zeta),
                   0.125 * ETA * (1 + XI * xi) * (1 + ZETA * zeta),
                   0.125 * ZETA * (1 + XI * xi) * (1 + ETA * eta)]) * scale  # (3, 8): d/dx, d/dy, d/dz
    B = np.zeros((6, 24))
    for i in range(3):
        B[i, i::3] = dN[i]
    B[3, 1::3], B[3, 2::3] = dN[2], dN[1]  # γyz = ∂v/∂z + ∂w/∂y
    B[4, 0::3], B[4, 2::3] = dN[2], dN[0]  # γxz = ∂u/∂z + ∂w/∂x
    B[5, 0::3], B[5, 1::3] = dN[1], dN[0]  # γxy = ∂u/∂y + ∂v/∂x
    return B


def lame(E: ArrayLike, nu: ArrayLike) -> tuple[NDArray, NDArray]:
    """Lamé constants (λ, μ) in the unit of ``E`` (MPa) from Young's modulus and Poisson's ratio."""
    E, nu = np.asarray(E, dtype=np.float64), np.asarray(nu, dtype=np.float64)
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def isotropic_matrix(E: ArrayLike, nu: ArrayLike) -> NDArray:
    """Isotropic 3D elasticity matrix(es) D, shape (..., 6, 6), in the unit of ``E`` (MPa)."""
    lam, mu = lame(E, nu)
    return lam[..., None, None] * D_LAMBDA + mu[..., None, None] * D_MU


@lru_cache(maxsize=None)
def hexahedron_matrices() -> tuple[NDArray, NDArray]:
    """The constant parts (K_λ, K_μ) of the unit-voxel stiffness, 2 × 2 × 2 Gauss points."""
    K_lambda, K_mu = np.zeros((24, 24)), np.zeros((24, 24))
    jacobian = 0.125  # det J of the map from [-1, 1]³ onto the unit voxel
    for zeta in (-_G, _G):
        for eta in (-_G, _G):
            for xi in (-_G, _G):
                B = strain_displacement_3d(xi, eta, zeta)
                K_lambda += B.T @ D_LAMBDA @ B * jacobian
                K_mu += B.T @ D_MU @ B * jacobian
    for matrix in (K_lambda, K_mu):
        matrix.setflags(write=False)
    return K_lambda, K_mu


def hexahedron_stiffness(E: ArrayLike, nu: ArrayLike, size: float = 1.0) -> NDArray:
    """Stiffness matrices of voxels with moduli ``E`` (MPa) and ratios ``nu``, shape (..., 24, 24).

    Parameters
    ----------
    E, nu : array_like
        Young's modulus (MPa) and Poisson's ratio of each voxel.
    size : float
        Voxel side (mm); the matrix is in N/mm when E is in MPa.
    """
    K_lambda, K_mu = hexahedron_matrices()
    lam, mu = lame(E, nu)
    return size * (lam[..., None, None] * K_lambda + mu[..., None, None] * K_mu)


def hexahedron_product(E: ArrayLike, nu: ArrayLike, u: NDArray) -> NDArray:
    """``Ke @ u`` for each voxel without forming its 24 × 24 stiffness (unit voxel).

    Parameters
    ----------
    E, nu : array_like
        (n,) Young's modulus (MPa) and Poisson's ratio of each voxel.
    u : numpy.ndarray
        (n, 24, k) nodal displacements of each voxel, or (24, k) the same for all.

    Returns
    -------
    numpy.ndarray
        (n, 24, k) nodal forces (MPa · voxel²).
    """
    K_lambda, K_mu = hexahedron_matrices()
    lam, mu = lame(E, nu)
    return lam[:, None, None] * (K_lambda @ u) + mu[:, None, None] * (K_mu @ u)


def centroid_strain_displacement_3d() -> NDArray:
    """B at the voxel centre (unit voxel).

    On a cube the derivatives of the trilinear shape functions are multilinear and odd terms
    vanish on averaging, so the centroid strain is the element's mean strain.
    """
    return strain_displacement_3d(0.0, 0.0, 0.0)


def macro_displacements_3d() -> NDArray:
    """Nodal displacements of a unit voxel under the six unit macro-strains, shape (24, 6).

    Column j is u = ε̄_j · x, shear columns with engineering strain 1 split evenly between
    the two components (γyz = 1: v = z/2, w = y/2). A trilinear element reproduces them exactly.
    """
    X = np.stack([NODE_X, NODE_Y, NODE_Z])  # (3, 8) coordinates of the nodes
    U = np.zeros((24, 6))
    for j in range(3):
        U[j::3, j] = X[j]
    for j, (a, b) in zip((3, 4, 5), ((1, 2), (0, 2), (0, 1))):
        U[a::3, j] = X[b] / 2
        U[b::3, j] = X[a] / 2
    return U
