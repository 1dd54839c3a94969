"""The reproduction pipeline: every expensive step of a scale, resumable, into small result files.

Usage: ``python -m bonebook.reproduce --scale ci|paper [--steps ...]`` (``make reproduce SCALE=...``).

Steps, in order (each skipped when its outputs are up to date with its inputs: the code
that makes them, the scale's settings in ``bonebook/config.py`` and the upstream results):

``dataset``   the labelled dataset (``artefacts/<scale>/dataset.zarr``, not committed);
``table``     ``results/<scale>/samples.csv`` (every sample's labels, descriptors, splits and
              fold) and ``dataset.json`` (fingerprint, parameters, a digest of each
              vertebra's images, so that they can be regenerated from the seed and checked);
``train``     every run of :data:`config.EVALUATION` (``artefacts/<scale>/runs/``);
``ship``      the trained networks and their histories into ``results/<scale>/runs/``;
``predict``   ``cnn_predictions.csv``: each run's prediction of each of its test samples;
``coarse``    ``coarse.csv``: the coarse-FE baseline of every sample;
``external``  ``external.csv`` (paper scale): the shipped ensemble on six new donors (another
              seed), which none of its networks saw: its calibration;
``metrics``   ``metrics.json``: every model and baseline, random split and cross-validation;
``interval``  the shipped ensemble's conformal interval (``interval.json`` beside it), calibrated on
              the improved CNN's cross-validation residuals, and ``interval.json`` in the results:
              its coverage on donors held out of the calibration and on the six new donors;
``domain``    ``domain.json`` beside the shipped ensemble: what its training slices' density
              histograms look like, for its checks (:func:`step_domain`);
``speed``     ``speed.json``: the timings of the speed chapter;
``real_bone`` ``real_bone/``: the real-bone chapter's study of real sections and the shipped
              networks on them (:func:`studies.real_bone`);
``slice_fe``  ``slice_fe/``: the 2D solver's checks that the homogenisation chapter shows
              (:func:`studies.slice_fe`);
``density_reading`` ``density_reading/``: Eq. 1's intercept in mg/cm³ or g/cm³
              (:func:`studies.density_reading`);
and ``provenance.json`` records the revision, code and package versions, machine and the wall
time of each step.

``train`` (in ``train_step.py``) also runs without the dataset store (``--images seed``): the
images are then regenerated from the seed and checked against ``dataset.json``, so that a
machine with an accelerator needs only the table and the code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from bonebook import config, pipeline, studies
from bonebook.pipeline import log, step_key
from bonebook.train_step import finished_runs, images_from_store, step_train
from bonelib import versions
from bonelib._files import write_json

ROOT = config.ROOT
STEPS = ("dataset", "table", "train", "ship", "predict", "coarse", "external", "metrics", "interval", "domain", "speed",
         "real_bone", "density_reading", "slice_fe")


def step_dataset(scale: str) -> None:
    from bonelib.slices.dataset import build

    build(config.artefacts(scale).dataset, scale=scale, seed=config.SEED, replace=True)


def step_table(scale: str) -> None:
    import zarr

    from bonelib.learn import folds
    from bonelib.learn import tables as results
    from bonelib.slices import crossval
    from bonelib.slices.dataset import fingerprint, load

    artefacts = config.artefacts(scale)
    store = artefacts.dataset
    donors = load(store, images=False).donor.astype(str)
    fold_of = folds.donor_folds(donors, config.EVALUATION[scale].folds, config.SEED)
    artefacts.snapshot.mkdir(parents=True, exist_ok=True)
    results.write_table(artefacts.snapshot / "samples.csv", results.sample_table(store, fold_of))
    root = zarr.open_group(str(store), mode="r")
    digests, sums = {}, {}
    for key in root.attrs["vertebrae"]:
        grey = zarr.open_group(str(store / "vertebrae" / key), mode="r")["images"][:]
        digests[key], sums[key] = crossval.images_digest(grey), int(grey.sum(dtype=np.int64))
    write_json(artefacts.snapshot / "dataset.json", {"fingerprint": fingerprint(store), "parameters": root.attrs["parameters"],
                                                      "images_sha256": digests, "grey_sums": sums})


def models_folder(scale: str) -> Path:
    """Where a scale's ensemble ships (:attr:`config.Artefacts.models`)."""
    return config.artefacts(scale).models


