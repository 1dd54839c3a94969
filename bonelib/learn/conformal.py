"""Prediction intervals that cover what they say: split-conformal calibration on held-out residuals.

An ensemble's spread says how much its networks disagree, not how far they are from the FE
modulus: on new bone it can be a tenth of the error. A conformal interval is calibrated on what
the networks got wrong on bone they did not see (the out-of-fold predictions of a
cross-validation): the residuals r = ln(E_FE / E_predicted), whose quantiles at (1 − level)/2
and (1 + level)/2 (with the finite-sample correction of split conformal prediction, Vovk et al.
2005; Lei et al. 2018) bound the ratio of the truth to a new prediction. The residuals are
taken by range of the predicted modulus (Mondrian conformal: :data:`BINS` bins at its quantiles),
since the relative error of soft bone is larger. Under exchangeability of new bone with the
calibration bone, the interval [E · e^low, E · e^high] then holds the FE modulus with probability
at least ``level`` in each bin; :func:`cross_coverage` measures it on groups (donors, specimens)
held out of the calibration too.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> predicted = rng.uniform(100, 1000, 4000)
>>> observed = predicted * np.exp(rng.normal(0, 0.1, 4000))
>>> interval = calibrate(predicted, observed, level=0.9, bins=1)
>>> round(float(interval.high[0]), 2), round(coverage(interval, predicted, observed), 2)
(0.17, 0.9)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The level of the intervals the ensembles report.
LEVEL = 0.9
#: Ranges of the predicted modulus calibrated apart.
BINS = 3
#: The file beside an ensemble's ``ensemble.json`` that holds its interval.
FILE = "interval.json"


@dataclass(frozen=True)
class RelativeInterval:
    """Bounds of ln(E_FE / E_predicted) by range of the predicted modulus.

    Attributes
    ----------
    level : float
        Share of new predictions whose FE modulus the interval holds (0.9: 90 %).
    edges : list of float
        Predicted-modulus edges of the ranges (MPa): range i is [edges[i], edges[i + 1]).
    low, high : list of float
        Bounds of the log ratio in each range (−inf / inf when too few residuals).
    residuals : list of int
        Residuals each range was calibrated on.
    """

    level: float
    edges: list[float]
    low: list[float]
    high: list[float]
    residuals: list[int]

    def bounds(self, predicted: ArrayLike) -> tuple[NDArray, NDArray]:
        """The interval (MPa) around each predicted modulus (MPa)."""
        predicted = np.asarray(predicted, dtype=float)
        index = np.clip(np.searchsorted(self.edges, predicted, side="right") - 1, 0, len(self.low) - 1)
        return predicted * np.exp(np.asarray(self.low)[index]), predicted * np.exp(np.asarray(self.high)[index])

    def write(self, folder: str | Path) -> Path:
        """Write it as ``folder/interval.json``."""
        from bonelib._files import write_json

        path = Path(folder) / FILE
        write_json(path, {key: [_finite(v) for v in value] if isinstance(value, list) else value
                          for key, value in asdict(self).items()})
        return path

    @classmethod
    def read(cls, folder: str | Path) -> RelativeInterval | None:
        """The interval stored beside an ensemble, or None when it has none."""
        path = Path(folder) / FILE
        if not path.exists():
            return None
        stored = json.loads(path.read_text())
        return cls(**{key: [_number(v) for v in value] if isinstance(value, list) else value
                      for key, value in stored.items()})


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _number(value: float | str) -> float:
    return float(value)


def _bounds(residuals: NDArray, level: float) -> tuple[float, float]:
    """Split-conformal bounds of a set of residuals: the k-th smallest and largest with
    k = ⌊(n + 1)(1 − level)/2⌋ (infinite when k < 1)."""
    n = residuals.size
    ordered = np.sort(residuals)
    k = math.floor((n + 1) * (1 - level) / 2 + 1e-9)  # (1 − 0.9) / 2 is 0.04999… in floating point
    if k < 1:
        return -math.inf, math.inf
    return float(ordered[k - 1]), float(ordered[n - k])


def calibrate(predicted: ArrayLike, observed: ArrayLike, level: float = LEVEL, bins: int = BINS) -> RelativeInterval:
    """The interval of a model from its predictions of moduli it did not see and their FE values (MPa).

    Parameters
    ----------
    predicted, observed : array_like
        (n,) held-out predictions and the FE moduli (MPa, positive).
    level : float
        Coverage the interval is made for, in (0, 1).
    bins : int
        Ranges of the predicted modulus, cut at its quantiles, each calibrated on its own.
    """
    predicted, observed = np.asarray(predicted, dtype=float), np.asarray(observed, dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if predicted.shape != observed.shape or predicted.ndim != 1 or predicted.size == 0:
        raise ValueError(f"predicted and observed must be equal non-empty 1D arrays, got {predicted.shape} "
                         f"and {observed.shape}")
    if not (np.all(predicted > 0) and np.all(observed > 0) and np.all(np.isfinite(predicted + observed))):
        raise ValueError("moduli must be positive and finite (MPa)")
    inner = np.quantile(predicted, np.arange(1, bins) / bins).tolist()
    edges = [0.0, *inner, math.inf]
    index = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, bins - 1)
    residuals = np.log(observed / predicted)
    low, high, counts = [], [], []
    for b in range(bins):
        lo, hi = _bounds(residuals[index == b], level)
        low.append(lo)
        high.append(hi)
        counts.append(int(np.sum(index == b)))
    return RelativeInterval(level, edges, low, high, counts)


def coverage(interval: RelativeInterval, predicted: ArrayLike, observed: ArrayLike) -> float:
    """Share of the FE moduli that lie inside the interval around their predictions."""
    low, high = interval.bounds(predicted)
    observed = np.asarray(observed, dtype=float)
    return float(np.mean((observed >= low) & (observed <= high)))


def cross_coverage(predicted: ArrayLike, observed: ArrayLike, groups: ArrayLike, level: float = LEVEL,
                   bins: int = BINS) -> dict:
    """Coverage on groups held out of the calibration: each group's predictions get the interval
    calibrated on the other groups' residuals.

    Returns
    -------
    dict
        ``coverage`` (pooled), ``by_group`` (group → coverage), ``by_range`` (coverage in each
        range of the predicted modulus, edges of the pooled calibration), ``median_width``
        (median of high / low), ``level``.
    """
    predicted, observed, groups = (np.asarray(a) for a in (predicted, observed, groups))
    inside = np.zeros(predicted.size, bool)
    ratio = np.zeros(predicted.size)
    by_group = {}
    for group in np.unique(groups):
        held = groups == group
        interval = calibrate(predicted[~held], observed[~held], level, bins)
        low, high = interval.bounds(predicted[held])
        inside[held] = (observed[held] >= low) & (observed[held] <= high)
        ratio[held] = high / low
        by_group[str(group)] = float(inside[held].mean())
    pooled = calibrate(predicted, observed, level, bins)
    index = np.clip(np.searchsorted(pooled.edges, predicted, side="right") - 1, 0, bins - 1)
    return {"level": level, "coverage": float(inside.mean()), "by_group": by_group,
            "by_range": [float(inside[index == b].mean()) for b in range(bins)],
            "median_width": float(np.median(ratio)), "samples": int(predicted.size)}
