import numpy as np
import pytest

from bonelib import synth
from bonelib.fe import homogenise
from bonelib.imaging import scanner
from bonelib.imaging.density import material_maps, smooth, to_vbmd
from bonelib.slices.label import label


@pytest.fixture(scope="module")
def grey():
    micro = synth.Microarchitecture(wall_voxels=2.6, vertical_perforation=0.1)
    return synth.scan_vertebra(micro, seed=9, n_slices=3)[1, 90:150, 90:150]


def test_label_is_the_papers_chain(grey):
    calibration = scanner.CALIBRATION
    E, nu = material_maps(to_vbmd(smooth(grey, edges="periodic"), calibration))
    np.testing.assert_allclose(label(grey, calibration).C, homogenise(E, nu).C, rtol=1e-12)


def test_label_invariant_under_the_symmetries_of_the_periodic_cell(grey):
    calibration = scanner.CALIBRATION
    reference = label(grey, calibration).E_eff
    for image in (np.roll(grey, (13, 41), (0, 1)), np.flip(grey, 0), np.flip(grey, 1), np.rot90(grey), grey.T):
        assert label(image, calibration).E_eff == pytest.approx(reference, rel=1e-9)


def test_label_monotone_in_density(grey):
    calibration = scanner.CALIBRATION
    moduli = [label(grey, calibration.__class__(calibration.slope * k, calibration.intercept)).E_eff
              for k in (1.0, 1.1, 1.2)]
    assert moduli[0] < moduli[1] < moduli[2]
