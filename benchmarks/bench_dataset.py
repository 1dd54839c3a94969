"""Throughput and memory of the dataset build at ci scale.

Builds the ci-scale dataset (288 samples) twice into temporary stores, measured in the
same run: in one process (``scheduler="synchronous"``, the baseline) and on a local Dask
cluster with one worker per core. Prints samples per second, the parallel speed-up, and
the peak resident memory of the largest process; and extrapolates the paper-scale build
(10,896 samples) from the measured rate.

Usage: ``python benchmarks/bench_dataset.py [--scale ci]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from bonelib.slices import dataset
out, scale, scheduler = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
dataset.build(out, scale=scale, scheduler=None if scheduler == "dask" else scheduler, progress=False)
seconds = time.perf_counter() - start
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "samples": dataset.describe(out)["samples"], "peak_mb": peak / 1024}))
"""


def run(scale: str, scheduler: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        output = subprocess.run([sys.executable, "-c", CHILD, f"{folder}/bench.zarr", scale, scheduler],
                                capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="ci", choices=("ci", "paper"))
    args = parser.parse_args()
    from bonelib.slices.dataset import SCALES

    rows = {name: run(args.scale, name) for name in ("synchronous", "dask")}
    print(f"{'build':>12} {'samples':>8} {'seconds':>8} {'samples/s':>10} {'peak MB':>8}")
    for name, row in rows.items():
        print(f"{name:>12} {row['samples']:>8} {row['seconds']:>8.1f} {row['samples'] / row['seconds']:>10.2f} "
              f"{row['peak_mb']:>8.0f}")
    speedup = rows["synchronous"]["seconds"] / rows["dask"]["seconds"]
    rate = rows["dask"]["samples"] / rows["dask"]["seconds"]
    paper = SCALES["paper"].samples
    print(f"Dask speed-up over one process: {speedup:.2f}×")
    print(f"paper scale ({paper} samples) at this rate: {paper / rate / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
