"""Solvers of the periodic FE systems K ũ = f, one set-up for all load cases, in 2D and 3D.

``"auto"`` takes the fastest backend available: the first of :func:`available` in 2D, the first
of :func:`preferred` (by the mesh's size) that fits in memory in 3D:

- ``"cholmod"``: supernodal sparse Cholesky of SuiteSparse, as the wheels of CVXOPT bundle it
  (with OpenBLAS; ``pip install bonelib[cholmod]``, part of what ``make`` installs), on the
  matrix in the same nested-dissection order as SuperLU's. In 2D its symbolic analysis depends
  on the sparsity pattern only, so it is done once per image shape and reused for every sample
  (182² slice: 3.3× SuperLU; 50³ bone cube: 2.1×; ``benchmarks/bench_fe.py`` and
  ``benchmarks/bench_fe3d.py``). Only the lower triangle is read, so in 3D only that is
  assembled for it (:data:`TRIANGLE`).
- ``"superlu"``: SciPy's SuperLU, always present, symmetric mode, no pivoting, on the matrix
  in nested-dissection order: in 2D the pixel grid's (:func:`bonelib.fe.pixel_mesh.nested_dissection`),
  in 3D METIS's of the mesh's node graph (:func:`bonelib.fe.ordering.nested_dissection`;
  six times faster than SuperLU's own COLAMD ordering on a 50³ bone cube): the direct solver
  of a bare SciPy.
- ``"mg"`` (3D): conjugate gradients preconditioned by geometric multigrid on the voxel grid
  (:mod:`bonelib.fe.multigrid`), all load cases at once, its finest level never assembled
  (:mod:`bonelib.fe.element_operator`); iterative, stopped at a relative
  residual of :data:`RTOL`, at which the moduli agree with a direct solve to about 1e-8. Its
  memory grows linearly with the mesh: the solver of volumes whose factor would not fit.

The direct methods are exact to round-off. Every backend runs single-threaded (BLAS and
OpenMP pools limited to one thread with threadpoolctl), so that a label is bit-identical
whatever the machine's thread settings; parallelism comes from labelling several samples at
once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Hashable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from bonelib.fe import multigrid
from bonelib.fe.element_operator import ElementOperator
from bonelib.fe.ordering import nested_dissection

if TYPE_CHECKING:
    from bonelib.fe.voxel_mesh import VoxelMesh

Solve = Callable[[NDArray], NDArray]

try:
    import cvxopt
    from cvxopt import cholmod as _cholmod
except ImportError:  # optional backend
    _cholmod = None
else:
    # Supernodal always (BLAS on dense blocks), no ordering of its own (the matrix comes ordered),
    # but the elimination tree postordered, which makes larger supernodes: the numeric
    # factorisation of a 182² slice and of a 50³ cube about a fifth faster (CVXOPT leaves it off).
    _cholmod.options["supernodal"] = 2
    _cholmod.options["postorder"] = True

# The 2D CHOLMOD factors per (pattern, thread).
_reused: dict[tuple[Hashable, int], "_Reused"] = {}
# Made after the optional backend is imported, so that its BLAS and OpenMP are seen.
_threads = ThreadpoolController()

#: Each backend's name as its authors write it, for tables and figures.
NAMES = {"cholmod": "CHOLMOD", "superlu": "SuperLU", "mg": "multigrid CG", "parosol": "ParOSol"}
#: Relative residual at which the iterative solver stops (‖f − K ũ‖ / ‖f‖).
RTOL = 1e-7
#: DOFs above which ``"auto"`` takes the multigrid CG rather than a direct factor. How soon the
#: multigrid wins depends on the struts' thickness in voxels: on bone at 51 µm it is faster
#: from 41 k DOF on (one bonded platen test, ``benchmarks/bench_platens.py``: 161 k DOF
#: multigrid 2.8 s, CHOLMOD 4.5 s, SuperLU 9.2 s; 782 k DOF 17.8 s, 51 s and 94 s), on the
#: 3D route's 50³ cubes at 82 µm (struts one or two voxels thick) it takes three to five times
#: a direct solve (``benchmarks/bench_fe3d.py``), so the limit stays above those cubes.
DIRECT_LIMIT = 300_000
#: The part of the 3D stiffness matrix each backend reads
#: (:meth:`bonelib.fe.voxel_mesh.VoxelMesh.stiffness`).
TRIANGLE = {"cholmod": "lower", "superlu": "full"}


def available(ndim: int = 2) -> list[str]:
    """Names of the backends that can run here for ``ndim``-dimensional meshes, the default first.

    >>> available(3)[-2:], available(2)[-1]
    (['superlu', 'mg'], 'superlu')
    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim}")
    return (["cholmod"] if _cholmod is not None else []) + ["superlu"] + (["mg"] if ndim == 3 else [])


