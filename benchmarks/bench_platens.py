"""Speed and memory of the bonded platen test on real bone at its native voxel size, direct against multigrid.

Cubes of n³ voxels (n = 60, 100, 150, 199: 3.1 to 10.2 mm; 199³ is the whole ROI, whose outer
layer of voxels is empty) from the centre of the first shipped real L1 ROI (``bonelib.data``) at
its scan's 51.3 µm, bone as segmented there, tissue 10 GPa, ν 0.3, compressed between bonded
platens along z (``bonelib.fe.compression_test``). For each size and solver, in a fresh single-threaded process measured in the same run
(``bonebook.studies.measure_platen_test``): seconds from the moduli maps to the modulus, the
peak memory (resident set size), the DOFs, the ratio of the first solver's time to each (the
reference: CHOLMOD where CVXOPT is installed, else SuperLU on METIS's order) and the
relative difference of the moduli. A solve the memory guard refuses is printed as refused, with
the guard's estimate. The targets for the whole ROI (≤ 60 s, ≤ 3 GB) are printed beside it.

Usage: ``python benchmarks/bench_platens.py [--sizes 60 100] [--solvers superlu mg parosol]``.
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    from bonebook.studies import measure_platen_test
    from bonelib.fe.solvers import available

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 100, 150, 199])
    parser.add_argument("--solvers", nargs="+", default=[available(3)[0], "mg"],
                        help="the first is the reference (default: the fastest direct solver here, then multigrid; "
                             "'parosol' where ParOSol is installed)")
    args = parser.parse_args()
    print(f"{'cube':>5} {'solver':<8} {'seconds':>8} {'peak GB':>8} {'DOF':>10} {'ref / solver':>12} "
          f"{'|ΔE|/E':>8}   target")
    for size in args.sizes:
        runs = {solver: measure_platen_test(size, solver) for solver in args.solvers}
        reference = runs[args.solvers[0]]
        target = "≤ 60 s, ≤ 3 GB" if size == 199 else ""
        for solver, run in runs.items():
            if "refused" in run:
                print(f"{size:>4}³ {solver:<8} refused: {run['refused']}")
                continue
            ratio = f"{reference['seconds'] / run['seconds']:>11.2f}×" if "seconds" in reference else f"{'–':>12}"
            error = f"{abs(run['E'] - reference['E']) / reference['E']:>8.0e}" if "E" in reference else f"{'–':>8}"
            print(f"{size:>4}³ {solver:<8} {run['seconds']:>8.1f} {run['peak_gb']:>8.2f} {run['dofs']:>10,} {ratio} "
                  f"{error}   {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
