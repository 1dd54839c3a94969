import numpy as np
import pytest

from bonelib.imaging.density import (
    CLIP_DENSITY,
    MARROW_MODULUS,
    Calibration,
    ash_density,
    material_maps,
    smooth,
    to_vbmd,
    youngs_modulus,
)


def test_ash_density_is_the_papers_linear_map():
    np.testing.assert_allclose(ash_density([0.0, 100.0, 1000.0]), [0.079, 87.779, 877.079], rtol=0, atol=1e-12)


def test_youngs_modulus_exact_values_of_eq1():
    E = youngs_modulus([399.999, 400.0, 800.0, 1200.0, 1200.001, 5000.0])
    at_400 = 0.1127 * 400.0**1.746
    at_1200 = 0.1127 * 1200.0**1.746
    np.testing.assert_allclose(E, [MARROW_MODULUS, at_400, 0.1127 * 800.0**1.746, at_1200, at_1200, at_1200], rtol=1e-14)
    assert at_400 == pytest.approx(3936.6, rel=1e-4)  # by hand: 0.1127 · exp(1.746 · ln 400)
    assert at_1200 == pytest.approx(26802.0, rel=1e-4)


def test_youngs_modulus_is_monotone_and_clipped():
    rho = np.linspace(0, 2000, 4001)
    E = youngs_modulus(rho)
    assert np.all(np.diff(E) >= 0)
    assert E.max() == pytest.approx(0.1127 * CLIP_DENSITY**1.746)
    assert np.all(E[rho < 400] == MARROW_MODULUS)


def test_material_maps_threshold_and_poisson():
    rho_ash_threshold_in_ha = (400.0 - 0.079) / 0.877
    rho_ha = np.array([[0.0, rho_ash_threshold_in_ha - 1e-6], [rho_ash_threshold_in_ha + 1e-6, 1500.0]])
    E, nu = material_maps(rho_ha)
    np.testing.assert_array_equal(nu, [[0.49, 0.49], [0.30, 0.30]])
    assert E[0, 0] == E[0, 1] == MARROW_MODULUS
    assert E[1, 0] == pytest.approx(0.1127 * 400.0**1.746, rel=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_shape_preserved(dtype):
    rho = np.full((3, 4, 5), 700.0, dtype=dtype)
    E, nu = material_maps(rho)
    assert E.shape == nu.shape == rho.shape
    assert E.dtype == nu.dtype == dtype
    assert smooth(rho).dtype == dtype


@pytest.mark.parametrize("bad", [[np.nan, 1.0], [np.inf], [], ["a", "b"], [[1, 2], [3]]])
@pytest.mark.parametrize("function", [ash_density, youngs_modulus, smooth])
def test_bad_input_raises_value_error(function, bad):
    with pytest.raises(ValueError):
        function(bad)


def test_calibration_and_vbmd():
    calibration = Calibration(slope=0.5, intercept=-300.0)
    np.testing.assert_allclose(to_vbmd([0, 600, 2600], calibration), [-300.0, 0.0, 1000.0])
    np.testing.assert_allclose(calibration.grey_of(to_vbmd([17.0, 900.0], calibration)), [17.0, 900.0])
    with pytest.raises(ValueError):
        Calibration(0.0, 1.0)
    with pytest.raises(ValueError):
        Calibration(float("nan"), 1.0)
    with pytest.raises(ValueError):
        to_vbmd([1.0], (0.5, -300))


def test_calibration_from_dicom_rescale():
    class Dataset:
        RescaleSlope = "0.25"
        RescaleIntercept = "-100"

    assert Calibration.from_dicom(Dataset()) == Calibration(0.25, -100.0)


def test_smooth_scanco_support_and_conservation():
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1.0
    kernel = smooth(impulse, sigma=1.2, support=2.0)
    # Support 2.0: the kernel reaches 2 voxels from its centre and no further.
    assert np.count_nonzero(kernel) == 25
    assert kernel[5, 5 + 2] > 0 and kernel[5, 5 + 3] == 0
    assert kernel.sum() == pytest.approx(1.0)
    one_d = np.exp(-0.5 * (np.arange(-2, 3) / 1.2) ** 2)
    one_d /= one_d.sum()
    np.testing.assert_allclose(kernel[3:8, 3:8], np.outer(one_d, one_d), rtol=1e-12)


def test_smooth_periodic_edges_commute_with_roll():
    rng = np.random.default_rng(1)
    image = rng.random((16, 20))
    shifted = smooth(np.roll(image, (5, 7), axis=(0, 1)), edges="periodic")
    np.testing.assert_allclose(shifted, np.roll(smooth(image, edges="periodic"), (5, 7), axis=(0, 1)), rtol=1e-12)
    with pytest.raises(ValueError):
        smooth(image, edges="constant")
    with pytest.raises(ValueError):
        smooth(image, sigma=0)
