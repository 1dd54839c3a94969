"""CNN training and inference speed against the FE route, on this CPU.

Prints, measured in the same run: milliseconds per sample of batch inference (batch 128)
for the paper's network and the improved one (with and without the 8-fold symmetrised
prediction), seconds per sample of the FE label of a ρ_HA map (`bonelib.speed.fe_seconds`),
the speed-up of each CNN over FE, and the training time per image of each network (one
optimiser step on a batch, after a warm-up step) with what it makes of one fold of the
paper-scale cross-validation (its training images × the epochs of ``book/config.py``).
Weights do not change the cost, so untrained networks are timed.

Usage: ``python benchmarks/bench_cnn.py [--batch 128] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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
    print()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book"))
    import config

    evaluation = config.EVALUATION["paper"]
    images = round(10_896 * (1 - 1 / evaluation.folds) * (1 - evaluation.val_donors / (35 - 35 // evaluation.folds)))
    print(f"{'training':<28} {'ms/image':>10} {'min/fold':>11}   (paper scale: {images} training images per fold)")
    for name, build in (("paper", cnn.paper_model), ("improved", cnn.improved_model)):
        options = evaluation.models[name]
        batch = options["batch_size"]
        model = build(mean=float(rho.mean()), variance=float(rho.var()))
        x, y = np.resize(rho, (batch, *rho.shape[1:])), np.full(batch, 1000.0, np.float32)
        model.train_on_batch(x, y)  # warm-up: builds the graph
        start = time.perf_counter()
        for _ in range(args.repeats):
            model.train_on_batch(x, y)
        per_image = (time.perf_counter() - start) / args.repeats / batch
        minutes = per_image * images * options["epochs"] / 60
        print(f"{name + ', batch ' + str(batch):<28} {per_image * 1000:>10.2f} {minutes:>11.1f}   "
              f"({options['epochs']} epochs{', at most' if options.get('patience') else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
