"""bonelib's platen compression tests against ParOSol's on the same real bone cubes.

ParOSol (Flaig & Arbenz), the distributed micro-FE solver that takes over for whole bones,
is packaged on PyPI as ``parosol-py`` (GPL-2.0). It is not a dependency of bonelib: install
it in a separate environment and name that environment's interpreter::

    python -m venv /tmp/parosol && /tmp/parosol/bin/pip install parosol-py
    python benchmarks/compare_parosol.py --parosol-python /tmp/parosol/bin/python

For cubes of 24³ and 40³ voxels at 82 µm cut from the centre of the first shipped real L1 ROI
(tissue 10 GPa, ν 0.3) this prints, for frictionless and bonded platens, the apparent modulus
along axis 0 (superior–inferior) from ``bonelib.fe.platens.compression_test`` and from ParOSol
on the same bone (``engine="parosol"``: preconditioned CG to a relative residual of 1e-8, one
MPI process), with each one's seconds (ParOSol's with its files and start-up).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parosol-python", required=True, help="interpreter of an environment with parosol-py")
    parser.add_argument("--sides", type=int, nargs="+", default=[24, 40])
    args = parser.parse_args()
    import numpy as np

    from bonelib import data
    from bonelib.fe import tissue_maps
    from bonelib.fe.parosol import PYTHON_VARIABLE
    from bonelib.fe.platens import compression_test
    from bonelib.imaging import scanner

    os.environ[PYTHON_VARIABLE] = args.parosol_python
    roi = next(data.fda_l1_rois())
    bone = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5
    print(f"{'cube':>5} {'BV/TV':>6} {'platens':>12} {'bonelib MPa':>12} {'s':>6} {'ParOSol MPa':>12} {'s':>6} "
          f"{'difference':>10}")
    for side in args.sides:
        start = (np.array(bone.shape) - side) // 2
        cube = bone[tuple(slice(s, s + side) for s in start)]
        E, nu = tissue_maps(cube, 10_000.0, 0.3)
        for platens in ("frictionless", "bonded"):
            began = time.perf_counter()
            ours = compression_test(E, nu, axis=0, platens=platens)
            seconds = time.perf_counter() - began
            began = time.perf_counter()
            theirs = compression_test(E, nu, axis=0, platens=platens, engine="parosol").E_apparent
            their_seconds = time.perf_counter() - began
            print(f"{side:>4}³ {cube.mean():>6.3f} {platens:>12} {ours.E_apparent:>12.1f} {seconds:>6.1f} "
                  f"{theirs:>12.1f} {their_seconds:>6.1f} {ours.E_apparent / theirs - 1:>+10.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
