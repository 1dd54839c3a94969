"""An ensemble of networks, one per fold of a cross-validation, for either route.

Each network was trained without the donors (or specimens) of its fold; on a new input the
ensemble gives a central prediction of all of them and their spread (the standard deviation
over the networks) as the uncertainty, and says why an input lies outside what they were
trained on. The 2D route's is :class:`bonelib.slices.pretrained.SliceEnsemble` (the arithmetic mean
of the networks' E_eff), the 3D route's :class:`bonelib.cubes.pretrained.CubeEnsemble` (the geometric
mean of their E_z); their files are written and read by :mod:`bonelib.learn.weights`.

>>> import numpy as np
>>> centre, spread = Ensemble.combine(np.array([[100.0, 10.0], [400.0, 10.0]]), geometric=True)
>>> centre.round(6).tolist(), spread.round(1).tolist()
([200.0, 10.0], [212.1, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.learn.conformal import RelativeInterval


@dataclass
class Ensemble:
    """Networks whose combined prediction is the answer and whose spread is its uncertainty.

    Attributes
    ----------
    models : dict
        Name → Keras model.
    training_range : dict or None
        Measure → [low, high] of the training inputs (``vbmd`` in mg HA/cm³, ``bv_tv``);
        None when unknown.
    info : dict
        The rest of the ensemble's index (``ensemble.json``).
    interval : RelativeInterval or None
        Its conformal interval (``interval.json`` beside the index,
        :mod:`bonelib.learn.conformal`), None when it has none.
    domain : dict
        Measure → [low, high] over its training inputs (``domain.json`` beside the index,
        :mod:`bonelib.learn.domain`: the grey-value histogram's quantiles, and more), empty when
        it has none.
    """

    models: dict
    training_range: dict | None
    info: dict
    interval: RelativeInterval | None = None
    domain: dict = field(default_factory=dict)

    def unlike_training(self, measures: dict[str, float]) -> list[str]:
        """Each of an input's ``measures`` outside the range of the training inputs (the training
        range and the :attr:`domain`), in words (:func:`bonelib.learn.domain.outside`)."""
        from bonelib.learn.domain import outside

        return outside(measures, {**(self.training_range or {}), **self.domain})

    def __len__(self) -> int:
        return len(self.models)

    @staticmethod
    def combine(each: NDArray, geometric: bool = False) -> tuple[NDArray, NDArray]:
        """Centre and spread of the networks' predictions ``each`` (networks, inputs), in MPa:
        the arithmetic or geometric mean, and the standard deviation (0 for one network)."""
        centre = np.exp(np.log(each).mean(axis=0)) if geometric else each.mean(axis=0)
        return centre, each.std(axis=0, ddof=1) if len(each) > 1 else np.zeros(each.shape[1])

    def predict(self, grey: ArrayLike, calibration) -> tuple[NDArray, NDArray]:
        """The modulus (MPa) of each input and its spread."""
        raise NotImplementedError

    def bounds(self, predicted: ArrayLike) -> tuple[NDArray, NDArray] | None:
        """The conformal interval (MPa) around each predicted modulus at ``interval.level``,
        or None for an ensemble without one."""
        return None if self.interval is None else self.interval.bounds(predicted)

    def check(self, grey: ArrayLike, calibration) -> list[list[str]]:
        """Why each input lies outside what the networks were trained on (empty: it does not)."""
        raise NotImplementedError
