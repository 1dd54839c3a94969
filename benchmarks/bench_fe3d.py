"""Speed of the periodic 3D micro-FE on real bone cubes, each solver against the first (the fastest here).

Cubes of 50³ and 61³ voxels (4.1 and 5.0 mm at 82 µm), each the one nearest the centre of a
shipped real L1 ROI whose bone wraps along every axis (``bonelib.data``, resampled from 51.3 µm by the scanner model's partial-volume
average, bone where the fraction is ≥ 0.5; tissue 10 GPa, ν 0.3, marrow dropped). For each
size and solver this prints, measured in the same run: the median and largest seconds per
cube of ``bonelib.fe.homogenise_3d`` (six load cases, assembly to moduli), the largest peak
memory (resident set size of a fresh process), the median degrees of freedom, the ratio of
the median time of the first solver (the reference: CHOLMOD-METIS where CVXOPT is
installed, else SuperLU on METIS's order) to the solver's, and the
largest relative difference of the three Young's moduli from the reference.

Usage: ``python benchmarks/bench_fe3d.py [--sizes 50 61] [--cubes 5] [--solvers cholmod amg]``.
Every measurement runs in a fresh single-threaded process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

CHILD = r"""
import itertools, json, resource, sys, time
import numpy as np
from bonelib import data
from bonelib.imaging import scanner
from bonelib.fe import homogenise_3d, tissue_maps

size, index, solver = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
roi = next(itertools.islice(data.fda_l1_rois(), index, None))
bone = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5
from bonelib.morphometry.connectivity import percolation
# The cube nearest the ROI's centre whose bone wraps along every axis (one that does not keeps
# its marrow, a different and far larger problem).
centre = (np.array(bone.shape) - size) // 2
shifts = sorted(itertools.product(range(-12, 13, 4), repeat=3), key=lambda s: np.abs(s).sum())
cube = next(c for c in (bone[tuple(slice(o + d, o + d + size) for o, d in zip(centre, s))] for s in shifts
                        if all(0 <= o + d <= n - size for o, d, n in zip(centre, s, bone.shape)))
            if percolation(c).all())
E, nu = tissue_maps(cube)
began = time.perf_counter()
result = homogenise_3d(E, nu, 0.082, solver=solver)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bv_tv": float(cube.mean()), "E": result.E.tolist(), "marrow": result.marrow,
                  "dofs": int(3 * (result.bone_kept * cube.sum()))}))
"""


def measure(size: int, index: int, solver: str) -> dict:
    output = subprocess.run([sys.executable, "-c", CHILD, str(size), str(index), solver], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 61])
    parser.add_argument("--cubes", type=int, default=5, help="cubes per size (one per shipped ROI)")
    from bonelib.fe.solvers import available

    parser.add_argument("--solvers", nargs="+", default=available(3),
                        help="the first is the reference (default: every solver installed here, the fastest first)")
    args = parser.parse_args()
    import numpy as np

    print(f"{'cube':>5} {'solver':<8} {'median s':>9} {'max s':>7} {'peak MB':>8} {'DOF':>8} "
          f"{'ref / solver':>12} {'max |ΔE|/E':>11}")
    for size in args.sizes:
        runs = {s: [measure(size, i, s) for i in range(args.cubes)] for s in args.solvers}
        reference = runs[args.solvers[0]]
        for solver, results in runs.items():
            seconds = [r["seconds"] for r in results]
            error = max(float(np.max(np.abs(np.subtract(r["E"], q["E"])) / np.abs(q["E"])))
                        for r, q in zip(results, reference))
            ratio = np.median([r["seconds"] for r in reference]) / np.median(seconds)
            print(f"{size:>4}³ {solver:<8} {np.median(seconds):>9.2f} {max(seconds):>7.2f} "
                  f"{max(r['rss_mb'] for r in results):>8.0f} {int(np.median([r['dofs'] for r in results])):>8} "
                  f"{ratio:>11.2f}× {error:>11.1e}")
        fractions = ", ".join(f"{r['bv_tv']:.3f}" for r in reference)
        moduli = ", ".join(f"{r['E'][2]:.0f}" for r in reference)
        print(f"{size:>4}³ BV/TV of the cubes: {fractions}; E_z (MPa): {moduli}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
