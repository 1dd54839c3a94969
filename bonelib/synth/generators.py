"""Geometry generators of synthetic cancellous bone: walls of a Voronoi foam, holes, the body outline.

Each returns a boolean or fractional voxel array; :mod:`bonelib.imaging.scanner` images them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


def voronoi_walls(
    shape: tuple[int, int, int],
    cell_voxels: float,
    elongation: float,
    vertical_perforation: float,
    horizontal_perforation: float,
    rng: np.random.Generator,
    disorder: float = 1.0,
    angle: float = 0.0,
) -> NDArray[np.bool_]:
    """Mid-surfaces (one voxel thick) of the kept walls of an axially stretched Voronoi foam.

    The cell centres are the nodes of a box lattice (in-plane spacing ``cell_voxels``, axial
    spacing ``cell_voxels · elongation``), each moved by a uniform random offset of up to
    ``disorder / 2`` lattice spacings along every axis, and the lattice is turned in-plane
    by ``angle``. ``disorder = 0`` gives box cells, whose walls cross a slice as a square
    grid (stretch-dominated in-plane); ``disorder ≥ 1`` gives an irregular foam whose
    sections are bending-dominated polygon networks.

    Parameters
    ----------
    shape : tuple of int
        (slices, rows, cols); axis 0 is the stretch axis.
    cell_voxels : float
        Mean in-plane cell size (voxels).
    elongation : float
        Axial stretch of the cells (≥ 1).
    vertical_perforation, horizontal_perforation : float
        Probability that a wall parallel, respectively perpendicular, to axis 0 is removed.
    rng : numpy.random.Generator
        Source of randomness.
    disorder : float
        Random displacement of the cell centres (lattice spacings, ≥ 0).
    angle : float
        In-plane rotation of the lattice about the centre of the volume (radians).
    """
    if disorder < 0:
        raise ValueError(f"disorder must be non-negative, got {disorder}")
    spacing = np.array([cell_voxels * elongation, cell_voxels, cell_voxels])
    centre = (np.array(shape) - 1) / 2
    # Lattice nodes over a box that covers the volume whatever the rotation.
    reach = np.array([shape[0] / 2, *(np.hypot(shape[1], shape[2]) / 2,) * 2]) + spacing
    axes = [np.arange(-np.ceil(r / d), np.ceil(r / d) + 1) * d for r, d in zip(reach, spacing)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    nodes += disorder * spacing * rng.uniform(-0.5, 0.5, size=nodes.shape)
    c, s = np.cos(angle), np.sin(angle)
    nodes[:, 1:] = nodes[:, 1:] @ np.array([[c, s], [-s, c]])
    index = np.rint(nodes + centre).astype(np.int64)
    index = index[np.all((index >= 0) & (index < np.array(shape)), axis=1)]
    flat = np.unique(np.ravel_multi_index(index.T, shape))
    seeds = np.zeros(shape, dtype=np.int32)
    seeds.flat[flat] = np.arange(1, flat.size + 1, dtype=np.int32)
    # Nearest seed in a metric that shrinks axial distances: cells elongate along axis 0.
    nearest = ndimage.distance_transform_edt(
        seeds == 0, sampling=(1.0 / elongation, 1.0, 1.0), return_distances=False, return_indices=True
    )
    cells = seeds[tuple(nearest)]
    del nearest
    # A wall between cells a and b is removed when frac(r_a + r_b) falls below its
    # perforation probability: symmetric in (a, b) and uniformly distributed.
    draw = rng.random(flat.size + 1).astype(np.float32)
    walls = np.zeros(shape, dtype=bool)
    for axis in range(3):
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        a, b = cells[tuple(lower)], cells[tuple(upper)]
        u = np.mod(draw[a] + draw[b], 1.0)
        removed = horizontal_perforation if axis == 0 else vertical_perforation
        walls[tuple(lower)] |= (a != b) & (u >= removed)
    return walls


def plate_holes(shape: tuple[int, int, int], fraction: float, rng: np.random.Generator,
                size_voxels: float = 2.5) -> NDArray[np.bool_]:
    """Blobs covering ``fraction`` of the volume, ≈ 2·size_voxels across: a smoothed random field cut."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), size_voxels, mode="wrap")
    return field > np.quantile(field[:: 4, :: 4, :: 4], 1.0 - fraction)


def body_mask(shape: tuple[int, int], semi_axes_px: tuple[float, float], centre: tuple[float, float],
              angle: float, exponent: float = 4.0) -> NDArray[np.bool_]:
    """In-plane outline of the vertebral body: a rotated superellipse (2D boolean mask).

    Parameters
    ----------
    shape : tuple of int
        (rows, cols) of the field of view.
    semi_axes_px : tuple of float
        Semi-axes (rows, cols) in pixels.
    centre : tuple of float
        Centre (row, col) in pixels.
    angle : float
        Rotation (radians).
    exponent : float
        Superellipse exponent; 2 is an ellipse, larger is squarer like a vertebral body.
    """
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    y, x = rows - centre[0], cols - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * y - s * x, s * y + c * x
    return (np.abs(u / semi_axes_px[0]) ** exponent + np.abs(v / semi_axes_px[1]) ** exponent) <= 1.0


def wall_fraction(walls: NDArray[np.bool_], wall_voxels: float) -> NDArray[np.float32]:
    """Bone volume fraction of each voxel around one-voxel mid-surfaces (partial volume).

    From the distance d to the nearest mid-surface voxel, fraction = clip(t/2 + 1/2 − d, 0, 1),
    so that a wall of thickness t voxels puts t voxels of bone across it.

    Parameters
    ----------
    walls : numpy.ndarray
        Boolean mid-surfaces (:func:`voronoi_walls`).
    wall_voxels : float
        Wall thickness t (voxels).
    """
    distance = ndimage.distance_transform_edt(~walls).astype(np.float32)
    return np.clip(wall_voxels / 2 + 0.5 - distance, 0.0, 1.0)
