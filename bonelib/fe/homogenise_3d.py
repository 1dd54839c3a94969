"""Periodic homogenisation of a 3D voxel cell: the 6 × 6 effective stiffness of a bone cube.

Each of the six load cases imposes a unit macro-strain ε̄ (Voigt order xx, yy, zz, yz, xz, xy,
engineering shear): u = ε̄ · x + ũ with ũ periodic, solved for ũ with one factorisation; the
effective stiffness is the volume average of the stress over the whole cell, σ̄ = C ε̄.

Marrow (voxels at or below the marrow modulus of :mod:`bonelib.imaging.density`, 0.0104 MPa, about
10⁻⁶ of bone) is dropped by default, and with it the bone outside the largest face-connected
cluster: such bone carries no stress once the marrow is gone. The stiffness then depends on
the kept bone only. A cluster that does not wrap around the cell along all three axes can
move as a rigid body (rotate) at no energy, so for such a cube the marrow is kept instead,
with its modulus: the moduli stay finite and exact, the cube is flagged (``wraps``), and its
modulus along an axis it does not wrap is of the order of the marrow's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.fe.hex8 import (
    LOAD_CASES_3D,
    centroid_strain_displacement_3d,
    hexahedron_product,
    isotropic_matrix,
    macro_displacements_3d,
)
from bonelib.fe.homogenise import Fields, Homogenisation
from bonelib.fe.materials import check_materials
from bonelib.fe.memory import check_fits
from bonelib.fe.solvers import factorize_3d, preferred, system_3d
from bonelib.fe.voxel_mesh import VoxelMesh
from bonelib.imaging.density import MARROW_MODULUS
from bonelib.morphometry.connectivity import periodic_clusters

#: What happens to the marrow: ``"drop"`` (default) or ``"keep"`` (exact, much slower).
MARROW_OPTIONS = ("drop", "keep")


def elements_of(E: NDArray, marrow: str) -> tuple[NDArray[np.bool_], NDArray, str, float]:
    """The element voxels of a cell, whether the bone wraps along (x, y, z), what became of
    the marrow (``"dropped"`` or ``"kept"``) and the share of the bone in the elements."""
    if marrow not in MARROW_OPTIONS:
        raise ValueError(f"marrow must be one of {MARROW_OPTIONS}, got {marrow!r}")
    bone = E > MARROW_MODULUS
    if not bone.any():
        raise ValueError("the cube holds no bone (every voxel is at the marrow modulus or below)")
    labels, wraps = periodic_clusters(bone)
    sizes = np.bincount(labels.ravel())[1:]
    largest = int(np.argmax(sizes))
    along = np.zeros(3, bool)
    if wraps[largest].size:
        along = np.any(wraps[largest] != 0, axis=0)[::-1]  # axes (z, y, x) → (x, y, z)
    if marrow == "keep" or not along.all():
        return np.ones(E.shape, bool), along, "kept", 1.0
    return labels == largest + 1, along, "dropped", float(sizes[largest] / sizes.sum())


def homogenise_3d(E: ArrayLike, nu: ArrayLike, voxel_size_mm: float, fields: bool = False, solver: str = "auto",
                  marrow: str = "drop") -> Homogenisation:
    """Effective 6 × 6 stiffness of a periodic voxel cube by hexahedral micro-FE.

    Parameters
    ----------
    E, nu : array_like
        (nz, ny, nx) Young's modulus (MPa, positive) and Poisson's ratio per voxel.
    voxel_size_mm : float
        Voxel side (mm). C does not depend on it; displacements do.
    fields : bool
        Also return displacement, strain, stress, von Mises stress and strain-energy density.
    solver : {"auto", "cholmod", "superlu", "mg"}
        Backend (:mod:`bonelib.fe.solvers`); ``"auto"`` takes the fastest whose solve fits in
        the memory available (:mod:`bonelib.fe.memory`).
    marrow : {"drop", "keep"}
        Drop the marrow and the bone outside the largest cluster (default), or keep every voxel.

    Raises
    ------
    MemoryError
        Before anything is assembled, when the solve would not fit in the memory available.

    Examples
    --------
    >>> import numpy as np
    >>> from bonelib.fe import homogenise_3d
    >>> E, nu = np.full((4, 4, 4), 1000.0), np.full((4, 4, 4), 0.25)
    >>> round(float(homogenise_3d(E, nu, 0.082).E[2]), 6)
    1000.0
    """
    E, nu = check_materials(E, nu, ndim=3)
    if not voxel_size_mm > 0:
        raise ValueError(f"voxel_size_mm must be positive, got {voxel_size_mm}")
    mask, wraps, marrow_status, kept = elements_of(E, marrow)
    mesh = VoxelMesh.of(mask)
    # "auto": the fastest backend whose solve fits in memory (the direct ones first)
    candidates = preferred(mesh.n_dofs) if solver == "auto" else [solver]
    name = check_fits(E.shape, mesh.elements.size, mesh.n_dofs, candidates, load_cases=6)
    E_el, nu_el = E.ravel()[mesh.elements], nu.ravel()[mesh.elements]
    U = macro_displacements_3d()  # (24, 6), unit voxel: C does not depend on the voxel size
    forces = mesh.assemble_vector(-hexahedron_product(E_el, nu_el, U))[3:]
    # the first node's three DOFs held (rigid translation); an unknown name: factorize_3d says which are known
    numbering = np.arange(mesh.n_dofs) - 3
    solve = factorize_3d(system_3d(mesh, E_el, nu_el, numbering, name), mesh, np.arange(3, mesh.n_dofs), name)
    fluctuation = np.zeros((mesh.n_dofs, 6))
    fluctuation[3:] = solve(forces)

    element_u = fluctuation[mesh.element_dofs] + U  # (n_el, 24, 6), per unit voxel
    strain = np.einsum("ka,eaj->ejk", centroid_strain_displacement_3d(), element_u)  # (n_el, 6 loads, 6)
    stress = np.einsum("ekl,ejl->ejk", isotropic_matrix(E_el, nu_el), strain)
    C = stress.sum(axis=0).T / E.size  # column j: mean stress of load case j over the whole cell
    result = None
    if fields:
        result = _fields(mesh, E.shape, voxel_size_mm, fluctuation, strain, stress,
                         0.5 * np.einsum("eaj,eaj->ej", element_u, hexahedron_product(E_el, nu_el, element_u)))
    return Homogenisation(C=C, wraps=wraps, marrow=marrow_status, bone_kept=kept,
                            solver=name, fields=result)


def _fields(mesh: VoxelMesh, shape: tuple, voxel_size_mm: float, fluctuation: NDArray, strain: NDArray,
            stress: NDArray, energy: NDArray) -> dict[str, Fields]:
    """Per-voxel fields of the six load cases (see :class:`Fields`)."""
    coordinates = mesh.node_coordinates()
    out = {}
    for j, load in enumerate(LOAD_CASES_3D):
        macro = np.zeros(6)
        macro[j] = 1.0
        tensor = np.diag(macro[:3]) + 0.5 * np.array([[0, macro[5], macro[4]], [macro[5], 0, macro[3]],
                                                      [macro[4], macro[3], 0]])
        displacement = np.full((int(np.prod(shape)), 3), np.nan)  # periodic: one node per voxel
        displacement[mesh.grid_nodes] = (fluctuation[:, j].reshape(-1, 3) + coordinates @ tensor.T) * voxel_size_mm
        per_voxel = {}
        for name, values in (("strain", strain[:, j]), ("stress", stress[:, j])):
            full = np.zeros((int(np.prod(shape)), 6))
            full[mesh.elements] = values
            per_voxel[name] = full.reshape(*shape, 6)
        density = np.zeros(int(np.prod(shape)))
        density[mesh.elements] = energy[:, j]
        s = per_voxel["stress"]
        von_mises = np.sqrt(0.5 * ((s[..., 0] - s[..., 1]) ** 2 + (s[..., 1] - s[..., 2]) ** 2
                                   + (s[..., 2] - s[..., 0]) ** 2) + 3 * (s[..., 3:] ** 2).sum(axis=-1))
        out[load] = Fields(displacement=displacement.reshape(*shape, 3), strain=per_voxel["strain"],
                             stress=s, von_mises=von_mises, strain_energy_density=density.reshape(shape))
    return out
