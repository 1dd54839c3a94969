"""The CNNs: architecture, exact symmetries, resumable training, and learning at ci scale."""

import csv
import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from bonelib.learn.layers import symmetric_images
from bonelib.learn.train import history, recalibrate_batch_norm
from bonelib.slices import dataset
from bonelib.slices import network as cnn
from bonelib.slices.train import train, trained
from tests.test_dataset import TINY


def count(model, kind):
    return sum(isinstance(layer, kind) for layer in model.layers)


def test_paper_model_has_the_papers_layers():
    model = cnn.paper_model()
    assert count(model, keras.layers.Conv2D) == 8
    assert count(model, keras.layers.MaxPooling2D) == 4
    assert count(model, keras.layers.Dense) == 4
    assert count(model, keras.layers.BatchNormalization) == 8
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.2] * 4
    assert model.output_shape == (None, 1) and model.input_shape == (None, 182, 182, 1)


def test_improved_prediction_is_exactly_invariant_to_flips_and_rotations():
    rng = np.random.default_rng(0)
    model = cnn.improved_model(mean=300.0, variance=1e4)
    images = rng.uniform(0, 900, (3, 182, 182, 1)).astype(np.float32)
    reference = cnn.predict(model, images)
    for view in symmetric_images(images)[1:]:
        np.testing.assert_allclose(cnn.predict(model, np.ascontiguousarray(view)), reference, rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        cnn.predict(model, images[:, :100])
    with pytest.raises(ValueError, match="NaN"):
        cnn.predict(model, np.full((1, 182, 182, 1), np.nan, np.float32))


def test_fit_to_input_crops_and_tiles_exactly():
    slices = np.arange(2 * 190 * 400).reshape(2, 190, 400)
    images, origin = cnn.fit_to_input(slices, mode="crop")
    np.testing.assert_array_equal(origin, [[0, 4, 109], [1, 4, 109]])
    np.testing.assert_array_equal(images[1], slices[1, 4:186, 109:291])
    images, origin = cnn.fit_to_input(slices, mode="tile")
    assert images.shape == (4, 182, 182) and origin.tolist()[:2] == [[0, 4, 18], [0, 4, 200]]
    np.testing.assert_array_equal(images[3], slices[1, 4:186, 200:382])
    same, origin = cnn.fit_to_input(slices[:, :182, :182])
    np.testing.assert_array_equal(same, slices[:, :182, :182])
    with pytest.raises(ValueError, match="tiles"):
        cnn.fit_to_input(slices)
    with pytest.raises(ValueError, match="smaller"):
        cnn.fit_to_input(slices[:, :100], mode="tile")


def test_batch_norm_recalibration_sets_the_batch_moments():
    model = cnn.paper_model(mean=300.0, variance=1e4)
    images = np.random.default_rng(2).uniform(0, 900, (6, 182, 182, 1)).astype(np.float32)
    first_conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    features = np.asarray(keras.Model(model.input, first_conv.output)(images))
    recalibrate_batch_norm(model, images, batches=3, batch_size=6)  # three times the same batch
    np.testing.assert_allclose(np.asarray(norm.moving_mean), features.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), features.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    assert norm.momentum == 0.99  # restored


def test_models_save_and_load(tmp_path):
    for build in (cnn.paper_model, cnn.improved_model):
        model = build(mean=100.0, variance=400.0)
        model.save(tmp_path / f"{model.name}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{model.name}.keras")
        x = np.random.default_rng(1).uniform(0, 500, (2, 182, 182, 1)).astype(np.float32)
        np.testing.assert_allclose(cnn.predict(loaded, x), cnn.predict(model, x), rtol=1e-6)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return dataset.build(tmp_path_factory.mktemp("cnn") / "tiny.zarr", scale=TINY, scheduler="synchronous",
                         progress=False)


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_interrupted_training_resumes(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train("paper", tiny, out, epochs=4, batch_size=4, verbose=0, callbacks=[Interrupt()])
    assert (out / "model.keras").exists()  # the best model so far is usable
    train("paper", tiny, out, epochs=4, batch_size=4, verbose=0)
    with open(out / "history.csv", newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2, 3]  # resumed at epoch 2, not restarted
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 4
    with pytest.raises(ValueError, match="finished run"):
        train("paper", tiny, out, epochs=4, verbose=0)
    # a finished run is reused as asked, never silently in place of another
    assert trained("paper", tiny, out, 4, batch_size=4) == json.loads((out / "metrics.json").read_text())
    with pytest.raises(ValueError, match="another finished run"):
        trained("paper", tiny, out, 5, batch_size=4)
    with pytest.raises(ValueError, match="another finished run"):
        trained("improved", tiny, out, 4, batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        trained("paper", tiny, out, 4)
    curves = history(out)
    np.testing.assert_array_equal(curves["epoch"], [0, 1, 2, 3])
    assert np.all(curves["val_mae"] > 0)


def test_a_rebuilt_dataset_refuses_the_old_run(tmp_path):
    store = tmp_path / "store.zarr"
    dataset.build(store, scale=TINY, scheduler="synchronous", progress=False)
    first = trained("paper", store, tmp_path / "run", 1, batch_size=4, verbose=0)
    assert first["dataset"] == dataset.fingerprint(store)
    assert trained("paper", store, tmp_path / "run", 1, batch_size=4) == first  # reused, not retrained
    rebuilt = dataset.Scale(n_donors=3, samples=9, test_donors=1, val_donors=1)
    dataset.build(store, scale=rebuilt, scheduler="synchronous", progress=False, replace=True)
    with pytest.raises(ValueError, match="dataset"):
        trained("paper", store, tmp_path / "run", 1, batch_size=4)
    with pytest.raises(ValueError, match="finished run"):
        train("paper", store, tmp_path / "run", 1, batch_size=4)
    again = trained("paper", store, tmp_path / "run", 1, batch_size=4, verbose=0, replace=True)
    assert again["dataset"] == dataset.fingerprint(store) != first["dataset"]
    assert again["n"] == len(dataset.load(store, "test", images=False))


def test_improved_model_beats_the_mean_at_ci_scale(tmp_path):
    # The random split: with 4 training donors, generalising to an unseen donor is beyond a
    # CI-sized run (it is measured at paper scale); here the path train → evaluate must learn.
    store = dataset.build("artefacts/ci/dataset.zarr", scale="ci", progress=False, replace=True)
    result = train("improved", store, tmp_path / "ci", epochs=15, batch_size=32, verbose=0, scheme="random")
    training = dataset.load(store, "train", "random", images=False)
    test = dataset.load(store, "test", "random", images=False)
    mean_predictor = np.mean(np.abs(test.E_eff - training.E_eff.mean()))
    assert result["mae"]["value"] < 0.6 * mean_predictor
    with open(tmp_path / "ci" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 15 and {"loss", "val_loss", "mae", "val_mae"} <= set(rows[0])


def test_the_improved_network_resized_keeps_its_prediction():
    """A periodic image tiled 2 × 2 gets the prediction of one tile (tiles of 96 px: the strides align)."""
    model = cnn.improved_model(mean=300.0, variance=1e4)
    tile = np.random.default_rng(3).uniform(0, 900, (2, 96, 96, 1)).astype(np.float32)
    one, four = (cnn.with_input_shape(model, (n, n, 1)) for n in (96, 192))
    np.testing.assert_allclose(cnn.predict(one, tile), cnn.predict(four, np.tile(tile, (1, 2, 2, 1))), rtol=1e-4)
    np.testing.assert_array_equal(four.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="improved"):
        cnn.with_input_shape(cnn.paper_model(), (91, 91, 1))
