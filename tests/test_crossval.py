"""Evaluation runs: their names and order, their partitions, and training one from arrays."""

import json

import numpy as np
import pytest

from bonelib.learn import folds
from bonelib.slices import crossval


def test_runs_are_planned_per_network_folds_first():
    runs = crossval.plan_runs({"improved": {"epochs": 2}, "paper": {"epochs": 3, "patience": 1}}, folds=2)
    assert [r.name for r in runs] == ["improved-fold0", "improved-fold1", "improved-random",
                                      "paper-fold0", "paper-fold1", "paper-random"]
    assert runs[-1].patience == 1 and runs[0].epochs == 2
    with pytest.raises(ValueError, match="fold"):
        crossval.Run("improved", "donor-cv", None, 1)
    with pytest.raises(ValueError, match="scheme"):
        crossval.Run("improved", "donor", 0, 1)


def test_a_run_trains_on_its_partition_and_records_its_identity(tmp_path):
    rng = np.random.default_rng(0)
    donor = np.repeat(["A", "B", "C", "D"], 6)
    fold_of = folds.donor_folds(donor, k=2)
    table = {"donor": donor, "fold": np.array([fold_of[d] for d in donor]),
             "split_random": np.tile([0, 0, 0, 0, 1, 2], 4), "E_eff": rng.uniform(500, 1500, donor.size)}
    images = rng.uniform(0, 5, (donor.size, 32, 32, 1)).astype(np.float32)
    run = crossval.Run("improved", "donor-cv", 1, epochs=1, batch_size=4)
    codes = crossval.parts(table, run, val_donors=1)
    assert set(donor[codes == 2]) == {d for d, f in fold_of.items() if f == 1}
    np.testing.assert_array_equal(crossval.parts(table, crossval.Run("paper", "random", None, 1), 1),
                                  table["split_random"])
    from bonelib.slices import network as cnn
    original = cnn.MODELS["improved"]
    cnn.MODELS["improved"] = lambda **kw: original((32, 32, 1), **kw)
    try:
        report = crossval.train_run(run, images, table, tmp_path / "run", "fingerprint", val_donors=1, verbose=0)
    finally:
        cnn.MODELS["improved"] = original
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recorded["fold"] == 1 and recorded["dataset"] == "fingerprint" and recorded["val_donors"] == 1
    assert report["test_samples"] == (codes == 2).sum()
    assert np.load(tmp_path / "run" / "test_predictions.npy").shape == ((codes == 2).sum(),)
    with pytest.raises(ValueError, match="images for a table"):
        crossval.train_run(run, images[:3], table, tmp_path / "other", "fingerprint", val_donors=1)
