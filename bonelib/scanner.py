"""The HR-pQCT scanner model: from bone volume fraction to calibrated integer grey values.

One model for every source of bone, so that synthetic and real bone reach the FE and the
CNNs through the same imaging. A volume of bone volume fraction per voxel (partial volume
included, 0 marrow … 1 bone) is turned into mineral density by the tissue and marrow
densities, blurred by a Gaussian point-spread function (XtremeCT: ≈ 130 µm FWHM, Boutroy et
al. 2005, J Clin Endocrinol Metab 90:6508), corrupted by Gaussian noise, and stored as int16
grey values through a linear :class:`~bonelib.density.Calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib.density import Calibration

#: The (invented) calibration of the synthetic scanner: mg HA/cm³ per grey unit, mg HA/cm³.
CALIBRATION = Calibration(slope=0.5, intercept=-300.0)


@dataclass(frozen=True)
class Scanner:
    """Imaging parameters of one scan.

    Attributes
    ----------
    tissue_density : float
        Mineral density of bone tissue (mg HA/cm³).
    marrow_density : float
        Density of marrow and of the fluid around the body (mg HA/cm³); marrow fat shifts it
        below 0.
    psf_sigma_voxels : float
        Standard deviation of the Gaussian point-spread function (voxels); 0.65 voxel of
        82 µm is ≈ 125 µm FWHM.
    noise_sd : float
        Standard deviation of the image noise (mg HA/cm³).
    calibration : Calibration
        Maps the stored grey values back to mg HA/cm³.
    """

    tissue_density: float = 1050.0
    marrow_density: float = -20.0
    psf_sigma_voxels: float = 0.65
    noise_sd: float = 50.0
    calibration: Calibration = CALIBRATION

    def image(self, fraction: NDArray, rng: np.random.Generator, keep: slice = slice(None)) -> NDArray[np.int16]:
        """Scan a bone-fraction volume: int16 grey values.

        Parameters
        ----------
        fraction : numpy.ndarray
            Bone volume fraction per voxel (0 … 1), any number of dimensions.
        rng : numpy.random.Generator
            Source of the noise.
        keep : slice
            Part of axis 0 kept after the blur (the blur sees the whole volume, so that a
            padded slab has no edge effect in the kept part); the noise is drawn for it only.

        Returns
        -------
        numpy.ndarray
            int16 grey values, ρ_HA = ``calibration.slope`` · grey + ``calibration.intercept``.
        """
        density = self.marrow_density + fraction * (self.tissue_density - self.marrow_density)
        density = ndimage.gaussian_filter(density, self.psf_sigma_voxels, mode="nearest")[keep]
        density += rng.normal(0.0, self.noise_sd, size=density.shape).astype(np.float32)
        grey = np.rint(self.calibration.grey_of(density))
        info = np.iinfo(np.int16)
        return np.clip(grey, info.min, info.max).astype(np.int16)
