"""Laws for the modulus of a bone cube without a network: what the 3D CNN must beat.

Both are fitted by least squares on the logarithm of the modulus, so that weak and stiff
cubes weigh alike, and both read only what an HR-pQCT reader takes from the grey cube
(:func:`bonelib.cubes.dataset.grey_measures`):

- the BV/TV power law E = E₀ · BV/TVᵏ (``fabric=False``), the densitometric standard;
- the Zysset–Curnier fabric–elasticity law for the modulus along axis i,
  E_i = E₀ · BV/TVᵏ · m_i²ˡ (Zysset 2003, J Biomech 36:1469), with m_i the gradient fabric
  tensor's entry along that axis (:func:`bonelib.morphometry.volume.gradient_fabric`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._checks import finite_array


@dataclass
class CubeLaw:
    """E = E₀ · BV/TVᵏ (· m²ˡ with ``fabric``), fitted on log E.

    Attributes
    ----------
    fabric : bool
        Include the fabric term (the Zysset–Curnier form).
    E0 : float
        Modulus of solid bone with isotropic fabric that the law extrapolates to (MPa).
    k, l : float
        Exponents of BV/TV and of the fabric (``l`` is 0 without fabric).

    Examples
    --------
    >>> import numpy as np
    >>> bv_tv = np.array([0.1, 0.2, 0.3]); m = np.array([1.1, 1.2, 1.0])
    >>> law = CubeLaw(fabric=True).fit(bv_tv, 9000 * bv_tv**2 * m**3, m)
    >>> round(law.E0), round(law.k, 6), round(law.l, 6)
    (9000, 2.0, 1.5)
    """

    fabric: bool = False
    E0: float = float("nan")
    k: float = float("nan")
    l: float = field(default=0.0)

    def _design(self, bv_tv: ArrayLike, m: ArrayLike | None) -> NDArray:
        bv_tv = finite_array(bv_tv, "bv_tv", ndim=1)
        if np.any(bv_tv <= 0):
            raise ValueError("bv_tv must be positive")
        columns = [np.ones_like(bv_tv), np.log(bv_tv)]
        if self.fabric:
            if m is None:
                raise ValueError("the fabric law needs the fabric entry m")
            m = finite_array(m, "m", ndim=1)
            if m.shape != bv_tv.shape or np.any(m <= 0):
                raise ValueError("m must be positive, one per bv_tv")
            columns.append(2 * np.log(m))
        return np.stack(columns, axis=1)

    def fit(self, bv_tv: ArrayLike, modulus: ArrayLike, m: ArrayLike | None = None) -> "CubeLaw":
        """Fit to cubes' BV/TV (-), moduli (MPa) and, with ``fabric``, fabric entries (-)."""
        design = self._design(bv_tv, m)
        modulus = finite_array(modulus, "modulus", ndim=1)
        if modulus.shape[0] != design.shape[0] or np.any(modulus <= 0):
            raise ValueError("modulus must be positive, one per bv_tv")
        if design.shape[0] < design.shape[1]:
            raise ValueError(f"need at least {design.shape[1]} cubes to fit, got {design.shape[0]}")
        coefficients = np.linalg.lstsq(design, np.log(modulus), rcond=None)[0]
        self.E0, self.k = float(np.exp(coefficients[0])), float(coefficients[1])
        self.l = float(coefficients[2]) if self.fabric else 0.0
        return self

    def predict(self, bv_tv: ArrayLike, m: ArrayLike | None = None) -> NDArray:
        """The modulus (MPa) of cubes of this BV/TV (and fabric entry)."""
        if not np.isfinite(self.E0):
            raise RuntimeError("fit the law first")
        design = self._design(bv_tv, m)
        coefficients = [np.log(self.E0), self.k] + ([self.l] if self.fabric else [])
        return np.exp(design @ np.array(coefficients))
