"""Exact references for the 3D solver: isotropic and laminate stiffness, tensor rotation,
and plane strain through the 2D solver.

Matrices are 6 × 6 stiffnesses in Voigt order (xx, yy, zz, yz, xz, xy) with engineering shear
strains, in MPa.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.fe3d.hexahedron import isotropic_matrix

#: Voigt index of each pair of tensor indices (i, j).
VOIGT = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])
#: Voigt indices of the strains that are continuous across layers normal to x, y, z (in-plane
#: strains), and of the stresses that are (the tractions on the layers).
_IN_PLANE = {0: [1, 2, 3], 1: [0, 2, 4], 2: [0, 1, 5]}
_TRACTION = {0: [0, 4, 5], 1: [1, 3, 5], 2: [2, 3, 4]}


def laminate_3d(E: ArrayLike, nu: ArrayLike, fractions: ArrayLike, normal: int = 2) -> NDArray:
    """Exact effective stiffness of a laminate of isotropic layers normal to axis ``normal``.

    The in-plane strains p are the same in every layer, the tractions n on the layers too:
    ``σ_n = ⟨C_nn⁻¹⟩⁻¹ (ε̄_n + ⟨C_nn⁻¹ C_np⟩ ε̄_p)`` and
    ``σ̄_p = ⟨C_pp − C_pn C_nn⁻¹ C_np⟩ ε̄_p + ⟨C_pn C_nn⁻¹⟩ σ_n``. The shear moduli across the
    layers are then the Reuss (harmonic) mean and the in-plane one the Voigt (arithmetic) mean.

    Parameters
    ----------
    E, nu : array_like
        Young's modulus (MPa) and Poisson's ratio of each layer.
    fractions : array_like
        Volume fraction of each layer (normalised to sum 1).
    normal : {0, 1, 2}
        Axis across the layers, 0 = x, 1 = y, 2 = z.
    """
    if normal not in _TRACTION:
        raise ValueError(f"normal must be 0 (x), 1 (y) or 2 (z), got {normal!r}")
    layers = isotropic_matrix(np.asarray(E, float), np.asarray(nu, float))
    f = np.asarray(fractions, float) / np.sum(fractions)
    p, n = _IN_PLANE[normal], _TRACTION[normal]

    def average(values: NDArray) -> NDArray:
        return np.einsum("k,k...->...", f, values)

    C_pp, C_pn = layers[:, p][:, :, p], layers[:, p][:, :, n]
    C_np, C_nn = layers[:, n][:, :, p], layers[:, n][:, :, n]
    inv_nn = np.linalg.inv(C_nn)
    stiff_n = np.linalg.inv(average(inv_nn))
    coupling = average(inv_nn @ C_np)
    C = np.zeros((6, 6))
    C[np.ix_(n, n)] = stiff_n
    C[np.ix_(n, p)] = stiff_n @ coupling
    C[np.ix_(p, p)] = average(C_pp - C_pn @ inv_nn @ C_np) + average(C_pn @ inv_nn) @ stiff_n @ coupling
    C[np.ix_(p, n)] = average(C_pn @ inv_nn) @ stiff_n
    return C


def to_tensor(C: ArrayLike) -> NDArray:
    """The fourth-order tensor C_ijkl (3 × 3 × 3 × 3) of a 6 × 6 Voigt stiffness."""
    return np.asarray(C, float)[VOIGT[:, :, None, None], VOIGT[None, None, :, :]]


def to_voigt(tensor: ArrayLike) -> NDArray:
    """The 6 × 6 Voigt stiffness (engineering shear) of a fourth-order tensor C_ijkl."""
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    tensor = np.asarray(tensor, float)
    return np.array([[tensor[i, j, k, l] for k, l in pairs] for i, j in pairs])


def rotate_stiffness(C: ArrayLike, R: ArrayLike) -> NDArray:
    """The stiffness of a material turned by the orthogonal map R (points x → R x): C' = R⊗R⊗R⊗R : C."""
    R = np.asarray(R, float)
    return to_voigt(np.einsum("ia,jb,kc,ld,abcd->ijkl", R, R, R, R, to_tensor(C)))


def plane_strain_homogenise(E: ArrayLike, nu: ArrayLike):
    """Plane-strain effective stiffness (3 × 3, MPa, Voigt xx, yy, xy) of a periodic 2D image.

    Plane strain with (E, ν) is plane stress with E / (1 − ν²) and ν / (1 − ν), so the 2D
    solver of :mod:`bonelib.fe` solves it unchanged; the plane-stress check on ν (< 0.5)
    does not apply to the converted ratio (< 1). Returns the 2D ``Homogenisation``.
    """
    from bonelib.fe.homogenise import check_materials, homogenise

    E, nu = check_materials(E, nu)
    return homogenise(E / (1 - nu**2), nu / (1 - nu), 1.0, check_input=False)