def step_ship(scale: str) -> None:
    from bonelib.slices import pretrained
    artefacts = config.artefacts(scale)
    finished = finished_runs(scale)
    for run in finished:
        target = artefacts.snapshot / "runs" / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in ("history.csv", "metrics.json", "run.json"):
            shutil.copyfile(artefacts.run(run.name) / name, target / name)
    folds = [r for r in finished if r.model == "improved" and r.scheme == "donor-cv"]
    if not folds:
        raise ValueError(f"no finished improved cross-validation run at {scale} scale: run the train step")
    networks = [pretrained.load_pretrained(artefacts.run(r.name) / "network") for r in folds]
    ranges = [n.training_range for n in networks]
    training_range = {k: [min(r[k][0] for r in ranges), max(r[k][1] for r in ranges)] for k in ranges[0]}
    pretrained.save({name: model for n in networks for name, model in n.models.items()}, models_folder(scale),
                    training_range, scale=scale,
                    dataset=json.loads((artefacts.snapshot / "dataset.json").read_text())["fingerprint"])


def step_predict(scale: str) -> None:
    """Each run's predictions of its test samples: by the shipped networks where the run is one
    of them (float16 weights, this machine), else as the training run made them."""
    from bonelib.learn import tables as results
    from bonelib.slices import crossval, pretrained
    from bonelib.slices import network as cnn
    artefacts = config.artefacts(scale)
    table = results.read_table(artefacts.snapshot / "samples.csv")
    shipped = pretrained.load_pretrained(models_folder(scale)).models
    names = {"improved": "improved CNN", "paper": "paper's CNN"}
    rows: dict[str, list] = {name: [] for name in results.PREDICTION_COLUMNS}
    inputs = {}
    for run in finished_runs(scale):
        test = np.flatnonzero(crossval.parts(table, run, config.EVALUATION[scale].val_donors, config.SEED) == 2)
        if run.name in shipped:
            kind = cnn.MODEL_INPUTS[run.model]
            if kind not in inputs:
                inputs[kind] = images_from_store(scale, table, kind)
            predicted = cnn.predict(shipped[run.name], inputs[kind][test])
        else:
            predicted = np.load(artefacts.run(run.name) / "test_predictions.npy")
        results.append_predictions(rows, test, names[run.model], run.scheme, -1 if run.fold is None else run.fold,
                                      predicted)
        log(f"predicted {run.name} ({len(test)} samples)")
    results.write_table(artefacts.snapshot / "cnn_predictions.csv", {k: np.asarray(v) for k, v in rows.items()})


def _coarse_row(item) -> list[float]:
    from bonelib.slices.coarse import coarse_modulus
    from bonelib.slices.label import density_map

    grey, calibration = item
    row = []
    for factor in (2, 4):
        modulus, seconds = coarse_modulus(density_map(grey, calibration), factor)
        row += [modulus, seconds]
    return row


def step_coarse(scale: str) -> None:
    from multiprocessing import get_context

    from tqdm import tqdm

    from bonelib.learn import tables as results
    from bonelib.slices.dataset import load

    artefacts = config.artefacts(scale)
    samples = load(artefacts.dataset)
    items = [(image[..., 0], samples.calibration) for image in samples.images]
    with get_context("spawn").Pool() as pool:
        made = np.array(list(tqdm(pool.imap(_coarse_row, items, chunksize=16), total=len(items), desc="coarse FE")))
    results.write_table(artefacts.snapshot / "coarse.csv", {
        "E_coarse_2": made[:, 0], "seconds_2": made[:, 1], "E_coarse_4": made[:, 2], "seconds_4": made[:, 3]})


def step_external(scale: str) -> None:
    from bonelib.learn import tables as results
    from bonelib.slices import pretrained
    from bonelib.slices.dataset import build, load

    if scale != "paper":
        log("external: only at paper scale")
        return
    store = build(config.artefacts(scale).root / "external.zarr", scale="ci", seed=config.SEED + 1, replace=True)
    samples = load(store)
    mean, spread = pretrained.load_pretrained(models_folder(scale)).predict(samples.images[..., 0], samples.calibration)
    results.write_table(config.artefacts(scale).snapshot / "external.csv", {
        "donor": samples.donor.astype(str), "level": samples.level.astype(str), "slice": samples.slice,
        "E_eff": samples.E_eff, "vbmd": samples.vbmd, "bv_tv": samples.bv_tv, "E_pred": mean, "spread": spread})


