"""The paper's 2D route on 2D sections of a 3D bone volume: labels and connectivity per section.

A real bone volume (a micro-CT ROI of :mod:`bonelib.data`, say) is scanned by the scanner
model (:func:`bonelib.imaging.scanner.scan`), cut into transverse sections (normal to the
superior–inferior axis 0, the plane HR-pQCT scans and the paper labels) or longitudinal
ones (containing it), and each section goes through the paper's route
(:func:`bonelib.slices.label.label`) and the connectivity measures of
:func:`bonelib.morphometry.planar.section_measures`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.typing import NDArray

from bonelib.imaging.density import Calibration, smooth, to_vbmd
from bonelib.morphometry.planar import bone_mask, section_measures
from bonelib.slices.label import density_map, label_density

#: Section orientations: the array axis each cuts across.
ORIENTATIONS = {"transverse": 0, "longitudinal": 1}


def cut(volume: NDArray, orientation: str, count: int) -> Iterator[tuple[int, NDArray]]:
    """``count`` evenly spaced sections of a 3D volume (index, 2D image), away from its ends."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {tuple(ORIENTATIONS)}, got {orientation!r}")
    if volume.ndim != 3:
        raise ValueError(f"volume must be 3D, got shape {volume.shape}")
    axis = ORIENTATIONS[orientation]
    size = volume.shape[axis]
    if not 1 <= count <= size:
        raise ValueError(f"count must lie in 1 … {size}, got {count}")
    for index in np.linspace(0, size, count + 2)[1:-1].astype(int):
        yield int(index), np.take(volume, index, axis=axis)


def section_rows(grey: NDArray, calibration: Calibration, voxel_size_mm: float, count: int = 3,
                 **identity) -> list[dict]:
    """Label and measure ``count`` transverse and ``count`` longitudinal sections of a grey volume.

    Parameters
    ----------
    grey : numpy.ndarray
        3D grey values, axis 0 superior–inferior.
    calibration : Calibration
        Grey value → mg HA/cm³.
    voxel_size_mm : float
        Voxel size (mm).
    count : int
        Sections per orientation.
    **identity
        Entries copied into every row (specimen, roi, source...).

    Returns
    -------
    list of dict
        One row per section: ``orientation``, ``index``, ``E_eff`` (MPa), ``nu_eff``,
        ``vbmd`` (mg HA/cm³) and the entries of :func:`bonelib.morphometry.planar.section_measures`.
    """
    rows = []
    for orientation in ORIENTATIONS:
        for index, section in cut(grey, orientation, count):
            rho_ha = density_map(section, calibration)
            result = label_density(rho_ha, voxel_size_mm)
            rows.append({**identity, "orientation": orientation, "index": index, "E_eff": result.E_eff,
                         "nu_eff": result.nu_eff, "vbmd": float(rho_ha.mean()),
                         **section_measures(rho_ha, voxel_size_mm)})
    return rows


def fe_bone(grey: NDArray, calibration: Calibration) -> NDArray[np.bool_]:
    """The bone that the paper's route sees, in 3D: the paper's smoothing (σ = 1.2 voxels,
    support 2), the calibration, and ρ_ash ≥ 400 mg/cm³ (:func:`bonelib.morphometry.planar.bone_mask`)."""
    if np.ndim(grey) != 3:
        raise ValueError(f"grey must be 3D, got shape {np.shape(grey)}")
    return bone_mask(to_vbmd(smooth(grey), calibration))
