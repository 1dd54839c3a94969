"""bonelib's platen compression test against ParOSol's on the same real bone cubes.

ParOSol (Flaig & Arbenz), the distributed micro-FE solver that takes over for whole bones,
is packaged on PyPI as ``parosol-py`` (GPL-2.0). It is not a dependency of bonelib: install
it in a separate environment and name that environment's interpreter::

    python -m venv /tmp/parosol && /tmp/parosol/bin/pip install parosol-py
    python benchmarks/compare_parosol.py --parosol-python /tmp/parosol/bin/python

For cubes of 24³ and 40³ voxels at 82 µm cut from the first shipped real L1 ROI (tissue
10 GPa, ν 0.3) this prints the apparent modulus along axis 0 (superior–inferior) between
frictionless platens from ``bonelib.fe.platens.compression_test`` and from ParOSol's
``UniaxialCompression`` (only the axial displacement of the bone on each platen prescribed;
preconditioned CG to a relative residual of 1e-8, one MPI process), with each one's seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAROSOL = r"""
import json, sys, time
import numpy as np
import parosol_py
from parosol_py.core import Model
from parosol_py.load_cases import UniaxialCompression

cube, work, voxel = np.load(sys.argv[1]), sys.argv[2], float(sys.argv[3])
material = np.where(cube, 10000.0, 0.0).astype(np.float32)  # MPa, [z, y, x]
strain = -0.01
xyz = np.ascontiguousarray(np.transpose(material, (2, 1, 0)))
conditions = UniaxialCompression(axis="z", strain=strain).generate(Model(material_xyz=xyz, spacing=(voxel,) * 3))
began = time.perf_counter()
result = parosol_py.solve(material=material, spacing=(voxel,) * 3, poisson_ratio=0.3, tolerance=1e-8, level=4,
                          mpi_processes=1, mpi_launcher="packaged", work_dir=work, boundary_conditions=conditions)
seconds = time.perf_counter() - began
force = result.diagnostics["mechanics"]["reaction_force"]["z"]  # N
area = (cube.shape[1] * voxel) * (cube.shape[2] * voxel)  # mm²
print(json.dumps({"E": force / area / strain, "seconds": seconds}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parosol-python", required=True, help="interpreter of an environment with parosol-py")
    parser.add_argument("--sides", type=int, nargs="+", default=[24, 40])
    args = parser.parse_args()
    import numpy as np

    from bonelib import data
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.fe import tissue_maps
    from bonelib.fe.platens import compression_test
    from bonelib.imaging import scanner

    roi = next(data.fda_l1_rois())
    bone = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5
    print(f"{'cube':>5} {'BV/TV':>6} {'bonelib MPa':>12} {'s':>6} {'ParOSol MPa':>12} {'s':>6} {'difference':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for side in args.sides:
            start = (np.array(bone.shape) - side) // 2
            cube = bone[tuple(slice(s, s + side) for s in start)]
            path = Path(folder) / f"cube{side}.npy"
            np.save(path, cube)
            began = time.perf_counter()
            ours = compression_test(*tissue_maps(cube, 10_000.0, 0.3), axis=0).E_apparent
            seconds = time.perf_counter() - began
            output = subprocess.run([args.parosol_python, "-c", PAROSOL, str(path), str(Path(folder) / f"run{side}"),
                                     str(VOXEL_SIZE_MM)], check=True, capture_output=True, text=True).stdout
            theirs = json.loads(output.strip().splitlines()[-1])
            print(f"{side:>4}³ {cube.mean():>6.3f} {ours:>12.1f} {seconds:>6.1f} {theirs['E']:>12.1f} "
                  f"{theirs['seconds']:>6.1f} {ours / theirs['E'] - 1:>+10.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
