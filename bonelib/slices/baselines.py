"""Predictions without a CNN, to measure what the image adds (paper section 3).

- :class:`LinearCorrection`: E = a · x + b through one predictor x: the paper's density-only
  comparison (x = vBMD, R² = 0.65; :data:`DensityRegression`) and the correction of the
  coarse-FE baseline (x = the coarse modulus, :mod:`bonelib.slices.coarse`);
- the Zysset–Curnier law of BV/TV and the 2D fabric, :class:`bonelib.learn.laws.ZyssetCurnierLaw`
  (E = E₀ · BV/TVᵏ · (m₁^(2l) + m₂^(2l)) / 2), shared with the 3D route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array


@dataclass
class LinearCorrection:
    """Least-squares line of the modulus (MPa) on one predictor (vBMD in mg HA/cm³, or a
    cheaper model's modulus in MPa)."""

    slope: float = float("nan")
    intercept: float = float("nan")

    def fit(self, predictor: ArrayLike, modulus: ArrayLike) -> LinearCorrection:
        """Fit modulus ≈ slope · predictor + intercept."""
        x = finite_array(predictor, "predictor", ndim=1)
        y = finite_array(modulus, "modulus", ndim=1)
        if x.shape != y.shape or x.size < 2:
            raise ValueError("predictor and modulus need the same length, at least 2")
        self.slope, self.intercept = (float(v) for v in np.polyfit(x, y, 1))
        return self

    def predict(self, predictor: ArrayLike) -> NDArray:
        """Predicted modulus (MPa) at each value of the predictor."""
        if np.isnan(self.slope):
            raise ValueError("fit the regression first")
        return self.slope * finite_array(predictor, "predictor", ndim=1) + self.intercept


#: The paper's density-only comparison: E = a · vBMD + b (vBMD in mg HA/cm³).
DensityRegression = LinearCorrection
