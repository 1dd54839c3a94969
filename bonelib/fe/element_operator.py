"""The stiffness of a voxel mesh applied element by element, never assembled.

A voxel mesh's elements are all the same cube, so each element's stiffness is
λ_e K_λ + μ_e K_μ with two fixed 24 × 24 matrices (:func:`bonelib.fe.hex8.hexahedron_matrices`).
:class:`ElementOperator` applies the stiffness of a mesh's free DOFs to vectors by gathering
each element's displacements, multiplying them by those matrices and summing the forces back,
so its memory is that of the mesh (the 24 DOFs of each element), not of the matrix: on bone at
51 µm the assembled matrix and its assembly took about 16 kB per element, this operator about
0.2 kB. The product is one compiled loop over the elements (numba, :func:`element_products`)
that multiplies blocks of elements by one dense product (BLAS); where ν is the same in every
element, as in bone's tissue maps, each element's matrix is μ_e (K_μ + (λ/μ) K_λ), so one
product serves (on a 120³ cube of bone at 51 µm, 311 k elements: 22 ms per load case, against
53 ms for the slab products of NumPy it replaced, with no temporaries). It is the finest level
of the multigrid CG (:mod:`bonelib.fe.multigrid`), whose first coarse operator is summed from
it cell by cell of the coarse grid (:meth:`ElementOperator.galerkin_parts`,
:func:`cell_galerkin`: 1.3 s on that cube, against 13 s for assembling slabs of the fine
matrix and multiplying them by P).

Examples
--------
The operator of a small bone-free cube equals its assembled stiffness.

>>> import numpy as np
>>> from bonelib.fe.voxel_mesh import VoxelMesh
>>> mesh = VoxelMesh.of(np.ones((3, 3, 3), bool))
>>> E, nu = np.full(27, 1000.0), np.full(27, 0.3)
>>> A = ElementOperator(mesh, E, nu, np.arange(mesh.n_dofs) - 3)
>>> x = np.random.default_rng(0).standard_normal(A.shape[0])
>>> bool(np.allclose(A @ x, mesh.stiffness(E, nu) @ x))
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from bonelib.fe.hex8 import hexahedron_matrices, lame
from bonelib.fe.voxel_mesh import VoxelMesh

#: Elements per dense product (BLAS) of :func:`element_products`.
ELEMENT_BLOCK = 128
#: Elements per slab of the first coarse operator's assembly (:meth:`ElementOperator.galerkin_parts`).
GALERKIN_CHUNK = 16_384


class ElementOperator:
    """The stiffness of a voxel mesh's free DOFs, as an operator: ``A @ x``, ``A.diagonal()``.

    Parameters
    ----------
    mesh : bonelib.fe.voxel_mesh.VoxelMesh
        The mesh.
    E, nu : numpy.ndarray
        (n_elements,) Young's modulus (MPa) and Poisson's ratio of each element.
    numbering : numpy.ndarray
        (n_dofs,) row of each mesh DOF in the system, −1 for a fixed DOF (as
        :meth:`bonelib.fe.voxel_mesh.VoxelMesh.stiffness` takes it).
    """

    def __init__(self, mesh: VoxelMesh, E: NDArray, nu: NDArray, numbering: NDArray) -> None:
        self.mesh, self.E, self.nu, self.numbering = mesh, E, nu, numbering
        n = int(numbering.max()) + 1
        self.shape = (n, n)
        # Fixed DOFs point at one extra row, always zero on the way in and dropped on the way out.
        self._dofs = numbering.astype(np.int32)[mesh.element_dofs]  # 32 bits throughout: no copy in 64
        self._dofs[self._dofs < 0] = n
        lam, mu = lame(E, nu)
        K_lambda, K_mu = hexahedron_matrices()
        if np.all(nu == nu[:1]):  # one matrix, scaled by μ_e
            self._coefficients = mu[:, None]
            self._matrices = (K_mu + lam[:1] / mu[:1] * K_lambda)[None]
        else:
            self._coefficients = np.column_stack([lam, mu])
            self._matrices = np.stack([K_lambda, K_mu])

    def __matmul__(self, x: NDArray) -> NDArray:
        """K x for x of shape (n,) or (n, k)."""
        x = np.asarray(x, dtype=float)
        columns = x.reshape(self.shape[0], -1)
        padded = np.zeros((columns.shape[1], self.shape[0] + 1))  # one row per load case
        padded[:, :-1] = columns.T
        out = np.zeros_like(padded)
        for column, forces in zip(padded, out):
            element_products(self._dofs, self._coefficients, self._matrices, column, forces)
        return out[:, :-1].T.reshape(x.shape)

    def diagonal(self) -> NDArray:
        """(n,) the diagonal of K."""
        element = self._coefficients @ np.diagonal(self._matrices, axis1=1, axis2=2)  # (n_elements, 24)
        return np.bincount(self._dofs.ravel(), element.ravel(), self.shape[0] + 1)[:-1]

    def assembled(self) -> sp.csr_matrix:
        """K assembled, for small meshes and checks."""
        return sp.csr_matrix(self.mesh.stiffness(self.E, self.nu, numbering=self.numbering))

    def galerkin_parts(self, P: sp.spmatrix) -> Iterator[sp.csr_matrix]:
        """Pᵀ K P in parts that sum to it, one per slab of elements (:data:`GALERKIN_CHUNK`), in
        the grid's order: K itself is never assembled (:func:`bonelib.fe.multigrid.galerkin`
        sums the parts).

        Every fine element lies in one cell of the coarse grid (the voxels 2c and 2c + 1 along
        each axis), whose nodes interpolate all of its nodes, so Pᵀ K P is a sum of cell
        matrices Σ_e P_eᵀ K_e P_e (:func:`cell_galerkin`), each at most 24 × 24: a part holds
        an eighth of the entries an assembled slab would.
        """
        P = sp.csr_matrix(P)
        indptr = np.append(P.indptr, P.indptr[-1])  # the fixed DOFs' extra row: empty
        voxel = np.unravel_index(self.mesh.elements, self.mesh.shape)
        cells = np.ravel_multi_index(tuple(v // 2 for v in voxel), tuple((n + 1) // 2 for n in self.mesh.shape))
        for start in range(0, len(cells), GALERKIN_CHUNK):
            chunk = slice(start, start + GALERKIN_CHUNK)
            order = np.argsort(cells[chunk], kind="stable")
            groups = np.flatnonzero(np.diff(cells[chunk][order], prepend=-1, append=-1))
            rows, columns, values = cell_galerkin(self._dofs[chunk][order], self._coefficients[chunk][order],
                                                  self._matrices, groups, indptr, P.indices, P.data)
            yield sp.csr_matrix((values, (rows, columns)), shape=(P.shape[1], P.shape[1]))

    def toarray(self) -> NDArray:
        """K as a dense array (a mesh small enough to be a multigrid's coarsest level)."""
        return self.assembled().toarray()


@numba.njit(cache=True, fastmath=True, boundscheck=False, nogil=True)
def element_products(dofs: NDArray, coefficients: NDArray, matrices: NDArray, x: NDArray,
                     out: NDArray) -> None:  # pragma: no cover (compiled)
    """Add each element's forces to ``out``: ``out[dofs[e]] += Σ_s coefficients[e, s] ·
    matrices[s] @ x[dofs[e]]`` for every element e, :data:`ELEMENT_BLOCK` elements per dense
    product.

    ``dofs`` (n_elements, 24) rows of ``x`` and ``out`` (both (n,)); ``coefficients``
    (n_elements, m) and ``matrices`` (m, 24, 24), symmetric.
    """
    n_elements = dofs.shape[0]
    displacements = np.empty((ELEMENT_BLOCK, 24))
    for start in range(0, n_elements, ELEMENT_BLOCK):
        block = min(ELEMENT_BLOCK, n_elements - start)
        u = displacements[:block]
        forces = np.zeros((block, 24))
        for s in range(matrices.shape[0]):
            for b in range(block):
                a = coefficients[start + b, s]
                for i in range(24):
                    u[b, i] = a * x[dofs[start + b, i]]
            forces += np.dot(u, matrices[s])
        for b in range(block):
            for i in range(24):
                out[dofs[start + b, i]] += forces[b, i]


@numba.njit(cache=True, fastmath=True, boundscheck=False, nogil=True)
def cell_galerkin(dofs: NDArray, coefficients: NDArray, matrices: NDArray, groups: NDArray, indptr: NDArray,
                  indices: NDArray, weights: NDArray) -> tuple[NDArray, NDArray, NDArray]:  # pragma: no cover
    """The coarse operator of groups of elements, one group per coarse cell: for each group g
    (elements ``groups[g]`` … ``groups[g + 1]`` − 1) the matrix Σ_e P_eᵀ K_e P_e on the coarse
    DOFs its elements' rows of P reach, as (rows, columns, values) triplets.

    ``dofs``, ``coefficients``, ``matrices``: as :func:`element_products` takes them;
    ``indptr``, ``indices``, ``weights``: P in CSR, one row per row of ``x`` there.
    """
    n_groups = groups.size - 1
    rows = np.empty(n_groups * 576, np.int64)
    columns = np.empty(n_groups * 576, np.int64)
    values = np.empty(n_groups * 576)
    reached = np.empty(24, np.int64)
    at = 0
    for g in range(n_groups):
        n = 0  # the coarse DOFs the group's rows of P reach, in the order met (sorted below)
        for e in range(groups[g], groups[g + 1]):
            for a in range(24):
                r = dofs[e, a]
                for p in range(indptr[r], indptr[r + 1]):
                    c = indices[p]
                    q = 0
                    while q < n and reached[q] != c:
                        q += 1
                    if q == n:
                        if n == 24:
                            raise ValueError("an element's rows of P reach more than the 24 DOFs of a coarse cell")
                        reached[n] = c
                        n += 1
        local = np.sort(reached[:n])
        cell = np.zeros((n, n))
        for e in range(groups[g], groups[g + 1]):
            interpolation = np.zeros((24, n))
            for a in range(24):
                r = dofs[e, a]
                for p in range(indptr[r], indptr[r + 1]):
                    interpolation[a, np.searchsorted(local, indices[p])] += weights[p]
            forces = np.zeros((24, n))
            for s in range(matrices.shape[0]):
                forces += coefficients[e, s] * np.dot(matrices[s], interpolation)
            cell += np.dot(interpolation.T.copy(), forces)
        for i in range(n):
            for j in range(n):
                rows[at], columns[at], values[at] = local[i], local[j], cell[i, j]
                at += 1
    return rows[:at], columns[:at], values[:at]
