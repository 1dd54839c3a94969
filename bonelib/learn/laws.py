"""The Zysset–Curnier family of density–fabric laws: what a network must beat, in both routes.

Zysset–Curnier fabric elasticity (Zysset 2003, J Biomech 36:1469) gives the modulus along a
fabric direction i as E_i = E₀ · BV/TVᵏ · m_iˡ², m_i the fabric tensor's entry along i (sum of
the entries: the dimension). One law of this module serves every use:

- without fabric, the densitometric power law E = E₀ · BV/TVᵏ;
- with one fabric entry per sample, the modulus along that axis (a 3D cube's E_z from m_z,
  :func:`bonelib.cubes.dataset.grey_measures`);
- with several, the mean of the directional terms, E₀ · BV/TVᵏ · meanⱼ m_j^(2l): a 2D slice's
  E_eff, which averages C₁₁ and C₂₂ (Eq. 4), from the two eigenvalues of its fabric
  (:func:`bonelib.morphometry.planar.fabric_eigenvalues`).

Each is fitted by least squares on log E, so that weak and stiff samples weigh alike: exactly
by linear least squares where the law is linear in log E₀, k and l (no fabric, one entry),
iteratively from the power law's fit otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from bonelib._checks import finite_array

#: Bounds of the fabric exponent l in the iterative fit (several fabric entries).
L_BOUNDS = (0.0, 10.0)


@dataclass
class ZyssetCurnierLaw:
    """E = E₀ · BV/TVᵏ · meanⱼ m_j^(2l) (with ``fabric``; E₀ · BV/TVᵏ without), fitted on log E.

    Attributes
    ----------
    fabric : bool
        Include the fabric term.
    E0 : float
        Modulus (MPa) of solid bone with isotropic fabric (all m_j = 1) that the law extrapolates to.
    k, l : float
        Exponents of BV/TV and of the fabric (``l`` is 0 without fabric).

    Examples
    --------
    The law along one axis, fitted exactly:

    >>> import numpy as np
    >>> bv_tv = np.array([0.1, 0.2, 0.3]); m = np.array([1.1, 1.2, 1.0])
    >>> law = ZyssetCurnierLaw().fit(bv_tv, 9000 * bv_tv**2 * m**3, m)
    >>> round(law.E0), round(law.k, 6), round(law.l, 6)
    (9000, 2.0, 1.5)

    The mean of two directional terms, as a slice's E_eff:

    >>> m = np.array([[1.2, 0.8], [1.5, 0.5], [1.0, 1.0], [1.1, 0.9]])
    >>> bv_tv = np.array([0.2, 0.3, 0.4, 0.25])
    >>> law = ZyssetCurnierLaw().fit(bv_tv, 5000 * bv_tv**2 * (m**1.4).mean(axis=1), m)
    >>> round(law.E0), round(law.k, 6), round(law.l, 6)
    (5000, 2.0, 0.7)
    """

    fabric: bool = True
    E0: float = float("nan")
    k: float = float("nan")
    l: float = 0.0

    def _inputs(self, bv_tv: ArrayLike, m: ArrayLike | None) -> tuple[NDArray, NDArray | None]:
        """log BV/TV (N,) and the fabric entries (N, d), or None without fabric."""
        bv_tv = finite_array(bv_tv, "bv_tv", ndim=1)
        if np.any(bv_tv <= 0):
            raise ValueError("bv_tv must be positive")
        if not self.fabric:
            return np.log(bv_tv), None
        if m is None:
            raise ValueError("the fabric law needs the fabric entries m")
        m = finite_array(m, "m")
        m = m[:, None] if m.ndim == 1 else m
        if m.ndim != 2 or m.shape[0] != bv_tv.size or np.any(m < 0) or (m.shape[1] == 1 and np.any(m == 0)):
            raise ValueError("m must hold one non-negative fabric entry, or one row of them, per bv_tv "
                             "(a single entry positive)")
        return np.log(bv_tv), m

    @staticmethod
    def _log_modulus(parameters: ArrayLike, log_bv_tv: NDArray, m: NDArray) -> NDArray:
        """log E of the law with parameters (log E₀, k, l)."""
        log_E0, k, l = parameters
        return log_E0 + k * log_bv_tv + np.log(np.mean(m ** (2 * l), axis=1))

    def _design(self, log_bv_tv: NDArray, m: NDArray | None) -> NDArray:
        """Columns of the linear law (1, log BV/TV and, with one fabric entry, 2 log m)."""
        columns = [np.ones_like(log_bv_tv), log_bv_tv] + ([] if m is None else [2 * np.log(m[:, 0])])
        return np.stack(columns, axis=1)

    def fit(self, bv_tv: ArrayLike, modulus: ArrayLike, m: ArrayLike | None = None) -> ZyssetCurnierLaw:
        """Fit to samples' BV/TV (-), moduli (MPa) and, with ``fabric``, fabric entries (-):
        ``m`` (N,) for the law along one axis, (N, d) for the mean of d directional terms."""
        log_bv_tv, m = self._inputs(bv_tv, m)
        modulus = finite_array(modulus, "modulus", ndim=1)
        if modulus.shape != log_bv_tv.shape or np.any(modulus <= 0):
            raise ValueError("modulus must be positive, one per bv_tv")
        unknowns = 3 if self.fabric else 2
        if modulus.size < unknowns:
            raise ValueError(f"need at least {unknowns} samples to fit, got {modulus.size}")
        log_modulus = np.log(modulus)
        if m is None or m.shape[1] == 1:
            coefficients = np.linalg.lstsq(self._design(log_bv_tv, m), log_modulus, rcond=None)[0]
            self.E0, self.k = float(np.exp(coefficients[0])), float(coefficients[1])
            self.l = float(coefficients[2]) if self.fabric else 0.0
            return self
        start_k, start_log_E0 = np.polyfit(log_bv_tv, log_modulus, 1)
        solution = least_squares(lambda p: self._log_modulus(p, log_bv_tv, m) - log_modulus,
                                 [start_log_E0, start_k, 0.5], bounds=([-np.inf, -np.inf, L_BOUNDS[0]],
                                                                     [np.inf, np.inf, L_BOUNDS[1]]),
                                 xtol=1e-12, ftol=1e-12)
        log_E0, self.k, self.l = (float(c) for c in solution.x)
        self.E0 = float(np.exp(log_E0))
        return self

    def predict(self, bv_tv: ArrayLike, m: ArrayLike | None = None) -> NDArray:
        """The modulus (MPa) of samples of this BV/TV (and fabric entries, shaped as in :meth:`fit`)."""
        if not np.isfinite(self.E0):
            raise RuntimeError("fit the law first")
        log_bv_tv, m = self._inputs(bv_tv, m)
        if m is None or m.shape[1] == 1:
            coefficients = [np.log(self.E0), self.k] + ([self.l] if self.fabric else [])
            return np.exp(self._design(log_bv_tv, m) @ np.array(coefficients))
        return np.exp(self._log_modulus((np.log(self.E0), self.k, self.l), log_bv_tv, m))