def preferred(n_dofs: int) -> list[str]:
    """The 3D backends in the order ``"auto"`` tries them on a mesh of ``n_dofs`` DOFs.

    The direct solvers first up to :data:`DIRECT_LIMIT` DOFs, the multigrid CG first above it
    (each is then tried only if its solve fits in memory, :func:`bonelib.fe.memory.check_fits`).

    >>> preferred(10_000)[-1], preferred(10 * DIRECT_LIMIT)[0]
    ('mg', 'mg')
    """
    names = available(3)
    return ["mg"] + [name for name in names if name != "mg"] if n_dofs > DIRECT_LIMIT else names


def _single_threaded(solve: Solve) -> Solve:
    """Wrap ``solve`` so that it runs with every thread pool limited to one thread."""

    def wrapped(rhs: NDArray) -> NDArray:
        with _threads.limit(limits=1):
            return solve(rhs)

    return wrapped


def _chosen(solver: str, ndim: int, backends: dict) -> str:
    name = available(ndim)[0] if solver == "auto" else solver
    if name not in backends:
        raise ValueError(f"solver must be one of 'auto', {', '.join(map(repr, backends))}; got {solver!r}")
    if name not in available(ndim):
        raise ValueError(f"solver {name!r} is not installed here (available: {', '.join(available(ndim))})")
    return name


def _cholmod_matrix(lower: sp.spmatrix) -> "cvxopt.spmatrix":
    """CVXOPT's sparse matrix of the lower triangle ``lower`` (entries above the diagonal ignored)."""
    coo = sp.tril(lower).tocoo()
    return cvxopt.spmatrix(cvxopt.matrix(np.ascontiguousarray(coo.data, dtype=float)),
                           cvxopt.matrix(coo.row.astype(np.int64)), cvxopt.matrix(coo.col.astype(np.int64)),
                           coo.shape)


@dataclass
class _Reused:
    """A 2D pattern's CHOLMOD matrix and factor, refactorised for each matrix of the pattern."""

    lower: object  # cvxopt.spmatrix of the lower triangle
    upper_entries: NDArray[np.bool_]  # CSR entries on or above the diagonal: the lower triangle in CSC order
    factor: object
    generation: int = 0


def _upper_entries(matrix: sp.csr_matrix) -> NDArray[np.bool_]:
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return matrix.indices >= rows


def _cholmod_factor(matrix: sp.spmatrix, order: NDArray[np.int64], pattern: Hashable | None = None) -> Solve:
    """Factorise ``matrix`` (its lower triangle read) in ``order``.

    With a ``pattern`` (``matrix`` then a CSR matrix with sorted indices), the matrix and
    factor of the previous matrix of that pattern in this thread take the new values and are
    factorised anew in place, the symbolic analysis reused; the earlier ``solve`` then refuses.
    """
    key = (pattern, threading.get_ident())
    reused = _reused.get(key) if pattern is not None else None
    if reused is None:
        lower = _cholmod_matrix(matrix)
        factor = _cholmod.symbolic(lower, p=cvxopt.matrix(order.astype(np.int64)))
        if pattern is not None:
            reused = _reused[key] = _Reused(lower, _upper_entries(matrix), factor)
    else:
        lower, factor = reused.lower, reused.factor
        lower.V = cvxopt.matrix(np.ascontiguousarray(matrix.data[reused.upper_entries], dtype=float))
    _cholmod.numeric(lower, factor)
    generation = None
    if reused is not None:
        reused.generation = generation = reused.generation + 1

    def solve(rhs: NDArray) -> NDArray:
        if reused is not None and reused.generation != generation:
            raise RuntimeError("this factor was replaced by a later matrix of the same pattern: solve before "
                               "factorising the next one")
        out = cvxopt.matrix(np.array(rhs, dtype=float, order="F"))
        _cholmod.solve(factor, out)
        return np.array(out).reshape(np.shape(rhs))

    return solve


def _cholmod_2d(matrix: sp.csr_matrix, pattern: Hashable | None) -> Solve:
    # The matrix comes in the pixel grid's nested-dissection order: CHOLMOD keeps it.
    return _cholmod_factor(matrix, np.arange(matrix.shape[0]), pattern)


