"""The Zysset–Curnier family of laws: each form recovers the law that made its data."""

import numpy as np
import pytest

from bonelib.learn.laws import ZyssetCurnierLaw


def test_the_law_along_one_axis_is_fitted_exactly():
    rng = np.random.default_rng(0)
    bv_tv, m = rng.uniform(0.05, 0.35, 30), rng.uniform(0.9, 1.3, 30)
    law = ZyssetCurnierLaw().fit(bv_tv, 12_000 * bv_tv**1.9 * m**2.4, m)
    assert (law.E0, law.k, law.l) == pytest.approx((12_000, 1.9, 1.2), rel=1e-9)
    power = ZyssetCurnierLaw(fabric=False).fit(bv_tv, 8_000 * bv_tv**2)
    assert power.l == 0.0
    np.testing.assert_allclose(power.predict([0.1, 0.2]), [80.0, 320.0], rtol=1e-9)


def test_the_mean_of_two_directional_terms_is_a_slices_law():
    rng = np.random.default_rng(1)
    bv_tv, m1 = rng.uniform(0.1, 0.6, 200), rng.uniform(1.0, 1.8, 200)
    fabric = np.column_stack([m1, 2 - m1])
    modulus = 5000 * bv_tv**2.1 * (m1**1.4 + (2 - m1) ** 1.4) / 2  # Zysset–Curnier with l = 0.7
    law = ZyssetCurnierLaw().fit(bv_tv, modulus, fabric)
    assert (law.E0, law.k, law.l) == pytest.approx((5000, 2.1, 0.7), rel=1e-6)
    np.testing.assert_allclose(law.predict(bv_tv[:3], fabric[:3]), modulus[:3], rtol=1e-6)


def test_isotropic_fabric_reduces_the_law_to_the_power_law():
    """With every m_j = 1 the fabric term is 1: both forms give E₀ · BV/TVᵏ."""
    bv_tv = np.linspace(0.1, 0.4, 7)
    law = ZyssetCurnierLaw(E0=9_000.0, k=2.0, l=1.3)
    np.testing.assert_allclose(law.predict(bv_tv, np.ones((7, 2))), 9_000 * bv_tv**2, rtol=1e-12)
    np.testing.assert_allclose(law.predict(bv_tv, np.ones(7)), 9_000 * bv_tv**2, rtol=1e-12)
    # stiffer along the axis the fabric favours, whatever the BV/TV
    assert np.all(law.predict(bv_tv, np.full(7, 1.2)) > law.predict(bv_tv, np.full(7, 0.9)))


def test_bad_input_is_refused():
    bv_tv = np.array([0.1, 0.2, 0.3])
    with pytest.raises(RuntimeError, match="fit"):
        ZyssetCurnierLaw(fabric=False).predict([0.1])
    with pytest.raises(ValueError, match="fabric"):
        ZyssetCurnierLaw().fit(bv_tv, bv_tv)
    with pytest.raises(ValueError, match="fabric entry"):
        ZyssetCurnierLaw().fit(bv_tv, bv_tv, np.ones((2, 2)))
    with pytest.raises(ValueError, match="fabric entry"):
        ZyssetCurnierLaw().fit(bv_tv, bv_tv, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="positive"):
        ZyssetCurnierLaw(fabric=False).fit([0.1, 0.2, -0.1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN|finite"):
        ZyssetCurnierLaw(fabric=False).fit([0.1, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 3"):
        ZyssetCurnierLaw().fit(bv_tv[:2], bv_tv[:2], np.ones(2))
