"""Agreement between predicted and FE moduli (paper section 2.4, Eq. 7).

Every metric comes with a bootstrap 95 % interval (a fixed seed): resampling the samples
with replacement, or, given each sample's group (its donor), resampling whole groups, since
slices of one donor are not independent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array
from bonelib._files import write_json


def _pair(predicted: ArrayLike, reference: ArrayLike) -> tuple[NDArray, NDArray]:
    p = finite_array(predicted, "predicted", ndim=1).astype(np.float64)
    r = finite_array(reference, "reference", ndim=1).astype(np.float64)
    if p.shape != r.shape:
        raise ValueError(f"predicted and reference differ in length: {p.size} and {r.size}")
    if p.size < 2:
        raise ValueError("at least two samples are needed")
    return p, r


def r_squared(predicted: ArrayLike, reference: ArrayLike) -> float:
    """Coefficient of determination of the predictions, 1 − SS_res / SS_tot (about the mean of the reference).

    NaN when the reference does not vary (R² is undefined).
    """
    p, r = _pair(predicted, reference)
    total = np.sum((r - r.mean()) ** 2)
    return float(1 - np.sum((r - p) ** 2) / total) if total > 0 else float("nan")


def regression(predicted: ArrayLike, reference: ArrayLike) -> tuple[float, float]:
    """Slope and intercept (MPa) of the least-squares line of predicted on reference (Figure 7).

    NaN when the reference does not vary.
    """
    p, r = _pair(predicted, reference)
    if np.ptp(r) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(r, p, 1)
    return float(slope), float(intercept)


def mean_absolute_error(predicted: ArrayLike, reference: ArrayLike) -> float:
    """MAE (unit of the inputs, MPa for moduli), Eq. 6."""
    p, r = _pair(predicted, reference)
    return float(np.mean(np.abs(p - r)))


def relative_prediction_error(predicted: ArrayLike, reference: ArrayLike) -> NDArray:
    """RPE = |P − P_FE| / P_FE per sample, Eq. 7; the reference must be positive."""
    p, r = _pair(predicted, reference)
    if np.any(r <= 0):
        raise ValueError("the reference moduli must be positive for relative errors")
    return np.abs(p - r) / r


METRICS: dict[str, Callable[[NDArray, NDArray], float]] = {
    "r2": r_squared,
    "slope": lambda p, r: regression(p, r)[0],
    "intercept": lambda p, r: regression(p, r)[1],
    "mae": mean_absolute_error,
    "rpe50": lambda p, r: float(np.percentile(relative_prediction_error(p, r), 50)),
    "rpe95": lambda p, r: float(np.percentile(relative_prediction_error(p, r), 95)),
}


def _resamples(n: int, groups: ArrayLike | None, n_resamples: int, seed: int) -> list[NDArray]:
    """Index arrays of bootstrap resamples: of the samples, or of whole groups of samples."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return list(rng.integers(0, n, size=(n_resamples, n)))
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise ValueError(f"groups needs one label per sample ({n}), got shape {labels.shape}")
    _, code = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(code == g) for g in range(code.max() + 1)]
    return [np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
            for _ in range(n_resamples)]


def bootstrap(metric: Callable[[NDArray, NDArray], float], predicted: ArrayLike, reference: ArrayLike,
              n_resamples: int = 1000, seed: int = 0, groups: ArrayLike | None = None) -> tuple[float, float, float]:
    """A metric and its bootstrap 95 % interval: (value, low, high).

    ``groups`` (one label per sample, e.g. the donor): resample whole groups instead of
    samples. Resamples where the metric is undefined (NaN) are left out of the interval.
    """
    p, r = _pair(predicted, reference)
    values = np.array([metric(p[i], r[i]) for i in _resamples(p.size, groups, n_resamples, seed)])
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(metric(p, r)), float(low), float(high)


def report(predicted: ArrayLike, reference: ArrayLike, path: str | Path | None = None,
           n_resamples: int = 1000, seed: int = 0, groups: ArrayLike | None = None, **extra) -> dict:
    """Every metric with its interval, as a dict; written as JSON to ``path`` if given.

    Parameters
    ----------
    predicted, reference : array_like
        Predicted and FE moduli (MPa), one per sample.
    path : path, optional
        JSON file to write (atomically).
    n_resamples, seed : int
        Bootstrap resamples and their seed.
    groups : array_like, optional
        One label per sample (its donor): the bootstrap resamples whole groups.
    **extra
        Further entries stored as they are (model name, split, timings...).
    """
    p, r = _pair(predicted, reference)
    indices = _resamples(p.size, groups, n_resamples, seed)
    result = {}
    for name, metric in METRICS.items():
        values = np.array([metric(p[i], r[i]) for i in indices])
        low, high = np.nanpercentile(values, [2.5, 97.5])
        result[name] = {"value": float(metric(p, r)), "low": float(low), "high": float(high)}
    result["n"] = int(p.size)
    result.update(extra)
    if path is not None:
        write_json(path, result)
    return result
