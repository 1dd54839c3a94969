"""A scan at any voxel size on the networks' grid: the voxel size required, then resampled.

The networks of both routes learnt HR-pQCT images of 82 µm voxels. A scan at another voxel size
tiled as if its voxels were 82 µm would show bone of another scale, and get a confident wrong
modulus. So every entry point that reads a scan takes its voxel size from the file's header or
from the user (:func:`voxel_size`), and refuses when neither gives it; a scan at another voxel
size is then brought to the 82 µm grid by the scanner model (:func:`to_network_grid`): the
density is averaged over each new voxel (partial volume, :func:`bonelib.imaging.scanner.average_to`)
and, for a micro-CT scan (voxels under :data:`bonelib.constants.MICRO_CT_BELOW_MM`, or as the user says), blurred
by the HR-pQCT point spread the networks saw (:class:`bonelib.imaging.scanner.Scanner`), as the
scanner would have imaged that bone. Each step is said in words, for the output.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib.constants import MICRO_CT_BELOW_MM, MODALITIES, VOXEL_SIZE_MM
from bonelib.imaging.scanner import Scanner, average_to

#: Voxel sizes within this relative difference of 82 µm are taken as the networks' grid.
SAME_GRID = 0.02


class VoxelSizeError(ValueError):
    """A scan whose voxel size is unknown, or not a positive length."""


def voxel_size(header: float | None, given: float | None, source: object) -> float:
    """The voxel size (mm) of a scan: the one given, else the header's; refuse when neither says.

    >>> voxel_size(0.082, None, "scan.aim"), voxel_size(None, 0.0607, "stack/")
    (0.082, 0.0607)
    >>> voxel_size(None, None, "core/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bonelib.imaging.grid.VoxelSizeError: core/: the file records no voxel size. Give it with --voxel-size-mm ...
    """
    chosen = given if given is not None else header
    if chosen is None:
        raise VoxelSizeError(f"{source}: the file records no voxel size. Give it with --voxel-size-mm (mm; 0.082 for "
                             "XtremeCT, 0.0607 for XtremeCT II): without it, bone is read at the wrong scale")
    if not (np.isfinite(chosen) and chosen > 0):
        raise VoxelSizeError(f"{source}: the voxel size must be a positive length in mm, got {chosen!r}")
    if chosen > 1.0:
        raise VoxelSizeError(f"{source}: a voxel size of {chosen} mm is not a bone micro-CT or HR-pQCT scan's "
                             "(give it in mm: 0.082, not 82)")
    return float(chosen)


def coarser_than_network(voxel_size_mm: float) -> str | None:
    """Why a scan coarser than the networks' 82 µm grid lies outside what they learnt (None when
    it is not coarser): resampling spreads each voxel over several but cannot restore the
    trabeculae it blurred, which are about one 82 µm voxel thick.

    >>> coarser_than_network(0.082) is None, coarser_than_network(0.0607) is None
    (True, True)
    >>> coarser_than_network(0.3)
    'voxels of 300 µm, coarser than the 82 µm the networks learnt: resampling cannot restore the trabeculae they blur'
    """
    if voxel_size_mm <= VOXEL_SIZE_MM * (1 + SAME_GRID):
        return None
    return (f"voxels of {voxel_size_mm * 1000:.0f} µm, coarser than the {VOXEL_SIZE_MM * 1000:.0f} µm the networks "
            "learnt: resampling cannot restore the trabeculae they blur")


def to_network_grid(density: NDArray, voxel_size_mm: float, modality: str = "auto") -> tuple[NDArray, list[str]]:
    """Density (mg HA/cm³) of a scan at ``voxel_size_mm`` on the networks' 82 µm grid, and what was done.

    Parameters
    ----------
    density : numpy.ndarray
        2D image or (slices, rows, cols) stack, mg HA/cm³, isotropic voxels.
    voxel_size_mm : float
        Its voxel size (mm).
    modality : {"auto", "hr-pqct", "micro-ct"}
        ``"micro-ct"`` adds the HR-pQCT point spread after resampling; ``"auto"`` takes voxels
        under :data:`bonelib.constants.MICRO_CT_BELOW_MM` as micro-CT.

    Returns
    -------
    density : numpy.ndarray
        On the 82 µm grid (unchanged within :data:`SAME_GRID` of it), float32.
    notes : list of str
        What was done, in words (empty when nothing was).

    Examples
    --------
    >>> rho = np.full((40, 40, 40), 300.0)
    >>> on_grid, notes = to_network_grid(rho, 0.041)
    >>> on_grid.shape, float(on_grid.mean())
    ((20, 20, 20), 300.0)
    >>> notes[0]
    'resampled from 41.0 µm to 82 µm voxels (partial-volume average)'
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if abs(voxel_size_mm / VOXEL_SIZE_MM - 1) <= SAME_GRID:
        return density, []
    resampled = average_to(density, voxel_size_mm)
    notes = [(f"resampled from {voxel_size_mm * 1000:.1f} µm to {VOXEL_SIZE_MM * 1000:.0f} µm voxels "
              "(partial-volume average)")]
    micro_ct = voxel_size_mm < MICRO_CT_BELOW_MM if modality == "auto" else modality == "micro-ct"
    if micro_ct:
        sigma = Scanner().psf_sigma_voxels
        resampled = ndimage.gaussian_filter(resampled, sigma, mode="nearest").astype(np.float32)
        notes.append(f"blurred by the HR-pQCT point spread (σ {sigma * VOXEL_SIZE_MM * 1000:.0f} µm) as a micro-CT "
                     "scan: the networks learnt HR-pQCT images")
    return resampled, notes
