"""Argument types shared by the ``bonelib`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _calibration(text: str):
    """Parse ``SLOPE,INTERCEPT`` into a :class:`~bonelib.imaging.density.Calibration`."""
    from bonelib.imaging.density import Calibration

    try:
        slope, intercept = (float(part) for part in text.split(","))
        return Calibration(slope, intercept)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected SLOPE,INTERCEPT (mg HA/cm³ per grey unit, mg HA/cm³), got {text!r}: {error}"
        )


def _stored_calibration(path: Path):
    """The calibration that ``bonelib synth`` stores in an .npz file, if any."""
    from bonelib.imaging.density import Calibration

    if path.suffix.lower() != ".npz":
        return None
    with np.load(path, allow_pickle=False) as archive:
        if "calibration" not in archive.files:
            return None
        slope, intercept = archive["calibration"]
    return Calibration(float(slope), float(intercept))
