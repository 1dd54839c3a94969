import numpy as np
import pytest

from bonelib.morphometry.planar import (
    bone_mask,
    bone_volume_fraction,
    fabric_eigenvalues,
    slice_descriptors,
    trabecular_thickness,
)


def stripes(width, period=20, size=60):
    return (np.arange(size)[None, :] % period < width) * np.ones((size, 1), bool)


@pytest.mark.parametrize("width", [4, 6, 9])
def test_thickness_of_plates_of_known_width(width):
    # The medial axis of a plate of w pixels lies mid-plate, at distance ≈ w/2 from marrow.
    assert trabecular_thickness(stripes(width), voxel_size_mm=0.082) == pytest.approx(width * 0.082, rel=0.15)


def test_thickness_grows_with_width_and_ignores_the_border():
    values = [trabecular_thickness(stripes(w), 0.082) for w in (3, 5, 8, 11)]
    assert np.all(np.diff(values) > 0)
    # a plate cut by the border is measured whole (periodic edges)
    assert trabecular_thickness(np.roll(stripes(8), 4, axis=1), 0.082) == pytest.approx(values[2], rel=1e-9)


def test_bv_tv_and_threshold():
    assert bone_volume_fraction(stripes(6)) == pytest.approx(0.3)
    threshold_ha = (400 - 0.079) / 0.877
    np.testing.assert_array_equal(bone_mask([threshold_ha - 1e-6, threshold_ha + 1e-6]), [False, True])
    assert trabecular_thickness(np.zeros((5, 5), bool), 0.082) == 0.0
    with pytest.raises(ValueError):
        bone_volume_fraction([])


def test_slice_descriptors():
    rho = np.where(stripes(6), 800.0, 0.0)
    d = slice_descriptors(rho, 0.082)
    assert d["vbmd"] == pytest.approx(240.0) and d["bv_tv"] == pytest.approx(0.3)
    with pytest.raises(ValueError):
        slice_descriptors(np.ones(5), 0.082)


def test_fabric_of_plates_isotropic_grids_and_symmetries():
    plates = stripes(2, period=10)  # plates along y: all interface normals along x
    np.testing.assert_allclose(fabric_eigenvalues(plates), [2.0, 0.0], atol=1e-12)
    grid = plates | plates.T  # the same plates both ways
    np.testing.assert_allclose(fabric_eigenvalues(grid), [1.0, 1.0], atol=1e-12)
    rng = np.random.default_rng(3)
    blobs = rng.random((64, 64)) < 0.3
    blobs[:, ::2] |= rng.random((64, 32)) < 0.3  # more bone in every other column: anisotropic
    m = fabric_eigenvalues(blobs)
    assert m.sum() == pytest.approx(2.0) and m[0] > m[1] >= 0
    for image in (np.roll(blobs, (5, -7), axis=(0, 1)), blobs[::-1], blobs[:, ::-1], np.rot90(blobs), blobs.T):
        np.testing.assert_allclose(fabric_eigenvalues(image), m, rtol=1e-12)
    np.testing.assert_array_equal(fabric_eigenvalues(np.ones((8, 8), bool)), [1.0, 1.0])
    with pytest.raises(ValueError):
        fabric_eigenvalues(np.ones(5, bool))
