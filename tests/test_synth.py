from dataclasses import replace

import numpy as np
import pytest

from bonelib import synth
from bonelib.imaging import scanner
from bonelib.imaging.density import ash_density, smooth, to_vbmd


@pytest.fixture(scope="module")
def vertebra():
    return synth.plan(n_donors=1, seed=3)[0].scan(n_slices=12)


def test_plan_shapes_like_the_paper():
    specs = synth.plan()
    assert len(specs) == 105
    assert [s.level for s in specs[:3]] == ["T11", "T12", "L1"]
    ages = np.array([s.age for s in specs[::3]])
    assert ages.min() >= 65 and ages.max() <= 90
    assert 78 <= ages.mean() <= 84  # paper: 81.3 ± 7.2
    assert len({s.seed for s in specs}) == 105


def test_plan_is_deterministic_and_extends():
    assert synth.plan(4, seed=7) == synth.plan(4, seed=7)
    assert synth.plan(4, seed=7)[:6] == synth.plan(2, seed=7)
    assert synth.plan(2, seed=7) != synth.plan(2, seed=8)


def test_cohort_records(vertebra):
    first = next(synth.cohort(n_donors=1, seed=3, n_slices=12))
    assert (first.donor, first.level, first.age, first.seed) == (vertebra.donor, "T11", vertebra.age, vertebra.seed)
    assert first.volume.shape == (12, 182, 182) and first.calibration == scanner.CALIBRATION
    np.testing.assert_array_equal(first.body, vertebra.body)


def test_scan_is_bit_identical_for_a_seed(vertebra):
    again = synth.plan(n_donors=1, seed=3)[0].scan(n_slices=12)
    np.testing.assert_array_equal(again.body, vertebra.body)
    assert vertebra.body.dtype == np.int16


def test_voi_is_cancellous_and_sized_like_the_paper(vertebra):
    volume = vertebra.volume
    assert volume.shape == (12, 182, 182)
    rho = to_vbmd(volume, vertebra.calibration)
    bone = ash_density(smooth(rho[6])) >= 400
    # Apparent bone fraction of the cohort's design range at 82 µm after smoothing
    # (see bonelib.synth), and no cortical shell, a nearly solid line, inside the VOI.
    assert 0.2 < bone.mean() < 0.8
    assert bone.mean(axis=0).max() < 0.95 and bone.mean(axis=1).max() < 0.95


def test_neighbouring_slices_alike_donors_differ(vertebra):
    rho = to_vbmd(vertebra.volume, vertebra.calibration).astype(np.float64)

    def correlation(a, b):
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    assert correlation(rho[5], rho[6]) > 0.5
    assert correlation(rho[0], rho[11]) < correlation(rho[5], rho[6])


def test_thicker_walls_give_more_bone():
    thin = synth.Microarchitecture(wall_voxels=1.5, noise_sd=0.0)
    thick = synth.Microarchitecture(wall_voxels=2.5, noise_sd=0.0)
    fractions = []
    for micro in (thin, thick):
        volume = synth.scan_vertebra(micro, seed=11, n_slices=8)
        rho = to_vbmd(volume[:, 100:200, 100:200], scanner.CALIBRATION)
        fractions.append(np.mean(rho > 450))
    assert fractions[1] > 1.2 * fractions[0]


def test_ordered_lattice_cuts_slices_as_a_square_grid():
    shape = (20, 60, 60)
    walls = synth.voronoi_walls(shape, cell_voxels=10.0, elongation=1.5, vertical_perforation=0.0,
                                horizontal_perforation=1.0, rng=np.random.default_rng(0), disorder=0.0)
    section = walls[10]
    rows, cols = section.mean(axis=1) > 0.9, section.mean(axis=0) > 0.9
    assert 5 <= rows.sum() <= 7 and 5 <= cols.sum() <= 7  # one wall per 10 px
    np.testing.assert_array_equal(section, rows[:, None] | cols[None, :])
    irregular = synth.voronoi_walls(shape, cell_voxels=10.0, elongation=1.5, vertical_perforation=0.0,
                                    horizontal_perforation=1.0, rng=np.random.default_rng(0), disorder=1.0)
    assert not (irregular[10].mean(axis=1) > 0.9).any()


def _modulus(micro: synth.Microarchitecture) -> tuple[float, float]:
    """E_eff (MPa) and vBMD (mg HA/cm³) of a central slice of the scanned VOI."""
    from bonelib.slices.label import density_map, label_density

    rho = density_map(synth.section(micro, seed=5)[1], scanner.CALIBRATION)
    return label_density(rho).E_eff, float(rho.mean())


def test_square_grid_is_the_stiff_arrangement():
    """At the same or a higher density, the grid turned by 45° or made irregular bends: it is far softer."""
    grid = synth.grid_microarchitecture(vbmd=250.0, wall_voxels=3.0)
    E_grid, vbmd_grid = _modulus(grid)
    assert vbmd_grid == pytest.approx(250.0, rel=0.15)
    for other in (replace(grid, lattice_angle=np.pi / 4), replace(grid, disorder=1.0)):
        E_other, vbmd_other = _modulus(other)
        assert vbmd_other > 0.9 * vbmd_grid
        assert E_other < 0.5 * E_grid


def test_bad_arguments():
    with pytest.raises(ValueError):
        synth.plan(n_donors=0)
    with pytest.raises(ValueError):
        synth.plan(levels=())
    with pytest.raises(ValueError):
        synth.scan_vertebra(synth.Microarchitecture(), seed=0, n_slices=0)
    with pytest.raises(ValueError, match="disorder"):
        synth.voronoi_walls((4, 8, 8), 4.0, 1.0, 0.0, 0.0, np.random.default_rng(0), disorder=-0.1)
    with pytest.raises(ValueError, match="vbmd"):
        synth.grid_microarchitecture(vbmd=1500.0, wall_voxels=3.0)
    with pytest.raises(ValueError, match="wall_voxels"):
        synth.grid_microarchitecture(vbmd=150.0, wall_voxels=0.0)
