"""Speed of the periodic FE homogenisation against a naive baseline, on one core.

For synthetic trabecular slices of 91², 182², 364² and 728² px this prints, measured in
the same run: median seconds per sample of ``bonelib.fe.homogenise`` with each available
backend, peak memory (resident set size of a fresh process), the growth exponent of time
with pixel count, and the ratio against a naive baseline: the same assembly, then
``scipy.sparse.linalg.spsolve`` with default settings, one solve per load case.

Usage: ``python benchmarks/bench_fe.py [--sizes 91 182 364 728] [--repeats 5]
[--baseline-max 364]``. Every measurement runs in a fresh single-threaded process.
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
import json, resource, sys, time
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from bonelib import synth
from bonelib.imaging import scanner
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging.density import material_maps, smooth, to_vbmd
from bonelib.fe import homogenise
from bonelib.fe.quad4 import element_stiffness, macro_displacements
from bonelib.fe.pixel_mesh import periodic_grid

size, method, repeats = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


def sample(seed):
    side_mm = (max(size, 182) + 40) * VOXEL_SIZE_MM
    micro = synth.Microarchitecture(vertical_perforation=0.1, wall_voxels=2.5)
    body = synth.scan_vertebra(micro, seed, n_slices=3, body_mm=(side_mm, side_mm))
    centre = body.shape[1] // 2
    grey = body[1, centre - size // 2: centre - size // 2 + size, centre - size // 2: centre - size // 2 + size]
    return material_maps(to_vbmd(smooth(grey.astype(float), edges="periodic"), scanner.CALIBRATION))


def baseline(E, nu):
    # Naive route: assemble the full periodic matrix in COO, drop node 0, three spsolve calls.
    grid = periodic_grid(*E.shape)
    Ke = element_stiffness(E.ravel(), nu.ravel())
    dofs = grid.element_dofs
    K = sp.coo_matrix((Ke.ravel(), (np.repeat(dofs, 8, axis=1).ravel(), np.tile(dofs, (1, 8)).ravel())),
                      shape=(grid.n_dofs, grid.n_dofs)).tocsr()[2:, 2:]
    forces = grid.assemble_vector(-(Ke @ macro_displacements()))[2:]
    solution = np.column_stack([sla.spsolve(K, forces[:, j]) for j in range(3)])
    return solution


maps = [sample(seed) for seed in range(repeats)]
times = []
result = None
for E, nu in [maps[0]] + maps:  # the first call (symbolic analysis, caches) is not counted
    start = time.perf_counter()
    result = baseline(E, nu) if method == "baseline" else homogenise(E, nu, solver=method).E_eff
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times[1:], "first": times[0],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(size: int, method: str, repeats: int) -> dict:
    output = subprocess.run([sys.executable, "-c", CHILD, str(size), method, str(repeats)],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[91, 182, 364, 728])
    parser.add_argument("--repeats", type=int, default=5, help="samples per size (fewer above 182 px)")
    parser.add_argument("--baseline-max", type=int, default=364, help="largest size run with the baseline")
    args = parser.parse_args()

    from bonelib.fe import available_solvers

    methods = available_solvers()
    print(f"single core; backends: {', '.join(methods)}; baseline: spsolve (SuperLU, COLAMD), 3 solves")
    header = f"{'size':>6} {'method':>9} {'median s':>9} {'first s':>8} {'peak MB':>8} {'vs baseline':>12}"
    print(header)
    print("-" * len(header))
    medians: dict[str, list[tuple[int, float]]] = {m: [] for m in methods}
    for size in args.sizes:
        repeats = args.repeats if size <= 182 else max(1, args.repeats // (size // 182) ** 2)
        base = None
        if size <= args.baseline_max:
            b = measure(size, "baseline", max(1, min(repeats, 2)))
            base = sorted(b["times"])[len(b["times"]) // 2]
            print(f"{size:>5}² {'baseline':>9} {base:>9.3f} {b['first']:>8.3f} {b['peak_mb']:>8.0f} {'1.0×':>12}")
        for method in methods:
            m = measure(size, method, repeats)
            median = sorted(m["times"])[len(m["times"]) // 2]
            medians[method].append((size * size, median))
            ratio = f"{base / median:.1f}× faster" if base else "not run"
            print(f"{size:>5}² {method:>9} {median:>9.3f} {m['first']:>8.3f} {m['peak_mb']:>8.0f} {ratio:>12}")
    import numpy as np

    for method, points in medians.items():
        if len(points) >= 2:
            pixels, seconds = np.array(points).T
            exponent = np.polyfit(np.log(pixels), np.log(seconds), 1)[0]
            print(f"growth exponent of {method} time with pixel count: {exponent:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
