"""Argument types shared by the ``bonelib`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: The scan formats every command that reads a scan takes (:func:`bonelib.io.load_scan`), for --help.
SCAN_FORMATS = "Scanco AIM/ISQ, NRRD, NIfTI, a DICOM folder, TIFF (a file or a folder of slices), .npy/.npz"


def calibration_argument(text: str):
    """Parse ``SLOPE,INTERCEPT`` into a :class:`~bonelib.imaging.density.Calibration`."""
    from bonelib.imaging.density import Calibration

    try:
        slope, intercept = (float(part) for part in text.split(","))
        return Calibration(slope, intercept)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected SLOPE,INTERCEPT (mg HA/cm³ per grey unit, mg HA/cm³), got {text!r}: {error}"
        )


def stored_calibration(path: Path):
    """The calibration that ``bonelib synth`` stores in an .npz file, if any."""
    from bonelib.imaging.density import Calibration

    if path.suffix.lower() != ".npz":
        return None
    with np.load(path, allow_pickle=False) as archive:
        if "calibration" not in archive.files:
            return None
        slope, intercept = archive["calibration"]
    return Calibration(float(slope), float(intercept))


def read_scan(path: Path, voxel_size_mm: float | None, calibration=None, calibrated: bool = True):
    """A scan as the commands take it: the image, its voxel size (mm: ``voxel_size_mm`` if given,
    else the file's header; refused when neither says) and, when ``calibrated``, its calibration
    (given, else stored by ``bonelib synth``; refused when neither)."""
    from bonelib.imaging.grid import voxel_size
    from bonelib.io import load_scan

    image, header = load_scan(path)
    voxel = voxel_size(header, voxel_size_mm, path)
    if calibrated:
        calibration = calibration or stored_calibration(path)
        if calibration is None:
            raise ValueError("give --calibration SLOPE,INTERCEPT (use 1,0 if the values are mg HA/cm³ already)")
    return image, voxel, calibration


def add_voxel_size(parser: argparse.ArgumentParser) -> None:
    """The ``--voxel-size-mm`` option of a command that reads a scan."""
    parser.add_argument("--voxel-size-mm", type=float, metavar="MM",
                        help="voxel size in mm (0.082 for XtremeCT, 0.0607 for XtremeCT II); needed when the file "
                             "does not record it, and replaces what it records")
