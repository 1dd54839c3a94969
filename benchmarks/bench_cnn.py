"""CNN training and inference speed against the FE route, on this CPU.

Prints, measured in the same run: milliseconds per sample of batch inference (batch 128)
for the paper's network and the improved one (with and without the 8-fold symmetrised
prediction), seconds per sample of the FE label of a ρ_HA map (`bonelib.slices.speed.fe_seconds`),
the speed-up of each CNN over FE, and what one fold of the paper-scale cross-validation
costs each network: per epoch, an optimiser step for each training image (timed on a
batch after a warm-up step), the precise batch-norm pass that training runs before each
validation (:func:`bonelib.learn.train.recalibrate_batch_norm`, as many batches as
:mod:`bonelib.slices.train` asks for) and the prediction of the validation images; times the
epochs of ``bonebook/config.py``. Weights do not change the cost, so untrained networks are
timed. A fold trained end to end on the same machine is the check of this estimate.

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

    from bonelib import synth
    from bonelib.learn import train as training
    from bonelib.slices import network as cnn
    from bonelib.slices import speed
    from bonelib.slices.label import density_map

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
    from bonebook import config

    evaluation = config.EVALUATION["paper"]
    training_share = (1 - 1 / evaluation.folds) * (1 - evaluation.val_donors / (35 - 35 // evaluation.folds))
    images = round(10_896 * training_share)
    validation = round(10_896 * (1 - 1 / evaluation.folds) - images)
    batches = training.recalibration_batches(images)
    print(f"{'training, per fold':<28} {'ms/image':>10} {'recal. s':>9} {'val. s':>7} {'min/fold':>9}   "
          f"(paper scale: {images} training and {validation} validation images per fold)")
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
        pool = np.resize(rho, (max(128, batch), *rho.shape[1:]))
        recalibration = speed.seconds_per_call(lambda: training.recalibrate_batch_norm(model, pool, batches),
                                               args.repeats)
        validating = speed.cnn_seconds(model, rho, False, args.batch, args.repeats) * validation
        minutes = (per_image * images + recalibration + validating) * options["epochs"] / 60
        print(f"{name + ', batch ' + str(batch):<28} {per_image * 1000:>10.2f} {recalibration:>9.1f} {validating:>7.1f} "
              f"{minutes:>9.1f}   ({options['epochs']} epochs{', at most' if options.get('patience') else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
