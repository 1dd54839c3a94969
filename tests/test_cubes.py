"""Cube placement and the load paths of cubes and their sections (bonelib.cubes.placement)."""

import numpy as np
import pytest

from bonelib.cubes import placement as cubes
from bonelib.fe.materials import TISSUE_MODULUS


def lattice(n: int = 40, spacing: int = 8, floors: int = 10) -> np.ndarray:
    """Vertical rods (along axis 0) every ``spacing`` voxels, tied by horizontal struts every ``floors`` slices."""
    bone = np.zeros((n, n, n), bool)
    bone[:, ::spacing, ::spacing] = True
    bone[::floors, ::spacing, :] = True
    bone[::floors, :, ::spacing] = True
    return bone


def test_cubes_tile_the_volume_and_flag_shell_and_empty_space():
    bone = np.zeros((60, 90, 90), bool)
    bone[:, :, :30] = lattice(90, 6, 6)[:60, :, :30]
    bone[:, :, 60:] = True  # a solid slab: cortical shell
    placed = cubes.place_cubes(bone, 30)
    assert len(placed) == 2 * 3 * 3
    by_column = {c.origin[2]: c.cancellous for c in placed}
    assert by_column == {0: True, 30: False, 60: False}  # lattice kept; empty and solid flagged
    assert all(np.isclose(c.bv_tv, c.of(bone).mean()) for c in placed)


def test_percolation_of_cubes_and_their_sections():
    rows = cubes.percolation_rows(lattice(), 40)
    assert len(rows) == 1
    # The cube wraps along all three axes; only its 4 strut floors of 40 sections wrap in-plane.
    assert rows[0]["cube_wraps"] and rows[0]["sections_wrap"] == pytest.approx(4 / 40)


def test_cube_moduli_of_a_lattice():
    moduli = cubes.cube_moduli(lattice(24, 6, 12), 0.082)
    assert moduli["wraps"] and moduli["bone_kept"] == 1.0
    # The rods run along z: the stiffest axis, about the rods' area share of the tissue modulus.
    rods = 1 / 36
    assert moduli["E_z"] > moduli["E_x"] and 0.8 * rods < moduli["E_z"] / TISSUE_MODULUS < 1.5 * rods + 0.05
    assert moduli["E_platens"] > 0


@pytest.mark.parametrize("bone, side, message", [(np.zeros((5, 5)), 2, "3D"), (np.zeros((5, 5, 5)), 6, "side")])
def test_bad_input(bone, side, message):
    with pytest.raises(ValueError, match=message):
        cubes.place_cubes(bone, side)
