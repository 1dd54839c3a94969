"""Predictions without a CNN, to measure what the image adds (paper section 3).

- :class:`LinearCorrection`: E = a · x + b through one predictor x: the paper's density-only
  comparison (x = vBMD, R² = 0.65; :data:`DensityRegression`) and the correction of the
  coarse-FE baseline (x = the coarse modulus, :mod:`bonelib.slices.coarse`);
- :class:`FabricPowerLaw`: E = a · (BV/TV)^k · (m₁^(2l) + m₂^(2l)) / 2, BV/TV and the 2D fabric
  (:func:`bonelib.morphometry.planar.fabric_eigenvalues`) in the spirit of Zysset–Curnier
  fabric elasticity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from bonelib._checks import finite_array


@dataclass
class LinearCorrection:
    """Least-squares line of the modulus (MPa) on one predictor (vBMD in mg HA/cm³, or a
    cheaper model's modulus in MPa)."""

    slope: float = float("nan")
    intercept: float = float("nan")

    def fit(self, predictor: ArrayLike, modulus: ArrayLike) -> "LinearCorrection":
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


@dataclass
class FabricPowerLaw:
    """E = a · (BV/TV)^k · (m₁^(2l) + m₂^(2l)) / 2: Zysset–Curnier moduli averaged like E_eff.

    Zysset–Curnier fabric elasticity gives the modulus along fabric direction i as
    a · ρ^k · m_i^(2l). E_eff (Eq. 4) averages C₁₁ and C₂₂, hence the mean of the two
    directional terms. Fitted by least squares on log E (MPa).
    """

    log_a: float = float("nan")
    k: float = float("nan")
    l: float = float("nan")

    @staticmethod
    def _inputs(bv_tv: ArrayLike, fabric: ArrayLike) -> tuple[NDArray, NDArray]:
        v = finite_array(bv_tv, "bv_tv", ndim=1)
        m = finite_array(fabric, "fabric", ndim=2)
        if m.shape != (v.size, 2) or np.any(v <= 0) or np.any(m < 0):
            raise ValueError("bv_tv needs positive values and fabric one non-negative (m1, m2) row per sample")
        return np.log(v), m

    @staticmethod
    def _log_modulus(params: NDArray, log_v: NDArray, m: NDArray) -> NDArray:
        log_a, k, l = params
        return log_a + k * log_v + np.log(np.mean(m ** (2 * l), axis=1))

    def fit(self, bv_tv: ArrayLike, fabric: ArrayLike, modulus: ArrayLike) -> "FabricPowerLaw":
        log_v, m = self._inputs(bv_tv, fabric)
        y = finite_array(modulus, "modulus", ndim=1)
        if y.shape != log_v.shape or y.size < 3 or np.any(y <= 0):
            raise ValueError("modulus needs one positive value per sample, at least 3")
        log_y = np.log(y)
        start_k, start_log_a = np.polyfit(log_v, log_y, 1)
        solution = least_squares(lambda p: self._log_modulus(p, log_v, m) - log_y, [start_log_a, start_k, 0.5],
                                 bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, 10.0]), xtol=1e-12, ftol=1e-12)
        self.log_a, self.k, self.l = (float(c) for c in solution.x)
        return self

    def predict(self, bv_tv: ArrayLike, fabric: ArrayLike) -> NDArray:
        if np.isnan(self.k):
            raise ValueError("fit the power law first")
        return np.exp(self._log_modulus(np.array([self.log_a, self.k, self.l]), *self._inputs(bv_tv, fabric)))
