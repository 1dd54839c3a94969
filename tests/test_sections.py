"""The paper's 2D route on sections of a 3D volume."""

import numpy as np
import pytest

from bonelib.imaging import scanner
from bonelib.slices.label import label
from bonelib.slices.sections import cut, section_rows


def test_cut_takes_evenly_spaced_inner_sections():
    volume = np.arange(10 * 4 * 6).reshape(10, 4, 6)
    indices = [i for i, _ in cut(volume, "transverse", 3)]
    assert indices == [2, 5, 7]
    index, section = next(cut(volume, "longitudinal", 1))
    np.testing.assert_array_equal(section, volume[:, index, :])
    with pytest.raises(ValueError, match="orientation"):
        next(cut(volume, "oblique", 1))
    with pytest.raises(ValueError, match="count"):
        next(cut(volume, "transverse", 11))


def test_rods_along_the_axis_carry_nothing_across_a_transverse_section():
    """Vertical rods: a transverse section cuts isolated dots (marrow floor); a longitudinal one, struts."""
    rods = np.zeros((40, 40, 40), bool)
    for r in (13, 26):  # the rows the two longitudinal sections cut
        for c in range(5, 40, 10):
            rods[:, r - 1:r + 2, c - 1:c + 2] = True
    grey, calibration = scanner.scan(rods, 0.082, scanner=scanner.Scanner(noise_sd=0.0, tissue_density=1200.0))
    rows = section_rows(grey, calibration, 0.082, count=2, specimen="rods")
    transverse = [r for r in rows if r["orientation"] == "transverse"]
    longitudinal = [r for r in rows if r["orientation"] == "longitudinal"]
    assert all(r["specimen"] == "rods" for r in rows)
    assert all(not r["percolates_x"] and not r["percolates_y"] and r["E_eff"] < 1 for r in transverse)
    assert all(r["percolates_y"] and r["E_eff"] > 100 for r in longitudinal)
    assert transverse[0]["E_eff"] == label(grey[transverse[0]["index"]], calibration).E_eff