def step_metrics(scale: str) -> None:
    from bonelib.learn import tables as results
    from bonelib.slices import evaluate as evaluation
    snapshot = config.artefacts(scale).snapshot
    table = results.read_table(snapshot / "samples.csv")
    coarse = results.read_table(snapshot / "coarse.csv") if (snapshot / "coarse.csv").exists() else None
    baselines = evaluation.baseline_predictions(table, coarse, config.EVALUATION[scale].val_donors, config.SEED)
    networks = results.read_table(snapshot / "cnn_predictions.csv")
    merged = {k: np.concatenate([baselines[k], networks[k]]) for k in networks}
    results.write_table(snapshot / "predictions.csv", merged)
    extra = {}
    if (snapshot / "external.csv").exists():
        external = results.read_table(snapshot / "external.csv")
        extra["external"] = evaluation.calibration(external["E_pred"], external["spread"], external["E_eff"],
                                                   external["donor"], seed=config.SEED)
    evaluation.write_metrics(snapshot / "metrics.json", scale, evaluation.summarise(table, merged, 1000, config.SEED),
                             bootstrap={"n_resamples": 1000, "seed": config.SEED}, **extra)


def step_interval(scale: str) -> None:
    from bonelib.learn import conformal
    from bonelib.learn import tables as results

    snapshot = config.artefacts(scale).snapshot
    table = results.read_table(snapshot / "samples.csv")
    predictions = results.read_table(snapshot / "predictions.csv")
    chosen = (predictions["model_name"] == "improved CNN") & (predictions["scheme_name"] == "donor-cv")
    index, predicted = predictions["index"][chosen], predictions["E_pred"][chosen]
    observed, donors = table["E_eff"][index], table["donor"][index]
    interval = conformal.calibrate(predicted, observed)
    interval.write(models_folder(scale))
    summary = {"folds": conformal.cross_coverage(predicted, observed, predictions["fold"][chosen]),
               "donors": conformal.cross_coverage(predicted, observed, donors)}
    if (snapshot / "external.csv").exists():
        external = results.read_table(snapshot / "external.csv")
        low, high = interval.bounds(external["E_pred"])
        inside = (external["E_eff"] >= low) & (external["E_eff"] <= high)
        summary["external"] = {"coverage": float(inside.mean()), "samples": int(inside.size),
                               "donors": len(set(external["donor"].tolist())),
                               "median_width": float(np.median(high / low))}
    write_json(snapshot / "interval.json", summary)


def step_domain(scale: str) -> None:
    """``domain.json`` beside the shipped ensemble (:mod:`bonelib.learn.domain`): the ranges of the
    density histogram's quantiles over the slices its networks learnt from (every slice of the
    dataset, regenerated from the seed; each must give its recorded mean density)."""
    from tqdm import tqdm

    from bonelib.learn import domain
    from bonelib.learn import tables as results
    from bonelib.slices.dataset import plan_synthetic
    from bonelib.slices.label import density_map

    table = results.read_table(config.artefacts(scale).snapshot / "samples.csv")
    tasks, _ = plan_synthetic(scale, config.SEED)
    measures = []
    for task in tqdm(tasks, desc="training slices regenerated", unit="vertebra"):
        rows = np.flatnonzero(table["key"] == task.source.key)
        if not len(rows):
            continue
        volume, calibration = task.source.volume()
        for row in rows:
            rho = density_map(volume[table["slice"][row]], calibration)
            if not np.isclose(rho.mean(), table["vbmd"][row], rtol=1e-9):
                raise RuntimeError(f"{table['key'][row]} slice {table['slice'][row]}: regenerated with another "
                                   "density than the dataset's")
            measures.append(domain.density_quantiles(rho))
    domain.write(models_folder(scale), domain.ranges(measures))


def step_speed(scale: str) -> None:
    from bonelib.slices import network as cnn
    from bonelib.slices import speed
    from bonelib.slices.dataset import load
    from bonelib.slices.label import density_map

    test = load(config.artefacts(scale).dataset, "test")
    sample = density_map(test.images[0, ..., 0], test.calibration)
    networks = {
        "paper CNN": lambda shape: cnn.paper_model(shape, mean=300.0, variance=1e5),
        "improved CNN (8 views)": lambda shape: cnn.improved_model(shape, mean=1.0, variance=4.0),
    }
    speed.scaling(sample, config.SPEED_SIZES[scale], networks, repeats=config.SPEED_REPEATS[scale],
                  path=config.artefacts(scale).snapshot / "speed.json")


def step_real_bone(scale: str) -> None:
    studies.real_bone(scale, force=True)


def step_density_reading(scale: str) -> None:
    studies.density_reading(scale, force=True)


def step_slice_fe(scale: str) -> None:
    studies.slice_fe(scale, force=True)


