"""Exact effective stiffnesses that the FE solvers must reproduce or respect, in 2D and 3D.

2D matrices are 3 × 3 plane-stress stiffnesses in Voigt order (xx, yy, xy), 3D ones 6 × 6
in Voigt order (xx, yy, zz, yz, xz, xy), both with engineering shear strain, in MPa.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.fe.hex8 import isotropic_matrix
from bonelib.fe.quad4 import plane_stress_matrix

#: Voigt index of each pair of tensor indices (i, j) in 3D.
VOIGT = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])
#: Per dimension and axis across the layers: the Voigt indices of the strains that are
#: continuous across them (in-plane strains), and of the stresses that are (the tractions).
_IN_PLANE = {2: {"y": [0], "x": [1]}, 3: {"x": [1, 2, 3], "y": [0, 2, 4], "z": [0, 1, 5]}}
_TRACTION = {2: {"y": [1, 2], "x": [0, 2]}, 3: {"x": [0, 4, 5], "y": [1, 3, 5], "z": [2, 3, 4]}}


def isotropic(E: float, nu: float, ndim: int = 2) -> NDArray:
    """Stiffness of an isotropic material (E in MPa): plane stress in 2D, 6 × 6 in 3D."""
    return plane_stress_matrix(E, nu) if ndim == 2 else isotropic_matrix(E, nu)


def laminate(E: ArrayLike, nu: ArrayLike, fractions: ArrayLike, normal: str = "y", ndim: int = 2) -> NDArray:
    """Exact effective stiffness of a laminate of isotropic layers (plane stress in 2D).

    The in-plane strains p are the same in every layer, the tractions n on the layers too:
    ``σ_n = ⟨C_nn⁻¹⟩⁻¹ (ε̄_n + ⟨C_nn⁻¹ C_np⟩ ε̄_p)`` and
    ``σ̄_p = ⟨C_pp − C_pn C_nn⁻¹ C_np⟩ ε̄_p + ⟨C_pn C_nn⁻¹⟩ σ_n``. In 3D the shear moduli
    across the layers are then the Reuss (harmonic) mean and the in-plane one the Voigt
    (arithmetic) mean.

    Parameters
    ----------
    E, nu : array_like
        Young's modulus (MPa) and Poisson's ratio of each layer.
    fractions : array_like
        Volume fraction of each layer (normalised to sum 1).
    normal : {"x", "y", "z"}
        Axis across the layers (2D: ``"y"``, layers are rows of the image; ``"z"`` only in 3D).
    ndim : {2, 3}
        Dimension of the cell.

    >>> C = laminate([1000.0, 1000.0], [0.25, 0.25], [0.5, 0.5], "z", ndim=3)
    >>> bool(np.allclose(C, isotropic(1000.0, 0.25, ndim=3)))
    True
    """
    if ndim not in _TRACTION or normal not in _TRACTION[ndim]:
        raise ValueError(f"normal must be one of {sorted(_TRACTION.get(ndim, {}))} in {ndim}D, got {normal!r}")
    layers = isotropic(np.asarray(E, float), np.asarray(nu, float), ndim)
    f = np.asarray(fractions, float)
    f = f / f.sum()
    p, n = _IN_PLANE[ndim][normal], _TRACTION[ndim][normal]

    def average(values: NDArray) -> NDArray:
        return np.einsum("k,k...->...", f, values)

    C_pp, C_pn = layers[:, p][:, :, p], layers[:, p][:, :, n]
    C_np, C_nn = layers[:, n][:, :, p], layers[:, n][:, :, n]
    inv_nn = np.linalg.inv(C_nn)
    stiff_n = np.linalg.inv(average(inv_nn))  # σ_n per unit ε̄_n
    coupling = average(inv_nn @ C_np)  # σ_n = stiff_n (ε̄_n + coupling ε̄_p)
    C = np.zeros((len(p) + len(n),) * 2)
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
    from bonelib.fe.homogenise import homogenise
    from bonelib.fe.materials import check_materials

    E, nu = check_materials(E, nu)
    return homogenise(E / (1 - nu**2), nu / (1 - nu), 1.0, check_input=False)
