"""Solvers of the periodic hexahedral system K ũ = f, six load cases per cube.

- ``"cholmod"``: supernodal sparse Cholesky of SuiteSparse (scikit-sparse) with METIS
  nested-dissection ordering, one factorisation for the six load cases; exact to round-off.
  METIS halves the time of CHOLMOD's default ordering on bone cubes. It reads only the lower
  triangle of the matrix, so only that is assembled for it (:data:`TRIANGLE`).
- ``"superlu"``: SciPy's SuperLU with COLAMD ordering; always present, slow beyond ~30³.
- ``"amg"``: conjugate gradients preconditioned by pyamg's smoothed-aggregation multigrid,
  built with the rigid-body modes as near-null space (the elasticity setting of Vaněk,
  Mandel & Brezina 1996); iterative, stopped at a relative residual of ``rtol``.

All run with BLAS and OpenMP pools limited to one thread, as the 2D solvers do.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

try:
    from sksparse.cholmod import analyze as _cholmod_analyze
except ImportError:  # optional backend
    _cholmod_analyze = None

_threads = ThreadpoolController()

#: Relative residual at which the iterative solver stops (‖f − K ũ‖ / ‖f‖).
RTOL = 1e-10
#: The part of the stiffness matrix each backend reads
#: (:meth:`bonelib.fe3d.voxel_mesh.VoxelMesh.stiffness`).
TRIANGLE = {"cholmod": "lower", "amg": "full", "superlu": "full"}

Solve = Callable[[NDArray], NDArray]


def available() -> list[str]:
    """Names of the 3D backends that can run here, the default first."""
    return (["cholmod"] if _cholmod_analyze is not None else []) + ["amg", "superlu"]


def rigid_body_modes(coordinates: NDArray) -> NDArray:
    """(3 n, 6) translations and infinitesimal rotations of nodes at ``coordinates`` (n, 3)."""
    x, y, z = (coordinates - coordinates.mean(axis=0)).T
    modes = np.zeros((3 * len(coordinates), 6))
    for axis in range(3):
        modes[axis::3, axis] = 1.0
    modes[0::3, 3], modes[1::3, 3] = -y, x  # about z
    modes[1::3, 4], modes[2::3, 4] = -z, y  # about x
    modes[0::3, 5], modes[2::3, 5] = z, -x  # about y
    return modes


def _cholmod(matrix: sp.csc_matrix, modes: NDArray) -> Solve:
    factor = _cholmod_analyze(matrix, ordering_method="metis").cholesky(matrix)
    return lambda rhs: factor(rhs)


def _superlu(matrix: sp.csc_matrix, modes: NDArray) -> Solve:
    return sla.splu(matrix, permc_spec="COLAMD", diag_pivot_thresh=0.0, options={"SymmetricMode": True}).solve


def _amg(matrix: sp.csc_matrix, modes: NDArray) -> Solve:
    import pyamg

    csr = matrix.tocsr()
    hierarchy = pyamg.smoothed_aggregation_solver(csr, B=modes, symmetry="symmetric",
                                                  strength=("symmetric", {"theta": 0.0}),
                                                  smooth=("jacobi", {"omega": 4 / 3, "degree": 1}),
                                                  max_coarse=2000)
    preconditioner = hierarchy.aspreconditioner(cycle="V")

    def solve(rhs: NDArray) -> NDArray:
        columns = rhs.reshape(len(rhs), -1)
        out = np.empty_like(columns)
        for c in range(columns.shape[1]):
            out[:, c], info = sla.cg(csr, columns[:, c], rtol=RTOL, atol=0.0, M=preconditioner, maxiter=2000)
            if info != 0:
                raise RuntimeError(f"conjugate gradients did not reach a relative residual of {RTOL} "
                                   f"in {info} iterations")
        return out.reshape(rhs.shape)

    return solve


_BACKENDS = {"cholmod": _cholmod, "superlu": _superlu, "amg": _amg}


def factorize_3d(matrix: sp.csc_matrix, modes: NDArray, solver: str = "auto") -> Solve:
    """Prepare ``solve(rhs)`` for the symmetric positive definite ``matrix`` of a voxel mesh.

    Parameters
    ----------
    matrix : scipy.sparse.csc_matrix
        Reduced stiffness of the free DOFs (:meth:`bonelib.fe3d.voxel_mesh.VoxelMesh.stiffness`):
        the part :data:`TRIANGLE` names for the backend (the whole matrix serves every backend).
    modes : numpy.ndarray
        (n, 6) rigid-body modes at the free DOFs (:func:`rigid_body_modes`, rows of the
        free DOFs): the near-null space of the multigrid; unused by the direct solvers.
    solver : {"auto", "cholmod", "amg", "superlu"}
        Backend; ``"auto"`` takes the first of :func:`available`.
    """
    name = available()[0] if solver == "auto" else solver
    if name not in _BACKENDS:
        raise ValueError(f"solver must be one of 'auto', {', '.join(map(repr, _BACKENDS))}; got {solver!r}")
    if name not in available():
        raise ValueError(f"solver {name!r} is not installed here (available: {', '.join(available())})")
    with _threads.limit(limits=1):
        solve = _BACKENDS[name](matrix, modes)

    def single_threaded(rhs: NDArray) -> NDArray:
        with _threads.limit(limits=1):
            return solve(rhs)

    return single_threaded
