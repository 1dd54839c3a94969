"""The 4-node bilinear plane-stress quadrilateral on a square pixel.

Local nodes run counter-clockwise in (x, y) = (column, row) coordinates: 0 at (0, 0),
1 at (h, 0), 2 at (h, h), 3 at (0, h); element degrees of freedom are ordered
(u0, v0, u1, v1, u2, v2, u3, v3). Strains are in Voigt order (εxx, εyy, γxy) with
engineering shear strain γxy = 2εxy.

In 2D the stiffness matrix of a square element does not depend on its size, and it is
linear in the entries of the plane-stress matrix, so every element matrix is
``E / (1 - ν²) · (K_A + ν · K_B)`` with two constant 8 × 8 matrices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Local node positions in the reference square [-1, 1]².
XI = np.array([-1.0, 1.0, 1.0, -1.0])
ETA = np.array([-1.0, -1.0, 1.0, 1.0])
#: Local node positions in the unit pixel (x, y).
NODE_X = (XI + 1) / 2
NODE_Y = (ETA + 1) / 2
#: Parts of the plane-stress matrix, D = E / (1 - ν²) · (D_A + ν · D_B).
D_A = np.diag([1.0, 1.0, 0.5])
D_B = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -0.5]])
#: 2 × 2 Gauss points (weights 1).
GAUSS_POINTS = [(x, y) for y in (-1 / np.sqrt(3), 1 / np.sqrt(3)) for x in (-1 / np.sqrt(3), 1 / np.sqrt(3))]


def strain_displacement(xi: float, eta: float, size: float = 1.0) -> NDArray:
    """The 3 × 8 strain–displacement matrix B at reference point (ξ, η).

    Parameters
    ----------
    xi, eta : float
        Point in the reference square [-1, 1]².
    size : float
        Side of the pixel (any length unit; B is in 1/unit).
    """
    dN_dx = 0.25 * XI * (1 + ETA * eta) * (2 / size)
    dN_dy = 0.25 * ETA * (1 + XI * xi) * (2 / size)
    B = np.zeros((3, 8))
    B[0, 0::2] = dN_dx
    B[1, 1::2] = dN_dy
    B[2, 0::2] = dN_dy
    B[2, 1::2] = dN_dx
    return B


def plane_stress_matrix(E: ArrayLike, nu: ArrayLike) -> NDArray:
    """Plane-stress elasticity matrix(es) D, shape (..., 3, 3), in the unit of ``E`` (MPa).

    ``D = E / (1 - ν²) · [[1, ν, 0], [ν, 1, 0], [0, 0, (1 - ν)/2]]``.
    """
    E, nu = np.asarray(E, dtype=np.float64), np.asarray(nu, dtype=np.float64)
    factor = (E / (1 - nu**2))[..., None, None]
    return factor * (D_A + nu[..., None, None] * D_B)


@lru_cache(maxsize=None)
def element_matrices() -> tuple[NDArray, NDArray]:
    """The constant parts (K_A, K_B) of the element stiffness, 2 × 2 Gauss integration.

    The element stiffness (unit thickness) is ``E / (1 - ν²) · (K_A + ν · K_B)``.
    """
    K_A = np.zeros((8, 8))
    K_B = np.zeros((8, 8))
    jacobian = 0.25  # det J of the map from [-1, 1]² onto the unit pixel
    for xi, eta in GAUSS_POINTS:
        B = strain_displacement(xi, eta)
        K_A += B.T @ D_A @ B * jacobian
        K_B += B.T @ D_B @ B * jacobian
    K_A.setflags(write=False)
    K_B.setflags(write=False)
    return K_A, K_B


def element_stiffness(E: NDArray, nu: NDArray) -> NDArray:
    """Stiffness matrices of pixels with moduli ``E`` (MPa) and ratios ``nu``, shape (..., 8, 8).

    Unit thickness; the result does not depend on the pixel size (2D scale invariance).
    """
    K_A, K_B = element_matrices()
    E, nu = np.asarray(E, dtype=np.float64), np.asarray(nu, dtype=np.float64)
    return (E / (1 - nu**2))[..., None, None] * (K_A + nu[..., None, None] * K_B)


def centroid_strain_displacement() -> NDArray:
    """B at the element centre (unit pixel).

    B is linear in ξ and η on a square, so this is also the mean of B over the element and
    over the four Gauss points: the centroid strain is the element's average strain.
    """
    return strain_displacement(0.0, 0.0)


def macro_displacements() -> NDArray:
    """Nodal displacements of a unit pixel under the three unit macro-strains, shape (8, 3).

    Column j is u = ε̄_j · x for ε̄_1 = (1, 0, 0), ε̄_2 = (0, 1, 0), ε̄_3 = (0, 0, 1)
    (γxy = 1: u = y/2, v = x/2). A bilinear element reproduces these linear fields exactly.
    """
    U = np.zeros((8, 3))
    U[0::2, 0] = NODE_X
    U[1::2, 1] = NODE_Y
    U[0::2, 2] = NODE_Y / 2
    U[1::2, 2] = NODE_X / 2
    return U
