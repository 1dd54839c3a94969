"""The ``train`` step of the reproduction: the networks' inputs and the runs of a scale.

The inputs come from the dataset store or, without one, are regenerated from the seed and
checked against ``dataset.json`` (a machine with an accelerator then needs only the table
and the code). Runs whose recorded identity matches are kept; the others are trained under
the time budgets asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np

from bonebook import config
from bonebook.pipeline import Deadline, log, machine
from bonelib._files import write_json


def images_from_store(scale: str, table: dict, kind: str) -> np.ndarray:
    """The inputs ``kind`` (:data:`bonelib.slices.network.INPUT_KINDS`) of every sample of ``table``, from the dataset store."""
    from bonelib.slices import network as cnn
    from bonelib.slices.dataset import load

    samples = load(config.artefacts(scale).dataset)
    keys = np.char.add(np.char.add(samples.donor.astype(str), "-"), samples.level.astype(str))
    if not (np.array_equal(keys, table["key"]) and np.array_equal(samples.slice, table["slice"])):
        raise ValueError("the dataset store and samples.csv list different samples; run the table step again")
    return cnn.inputs(samples.images, samples.calibration, kind)


def _inputs_of_vertebra(item) -> tuple[str, dict]:
    # A worker process: keep JAX, if it is Keras' backend, off the accelerator the trainer uses.
    os.environ["JAX_PLATFORMS"] = "cpu"
    from bonelib.slices import network as cnn
    key, volume, calibration, kinds = item
    return key, {kind: cnn.inputs(volume, calibration, kind) for kind in kinds}


def images_from_seed(scale: str, table: dict, kinds: list[str]) -> dict[str, np.ndarray]:
    """The networks' inputs of every sample, regenerated from the seed and checked against ``dataset.json``."""
    from multiprocessing import get_context

    from bonelib.slices import crossval
    recorded = json.loads((config.artefacts(scale).snapshot / "dataset.json").read_text())
    volumes = crossval.regenerate(scale, recorded["parameters"]["seed"], recorded["parameters"].get("cohort", "paper"))
    differing = {key: {"sum": int(volume.sum(dtype=np.int64)), "recorded_sum": recorded["grey_sums"][key]}
                 for key, (volume, _) in volumes.items()
                 if crossval.images_digest(volume) != recorded["images_sha256"][key]}
    if differing:
        # Another NumPy/SciPy may round a few voxels differently: say so, with the size of it.
        log(f"WARNING: {len(differing)} of {len(volumes)} regenerated vertebrae differ from the dataset's: {differing}")
    else:
        log(f"all {len(volumes)} regenerated vertebrae match the dataset's images bit for bit")
    with get_context("spawn").Pool() as pool:
        made = dict(pool.map(_inputs_of_vertebra, [(k, v, c, kinds) for k, (v, c) in volumes.items()], chunksize=1))
    return {kind: np.concatenate([made[key][kind][table["slice"][table["key"] == key]]
                                  for key in dict.fromkeys(table["key"].tolist())]) for kind in kinds}


def training_range(table: dict, chosen: np.ndarray) -> dict:
    """The range of mean ρ_HA (mg HA/cm³) and BV/TV of the samples a network learnt from."""
    return {name: [float(table[name][chosen].min()), float(table[name][chosen].max())] for name in ("vbmd", "bv_tv")}


def step_train(scale: str, images: str = "store", budget: float | None = None, only: list[str] | None = None,
               run_budget: float | None = None) -> None:
    """Train every run of the scale (``only``: these names) whose finished run is missing or stale.

    ``images``: ``"store"`` or ``"seed"``; ``budget``: seconds for all runs, ``run_budget``: for
    each (None: no limit); a run cut by a budget is kept with the epochs it ran.
    """
    from bonelib.learn import tables as results
    from bonelib.slices import crossval
    from bonelib.slices import network as cnn
    artefacts = config.artefacts(scale)
    evaluation = config.EVALUATION[scale]
    table = results.read_table(artefacts.snapshot / "samples.csv")
    dataset = json.loads((artefacts.snapshot / "dataset.json").read_text())["fingerprint"]
    runs = [r for r in planned_runs(scale) if not only or r.name in only]
    # Under a time budget the most needed first: the improved folds (the shipped ensemble), its
    # random split, the paper's network on the paper's split, then its folds.
    runs.sort(key=lambda r: (r.model != "improved", r.model != "improved" and r.scheme == "donor-cv"))
    kinds = sorted({cnn.MODEL_INPUTS[r.model] for r in runs})
    deadline = Deadline(budget)
    started = time.monotonic()
    if images == "seed":
        inputs = images_from_seed(scale, table, kinds)
    else:
        inputs = {kind: images_from_store(scale, table, kind) for kind in kinds}
    log(f"inputs ready in {time.monotonic() - started:.0f} s: {', '.join(f'{k} {v.shape}' for k, v in inputs.items())}")
    for run in runs:
        folder = artefacts.run(run.name)
        if (folder / "metrics.json").exists():
            recorded = json.loads((folder / "metrics.json").read_text())
            wanted = crossval.identity(run, dataset, evaluation.val_donors, config.SEED)
            if all(recorded.get(k) == v for k, v in wanted.items()):
                log(f"{run.name}: up to date")
                continue
            shutil.rmtree(folder)
        if deadline.left() <= 0:
            log(f"{run.name}: not started, the time budget is spent")
            continue
        started = time.monotonic()
        report = crossval.train_run(run, inputs[cnn.MODEL_INPUTS[run.model]], table, artefacts.run(run.name), dataset,
                                    evaluation.val_donors, config.SEED,
                                    callbacks=[deadline.callback(), Deadline(run_budget).callback()])
        write_json(artefacts.run(run.name) / "metrics.json", {**report, "machine": machine()})
        if run.model == "improved":
            # The network as it ships (float16 weights): small enough to carry back from another machine.
            import keras

            from bonelib.slices import pretrained
            training = crossval.parts(table, run, evaluation.val_donors, config.SEED) != 2
            pretrained.save({run.name: keras.saving.load_model(artefacts.run(run.name) / "model.keras")},
                            artefacts.run(run.name) / "network", training_range(table, training))
        log(f"{run.name}: {report['epochs_run']} epochs in {time.monotonic() - started:.0f} s, "
            f"test R² {report['r2']['value']:.3f}, RPE50 {report['rpe50']['value']:.3f}")


def planned_runs(scale: str) -> list:
    """The runs of a scale: :func:`bonelib.slices.crossval.plan_runs`, keeping each network's ``schemes``."""
    from bonelib.slices import crossval
    evaluation = config.EVALUATION[scale]
    options = {m: {k: v for k, v in o.items() if k != "schemes"} for m, o in evaluation.models.items()}
    schemes = {m: o.get("schemes", crossval.RUN_SCHEMES) for m, o in evaluation.models.items()}
    return [r for r in crossval.plan_runs(options, evaluation.folds) if r.scheme in schemes[r.model]]


def finished_runs(scale: str) -> list:
    """The runs of the scale that finished training (a run cut by a time budget counts, with its epochs)."""
    return [r for r in planned_runs(scale) if (config.artefacts(scale).run(r.name) / "metrics.json").exists()]
