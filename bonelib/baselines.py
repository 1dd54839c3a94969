"""Predictions without a CNN, to measure what the image adds (paper section 3).

- :class:`DensityRegression`: E = a · vBMD + b, the paper's density-only comparison (R² = 0.65);
- :class:`PowerLaw`: E = a · (BV/TV)^k · (Tb.Th)^m, a morphometry power law in the spirit of
  Zysset–Curnier fabric-elasticity, fitted in log space (the fabric enters through the
  thickness exponent; in-plane anisotropy is averaged out by E_eff).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array


@dataclass
class DensityRegression:
    """Linear regression of the modulus (MPa) on mean vBMD (mg HA/cm³)."""

    slope: float = float("nan")
    intercept: float = float("nan")

    def fit(self, bmd: ArrayLike, modulus: ArrayLike) -> "DensityRegression":
        x = finite_array(bmd, "bmd", ndim=1)
        y = finite_array(modulus, "modulus", ndim=1)
        if x.shape != y.shape or x.size < 2:
            raise ValueError("bmd and modulus need the same length, at least 2")
        self.slope, self.intercept = (float(v) for v in np.polyfit(x, y, 1))
        return self

    def predict(self, bmd: ArrayLike) -> NDArray:
        if np.isnan(self.slope):
            raise ValueError("fit the regression first")
        return self.slope * finite_array(bmd, "bmd", ndim=1) + self.intercept


@dataclass
class PowerLaw:
    """E = a · (BV/TV)^k · (Tb.Th)^m, least squares on log E; needs positive inputs."""

    log_a: float = float("nan")
    k: float = float("nan")
    m: float = float("nan")

    @staticmethod
    def _design(bv_tv: ArrayLike, tb_th: ArrayLike) -> NDArray:
        v = finite_array(bv_tv, "bv_tv", ndim=1)
        t = finite_array(tb_th, "tb_th", ndim=1)
        if v.shape != t.shape or np.any(v <= 0) or np.any(t <= 0):
            raise ValueError("bv_tv and tb_th need the same length and positive values")
        return np.column_stack([np.ones_like(v), np.log(v), np.log(t)])

    def fit(self, bv_tv: ArrayLike, tb_th: ArrayLike, modulus: ArrayLike) -> "PowerLaw":
        X = self._design(bv_tv, tb_th)
        y = finite_array(modulus, "modulus", ndim=1)
        if y.shape[0] != X.shape[0] or np.any(y <= 0):
            raise ValueError("modulus needs one positive value per sample")
        self.log_a, self.k, self.m = (float(c) for c in np.linalg.lstsq(X, np.log(y), rcond=None)[0])
        return self

    def predict(self, bv_tv: ArrayLike, tb_th: ArrayLike) -> NDArray:
        if np.isnan(self.k):
            raise ValueError("fit the power law first")
        return np.exp(self._design(bv_tv, tb_th) @ np.array([self.log_a, self.k, self.m]))
