"""How close synthetic bone is to real bone: morphometry side by side, and the acceptance test.

Every source is measured the same way: 3D morphometry of its binary volume at the micro-CT
voxel size (:func:`bonelib.morphometry.volume.describe`), then the volume goes through the
scanner model to 82 µm and its transverse sections through the paper's smoothing and
threshold (:func:`bonelib.morphometry.planar.section_measures`). A synthetic cohort is accepted
when, for every measure, its median lies within 15 % of the real median and its 10–90 %
range overlaps the real one; for the percolation rate, a share, the rates must lie within
0.15 of each other.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging import scanner
from bonelib.morphometry import volume as morphometry3d
from bonelib.slices.sections import section_rows

#: The 3D measures and their titles.
MEASURES_3D = {"bv_tv": "BV/TV", "tb_th": "Tb.Th (mm)", "tb_sp": "Tb.Sp (mm)", "tb_n": "Tb.N (1/mm)", "da": "DA",
               "conn_d": "Conn.D (1/mm³)"}
#: The measures of transverse sections at 82 µm and their titles.
MEASURES_2D = {"bv_tv": "section BV/TV", "euler_per_mm2": "section Euler per mm²",
               "largest_cluster": "section largest-cluster share", "percolates": "section percolation rate"}
#: Tolerance on the median (relative), and on the percolation rate (absolute).
TOLERANCE, RATE_TOLERANCE = 0.15, 0.15


def measure(bone: NDArray[np.bool_], voxel_size_mm: float, seed: int, sections: int = 6) -> tuple[dict, list[dict]]:
    """3D morphometry of a binary volume, and the measures of its transverse sections at 82 µm."""
    cube = morphometry3d.describe(bone, voxel_size_mm)
    grey, calibration = scanner.scan(bone, voxel_size_mm, seed=seed)
    rows = [row for row in section_rows(grey, calibration, VOXEL_SIZE_MM, sections) if row["orientation"] == "transverse"]
    for row in rows:
        row["percolates"] = float(row["percolates_x"] or row["percolates_y"])
    return cube, rows


def measure_all(volumes: Iterable[tuple[NDArray[np.bool_], float, int]], sections: int = 6) -> dict[str, list]:
    """``{"3d": [...], "2d": [...]}`` over (bone, voxel size in mm, seed) volumes."""
    cubes, rows = [], []
    for bone, voxel_size_mm, seed in volumes:
        cube, section = measure(bone, voxel_size_mm, seed, sections)
        cubes.append(cube)
        rows += section
    return {"3d": cubes, "2d": rows}


def _summary(values: list[float]) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    return float(np.median(v)), float(np.percentile(v, 10)), float(np.percentile(v, 90))


def compare(real: dict[str, list], synthetic: dict[str, list]) -> list[dict]:
    """One row per measure: real and synthetic median and 10–90 % range, deviation, and whether it passes."""
    rows = []
    for kind, measures in (("3d", MEASURES_3D), ("2d", MEASURES_2D)):
        for key, title in measures.items():
            r = _summary([entry[key] for entry in real[kind]])
            s = _summary([entry[key] for entry in synthetic[kind]])
            if key == "percolates":
                r = (float(np.mean([e[key] for e in real[kind]])),) + r[1:]
                s = (float(np.mean([e[key] for e in synthetic[kind]])),) + s[1:]
                close = abs(s[0] - r[0]) <= RATE_TOLERANCE
                deviation = s[0] - r[0]
            else:
                deviation = s[0] / r[0] - 1
                close = abs(deviation) <= TOLERANCE
            overlap = s[1] <= r[2] and r[1] <= s[2]
            rows.append({"measure": title, "real": r, "synthetic": s, "deviation": deviation,
                         "passes": bool(close and overlap)})
    return rows


def realistic_volumes(n: int, seed: int = 0, shape: tuple[int, int, int] = (201, 201, 201)
                      ) -> Iterator[tuple[NDArray[np.bool_], float, int]]:
    """``n`` cubes of the realistic cohort, sized like the real ROIs: (bone, voxel size, seed)."""
    from bonelib.synth.realistic import MICRO_CT_MM, realistic_plan

    for spec in realistic_plan(n_donors=-(-n // 3), seed=seed)[:n]:
        yield spec.bone(shape), MICRO_CT_MM, spec.seed


def real_volumes(subset: str = "shipped") -> Iterator[tuple[NDArray[np.bool_], float, int]]:
    """The real ROIs of :mod:`bonelib.data` (no shell): (bone, voxel size, seed = ROI number)."""
    from bonelib import data
    for roi in data.fda_l1_rois(subset):
        yield roi.bone, roi.voxel_size_mm, roi.roi