def _superlu_2d(matrix: sp.csr_matrix, pattern: Hashable | None) -> Solve:
    csc = sp.csc_matrix((matrix.data, matrix.indices, matrix.indptr), shape=matrix.shape)
    lu = sla.splu(csc, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return lu.solve


def _cholmod_3d(matrix: sp.csc_matrix, mesh: VoxelMesh, dofs: NDArray) -> Solve:
    return _cholmod_factor(matrix, nested_dissection(matrix, dofs // 3))


def _superlu_3d(matrix: sp.csc_matrix, mesh: VoxelMesh, dofs: NDArray) -> Solve:
    order = nested_dissection(matrix, dofs // 3)
    lu = sla.splu(matrix[order][:, order].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})

    def solve(rhs: NDArray) -> NDArray:
        out = np.empty_like(rhs, dtype=float)
        out[order] = lu.solve(np.ascontiguousarray(rhs[order], dtype=float))
        return out

    return solve


def _mg(operator: ElementOperator, mesh: VoxelMesh, dofs: NDArray) -> Solve:
    hierarchy = multigrid.Hierarchy.build(operator, mesh.node_shape, mesh.grid_nodes, mesh.periodic, 3, dofs)

    def solve(rhs: NDArray) -> NDArray:
        return multigrid.conjugate_gradients(operator, rhs, hierarchy, RTOL,
                                             progress=operator.shape[0] > DIRECT_LIMIT)[0].reshape(rhs.shape)

    return solve


_BACKENDS_2D = {"cholmod": _cholmod_2d, "superlu": _superlu_2d}
_BACKENDS_3D = {"cholmod": _cholmod_3d, "superlu": _superlu_3d, "mg": _mg}


def factorize(matrix: sp.csr_matrix, solver: str = "auto", pattern: Hashable | None = None) -> Solve:
    """Factorise the symmetric positive definite matrix of a pixel mesh; return ``solve(rhs)``.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        Symmetric positive definite, with sorted indices, in a fill-reducing order.
    solver : {"auto", "cholmod", "superlu"}
        Backend; ``"auto"`` takes the first of :func:`available`.
    pattern : hashable, optional
        Identifies the sparsity pattern (e.g. the mesh); matrices with equal ``pattern``
        must have identical ``indptr``/``indices``. The symbolic analysis is then reused: with
        CHOLMOD the factor of the pattern's previous matrix (in this thread) is refactorised in
        place, so its ``solve`` refuses from then on; solve before factorising the next matrix.

    Returns
    -------
    callable
        ``solve(rhs)`` for ``rhs`` of shape (n,) or (n, k).
    """
    name = _chosen(solver, 2, _BACKENDS_2D)
    with _threads.limit(limits=1):
        return _single_threaded(_BACKENDS_2D[name](matrix, pattern))


def system_3d(mesh: VoxelMesh, E: NDArray, nu: NDArray, numbering: NDArray,
              solver: str) -> sp.csc_matrix | ElementOperator:
    """The stiffness of a voxel mesh's free DOFs as ``solver`` reads it: assembled (the part
    :data:`TRIANGLE` names) for a direct solver, applied element by element for the multigrid CG.

    ``E``, ``nu``: (n_elements,) per element; ``numbering``: (n_dofs,) row of each mesh DOF, −1
    for a fixed one (:meth:`bonelib.fe.voxel_mesh.VoxelMesh.stiffness`).
    """
    if solver == "mg":
        return ElementOperator(mesh, E, nu, numbering)
    return mesh.stiffness(E, nu, numbering=numbering, triangle=TRIANGLE.get(solver, "full"))


def factorize_3d(matrix: sp.csc_matrix | ElementOperator, mesh: VoxelMesh, dofs: NDArray,
                 solver: str = "auto") -> Solve:
    """Prepare ``solve(rhs)`` for the symmetric positive definite ``matrix`` of a voxel mesh.

    Parameters
    ----------
    matrix : scipy.sparse.csc_matrix or bonelib.fe.element_operator.ElementOperator
        Reduced stiffness of the free DOFs as :func:`system_3d` gives it for the backend:
        assembled (:meth:`bonelib.fe.voxel_mesh.VoxelMesh.stiffness`, the part :data:`TRIANGLE`
        names) for a direct solver, an element-by-element operator for ``"mg"``.
    mesh : bonelib.fe.voxel_mesh.VoxelMesh
        The mesh: its grid gives the multigrid's coarse levels.
    dofs : numpy.ndarray
        (n,) mesh DOF of each row of ``matrix``, ascending.
    solver : {"auto", "cholmod", "superlu", "mg"}
        Backend; ``"auto"`` takes the first of :func:`available` (3).
    """
    name = _chosen(solver, 3, _BACKENDS_3D)
    with _threads.limit(limits=1):
        return _single_threaded(_BACKENDS_3D[name](matrix, mesh, dofs))
