"""Donor-level k-fold cross-validation: every donor tested once, by a network that never saw it.

A single held-out donor makes a noisy test (one donor's moduli spread over a few hundred MPa),
so the paper-scale evaluation assigns whole donors to ``k`` folds. Fold ``f`` tests its own
donors; a few donors of the other folds validate (choice of the best epoch) and the rest
train. Pooling the out-of-fold predictions gives one prediction per sample.

Examples
--------
>>> donors = [f"D{i:02d}" for i in range(1, 36)]
>>> fold_of = donor_folds(donors, k=5, seed=0)
>>> np.bincount(list(fold_of.values())).tolist()
[7, 7, 7, 7, 7]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Codes of a sample's part in one fold (as in the stored split fields).
TRAIN, VAL, TEST = 0, 1, 2


def donor_folds(donors: Sequence[str], k: int = 5, seed: int = 0) -> dict[str, int]:
    """Assign each distinct donor to one of ``k`` folds of (nearly) equal size, at random.

    Parameters
    ----------
    donors : sequence of str
        Donor ids (repeats allowed: one per sample or per vertebra).
    k : int
        Number of folds (at least 2, at most the number of donors).
    seed : int
        Seed of the assignment.

    Returns
    -------
    dict
        Donor id → fold index 0 … k − 1.
    """
    distinct = sorted(set(donors))
    if not 2 <= k <= len(distinct):
        raise ValueError(f"k must be between 2 and the number of donors ({len(distinct)}), got {k}")
    order = np.random.default_rng([seed, 5]).permutation(len(distinct))
    return {distinct[i]: int(position % k) for position, i in enumerate(order)}


def fold_split(donor: ArrayLike, fold_of: dict[str, int], fold: int, val_donors: int, seed: int = 0) -> NDArray:
    """Each sample's part in fold ``fold``: 0 train, 1 validation, 2 test.

    Parameters
    ----------
    donor : array_like
        (N,) donor id of each sample.
    fold_of : dict
        Donor → fold, from :func:`donor_folds`.
    fold : int
        The fold whose donors are tested.
    val_donors : int
        Donors of the other folds that validate instead of training (drawn with ``seed``
        and ``fold``, so each fold has its own).
    seed : int
        Seed of the validation donors.

    Returns
    -------
    numpy.ndarray
        (N,) int8 codes.
    """
    donor = np.asarray(donor).astype(str)
    missing = sorted(set(donor) - set(fold_of))
    if missing:
        raise ValueError(f"donors without a fold: {', '.join(missing[:5])}")
    k = max(fold_of.values()) + 1
    if not 0 <= fold < k:
        raise ValueError(f"fold must be between 0 and {k - 1}, got {fold}")
    others = sorted(d for d, f in fold_of.items() if f != fold)
    if not 0 <= val_donors < len(others):
        raise ValueError(f"val_donors must leave training donors: 0 ≤ val_donors < {len(others)}, got {val_donors}")
    chosen = set(np.random.default_rng([seed, 7, fold]).choice(others, val_donors, replace=False).tolist())
    parts = np.full(donor.shape, TRAIN, dtype=np.int8)
    parts[np.isin(donor, sorted(chosen))] = VAL
    parts[np.array([fold_of[d] == fold for d in donor], dtype=bool)] = TEST
    return parts
