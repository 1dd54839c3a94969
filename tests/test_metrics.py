import json

import numpy as np
import pytest

from bonelib.learn import metrics
from bonelib.slices.baselines import DensityRegression


def test_perfect_and_known_predictions():
    reference = np.array([100.0, 200.0, 400.0, 800.0])
    assert metrics.r_squared(reference, reference) == 1.0
    assert metrics.regression(reference, reference) == pytest.approx((1.0, 0.0), abs=1e-9)
    biased = 1.1 * reference
    np.testing.assert_allclose(metrics.relative_prediction_error(biased, reference), 0.1)
    assert metrics.mean_absolute_error(biased, reference) == pytest.approx(0.1 * reference.mean())
    # predicting the mean gives R² = 0
    assert metrics.r_squared(np.full(4, reference.mean()), reference) == pytest.approx(0.0)
    slope, intercept = metrics.regression(0.5 * reference + 30, reference)
    assert slope == pytest.approx(0.5) and intercept == pytest.approx(30)


def test_bootstrap_interval_contains_the_value_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 800):
        reference = rng.uniform(100, 2000, n)
        predicted = reference * (1 + rng.normal(0, 0.1, n))
        value, low, high = metrics.bootstrap(metrics.METRICS["rpe50"], predicted, reference, n_resamples=300)
        assert low <= value <= high
        widths.append(high - low)
    assert widths[1] < widths[0]


def test_report_writes_json(tmp_path):
    reference = np.linspace(100, 1000, 30)
    result = metrics.report(reference * 1.05, reference, path=tmp_path / "m.json", n_resamples=100, model="test")
    stored = json.loads((tmp_path / "m.json").read_text())
    assert stored == result and stored["n"] == 30 and stored["model"] == "test"
    assert stored["rpe95"]["value"] == pytest.approx(0.05)


def test_bad_inputs():
    with pytest.raises(ValueError):
        metrics.r_squared([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        metrics.relative_prediction_error([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        metrics.r_squared([np.nan, 1.0], [1.0, 2.0])


def test_the_density_regression_recovers_its_line():
    rng = np.random.default_rng(1)
    vbmd = rng.uniform(100, 600, 200)
    model = DensityRegression().fit(vbmd, 3.0 * vbmd - 50)
    assert (model.slope, model.intercept) == pytest.approx((3.0, -50.0))


def test_undefined_when_the_reference_does_not_vary():
    assert np.isnan(metrics.r_squared([1.0, 2.0], [5.0, 5.0]))
    assert all(np.isnan(metrics.regression([1.0, 2.0], [5.0, 5.0])))
    value, low, high = metrics.bootstrap(metrics.METRICS["r2"], [1.0, 2.1, 2.9], [1.0, 2.0, 3.0], n_resamples=200)
    assert low <= value <= high and np.isfinite(low)
