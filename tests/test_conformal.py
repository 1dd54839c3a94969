"""Conformal intervals: calibrated on held-out residuals, stored with the shipped ensembles, and
covering what they say on bone held out of the calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bonebook import config
from bonelib.cubes import evaluate as cube_evaluation
from bonelib.cubes.dataset import typed_rows
from bonelib.learn import conformal
from bonelib.learn import tables as results


def test_bounds_are_the_conformal_order_statistics():
    residuals = np.arange(1, 20, dtype=float)  # n = 19: k = ⌊20 · 0.05⌋ = 1
    predicted = np.full(19, 100.0)
    interval = conformal.calibrate(predicted, predicted * np.exp(residuals / 100), level=0.9, bins=1)
    assert interval.low == [pytest.approx(0.01)] and interval.high == [pytest.approx(0.19)]
    few = conformal.calibrate(predicted[:5], predicted[:5], level=0.9, bins=1)  # too few for 90 %
    assert few.low == [-math.inf] and few.high == [math.inf]


def test_intervals_scale_with_the_prediction_and_survive_the_file(tmp_path):
    rng = np.random.default_rng(3)
    predicted = rng.uniform(50, 2000, 3000)
    observed = predicted * np.exp(rng.normal(0, 0.3 * (predicted < 300) + 0.05, 3000))  # soft bone worse
    interval = conformal.calibrate(predicted, observed)
    assert len(interval.low) == conformal.BINS and interval.high[0] > interval.high[-1]
    low, high = interval.bounds([100.0, 1000.0])
    assert np.all(low < [100.0, 1000.0]) and np.all(high > [100.0, 1000.0])
    interval.write(tmp_path)
    assert conformal.RelativeInterval.read(tmp_path) == interval
    assert conformal.RelativeInterval.read(tmp_path / "none") is None
    held_out = conformal.cross_coverage(predicted, observed, np.arange(3000) % 5)
    assert abs(held_out["coverage"] - 0.9) < 0.03 and all(abs(c - 0.9) < 0.05 for c in held_out["by_range"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="level"):
        conformal.calibrate([1.0], [1.0], level=1.5)
    with pytest.raises(ValueError, match="positive"):
        conformal.calibrate([1.0, -2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="1D"):
        conformal.calibrate([1.0, 2.0], [1.0])


@pytest.mark.parametrize("scale", ["paper", "ci"])
def test_the_shipped_2d_interval_is_that_of_the_stored_residuals(scale):
    snapshot = config.artefacts(scale).snapshot
    table = results.read_table(snapshot / "samples.csv")
    predictions = results.read_table(snapshot / "predictions.csv")
    chosen = (predictions["model_name"] == "improved CNN") & (predictions["scheme_name"] == "donor-cv")
    recomputed = conformal.calibrate(predictions["E_pred"][chosen], table["E_eff"][predictions["index"][chosen]])
    assert conformal.RelativeInterval.read(config.artefacts(scale).models) == recomputed
    coverage = json.loads((snapshot / "interval.json").read_text())
    if scale == "paper":  # held-out donors, then the six new donors no network saw
        assert abs(coverage["donors"]["coverage"] - conformal.LEVEL) <= 0.03
        assert abs(coverage["external"]["coverage"] - conformal.LEVEL) <= 0.03


@pytest.mark.parametrize("scale", ["paper", "ci"])
def test_the_shipped_3d_interval_is_that_of_the_stored_residuals(scale):
    folder = config.artefacts(scale).snapshot / "cubes3d"
    predictions, _ = cube_evaluation.read_predictions(folder)
    held_out = cube_evaluation.held_out(predictions, typed_rows(folder / "cubes.csv"), "cnn3d")
    recomputed = conformal.calibrate(held_out["E_pred"], held_out["E_z"])
    assert conformal.RelativeInterval.read(config.artefacts(scale).models_3d) == recomputed
    coverage = json.loads((folder / "interval.json").read_text())["folds"]
    if scale == "paper":  # leave-specimens-out folds held out of the calibration
        assert abs(coverage["coverage"] - conformal.LEVEL) <= 0.03


def test_the_shipped_ensembles_report_their_intervals():
    from bonelib.cubes.pretrained import load_pretrained as load_3d
    from bonelib.slices.pretrained import load_pretrained as load_2d

    for ensemble in (load_2d(), load_3d()):
        low, high = ensemble.bounds(np.array([200.0, 800.0]))
        assert ensemble.interval.level == conformal.LEVEL and np.all(low < [200, 800]) and np.all(high > [200, 800])


@pytest.mark.parametrize("route, shape, key", [("2d", (1, 182, 182), "E_eff"), ("3d", (50, 50, 50), "E_z")])
def test_predict_gives_each_prediction_its_interval(tmp_path, capsys, route, shape, key):
    from bonelib.cli import main

    rng = np.random.default_rng(4)
    rho = np.where(rng.random(shape) < 0.3, 1000, 0).astype(np.int16)
    np.savez(tmp_path / "scan.npz", image=rho, voxel_size_mm=0.082)
    assert main(["predict", str(tmp_path / "scan.npz"), "--calibration", "1,0", "--route", route, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["level"] == conformal.LEVEL
    assert all(low < value < high for low, value, high in zip(report["low"], report[key], report["high"]))
