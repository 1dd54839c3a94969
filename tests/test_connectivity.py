"""Bone connectivity in a periodic cell: wrapping clusters, largest cluster, Euler characteristic."""

import numpy as np
import pytest

from bonelib.morphometry.connectivity import (
    euler_density,
    largest_cluster_share,
    percolation,
    periodic_clusters,
)


def test_a_strip_along_x_percolates_along_x_only():
    strip = np.zeros((20, 30), bool)
    strip[8:11, :] = True
    np.testing.assert_array_equal(percolation(strip), [False, True])
    np.testing.assert_array_equal(percolation(strip.T), [True, False])
    np.testing.assert_array_equal(percolation(np.roll(strip, (7, 11), (0, 1))), [False, True])


def test_a_strip_cut_once_does_not_percolate_and_a_grid_does_both_ways():
    strip = np.zeros((20, 30), bool)
    strip[8:11, :] = True
    strip[:, 17] = False
    np.testing.assert_array_equal(percolation(strip), [False, False])
    grid = np.zeros((24, 24), bool)
    grid[::8] = grid[:, ::8] = True
    np.testing.assert_array_equal(percolation(grid), [True, True])


def test_a_strip_that_crosses_the_edge_is_one_cluster():
    strip = np.zeros((10, 10), bool)
    strip[4, :3] = strip[4, 8:] = True  # one segment, cut by the image border
    labels, wraps = periodic_clusters(strip)
    assert labels.max() == 1 and wraps[0].size == 0
    assert largest_cluster_share(strip) == 1.0


def test_a_diagonal_staircase_wraps_diagonally():
    stairs = np.zeros((12, 12), bool)
    for k in range(12):
        stairs[k, k] = stairs[k, (k + 1) % 12] = True
    np.testing.assert_array_equal(percolation(stairs), [True, True])


def test_percolation_in_3d():
    rod = np.zeros((10, 10, 10), bool)
    rod[:, 4:6, 4:6] = True
    np.testing.assert_array_equal(percolation(rod), [True, False, False])
    rod[5] = False
    assert not percolation(rod).any()


def test_largest_cluster_share():
    mask = np.zeros((20, 20), bool)
    mask[2:5, 2:5] = True   # 9 pixels
    mask[10:13, 10:11] = True  # 3 pixels
    assert largest_cluster_share(mask) == pytest.approx(0.75)
    assert np.isnan(largest_cluster_share(np.zeros((5, 5), bool)))


def test_euler_density_counts_components_and_holes():
    mask = np.zeros((20, 20), bool)
    mask[2:5, 2:5] = True
    mask[10:15, 10:15] = True
    mask[12, 12] = False  # a ring: χ = 1 − 1 = 0; the square: χ = 1
    assert euler_density(mask, 0.1) == pytest.approx(1 / (400 * 0.01))
    cube = np.zeros((8, 8, 8), bool)
    cube[2:6, 2:6, 2:6] = True
    assert euler_density(cube, 0.5) == pytest.approx(1 / (512 * 0.125))
    with pytest.raises(ValueError):
        euler_density(np.zeros(5, bool), 0.1)
