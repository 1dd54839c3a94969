"""The HR-pQCT scanner model: from bone volume fraction to calibrated integer grey values.

One model for every source of bone, so that synthetic and real bone reach the FE and the
CNNs through the same imaging. A volume of bone volume fraction per voxel (partial volume
included, 0 marrow … 1 bone) is turned into mineral density by the tissue and marrow
densities, blurred by a Gaussian point-spread function (XtremeCT: ≈ 130 µm FWHM, Boutroy et
al. 2005, J Clin Endocrinol Metab 90:6508), corrupted by Gaussian noise, and stored as int16
grey values through a linear :class:`~bonelib.imaging.density.Calibration` (:meth:`Scanner.image`).
:func:`scan` first brings a volume at any voxel size (a binary micro-CT segmentation, say)
to the scanner's 82 µm grid, each new voxel holding the bone fraction it covers
(:func:`resample`: partial volume, bone mass conserved).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib._checks import finite_array
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging.density import Calibration

#: The (invented) calibration of the synthetic scanner: mg HA/cm³ per grey unit, mg HA/cm³.
CALIBRATION = Calibration(slope=0.5, intercept=-300.0)


@dataclass(frozen=True)
class Scanner:
    """Imaging parameters of one scan.

    Attributes
    ----------
    tissue_density : float
        Mineral density of bone tissue (mg HA/cm³). 1050 lies inside the range that the
        paper's Eq. 1 treats as bone (ρ_ash 400–1200 mg/cm³, i.e. ρ_HA ≈ 456–1368 mg HA/cm³;
        Lu et al. 2023), so that fully mineralised voxels are bone to the FE model.
    marrow_density : float
        Density of marrow and of the fluid around the body (mg HA/cm³); marrow fat shifts it
        below 0, a known confounder of QCT densitometry.
    psf_sigma_voxels : float
        Standard deviation of the Gaussian point-spread function (voxels of 82 µm); 0.65 is
        ≈ 125 µm FWHM, the XtremeCT's ≈ 130 µm (Boutroy et al. 2005).
    noise_sd : float
        Standard deviation of the image noise (mg HA/cm³), that of the synthetic cohort.
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


def _averaging_matrix(n_in: int, from_mm: float, to_mm: float) -> NDArray[np.float64]:
    """(n_out, n_in) weights: the share of each output cell covered by each input cell.

    Output cell j spans [j, j + 1) · ``to_mm``, input cell i spans [i, i + 1) · ``from_mm``;
    n_out is the number of whole output cells inside the input's extent.
    """
    n_out = int(np.floor(n_in * from_mm / to_mm + 1e-9))
    out_edges = np.arange(n_out + 1) * to_mm
    in_edges = np.arange(n_in + 1) * from_mm
    low = np.maximum(out_edges[:-1, None], in_edges[None, :-1])
    high = np.minimum(out_edges[1:, None], in_edges[None, 1:])
    return np.clip(high - low, 0.0, None) / to_mm


def average_to(values: NDArray, voxel_size_mm: float, to_mm: float = VOXEL_SIZE_MM) -> NDArray[np.float32]:
    """Any quantity per voxel (density, fraction) on another isotropic grid: its volume average
    over each new voxel, the partial volume of :func:`resample` without the fraction's bounds.

    >>> average_to(np.array([[0.0, 2.0], [4.0, 6.0]]), 0.05, 0.1).tolist()
    [[3.0]]
    """
    volume = finite_array(values, "values").astype(np.float64, copy=False)
    if not (voxel_size_mm > 0 and to_mm > 0):
        raise ValueError(f"voxel sizes must be positive (mm), got {voxel_size_mm} and {to_mm}")
    if min(volume.shape) * voxel_size_mm < to_mm:
        raise ValueError(f"a volume of {volume.shape} voxels of {voxel_size_mm} mm holds no voxel of {to_mm} mm")
    for axis in range(volume.ndim):
        weights = _averaging_matrix(volume.shape[axis], voxel_size_mm, to_mm)
        volume = np.moveaxis(np.tensordot(weights, np.moveaxis(volume, axis, 0), axes=1), 0, axis)
    return volume.astype(np.float32)


def resample(fraction: NDArray, voxel_size_mm: float, to_mm: float = VOXEL_SIZE_MM) -> NDArray[np.float32]:
    """Bone fraction on a coarser (or finer) isotropic grid: the volume average over each new voxel.

    Partial volume as a detector integrates it: each output voxel holds the mean of the
    input over the space it covers, so bone mass (fraction × volume) is conserved over the
    region covered by whole output voxels (the input's extent, less a remainder under one
    output voxel at the far end of each axis).

    Parameters
    ----------
    fraction : numpy.ndarray
        Bone fraction (0 … 1) or a boolean bone mask, any number of dimensions.
    voxel_size_mm : float
        Its isotropic voxel size (mm).
    to_mm : float
        The new voxel size (mm); default the HR-pQCT's 82 µm.
    """
    volume = finite_array(fraction, "fraction")
    if volume.min() < 0 or volume.max() > 1:
        raise ValueError(f"fraction must lie in [0, 1], got [{volume.min()}, {volume.max()}]")
    return average_to(volume, voxel_size_mm, to_mm)


def scan(bone: NDArray, voxel_size_mm: float, seed: int = 0, scanner: Scanner = Scanner(),
         to_mm: float = VOXEL_SIZE_MM) -> tuple[NDArray[np.int16], Calibration]:
    """An HR-pQCT-like grey volume of a bone volume at any voxel size, and its calibration.

    Partial volume on resampling to ``to_mm`` (:func:`resample`), then the scanner's
    densities, point-spread function and noise (:meth:`Scanner.image`).

    Parameters
    ----------
    bone : numpy.ndarray
        Boolean bone mask or bone fraction (0 … 1), e.g. a segmented micro-CT volume.
    voxel_size_mm : float
        Its isotropic voxel size (mm).
    seed : int
        Seed of the noise; the same seed gives the same grey values.
    scanner : Scanner
        Densities (mg HA/cm³), PSF (σ in voxels of 82 µm, whatever ``to_mm``: the blur is
        physical), noise and calibration.
    to_mm : float
        Voxel size of the scan (mm), 82 µm by default.

    Returns
    -------
    grey : numpy.ndarray
        int16 grey values on the ``to_mm`` grid.
    calibration : Calibration
        Grey value → mg HA/cm³.
    """
    fraction = resample(bone, voxel_size_mm, to_mm)
    # The PSF has a physical width: its σ is given in voxels of 82 µm.
    physical = replace(scanner, psf_sigma_voxels=scanner.psf_sigma_voxels * VOXEL_SIZE_MM / to_mm)
    return physical.image(fraction, np.random.default_rng(seed)), scanner.calibration
