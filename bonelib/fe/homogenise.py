"""Periodic homogenisation of a heterogeneous pixel image (Lu et al. 2023, Eq. 2–5).

Each load case imposes a unit macro-strain ε̄ on the periodic cell: the displacement is
u = ε̄ · x + ũ with ũ periodic (Eq. 2), so that u(x⁺) − u(x⁻) = ε̄ · (x⁺ − x⁻) on opposite
edges. ũ solves K ũ = −Σₑ Kₑ uₑ(ε̄) with the rigid translation removed by fixing node 0.
The effective stiffness is the volume average of the stress, σ̄ = C ε̄ (Eq. 3); the three
load cases share one factorisation of K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.constants import VOXEL_SIZE_MM
from bonelib.fe import solvers
from bonelib.fe.materials import check_materials
from bonelib.fe.pixel_mesh import periodic_grid
from bonelib.fe.quad4 import (
    centroid_strain_displacement,
    element_stiffness,
    macro_displacements,
    plane_stress_matrix,
)

#: Names of the three unit load cases, in Voigt order.
LOAD_CASES = ("xx", "yy", "xy")


@dataclass(frozen=True)
class Fields:
    """Fields of one unit load case, per pixel or voxel (element) or per node, in 2D or 3D.

    In 2D x runs along columns (axis 1) and y along rows (axis 0); in 3D x along axis 2,
    y along axis 1 and z along axis 0, the cube indexed ``[z, y, x]``.

    Attributes
    ----------
    displacement : numpy.ndarray
        (rows, cols, 2) or (nz, ny, nx, 3) total displacement in mm of the node at each
        element's corner nearest the origin, for a macro-strain of 1 (scale linearly for other
        strains); in 3D NaN where no element touches the node.
    strain : numpy.ndarray
        (..., 3) or (..., 6) element-average strain, Voigt order, engineering shear; zero in
        dropped voxels.
    stress : numpy.ndarray
        (..., 3) or (..., 6) element-average stress in MPa, Voigt order.
    von_mises : numpy.ndarray
        Von Mises stress of the element-average stress (MPa; plane stress in 2D).
    strain_energy_density : numpy.ndarray
        Strain energy per unit volume of each element, integrated exactly (MPa = MJ/m³).
    """

    displacement: NDArray
    strain: NDArray
    stress: NDArray
    von_mises: NDArray
    strain_energy_density: NDArray


@dataclass(frozen=True)
class Homogenisation:
    """Effective elastic properties of a periodic cell, 2D (plane stress) or 3D.

    Attributes
    ----------
    C : numpy.ndarray
        Effective stiffness (MPa), engineering shear strain: 3 × 3 in 2D, Voigt order (xx, yy,
        xy), x along columns (axis 1) and y along rows (axis 0); 6 × 6 in 3D, Voigt order (xx,
        yy, zz, yz, xz, xy), x along axis 2 of the cube, y along axis 1, z along axis 0. Column
        j is the volume-averaged stress under unit macro-strain j.
    fields : dict of str to Fields, or None
        Fields of the load cases when requested.
    solver : str
        Backend that solved the system.
    wraps : numpy.ndarray or None
        3D: (3,) whether the kept bone wraps around the cell along x, y, z.
    marrow : str or None
        3D: ``"dropped"`` or ``"kept"`` (asked for, or because the bone does not wrap along all axes).
    bone_kept : float or None
        3D: share of the bone voxels in the mesh (1 when the marrow is kept).

    Examples
    --------
    >>> import numpy as np
    >>> result = homogenise(np.full((4, 4), 1000.0), np.full((4, 4), 0.25))
    >>> result.ndim, result.E.round(6).tolist(), round(result.G_xy, 6)
    (2, [1000.0, 1000.0], 400.0)
    """

    C: NDArray
    fields: dict[str, Fields] | None = None
    solver: str = ""
    wraps: NDArray | None = None
    marrow: str | None = None
    bone_kept: float | None = None

    @property
    def ndim(self) -> int:
        """2 or 3: the dimension of the cell."""
        return 2 if self.C.shape == (3, 3) else 3

    @property
    def S(self) -> NDArray:
        """Effective compliance C⁻¹ (1/MPa)."""
        return np.linalg.inv(self.C)

    @property
    def E(self) -> NDArray:
        """Young's moduli (MPa) under uniaxial stress along x, y (and z): 1/S₁₁, 1/S₂₂ (, 1/S₃₃)."""
        return 1 / np.diag(self.S)[:self.ndim]

    @property
    def G(self) -> NDArray:
        """Shear moduli (MPa): G_xy in 2D; G_yz, G_xz, G_xy in 3D (1 over the shear diagonal of S)."""
        return 1 / np.diag(self.S)[self.ndim:]

    @property
    def nu(self) -> NDArray:
        """Poisson's ratios ν_ij = −S_ji / S_ii (i the loaded axis, zero diagonal)."""
        S = self.S[:self.ndim, :self.ndim]
        return -(S / np.diag(S)[:, None]) * (1 - np.eye(self.ndim))

    @property
    def E_x(self) -> float:
        """Apparent Young's modulus along x under uniaxial stress, 1/S₁₁ (MPa)."""
        return float(self.E[0])

    @property
    def E_y(self) -> float:
        """Apparent Young's modulus along y under uniaxial stress, 1/S₂₂ (MPa)."""
        return float(self.E[1])

    @property
    def G_xy(self) -> float:
        """Apparent shear modulus in the xy plane, 1 over the last diagonal entry of S (MPa)."""
        return float(self.G[-1])

    @property
    def nu_xy(self) -> float:
        """Poisson's ratio for uniaxial stress along x, −S₁₂/S₁₁."""
        return float(-self.S[0, 1] / self.S[0, 0])

    @property
    def nu_eff(self) -> float:
        """Effective Poisson's ratio of a 2D slice, Eq. 5: ν = 2 C₁₂ / (C₁₁ + C₂₂)."""
        self._paper_quantity()
        return float(2 * self.C[0, 1] / (self.C[0, 0] + self.C[1, 1]))

    @property
    def E_eff(self) -> float:
        """Effective Young's modulus of a 2D slice (MPa), Eq. 4: E = (C₁₁ + C₂₂)/2 · (1 − ν²)."""
        self._paper_quantity()
        return float((self.C[0, 0] + self.C[1, 1]) / 2 * (1 - self.nu_eff**2))

    def _paper_quantity(self) -> None:
        if self.ndim != 2:
            raise ValueError("E_eff and nu_eff are the paper's in-plane averages of a 2D slice; "
                             "a 3D cell has E (E_x, E_y, E_z), G and nu")


