"""Geometric multigrid on pixel and voxel grids: the preconditioner of the iterative FE solver.

The meshes of this project live on regular grids, so the coarse spaces are the grid's own: each
level keeps every other node along each axis (a periodic axis of odd length keeps one short
last interval; an open axis keeps its last node), and a fine node takes the linear (bilinear,
trilinear) interpolation of the coarse nodes around it, component by component, through the
prolongation P. Only the nodes of the mesh enter (bone only, marrow dropped), and only the coarse
nodes they need. The coarse operators are Galerkin's, A_c = Pᵀ A P, so no coarse mesh or
material is invented and a coarse level is exact on everything P can represent. The finest
level of a voxel mesh is never assembled (:class:`bonelib.fe.element_operator.ElementOperator`):
its products run element by element and its Galerkin operator is summed cell by cell, so
the memory of a solve is that of the coarse levels, about an eighth of the fine matrix.

A cycle smooths with Chebyshev polynomials of the Jacobi-scaled operator D⁻¹A (degree
:data:`SMOOTHING_DEGREE`, on [0.1, 1.1] × its largest eigenvalue, estimated by power
iteration), the same polynomial before and after the coarse correction, so that the cycle is
a symmetric positive definite preconditioner; the finest level corrects once, each coarser
one :data:`COARSE_VISITS` times (a W-cycle below a V); the coarsest level (at most :data:`COARSEST`
unknowns) is solved by dense Cholesky (shifted by :data:`COARSEST_SHIFT`).
:func:`conjugate_gradients` runs preconditioned CG on several right-hand sides at once (one
product serves all load cases). This is the method of ParOSol (Flaig & Arbenz 2011), here with
Galerkin coarse operators.

Examples
--------
A 1D chain of springs fixed at its first node: the multigrid CG reaches the exact solution.

>>> import numpy as np, scipy.sparse as sp
>>> n = 64
>>> A = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
>>> hierarchy = Hierarchy.build(A, node_shape=(n + 1,), nodes=np.arange(1, n + 1), periodic=False)
>>> b = np.ones((n, 1))
>>> x, iterations = conjugate_gradients(A, b, hierarchy, rtol=1e-12)
>>> bool(np.allclose(x[:, 0], sp.linalg.spsolve(A.tocsc(), b[:, 0])))
True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from numpy.typing import NDArray
from tqdm import tqdm

from bonelib.fe.element_operator import ElementOperator

#: What a level's operator may be: an assembled sparse matrix, or (the finest level of a voxel
#: mesh) its stiffness applied element by element.
Operator = sp.csr_matrix | ElementOperator
#: Rows of an assembled operator per part of its coarse operator (:func:`galerkin`).
GALERKIN_ROWS = 65_536
#: Unknowns at or below which a level is solved directly (dense Cholesky).
COARSEST = 2000
#: Diagonal shift of the coarsest operator, relative to its mean diagonal (see ``Hierarchy.build``).
COARSEST_SHIFT = 1e-10
#: Degree of the Chebyshev smoother, before and after each coarse correction.
SMOOTHING_DEGREE = 2
#: The Chebyshev interval, as fractions of the estimated largest eigenvalue of D⁻¹A.
SMOOTHING_INTERVAL = (0.1, 1.1)
#: Power iterations for that estimate.
POWER_ITERATIONS = 12
#: Coarse corrections per visit of a level below the finest (2: a W-cycle under a V at the top).
#: On bonded platen tests of real bone at 51 µm this halves the CG iterations (80³: 120 → 68;
#: 120³: 144 → 87) for a cycle that costs little more, its extra work being on the coarse levels.
COARSE_VISITS = 2


def coarse_axis(n_nodes: int, periodic: bool) -> tuple[NDArray, NDArray, NDArray, int]:
    """Linear interpolation along one axis of ``n_nodes`` nodes from every other node.

    Returns
    -------
    left, right : numpy.ndarray
        (n_nodes,) the coarse nodes on either side of each fine node (the same one for a fine
        node that is coarse).
    weight : numpy.ndarray
        (n_nodes,) weight of ``left`` (``right`` has 1 − weight).
    n_coarse : int
        Coarse nodes along the axis.

    >>> coarse_axis(5, periodic=False)[0].tolist(), coarse_axis(4, periodic=False)[3]
    ([0, 0, 1, 1, 2], 3)
    """
    fine = np.arange(n_nodes)
    odd_end = not periodic and n_nodes % 2 == 0  # an open axis keeps its last node
    n_coarse = (n_nodes + 1) // 2 + int(odd_end)
    left = fine // 2
    right = np.where(fine % 2 == 0, left, left + 1)
    weight = np.where(fine % 2 == 0, 1.0, 0.5)
    if odd_end:
        left[-1] = right[-1] = n_coarse - 1
        weight[-1] = 1.0
    if periodic:
        right %= n_coarse
    return left, right, weight, n_coarse


def prolongation(node_shape: tuple[int, ...], nodes: NDArray, periodic: bool
                 ) -> tuple[sp.csr_matrix, tuple[int, ...], NDArray]:
    """Interpolation of the ``nodes`` (flat indices in the ``node_shape`` grid) from a coarser grid.

    Returns
    -------
    P : scipy.sparse.csr_matrix
        (len(nodes), n_coarse) nodal weights, rows summing to one.
    coarse_shape : tuple of int
        Shape of the coarse grid of nodes.
    coarse_nodes : numpy.ndarray
        Flat indices, in the coarse grid, of the coarse nodes P uses (its columns), ascending.
    """
    axes = [coarse_axis(n, periodic) for n in node_shape]
    coarse_shape = tuple(axis[3] for axis in axes)
    position = np.unravel_index(nodes, node_shape)
    rows, columns, weights = [], [], []
    for sides in itertools.product((0, 1), repeat=len(node_shape)):
        index, weight = [], np.ones(len(nodes))
        for (left, right, w, _), p, side in zip(axes, position, sides):
            index.append((right if side else left)[p])
            weight = weight * ((1.0 - w) if side else w)[p]
        keep = weight > 0
        rows.append(np.flatnonzero(keep))
        columns.append(np.ravel_multi_index(tuple(i[keep] for i in index), coarse_shape))
        weights.append(weight[keep])
    coarse_nodes, compact = np.unique(np.concatenate(columns), return_inverse=True)
    P = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), compact)),
                      shape=(len(nodes), coarse_nodes.size))
    P.sum_duplicates()
    return P, coarse_shape, coarse_nodes


def unknowns_prolongation(nodal: sp.csr_matrix, dofs: NDArray, dofs_per_node: int
                          ) -> tuple[sp.csr_matrix, NDArray]:
    """The interpolation of the unknowns ``dofs`` (mesh DOF ``m · node + component``) from the
    coarse DOFs: component by component, the nodal interpolation ``nodal``; only the coarse DOFs
    some unknown reaches are columns.

    Made row by row from ``nodal``, never as the interpolation of every mesh DOF first, so its
    memory is that of the result.

    Returns
    -------
    P : scipy.sparse.csr_matrix
        (len(dofs), len(used)) the interpolation.
    used : numpy.ndarray
        The coarse DOFs (``m · coarse node + component``) of P's columns, ascending.

    >>> nodal = sp.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))
    >>> P, used = unknowns_prolongation(nodal, np.array([1, 2, 3, 5]), 2)
    >>> P.toarray().tolist(), used.tolist()
    ([[0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 0.0, 1.0]], [0, 1, 2, 3])
    """
    m = dofs_per_node
    node, component = dofs // m, dofs % m
    counts = np.diff(nodal.indptr)[node]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    entries = np.arange(indptr[-1]) - np.repeat(indptr[:-1] - nodal.indptr[node], counts)
    columns = m * nodal.indices[entries].astype(np.int64) + np.repeat(component, counts)
    used, compact = np.unique(columns, return_inverse=True)
    P = sp.csr_matrix((nodal.data[entries], compact.astype(np.int32), indptr), shape=(len(dofs), len(used)))
    return P, used


def galerkin(A: Operator, P: sp.csr_matrix) -> sp.csr_matrix:
    """The coarse operator Pᵀ A P, summed from parts in the grid's order so that it is never
    in memory twice: slabs of elements of an element-by-element operator
    (:meth:`bonelib.fe.element_operator.ElementOperator.galerkin_parts`), blocks of
    :data:`GALERKIN_ROWS` rows of an assembled one.

    Each part reaches a few layers of coarse rows, and the rows before a part's first are final
    (the wrap of a periodic grid aside, added at the end): they are set aside as finished, so
    the running sum is only the parts' overlap; the finished rows are then copied into the
    result one block at a time, each freed once copied.
    """
    P = sp.csr_matrix(P)
    n = P.shape[1]
    if isinstance(A, ElementOperator):
        parts = A.galerkin_parts(P)
    else:
        parts = (sp.csr_matrix(P[r:r + GALERKIN_ROWS].T @ (A[r:r + GALERKIN_ROWS] @ P))
                 for r in range(0, A.shape[0], GALERKIN_ROWS))
    blocks, pending, done, wrapped = [], sp.csr_matrix((0, n)), 0, sp.csr_matrix((n, n))
    for part in parts:
        rows = np.flatnonzero(np.diff(part.indptr))
        if not rows.size:
            continue
        if rows[0] < done:  # a periodic grid's last layers reach its first rows
            wrapped = wrapped + _with_rows(part[:done], n)
        pending = _with_rows(pending, n - done) + part[done:]
        later = rows[rows >= done]
        cut = int(later[0]) if later.size else done
        blocks.append(pending[:cut - done])
        pending, done = pending[cut - done:], cut
    blocks.append(pending)
    return _stacked(blocks, wrapped)


def _with_rows(matrix: sp.csr_matrix, n_rows: int) -> sp.csr_matrix:
    """``matrix`` with empty rows appended up to ``n_rows`` rows."""
    indptr = np.concatenate([matrix.indptr, np.full(n_rows - matrix.shape[0], matrix.indptr[-1])])
    return sp.csr_matrix((matrix.data, matrix.indices, indptr), shape=(n_rows, matrix.shape[1]))


def _stacked(blocks: list[sp.csr_matrix], wrapped: sp.csr_matrix) -> sp.csr_matrix:
    """The blocks of rows one upon another, plus ``wrapped``; each block is freed once copied."""
    first = np.cumsum([0] + [block.shape[0] for block in blocks])
    for i, block in enumerate(blocks):
        extra = wrapped[first[i]:first[i + 1]]
        if extra.nnz:
            blocks[i] = block + extra
    nnz = sum(block.nnz for block in blocks)
    index = np.int64 if nnz >= 2**31 else np.int32
    data, indices = np.empty(nnz), np.empty(nnz, dtype=index)
    indptr, at = [np.zeros(1, dtype=index)], 0
    while blocks:  # popped as copied: the pages of the result fill as the blocks go
        block = blocks.pop(0)
        data[at:at + block.nnz], indices[at:at + block.nnz] = block.data, block.indices
        indptr.append((block.indptr[1:] + at).astype(index))
        at += block.nnz
    n = wrapped.shape[1]
    return sp.csr_matrix((data, indices, np.concatenate(indptr)), shape=(n, n))


def chebyshev(A: Operator, inverse_diagonal: NDArray, b: NDArray, x: NDArray | None,
              bounds: tuple[float, float], degree: int) -> NDArray:
    """``degree`` steps of Chebyshev iteration on D⁻¹A x = D⁻¹b, eigenvalues in ``bounds``."""
    low, high = bounds
    theta, delta = (high + low) / 2, (high - low) / 2
    sigma = theta / delta
    rho = 1 / sigma
    residual = inverse_diagonal * (b if x is None else b - A @ x)
    x = np.zeros_like(b) if x is None else x.copy()
    step = residual / theta
    for k in range(degree):
        x += step
        if k == degree - 1:
            break
        residual -= inverse_diagonal * (A @ step)
        rho_next = 1 / (2 * sigma - rho)
        step = rho_next * rho * step + (2 * rho_next / delta) * residual
        rho = rho_next
    return x


def largest_eigenvalue(A: Operator, inverse_diagonal: NDArray, iterations: int = POWER_ITERATIONS) -> float:
    """Estimate of the largest eigenvalue of D⁻¹A by power iteration (deterministic start)."""
    v = np.random.default_rng(0).standard_normal(A.shape[0])
    estimate = 1.0
    for _ in range(iterations):
        w = inverse_diagonal * (A @ v)
        estimate = float(np.linalg.norm(w) / np.linalg.norm(v))
        v = w / np.linalg.norm(w)
    return estimate


@dataclass
class Level:
    """One level of the hierarchy: its operator, smoother data and the prolongation from below."""

    A: Operator
    inverse_diagonal: NDArray
    bounds: tuple[float, float]
    P: sp.csr_matrix | None = None


@dataclass
class Hierarchy:
    """The multigrid levels of a grid operator, finest first; the coarsest as a Cholesky factor.

    Build it with :meth:`build`.
    """

    levels: list[Level]
    coarsest: tuple

    @classmethod
    def build(cls, A: sp.spmatrix, node_shape: tuple[int, ...], nodes: NDArray, periodic: bool,
              dofs_per_node: int = 1, dofs: NDArray | None = None) -> "Hierarchy":
        """The hierarchy of ``A``, a symmetric positive definite operator on a grid's nodes.

        Parameters
        ----------
        A : scipy.sparse matrix or bonelib.fe.element_operator.ElementOperator
            (n, n) the system (unknowns in any order); an element-by-element operator is never
            assembled: its first coarse operator is summed from it cell by cell of the coarse grid.
        node_shape : tuple of int
            Shape of the grid of nodes.
        nodes : numpy.ndarray
            Flat grid index of each mesh node, ascending.
        periodic : bool
            The grid wraps around along every axis.
        dofs_per_node : int
            Unknowns per node (the dimension, for elasticity), interleaved: mesh DOF
            ``dofs_per_node · k + c`` is component c of mesh node k.
        dofs : numpy.ndarray, optional
            (n,) mesh DOF of each unknown of ``A`` (default: all of them, in order).
        """
        if sp.issparse(A):
            A = sp.csr_matrix(A)
        m = dofs_per_node
        if dofs is None:
            dofs = np.arange(m * len(nodes))
        levels = []
        while A.shape[0] > COARSEST and max(node_shape) > 2:
            nodal, node_shape, coarse_nodes = prolongation(node_shape, nodes, periodic)
            P, used = unknowns_prolongation(nodal, dofs, m)
            del nodal  # its rows for every node, no longer needed while the coarse operator is summed
            levels.append(_level(A, P))
            A = galerkin(A, P)
            kept = np.unique(used // m)  # coarse nodes with an unknown
            nodes, dofs = coarse_nodes[kept], np.searchsorted(kept, used // m) * m + used % m
        levels.append(_level(A, None))
        # On sparse bone two coarse nodes can interpolate to the same few fine nodes only, so
        # that P's columns are dependent and the coarse operator singular along null(P). The
        # shift makes it factorable; the (large) response along null(P) is removed by P.
        dense = A.toarray()
        dense[np.diag_indices_from(dense)] += COARSEST_SHIFT * dense.diagonal().mean()
        return cls(levels, la.cho_factor(dense, lower=True))

    def cycle(self, b: NDArray, depth: int = 0) -> NDArray:
        """One cycle from zero on ``b`` (n,) or (n, k): the preconditioner's action."""
        level = self.levels[depth]
        if depth == len(self.levels) - 1:
            return la.cho_solve(self.coarsest, b)
        x = chebyshev(level.A, level.inverse_diagonal, b, None, level.bounds, SMOOTHING_DEGREE)
        for visit in range(1 if depth == 0 else COARSE_VISITS):
            if visit:  # smoothed between visits too: the cycle stays symmetric (S C S C S)
                x = chebyshev(level.A, level.inverse_diagonal, b, x, level.bounds, SMOOTHING_DEGREE)
            residual = b - level.A @ x
            x += level.P @ self.cycle(level.P.T @ residual, depth + 1)
        return chebyshev(level.A, level.inverse_diagonal, b, x, level.bounds, SMOOTHING_DEGREE)

    @property
    def unknowns(self) -> list[int]:
        """Unknowns of each level, finest first."""
        return [level.A.shape[0] for level in self.levels]