#: The version of each step's own code, bumped by hand when what it writes changes; a step's
#: key also holds the library versions (:mod:`bonelib.versions`) its outputs rest on.
STEP_VERSIONS = {"table": 1, "ship": 1, "predict": 1, "coarse": 1, "external": 1, "metrics": 1, "interval": 1,
                 "domain": 1,
                 "speed": 1,
                 "real_bone": studies.STUDY_VERSIONS["real_bone"],
                 "density_reading": studies.STUDY_VERSIONS["density_reading"],
                 "slice_fe": studies.STUDY_VERSIONS["slice_fe"]}


def _upstream(scale: str, step: str) -> list[Path]:
    snapshot = config.artefacts(scale).snapshot
    runs = [config.artefacts(scale).run(r.name) / "metrics.json" for r in finished_runs(scale)]
    models = sorted(models_folder(scale).glob("*")) if models_folder(scale).exists() else []
    return {"table": [config.artefacts(scale).dataset / "zarr.json"],
            "ship": runs + [snapshot / "samples.csv"],
            "predict": runs + models + [snapshot / "samples.csv"],
            "coarse": [snapshot / "samples.csv"],
            "external": models,
            "metrics": [snapshot / name for name in ("samples.csv", "cnn_predictions.csv", "coarse.csv", "external.csv")],
            "interval": [snapshot / name for name in ("samples.csv", "predictions.csv", "external.csv")],
            "domain": [snapshot / "samples.csv"],
            "speed": []}[step]


def _key(scale: str, step: str) -> str:
    """Hash of what a step's outputs depend on: its code, the settings it reads, the upstream files."""
    if step in ("real_bone", "density_reading", "slice_fe"):  # the study's own identity: settings, versions, inputs
        study = studies.identity(step, scale, {"real_bone": config.REAL_BONE, "density_reading": config.DENSITY_READING,
                                               "slice_fe": config.SLICE_FE}[step][scale])
        return step_key(STEP_VERSIONS[step], versions.slice_route(), repr(sorted(study.items())), [])
    evaluation = config.EVALUATION[scale]
    settings = {"table": (evaluation.folds,), "ship": (), "predict": (evaluation.val_donors,), "coarse": (),
                "external": (), "metrics": (evaluation.val_donors,), "interval": (), "domain": (),
                "speed": (config.SPEED_SIZES[scale], config.SPEED_REPEATS[scale])}[step]
    return step_key(STEP_VERSIONS[step], versions.slice_route(), (config.SEED, *settings), _upstream(scale, step))


def run_step(scale: str, step: str, force: bool = False, **options) -> None:
    """Run one step unless its outputs are up to date; record its wall time and machine."""
    action = (lambda: step_train(scale, **options)) if step == "train" else (lambda: globals()[f"step_{step}"](scale))
    pipeline.run_step(step, config.artefacts(scale).snapshot / "steps.json", action,
                      lambda: _key(scale, step) if step in STEP_VERSIONS else None, force)


def write_provenance(scale: str) -> None:
    """``provenance.json``: revision, code and package versions, and each step's machine and wall time."""
    snapshot = config.artefacts(scale).snapshot
    pipeline.write_provenance(snapshot, scale, versions.slice_route(),
                              dataset=json.loads((snapshot / "dataset.json").read_text())["fingerprint"])


def markdown_table(scale: str) -> str:
    """The results table of the book, as Markdown (for the README)."""
    from bonelib.slices import evaluate as evaluation
    results = json.loads((config.artefacts(scale).snapshot / "metrics.json").read_text())
    header, rows = evaluation.table_rows(results, evaluation.run_labels(config.artefacts(scale).shipped_runs()))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=config.SCALES, default="ci", help="size of the run (default ci)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="steps to run (default all)")
    parser.add_argument("--images", choices=("store", "seed"), default="store",
                        help="train from the dataset store, or from images regenerated from the seed")
    parser.add_argument("--budget", type=float, help="train: stop starting or continuing runs after this many seconds")
    parser.add_argument("--run-budget", type=float,
                        help="train: end each run at the first epoch end after this many seconds of it")
    parser.add_argument("--runs", nargs="+", help="train: only these runs (e.g. improved-fold0)")
    parser.add_argument("--force", action="store_true", help="run the steps even if up to date")
    parser.add_argument("--table", action="store_true", help="print the results table (Markdown) and stop")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.table:
        print(markdown_table(args.scale))
        return 0
    for step in args.steps:
        options = {"images": args.images, "budget": args.budget, "only": args.runs,
                   "run_budget": args.run_budget} if step == "train" else {}
        run_step(args.scale, step, args.force, **options)
    if "metrics" in args.steps:
        write_provenance(args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
