"""The periodic pixel mesh: one Q4 element per pixel, opposite edges identified.

Node (i, j) is the top-left corner of pixel (i, j); on the periodic cell there are as many
nodes as pixels, and pixel (i, j) joins nodes (i, j), (i, j+1), (i+1, j+1), (i+1, j), indices
taken modulo the image size. Node k carries degrees of freedom 2k (x) and 2k + 1 (y).

Everything here depends on the image shape only, is computed once per shape and reused
for every sample of that shape: the element–DOF table, a nested-dissection ordering and the
sparsity pattern of the stiffness matrix with the map that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Nodes whose degrees of freedom are fixed to remove the rigid translation: node 0.
FIXED_NODE = 0


def nested_dissection(rows: int, cols: int) -> NDArray[np.int64]:
    """Node ordering of a periodic ``rows`` × ``cols`` grid by geometric nested dissection.

    Cutting row 0 and column 0 opens the torus into a rectangle; the rectangle is split
    recursively across its longer side, each separating line ordered after the two halves.
    For sparse Cholesky/LU this keeps the fill at O(n log n) on an n-node grid.
    """
    order: list[NDArray] = []

    def dissect(r0: int, r1: int, c0: int, c1: int) -> None:
        if (r1 - r0) * (c1 - c0) <= 64 or min(r1 - r0, c1 - c0) < 3:
            block = np.arange(r0, r1)[:, None] * cols + np.arange(c0, c1)[None, :]
            order.append(block.ravel())
        elif r1 - r0 >= c1 - c0:
            middle = (r0 + r1) // 2
            dissect(r0, middle, c0, c1)
            dissect(middle + 1, r1, c0, c1)
            order.append(middle * cols + np.arange(c0, c1))
        else:
            middle = (c0 + c1) // 2
            dissect(r0, r1, c0, middle)
            dissect(r0, r1, middle + 1, c1)
            order.append(np.arange(r0, r1) * cols + middle)

    dissect(1, rows, 1, cols)
    order.append(np.arange(1, rows) * cols)
    order.append(np.arange(cols))
    return np.concatenate(order).astype(np.int64)


@dataclass(frozen=True)
class PeriodicGrid:
    """Shape-dependent structure of the periodic Q4 mesh of a ``rows`` × ``cols`` image."""

    rows: int
    cols: int

    @property
    def n_dofs(self) -> int:
        """Degrees of freedom of the periodic mesh (2 per node, as many nodes as pixels)."""
        return 2 * self.rows * self.cols

    @cached_property
    def element_dofs(self) -> NDArray[np.int64]:
        """(n_elements, 8) global DOFs of each element, elements in row-major pixel order."""
        i, j = np.meshgrid(np.arange(self.rows), np.arange(self.cols), indexing="ij")

        def node(a, b):
            return (a % self.rows) * self.cols + (b % self.cols)

        nodes = np.stack([node(i, j), node(i, j + 1), node(i + 1, j + 1), node(i + 1, j)], axis=-1).reshape(-1, 4)
        return np.stack([2 * nodes, 2 * nodes + 1], axis=-1).reshape(-1, 8)

    @cached_property
    def free_order(self) -> NDArray[np.int64]:
        """Global DOFs of the reduced system, in nested-dissection order (fixed node left out)."""
        nodes = nested_dissection(self.rows, self.cols)
        nodes = nodes[nodes != FIXED_NODE]
        return np.stack([2 * nodes, 2 * nodes + 1], axis=-1).ravel()

    @cached_property
    def _reduced_pattern(self) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """CSR pattern of the reduced matrix and the slot of each kept element entry."""
        position = np.full(self.n_dofs, -1, dtype=np.int64)
        position[self.free_order] = np.arange(self.free_order.size)
        local = position[self.element_dofs]  # (n_elements, 8)
        rows = np.repeat(local, 8, axis=1).ravel()
        cols = np.tile(local, (1, 8)).ravel()
        keep = (rows >= 0) & (cols >= 0)
        n = self.free_order.size
        pattern = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n, n))
        pattern.sort_indices()
        # Slot of each (row, col) in the CSR data array: entries sorted by row-major key.
        key_pattern = np.repeat(np.arange(n), np.diff(pattern.indptr)) * n + pattern.indices
        slots = np.searchsorted(key_pattern, rows[keep] * n + cols[keep])
        return pattern.indptr, pattern.indices, keep, slots

    def reduced_matrix(self, element_matrices: NDArray) -> sp.csr_matrix:
        """Assemble the reduced stiffness matrix (free DOFs, nested-dissection order).

        Parameters
        ----------
        element_matrices : numpy.ndarray
            (n_elements, 8, 8) element stiffness matrices.
        """
        indptr, indices, keep, slots = self._reduced_pattern
        data = np.bincount(slots, weights=element_matrices.reshape(-1)[keep], minlength=indices.size)
        n = self.free_order.size
        return sp.csr_matrix((data, indices, indptr), shape=(n, n))

    def assemble_vector(self, element_vectors: NDArray) -> NDArray:
        """Sum (n_elements, 8, k) element vectors into (n_dofs, k) global vectors."""
        k = element_vectors.shape[-1]
        out = np.empty((self.n_dofs, k))
        for column in range(k):
            out[:, column] = np.bincount(self.element_dofs.ravel(), element_vectors[..., column].ravel(), self.n_dofs)
        return out


@lru_cache(maxsize=8)
def periodic_grid(rows: int, cols: int) -> PeriodicGrid:
    """The (cached) periodic mesh structure of a ``rows`` × ``cols`` image."""
    return PeriodicGrid(rows, cols)