def _level(A: Operator, P: sp.csr_matrix | None) -> Level:
    inverse_diagonal = 1.0 / A.diagonal()
    top = largest_eigenvalue(A, inverse_diagonal) if P is not None else 1.0
    low, high = SMOOTHING_INTERVAL
    return Level(A, inverse_diagonal[:, None], (low * top, high * top), P)


def conjugate_gradients(A: Operator, b: NDArray, hierarchy: Hierarchy, rtol: float,
                        maxiter: int = 1000, progress: bool = False) -> tuple[NDArray, int]:
    """Solve A x = b for the columns of ``b`` (n, k) by multigrid-preconditioned CG, all at once.

    Every column runs its own CG (its own step lengths) on shared sparse products; the
    iteration stops when each column's residual is at most ``rtol`` times its right-hand side.
    ``progress`` shows a bar of iterations with the largest relative residual (on a terminal).

    Returns
    -------
    x : numpy.ndarray
        (n, k) the solutions.
    iterations : int

    Raises
    ------
    RuntimeError
        When ``maxiter`` iterations do not reach ``rtol``.
    """
    b = np.asarray(b, dtype=float).reshape(A.shape[0], -1)
    x = np.zeros_like(b)
    scale = np.linalg.norm(b, axis=0)
    active = scale > 0
    if not active.any():
        return x, 0
    bb = b[:, active]
    residual = bb.copy()
    z = hierarchy.cycle(residual)
    direction = z.copy()
    rz = np.einsum("ij,ij->j", residual, z)
    xx = np.zeros_like(bb)
    bar = tqdm(desc="multigrid CG", unit="it", disable=None if progress else True, leave=False)
    for iteration in range(1, maxiter + 1):
        q = A @ direction
        alpha = rz / np.einsum("ij,ij->j", direction, q)
        xx += alpha * direction
        residual -= alpha * q
        relative = float(np.max(np.linalg.norm(residual, axis=0) / scale[active]))
        bar.update()
        bar.set_postfix_str(f"residual {relative:.1e} → {rtol:.0e}", refresh=False)
        if relative <= rtol:
            bar.close()
            x[:, active] = xx
            return x, iteration
        z = hierarchy.cycle(residual)
        rz_next = np.einsum("ij,ij->j", residual, z)
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    bar.close()
    raise RuntimeError(f"multigrid conjugate gradients did not reach a relative residual of {rtol} "
                       f"in {maxiter} iterations")
