"""The voxel mesh of a 3D cell: one 8-node hexahedron per element voxel.

Node (k, i, j) is the corner of voxel (k, i, j) nearest the origin, and voxel (k, i, j) joins
the nodes (k + dz, i + dy, j + dx) of its local nodes (:mod:`bonelib.fe.hex8`). On a
periodic cell the indices are taken modulo the cell (as many nodes as voxels); otherwise the
node grid is one larger than the voxels along each axis. Only the voxels that are elements
(the bone, when marrow is dropped) enter the mesh; the nodes they touch are renumbered
compactly, and node k carries degrees of freedom 3k, 3k + 1, 3k + 2 (x, y, z).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from bonelib.fe.hex8 import NODE_X, NODE_Y, NODE_Z, hexahedron_stiffness

#: Elements assembled at once by :meth:`VoxelMesh.stiffness` (about 80 MB of entries).
ASSEMBLY_CHUNK = 4096


@dataclass(frozen=True, eq=False)
class VoxelMesh:
    """The hexahedral mesh of the element voxels of a ``shape`` cell.

    Attributes
    ----------
    shape : tuple of int
        (nz, ny, nx) voxels of the cell.
    elements : numpy.ndarray
        Flat indices (C order) of the voxels that are elements, ascending.
    periodic : bool
        Opposite faces of the cell identified (homogenisation) or not (a specimen).
    """

    shape: tuple[int, int, int]
    elements: NDArray[np.int64]
    periodic: bool = True

    @classmethod
    def of(cls, mask: NDArray[np.bool_], periodic: bool = True) -> "VoxelMesh":
        """The mesh of the True voxels of a 3D mask."""
        return cls(tuple(int(n) for n in mask.shape), np.flatnonzero(mask).astype(np.int64), periodic)

    @property
    def node_shape(self) -> tuple[int, int, int]:
        """(nz, ny, nx) of the grid of nodes: the cell's on a periodic cell, one more otherwise."""
        return self.shape if self.periodic else tuple(n + 1 for n in self.shape)

    @cached_property
    def _nodes(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        nz, ny, nx = self.node_shape
        k, i, j = np.unravel_index(self.elements, self.shape)
        corners = [((k + dz) % nz * ny + (i + dy) % ny) * nx + (j + dx) % nx
                   for dx, dy, dz in zip(NODE_X.astype(int), NODE_Y.astype(int), NODE_Z.astype(int))]
        grid_nodes, compact = np.unique(np.stack(corners, axis=-1), return_inverse=True)
        return grid_nodes, compact.reshape(-1, 8).astype(np.int32)  # 32 bits: up to 700 M nodes, half the memory

    @property
    def grid_nodes(self) -> NDArray[np.int64]:
        """Flat index of each mesh node in the grid of nodes (:attr:`node_shape`), ascending."""
        return self._nodes[0]

    @property
    def n_dofs(self) -> int:
        """Degrees of freedom of the mesh, fixed ones included (3 per node)."""
        return 3 * self.grid_nodes.size

    @cached_property
    def element_dofs(self) -> NDArray[np.int32]:
        """(n_elements, 24) mesh DOFs of each element."""
        nodes = self._nodes[1]
        return (3 * nodes[:, :, None] + np.arange(3, dtype=np.int32)).reshape(-1, 24)

    def stiffness(self, E: NDArray, nu: NDArray, first: int = 3, triangle: str = "full",
                  numbering: NDArray | None = None) -> sp.csc_matrix:
        """The stiffness of DOFs ``first`` … (by default all but the first node's three), CSC, symmetric.

        The element matrices are made slab by slab (:data:`ASSEMBLY_CHUNK`), never all at once.

        Parameters
        ----------
        E, nu : numpy.ndarray
            (n_elements,) Young's modulus (MPa) and Poisson's ratio of each element.
        first : int
            DOFs before it are left out (fixed); 0 keeps them all.
        numbering : numpy.ndarray, optional
            (n_dofs,) row of each mesh DOF in the matrix, −1 for a DOF left out (fixed);
            replaces ``first``.
        triangle : {"full", "lower"}
            The whole matrix, or only its lower triangle (diagonal included), all that a
            symmetric factorisation such as CHOLMOD's reads: about half the entries, and a
            quarter of the assembly time on a 50³ bone cube.
        """
        if triangle not in ("full", "lower"):
            raise ValueError(f"triangle must be 'full' or 'lower', got {triangle!r}")
        if numbering is None:
            numbering = np.arange(self.n_dofs) - first
        n = int(numbering.max()) + 1
        parts = []
        # In slabs of elements (neighbours in the grid, so most of their shared entries meet in
        # one slab): the peak memory is that of the matrix, not of the 24 × 24 entries of every
        # element at once.
        for start in range(0, len(self.elements), ASSEMBLY_CHUNK):
            chunk = slice(start, start + ASSEMBLY_CHUNK)
            dofs = numbering[self.element_dofs[chunk]]  # left-out DOFs: negative, dropped
            rows = np.repeat(dofs, 24, axis=1).ravel()
            cols = np.tile(dofs, (1, 24)).ravel()
            keep = (rows >= 0) & (cols >= 0)
            if triangle == "lower":
                keep &= rows >= cols
            # Compressed, the slab's duplicates are summed in linear time (COO's own sum sorts them all).
            entries = sp.csc_matrix((hexahedron_stiffness(E[chunk], nu[chunk]).reshape(-1)[keep],
                                     (rows[keep], cols[keep])), shape=(n, n))
            parts.append(entries.tocoo())
        if not parts:  # a mesh without elements
            return sp.csc_matrix((n, n))
        matrix = sp.csc_matrix((np.concatenate([q.data for q in parts]),
                                (np.concatenate([q.row for q in parts]), np.concatenate([q.col for q in parts]))),
                               shape=(n, n))
        matrix.sum_duplicates()
        return matrix

    def assemble_vector(self, element_vectors: NDArray) -> NDArray:
        """Sum (n_elements, 24, m) element vectors into (n_dofs, m) mesh vectors."""
        flat = self.element_dofs.ravel()
        return np.stack([np.bincount(flat, element_vectors[..., c].ravel(), self.n_dofs)
                         for c in range(element_vectors.shape[-1])], axis=-1)

    def node_coordinates(self) -> NDArray:
        """(n_nodes, 3) position (x, y, z) of each node, in voxels."""
        k, i, j = np.unravel_index(self.grid_nodes, self.node_shape)
        return np.stack([j, i, k], axis=-1).astype(float)
