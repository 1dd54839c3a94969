"""The stiffness of a voxel mesh applied element by element, never assembled.

A voxel mesh's elements are all the same cube, so each element's stiffness is
λ_e K_λ + μ_e K_μ with two fixed 24 × 24 matrices (:func:`bonelib.fe.hex8.hexahedron_matrices`).
:class:`ElementOperator` applies the stiffness of a mesh's free DOFs to vectors by gathering
each element's displacements, multiplying them by those two matrices (one dense product for
all elements of a slab) and summing the forces back, so its memory is that of the mesh (the
24 DOFs of each element), not of the matrix: on bone at 51 µm the assembled matrix and its
assembly took about 16 kB per element, this operator about 0.2 kB. It is the finest level of
the multigrid CG (:mod:`bonelib.fe.multigrid`), whose first coarse operator is assembled
from it slab by slab (:meth:`ElementOperator.galerkin_parts`).

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

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from bonelib.fe.hex8 import hexahedron_matrices, lame
from bonelib.fe.voxel_mesh import VoxelMesh

#: Elements per slab of a product (about 20 MB of temporaries per load case).
PRODUCT_CHUNK = 32_768
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
        dofs = numbering[mesh.element_dofs].astype(np.int32)
        self._dofs = np.where(dofs >= 0, dofs, np.int32(n))
        self._lam, self._mu = lame(E, nu)
        self._K_lambda, self._K_mu = hexahedron_matrices()

    def __matmul__(self, x: NDArray) -> NDArray:
        """K x for x of shape (n,) or (n, k)."""
        x = np.asarray(x, dtype=float)
        columns = x.reshape(self.shape[0], -1)
        k = columns.shape[1]
        padded = np.vstack([columns, np.zeros((1, k))])
        out = np.zeros((self.shape[0] + 1, k))
        for start in range(0, len(self._dofs), PRODUCT_CHUNK):
            chunk = slice(start, start + PRODUCT_CHUNK)
            dofs = self._dofs[chunk]
            n_el = len(dofs)
            u = padded[dofs].transpose(0, 2, 1).reshape(n_el * k, 24)  # one dense product for the slab
            forces = (self._lam[chunk, None, None] * (u @ self._K_lambda).reshape(n_el, k, 24)
                      + self._mu[chunk, None, None] * (u @ self._K_mu).reshape(n_el, k, 24))  # K_λ, K_μ symmetric
            flat = dofs.ravel()
            for c in range(k):
                out[:, c] += np.bincount(flat, forces[:, c, :].ravel(), self.shape[0] + 1)
        return out[:-1].reshape(x.shape)

    def diagonal(self) -> NDArray:
        """(n,) the diagonal of K."""
        element = self._lam[:, None] * np.diag(self._K_lambda) + self._mu[:, None] * np.diag(self._K_mu)
        return np.bincount(self._dofs.ravel(), element.ravel(), self.shape[0] + 1)[:-1]

    def assembled(self, part: slice = slice(None)) -> sp.csr_matrix:
        """K assembled (of the elements ``part`` only; default all), for small meshes and checks."""
        return sp.csr_matrix(self.mesh.stiffness(self.E, self.nu, numbering=self.numbering, part=part))

    def galerkin_parts(self, P: sp.spmatrix) -> Iterator[sp.csr_matrix]:
        """Pᵀ K P in parts that sum to it, one per slab of elements (:data:`GALERKIN_CHUNK`), in
        the grid's order: K itself is never whole in memory
        (:func:`bonelib.fe.multigrid.galerkin` sums them)."""
        P = sp.csr_matrix(P)
        Pt = sp.csr_matrix(P.T)
        for start in range(0, len(self.mesh.elements), GALERKIN_CHUNK):
            yield Pt @ (self.assembled(slice(start, start + GALERKIN_CHUNK)) @ P)

    def toarray(self) -> NDArray:
        """K as a dense array (a mesh small enough to be a multigrid's coarsest level)."""
        return self.assembled().toarray()

