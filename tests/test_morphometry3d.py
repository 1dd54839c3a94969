"""3D morphometry on volumes of known structure."""

import numpy as np
import pytest

from bonelib.morphometry import volume as morphometry3d


def plates(thickness, spacing=12, size=48, normal=2):
    """Parallel plates ``thickness`` voxels thick, ``spacing`` apart, normal to ``normal``."""
    profile = np.arange(size) % spacing < thickness
    shape = [1, 1, 1]
    shape[normal] = size
    return np.broadcast_to(profile.reshape(shape), (size, size, size)).copy()


@pytest.mark.parametrize("thickness", [3, 5])
def test_plates_of_known_thickness_and_separation(thickness):
    d = morphometry3d.describe(plates(thickness), voxel_size_mm=0.05)
    assert d["bv_tv"] == pytest.approx(thickness / 12)
    assert d["tb_th"] == pytest.approx(thickness * 0.05, rel=0.2)
    assert d["tb_sp"] == pytest.approx((12 - thickness) * 0.05, rel=0.2)
    assert d["tb_n"] == pytest.approx(1 / (12 * 0.05), rel=0.2)


def test_plates_are_anisotropic_and_run_across_their_normal():
    d = morphometry3d.describe(plates(4, normal=2), 0.05)
    assert d["da"] > 5 and d["principal_axis"] in (0, 1)
    rods = np.zeros((48, 48, 48), bool)
    for r in range(4, 48, 12):
        for c in range(4, 48, 12):
            rods[:, r:r + 3, c:c + 3] = True
    d = morphometry3d.describe(rods, 0.05)
    assert d["principal_axis"] == 0 and d["da"] > 3


def test_a_cubic_lattice_is_isotropic_and_connected():
    # rods along all three axes through a 12-voxel grid
    grid = (np.arange(48) % 12 < 3)
    a, b, c = np.meshgrid(grid, grid, grid, indexing="ij")
    lattice = (a & b) | (b & c) | (a & c)
    d = morphometry3d.describe(lattice, 0.05)
    assert d["da"] == pytest.approx(1.0, abs=0.05)
    assert d["conn_d"] > 0  # a lattice has many loops: χ < 0


def test_bad_input():
    with pytest.raises(ValueError, match="3D"):
        morphometry3d.describe(np.ones((4, 4), bool), 0.05)
    with pytest.raises(ValueError, match="positive"):
        morphometry3d.describe(plates(3), 0.0)
    assert np.isnan(morphometry3d.ridge_thickness(np.zeros((5, 5, 5), bool), 0.05))
