"""Result tables: bit-exact CSV round trips and the per-sample table of a dataset."""

import numpy as np
import pytest

from bonelib.learn import folds
from bonelib.learn import tables as results
from tests.test_dataset import build_tiny


def test_tables_read_back_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    columns = {"key": np.array(["D01-T11", "D02-L1", "D03-T12"]), "slice": np.array([0, 5, 9]),
               "E_eff": rng.lognormal(6, 1, 3), "model_name": np.array(["a, b", "c", "d"])}
    read = results.read_table(results.write_table(tmp_path / "t.csv", columns))
    for name, values in columns.items():
        np.testing.assert_array_equal(read[name], values)
    assert read["E_eff"].dtype == np.float64 and read["slice"].dtype == np.int64


def test_bad_tables_are_refused(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        results.write_table(tmp_path / "t.csv", {"a": np.ones(2), "b": np.ones(3)})
    with pytest.raises(FileNotFoundError):
        results.read_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="empty"):
        results.read_table(tmp_path / "empty.csv")


def test_the_sample_table_holds_every_sample_with_its_labels_and_splits(tmp_path):
    from bonelib.slices.dataset import load

    store = build_tiny(tmp_path / "tiny.zarr")
    everything = load(store, images=False)
    fold_of = folds.donor_folds(everything.donor.astype(str), k=2)
    table = results.read_table(results.write_table(tmp_path / "samples.csv", results.sample_table(store, fold_of)))
    np.testing.assert_array_equal(table["E_eff"], everything.E_eff)
    np.testing.assert_array_equal(results.stiffness(table), everything.C)
    np.testing.assert_array_equal(np.stack([table["fabric_1"], table["fabric_2"]], 1), everything.fabric)
    for scheme in ("donor", "random"):
        for code, split in enumerate(("train", "val", "test")):
            part = load(store, split, scheme, images=False)
            np.testing.assert_array_equal(table["E_eff"][table[f"split_{scheme}"] == code], part.E_eff)
    assert [fold_of[d] for d in table["donor"]] == list(table["fold"])
