"""The bone community's compression test of a cube between plane-parallel platens.

Real cubes cut from a scan are not periodic: most micro-FE studies (and ParOSol) report the
apparent modulus of a uniaxial test instead. Here the cube is pressed between two rigid
platens normal to ``axis``, in one of the two tests the literature runs:

- ``"frictionless"``: the nodes of the bone on the first face do not move along the axis,
  those on the last face move by the cube's length times the strain, everything else is free,
  with the three in-plane rigid-body motions held at the first face;
- ``"bonded"`` (the "constrained axial" test that ParOSol and FAIM report): the nodes on the
  first face are fixed in all three directions, those on the last face move along the axis
  with their lateral motion held. The faces cannot spread, so on the same bone this modulus is
  at least the frictionless one (equal for ν = 0).

The apparent modulus is the platen force per cube cross-section over the strain. Only the bone cluster
that joins both platens is meshed (face-connected, not across the cube's sides); bone that
does not reach both carries no load in this test.

On a cube cut from a scan this modulus and the periodic one (:func:`bonelib.fe.homogenise_3d`,
``E`` along the same axis) differ by the boundaries, not by the bone: the periodic cell joins
opposite faces whose bone does not match (its seams), the platens keep the loaded faces plane
and leave struts cut at the sides unloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from bonelib.constants import VOXEL_SIZE_MM
from bonelib.fe.element_operator import ElementOperator
from bonelib.fe.materials import check_materials
from bonelib.fe.memory import check_fits
from bonelib.fe.solvers import available, factorize_3d, preferred, system_3d
from bonelib.fe.voxel_mesh import VoxelMesh
from bonelib.imaging.density import MARROW_MODULUS


@dataclass(frozen=True)
class PlatenTest:
    """Result of a compression test between platens.

    Attributes
    ----------
    E_apparent : float
        Apparent Young's modulus along the loaded axis (MPa): platen stress over strain;
        0 when no bone joins the platens.
    axis : int
        Loaded axis of the volume (0 = z, superior–inferior for the scans of this project).
    bone_kept : float
        Share of the bone in the cluster that joins both platens.
    solver : str
        Backend that solved the system.
    platens : str
        ``"frictionless"`` or ``"bonded"``.
    dofs : int
        Degrees of freedom of the mesh (3 per node of the bone that joins the platens).
    """

    E_apparent: float
    axis: int
    bone_kept: float
    solver: str
    platens: str = "frictionless"
    dofs: int = 0


#: The platen tests :func:`compression_test` runs.
PLATENS = ("frictionless", "bonded")
#: Who solves them: bonelib, or ParOSol as an external program (:mod:`bonelib.fe.parosol`).
ENGINES = ("bonelib", "parosol")


def compression_test(E: ArrayLike, nu: ArrayLike, axis: int = 0, solver: str = "auto",
                     platens: str = "frictionless", engine: str = "bonelib",
                     voxel_size_mm: float = VOXEL_SIZE_MM) -> PlatenTest:
    """Apparent modulus of a voxel cube compressed between rigid platens normal to ``axis``.

    Parameters
    ----------
    E, nu : array_like
        (nz, ny, nx) Young's modulus (MPa) and Poisson's ratio per voxel; voxels at the
        marrow modulus (0.0104 MPa) or below are left out.
    axis : {0, 1, 2}
        Array axis of the load. The modulus does not depend on the voxel size.
    solver : {"auto", "cholmod", "superlu", "mg"}
        Backend (:mod:`bonelib.fe.solvers`).
    platens : {"frictionless", "bonded"}
        The boundary conditions (module docstring).
    engine : {"bonelib", "parosol"}
        Who solves: bonelib's own solvers, or ParOSol as an external program on the same bone
        (:mod:`bonelib.fe.parosol`: installed by the user, for volumes beyond one machine;
        ``solver`` is then ParOSol's multigrid CG).
    voxel_size_mm : float
        Voxel side (mm), for ParOSol's files; the modulus does not depend on it.

    Raises
    ------
    MemoryError
        Before anything is assembled, when the solve would not fit in the memory available
        (:mod:`bonelib.fe.memory`); ``"auto"`` first falls back to the iterative solver.

    Examples
    --------
    >>> import numpy as np
    >>> E, nu = np.full((4, 4, 4), 1000.0), np.full((4, 4, 4), 0.3)
    >>> round(compression_test(E, nu).E_apparent, 6)          # MPa: a free cube's modulus
    1000.0
    >>> compression_test(E, nu, platens="bonded").E_apparent > 1000.0  # the faces cannot spread
    True
    """
    E, nu = check_materials(E, nu, ndim=3)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    if platens not in PLATENS:
        raise ValueError(f"platens must be one of {PLATENS}, got {platens!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    E, nu = np.moveaxis(E, axis, 0), np.moveaxis(nu, axis, 0)
    bone = E > MARROW_MODULUS
    labels, _ = ndimage.label(bone)
    spanning = np.intersect1d(labels[0][labels[0] > 0], labels[-1][labels[-1] > 0])
    if spanning.size == 0:
        name = available(3)[0] if solver == "auto" else solver
        return PlatenTest(E_apparent=0.0, axis=axis, bone_kept=0.0, solver=name, platens=platens)
    sizes = np.bincount(labels.ravel())
    main = spanning[np.argmax(sizes[spanning])]
    mesh = VoxelMesh.of(labels == main, periodic=False)
    if engine == "parosol":
        from bonelib.fe.parosol import solve_platens

        if np.ptp(nu[labels == main]) > 0:
            raise ValueError("ParOSol takes one Poisson's ratio for the whole bone; nu varies")
        modulus, _ = solve_platens(np.where(labels == main, E, 0.0), float(nu[labels == main][0]), platens,
                                   voxel_size_mm)
        return PlatenTest(E_apparent=modulus, axis=axis, bone_kept=float(sizes[main] / bone.sum()),
                          solver="parosol", platens=platens, dofs=mesh.n_dofs)
    candidates = preferred(mesh.n_dofs) if solver == "auto" else [solver]
    name = check_fits(E.shape, mesh.elements.size, mesh.n_dofs, candidates)
    E_el, nu_el = E.ravel()[mesh.elements], nu.ravel()[mesh.elements]

    nodes = mesh.node_coordinates()  # (x, y, z) in voxels; z is the loaded axis now
    length = E.shape[0]
    bottom, top = np.flatnonzero(nodes[:, 2] == 0), np.flatnonzero(nodes[:, 2] == length)
    prescribed = {3 * n + 2: 0.0 for n in bottom} | {3 * n + 2: float(length) for n in top}  # strain 1
    if platens == "bonded":
        prescribed |= {3 * n + d: 0.0 for n in np.concatenate([bottom, top]) for d in (0, 1)}
    else:
        anchor = bottom[0]
        prescribed |= {3 * anchor: 0.0, 3 * anchor + 1: 0.0}
        offset = nodes[bottom, :2] - nodes[anchor, :2]
        far = bottom[np.argmax(np.abs(offset).max(axis=1))]
        dx, dy = nodes[far, :2] - nodes[anchor, :2]
        prescribed[3 * far + (0 if abs(dy) >= abs(dx) else 1)] = 0.0  # holds the rotation about the axis

    fixed = np.fromiter(prescribed, dtype=np.int64)
    u = np.zeros(mesh.n_dofs)
    u[fixed] = np.fromiter(prescribed.values(), dtype=float)
    numbering = np.zeros(mesh.n_dofs, dtype=np.int64)
    numbering[fixed] = -1
    free = np.flatnonzero(numbering == 0)
    numbering[free] = np.arange(free.size)
    # Only the free DOFs' block is assembled; the prescribed motion enters as element forces.
    loads = -_internal_forces(mesh, E_el, nu_el, u)[free]
    solve = factorize_3d(system_3d(mesh, E_el, nu_el, numbering, name), mesh, free, name)
    u[free] = solve(loads)
    del solve, loads
    force = _internal_forces(mesh, E_el, nu_el, u)[3 * top + 2].sum()  # MPa · voxel²: the platen's reaction
    area = E.shape[1] * E.shape[2]
    return PlatenTest(E_apparent=float(force / area), axis=axis, bone_kept=float(sizes[main] / bone.sum()),
                      solver=name, platens=platens, dofs=mesh.n_dofs)


def _internal_forces(mesh: VoxelMesh, E: NDArray, nu: NDArray, u: NDArray) -> NDArray:
    """K u at every mesh DOF, summed element by element (K is never assembled)."""
    return ElementOperator(mesh, E, nu, np.arange(mesh.n_dofs)) @ u
