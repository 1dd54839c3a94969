"""Direct solvers for the reduced periodic stiffness system, one factorisation for all loads.

Two backends, the fastest available chosen by ``"auto"``:

- ``"cholmod"``: supernodal sparse Cholesky of SuiteSparse through scikit-sparse (optional;
  ``make`` installs it where Debian's ``libsuitesparse-dev`` is present). Its symbolic
  analysis (fill-reducing ordering, elimination tree) depends on the sparsity pattern only,
  so it is done once per image shape and reused for every sample.
- ``"superlu"``: SciPy's SuperLU on the matrix in nested-dissection order
  (:func:`bonelib.fe.mesh.nested_dissection`), symmetric mode, no pivoting; always present.

Both are exact direct methods: the solution is accurate to round-off, not to an iterative
tolerance. They run single-threaded (BLAS and OpenMP pools limited to one thread with
threadpoolctl), so that a label is bit-identical whatever the machine's thread settings;
parallelism comes from labelling several samples at once.
"""

from __future__ import annotations

from typing import Callable, Hashable

import scipy.sparse as sp
import scipy.sparse.linalg as sla
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

Solve = Callable[[NDArray], NDArray]

try:
    from sksparse.cholmod import analyze as _cholmod_analyze
except ImportError:  # optional backend
    _cholmod_analyze = None

_symbolic_cache: dict[Hashable, object] = {}
# Made after the optional backend is imported, so that its BLAS and OpenMP are seen.
_threads = ThreadpoolController()


def _single_threaded(solve: Solve) -> Solve:
    """Wrap ``solve`` so that it runs with every thread pool limited to one thread."""

    def wrapped(rhs: NDArray) -> NDArray:
        with _threads.limit(limits=1):
            return solve(rhs)

    return wrapped


def available() -> list[str]:
    """Names of the backends that can run here, fastest first."""
    return (["cholmod"] if _cholmod_analyze is not None else []) + ["superlu"]


def _cholmod(matrix: sp.csr_matrix, pattern: Hashable | None) -> Solve:
    # The CSR arrays of a symmetric matrix are its CSC arrays.
    csc = sp.csc_matrix((matrix.data, matrix.indices, matrix.indptr), shape=matrix.shape)
    symbolic = _symbolic_cache.get(pattern) if pattern is not None else None
    if symbolic is None:
        symbolic = _cholmod_analyze(csc)
        if pattern is not None:
            _symbolic_cache[pattern] = symbolic
    factor = symbolic.cholesky(csc)
    return lambda rhs: factor(rhs)


def _superlu(matrix: sp.csr_matrix, pattern: Hashable | None) -> Solve:
    csc = sp.csc_matrix((matrix.data, matrix.indices, matrix.indptr), shape=matrix.shape)
    lu = sla.splu(csc, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return lu.solve


_BACKENDS = {"cholmod": _cholmod, "superlu": _superlu}


def factorize(matrix: sp.csr_matrix, solver: str = "auto", pattern: Hashable | None = None) -> Solve:
    """Factorise a symmetric positive definite matrix; return a function that solves with it.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        Symmetric positive definite, with sorted indices, in a fill-reducing order.
    solver : {"auto", "cholmod", "superlu"}
        Backend; ``"auto"`` takes the first of :func:`available`.
    pattern : hashable, optional
        Identifies the sparsity pattern (e.g. the mesh); matrices with equal ``pattern``
        must have identical ``indptr``/``indices``. The symbolic analysis is then reused.

    Returns
    -------
    callable
        ``solve(rhs)`` for ``rhs`` of shape (n,) or (n, k).
    """
    name = available()[0] if solver == "auto" else solver
    if name not in _BACKENDS:
        raise ValueError(f"solver must be one of 'auto', {', '.join(map(repr, _BACKENDS))}; got {solver!r}")
    if name not in available():
        raise ValueError(f"solver {name!r} is not installed here (available: {', '.join(available())})")
    with _threads.limit(limits=1):
        return _single_threaded(_BACKENDS[name](matrix, pattern))