def homogenise(
    E: ArrayLike,
    nu: ArrayLike,
    voxel_size_mm: float = VOXEL_SIZE_MM,
    fields: bool = False,
    solver: str = "auto",
    check_input: bool = True,
) -> Homogenisation:
    """Effective plane-stress stiffness of a periodic heterogeneous image by Q4 FE.

    One bilinear plane-stress quad per pixel (full 2 × 2 Gauss integration), periodic
    boundary conditions by identifying opposite nodes, the three unit macro-strains solved
    with one sparse direct factorisation.

    Parameters
    ----------
    E : array_like
        (rows, cols) Young's modulus per pixel (MPa), positive.
    nu : array_like
        (rows, cols) Poisson's ratio per pixel, in (−1, 0.5).
    voxel_size_mm : float
        Pixel side (mm). C does not depend on it in 2D; displacements do.
    fields : bool
        Also return displacement, strain, stress, von Mises stress and strain-energy
        density of each load case.
    solver : {"auto", "cholmod", "superlu"}
        Sparse direct backend (:mod:`bonelib.fe.solvers`).
    check_input : bool
        Check the materials (:func:`check_materials`); False: they are float64 arrays of one
        shape that the caller checked (as :func:`bonelib.slices.label.label` does), or a converted
        material that is not a plane-stress one (plane strain's ν / (1 − ν)).

    Returns
    -------
    Homogenisation
        ``C`` (MPa), ``E_eff``, ``nu_eff``, directional moduli, and ``fields`` if asked.
    """
    if check_input:
        E, nu = check_materials(E, nu)
    if not voxel_size_mm > 0:
        raise ValueError(f"voxel_size_mm must be positive, got {voxel_size_mm}")
    rows, cols = E.shape
    grid = periodic_grid(rows, cols)
    Ke = element_stiffness(E.ravel(), nu.ravel())  # (n_elements, 8, 8)

    U = macro_displacements()  # (8, 3)
    forces = grid.assemble_vector(-(Ke @ U))  # (n_dofs, 3)
    name = solvers.available()[0] if solver == "auto" else solver
    solve = solvers.factorize(grid.reduced_matrix(Ke), name, pattern=grid)
    fluctuation = np.zeros((grid.n_dofs, 3))
    fluctuation[grid.free_order] = solve(forces[grid.free_order])

    element_u = fluctuation[grid.element_dofs] + U  # (n_elements, 8, 3) total, per unit pixel
    strain = np.einsum("ka,eaj->ejk", centroid_strain_displacement(), element_u)  # (n_el, 3 loads, 3)
    D = plane_stress_matrix(E.ravel(), nu.ravel())  # (n_elements, 3, 3)
    stress = np.einsum("ekl,ejl->ejk", D, strain)
    C = stress.mean(axis=0).T  # column j: average stress of load case j

    result_fields = None
    if fields:
        energy = 0.5 * np.einsum("eaj,eab,ebj->ej", element_u, Ke, element_u)  # per unit pixel area
        nodes = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).reshape(-1, 2).astype(float)
        result_fields = {}
        for j, load in enumerate(LOAD_CASES):
            exx, eyy, gxy = np.eye(3)[j]
            tensor = np.array([[exx, gxy / 2], [gxy / 2, eyy]])
            total = fluctuation[:, j].reshape(-1, 2) + nodes @ tensor.T  # in pixels
            s = stress[:, j, :]
            result_fields[load] = Fields(
                displacement=(total * voxel_size_mm).reshape(rows, cols, 2),
                strain=strain[:, j, :].reshape(rows, cols, 3),
                stress=s.reshape(rows, cols, 3),
                von_mises=np.sqrt(s[:, 0] ** 2 - s[:, 0] * s[:, 1] + s[:, 1] ** 2 + 3 * s[:, 2] ** 2).reshape(rows, cols),
                strain_energy_density=energy[:, j].reshape(rows, cols),
            )
    return Homogenisation(C=C, fields=result_fields, solver=name)
