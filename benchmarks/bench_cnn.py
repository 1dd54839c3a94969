"""CNN inference speed against the FE route, on this CPU.

Prints, measured in the same run: milliseconds per sample of batch inference (batch 128)
for the paper's network and the improved one (with and without the 8-fold symmetrised
prediction), seconds per sample of the FE label of a ρ_HA map (`bonelib.speed.fe_seconds`), and the speed-up
of each CNN over FE. Weights do not change the cost, so untrained networks are timed.

Usage: ``python benchmarks/bench_cnn.py [--batch 128] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import numpy as np

    from bonelib import cnn, speed, synth
    from bonelib.label import density_map

    vertebra = synth.plan(n_donors=1, seed=0)[0].scan(n_slices=4)
    maps = np.stack([density_map(grey, vertebra.calibration) for grey in vertebra.volume])
    rho = np.resize(maps[..., None].astype(np.float32), (args.batch, *maps.shape[1:], 1))
    fe = float(np.median([speed.fe_seconds(m, repeats=1) for m in maps]))

    print(f"{'route':<28} {'ms/sample':>10} {'FE / route':>11}")
    print(f"{'FE label (CHOLMOD/SuperLU)':<28} {fe * 1000:>10.1f} {'1':>11}")
    for name, build, symmetrise in (("paper", cnn.paper_model, False), ("improved", cnn.improved_model, False),
                                    ("improved, symmetrised", cnn.improved_model, True)):
        model = build(mean=float(rho.mean()), variance=float(rho.var()))
        per_sample = speed.cnn_seconds(model, rho, symmetrise, args.batch, args.repeats)
        print(f"{name:<28} {per_sample * 1000:>10.2f} {fe / per_sample:>10.0f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
