"""Donor-level cross-validation: balanced folds, every donor tested once, never seen in training."""

import numpy as np
import pytest

from bonelib.learn import folds

DONORS = [f"D{i:02d}" for i in range(1, 36)]


def test_folds_are_balanced_deterministic_and_cover_every_donor():
    fold_of = folds.donor_folds(DONORS * 3, k=5, seed=0)
    assert sorted(fold_of) == DONORS
    assert sorted(np.bincount(list(fold_of.values()))) == [7] * 5
    assert folds.donor_folds(DONORS, k=5, seed=0) == fold_of
    assert folds.donor_folds(DONORS, k=5, seed=1) != fold_of


def test_each_sample_is_tested_in_exactly_one_fold_and_never_trained_on_there():
    donor = np.repeat(DONORS, 4)
    fold_of = folds.donor_folds(donor, k=5)
    parts = np.stack([folds.fold_split(donor, fold_of, f, val_donors=4) for f in range(5)])
    assert np.all((parts == folds.TEST).sum(axis=0) == 1)
    for f in range(5):
        tested = set(donor[parts[f] == folds.TEST])
        assert tested == {d for d, g in fold_of.items() if g == f}
        assert not tested & set(donor[parts[f] != folds.TEST])
        assert len(set(donor[parts[f] == folds.VAL])) == 4
        # all slices of a donor share their part
        for d in DONORS:
            assert len(set(parts[f][donor == d])) == 1


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="k must be"):
        folds.donor_folds(["a", "b"], k=3)
    fold_of = folds.donor_folds(DONORS, k=5)
    with pytest.raises(ValueError, match="fold must be"):
        folds.fold_split(DONORS, fold_of, 5, 1)
    with pytest.raises(ValueError, match="val_donors"):
        folds.fold_split(DONORS, fold_of, 0, 28)
    with pytest.raises(ValueError, match="without a fold"):
        folds.fold_split(["X99"], fold_of, 0, 1)
