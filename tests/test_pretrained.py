"""The shipped ensemble: float16 round trip, mean and spread, and out-of-distribution warnings."""

import numpy as np
import pytest

from bonelib.imaging.density import Calibration
from bonelib.slices import network as cnn
from bonelib.slices import pretrained

RANGE = {"vbmd": [300.0, 900.0], "bv_tv": [0.3, 0.8]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    models = {f"improved-fold{i}": cnn.improved_model((32, 32, 1), mean=0.5, variance=1.0, seed=i) for i in range(2)}
    return pretrained.save(models, tmp_path_factory.mktemp("models"), RANGE, scale="test"), models


def test_saved_networks_predict_as_their_float16_weights(folder):
    path, models = folder
    ensemble = pretrained.load_pretrained(path)
    assert sorted(ensemble.models) == sorted(models) and ensemble.training_range == RANGE
    assert ensemble.info["scale"] == "test"
    images = np.random.default_rng(0).uniform(0, 3, (3, 32, 32, 1)).astype(np.float32)
    for name, model in models.items():
        model.set_weights([w.astype(np.float16).astype(np.float32) for w in model.get_weights()])
        np.testing.assert_allclose(cnn.predict(ensemble.models[name], images), cnn.predict(model, images), rtol=1e-6)
    mean, spread = ensemble.predict_inputs(images)
    each = np.stack([cnn.predict(m, images) for m in ensemble.models.values()])
    np.testing.assert_allclose(mean, each.mean(0), rtol=1e-12)
    np.testing.assert_allclose(spread, each.std(0, ddof=1), rtol=1e-12)


def test_the_check_names_what_lies_outside_the_training_data(folder):
    ensemble = pretrained.load_pretrained(folder[0])
    identity = Calibration(1.0, 0.0)
    marrow = np.zeros((1, 32, 32))
    bars = np.zeros((2, 32, 32))
    bars[:, :, 8:24] = 1100.0
    bars[:, 8:24, :] = 1100.0  # a cross of bone that wraps around the cell both ways
    plate = np.zeros((1, 32, 32))
    plate[:, 8:24, :] = 1100.0  # a band along x (the columns): it wraps along x only
    reasons = ensemble.check(np.concatenate([marrow, bars, plate]), identity)
    assert any("mean ρ_HA" in r for r in reasons[0]) and any("BV/TV" in r for r in reasons[0])
    assert any("does not wrap around the cell along x, y" in r for r in reasons[0])
    assert reasons[1] == [] and reasons[2] == []
    assert [r for r in reasons[3] if "wrap" in r] == ["bone does not wrap around the cell along y (there the FE "
                                                      "modulus is the marrow's)"]


def test_a_missing_ensemble_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ensemble.json"):
        pretrained.load_pretrained(tmp_path)


def test_the_resized_ensemble_gives_a_tiled_periodic_image_the_prediction_of_one_tile(folder):
    ensemble = pretrained.load_pretrained(folder[0])
    tile = np.random.default_rng(5).uniform(0, 3, (1, 32, 32, 1)).astype(np.float32)
    one = ensemble.predict_inputs(tile)
    four = ensemble.resized((64, 64)).predict_inputs(np.tile(tile, (1, 2, 2, 1)))
    np.testing.assert_allclose(four[0], one[0], rtol=1e-4)
