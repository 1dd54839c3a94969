"""The scanner model: densities, partial volume, point-spread function, noise, calibration."""

import numpy as np
import pytest

from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging import scanner

QUIET = scanner.Scanner(noise_sd=0.0)


def rho(grey, calibration=scanner.CALIBRATION):
    return calibration.slope * grey.astype(float) + calibration.intercept


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_a_homogeneous_block_maps_to_its_density(fraction):
    grey, calibration = scanner.scan(np.full((30, 30, 30), fraction), 0.041, scanner=QUIET)
    assert grey.shape == (15, 15, 15) and grey.dtype == np.int16
    expected = QUIET.marrow_density + fraction * (QUIET.tissue_density - QUIET.marrow_density)
    np.testing.assert_allclose(rho(grey, calibration), expected, atol=calibration.slope / 2 + 1e-9)


def test_noise_has_its_standard_deviation_and_follows_the_seed():
    noisy = scanner.Scanner(noise_sd=40.0)
    grey, _ = scanner.scan(np.full((60, 60, 60), 0.5), 0.082, seed=3, scanner=noisy)
    assert rho(grey).std() == pytest.approx(40.0, rel=0.03)
    np.testing.assert_array_equal(grey, scanner.scan(np.full((60, 60, 60), 0.5), 0.082, seed=3, scanner=noisy)[0])
    assert not np.array_equal(grey, scanner.scan(np.full((60, 60, 60), 0.5), 0.082, seed=4, scanner=noisy)[0])


@pytest.mark.parametrize("voxel_size_mm", [0.041, 0.0513, 0.03])
def test_partial_volume_conserves_bone_mass(voxel_size_mm):
    rng = np.random.default_rng(0)
    n = 96
    bone = rng.random((n, n, n)) < 0.2
    covered = int(np.floor(n * voxel_size_mm / VOXEL_SIZE_MM)) * VOXEL_SIZE_MM / voxel_size_mm
    bone[int(covered) - 1:] = bone[:, int(covered) - 1:] = bone[:, :, int(covered) - 1:] = False  # inside the grid
    fraction = scanner.resample(bone, voxel_size_mm)
    mass_in = bone.sum() * voxel_size_mm**3
    mass_out = fraction.astype(float).sum() * VOXEL_SIZE_MM**3
    assert mass_out == pytest.approx(mass_in, rel=0.01)
    assert 0 <= fraction.min() and fraction.max() <= 1


def test_resampling_by_a_whole_factor_is_the_block_mean():
    bone = np.random.default_rng(1).random((8, 8, 8)) < 0.5
    expected = bone.reshape(4, 2, 4, 2, 4, 2).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(scanner.resample(bone, 0.041), expected, atol=1e-6)


def test_point_spread_function_width():
    """A plate one voxel thick blurs into a Gaussian profile of the PSF's width (≈ 130 µm FWHM)."""
    plate = np.zeros((9, 9, 41), np.float32)
    plate[:, :, 20] = 1.0
    profile = rho(QUIET.image(plate, np.random.default_rng(0))[4, 4]) - QUIET.marrow_density
    x = np.arange(41) - 20
    variance = np.sum(profile * x**2) / np.sum(profile)
    assert np.sqrt(variance) == pytest.approx(QUIET.psf_sigma_voxels, rel=0.03)
    fwhm_um = 2 * np.sqrt(2 * np.log(2)) * QUIET.psf_sigma_voxels * VOXEL_SIZE_MM * 1000
    assert 110 < fwhm_um < 150


def test_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        scanner.resample(np.full((4, 4, 4), 1.5), 0.041)
    with pytest.raises(ValueError, match="NaN"):
        scanner.resample(np.full((4, 4, 4), np.nan), 0.041)
    with pytest.raises(ValueError, match="positive"):
        scanner.resample(np.ones((4, 4, 4)), 0.0)
    with pytest.raises(ValueError, match="holds no voxel"):
        scanner.resample(np.ones((2, 2, 2)), 0.01)


def test_the_blur_is_physical_whatever_the_voxel_size():
    """A plate scanned at 41 µm blurs over twice as many voxels as at 82 µm: the same width in mm."""
    plate = np.zeros((8, 8, 160), bool)
    plate[:, :, 80:82] = True  # 82 µm thick at 41 µm
    widths = {}
    for to_mm in (0.082, 0.041):
        grey, calibration = scanner.scan(plate, 0.041, scanner=QUIET, to_mm=to_mm)
        profile = rho(grey[2, 2], calibration) - QUIET.marrow_density
        x = (np.arange(profile.size) + 0.5) * to_mm
        centre = np.sum(profile * x) / np.sum(profile)
        widths[to_mm] = np.sqrt(np.sum(profile * (x - centre) ** 2) / np.sum(profile))
    assert widths[0.041] == pytest.approx(widths[0.082], rel=0.1)
