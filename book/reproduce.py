"""The reproduction pipeline: every expensive step of a scale, resumable, into small result files.

Usage: ``python book/reproduce.py --scale ci|paper [--steps ...]`` (``make reproduce SCALE=...``).

Steps, in order (each skipped when its outputs are up to date with its inputs: the code
that makes them, the scale's settings in ``book/config.py`` and the upstream results):

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
``speed``     ``speed.json``: the timings of the speed chapter;
and ``provenance.json`` records the revision, fingerprints, versions, machine and the wall
time of each step.

``train`` also runs without the dataset store (``--images seed``): the images are then
regenerated from the seed and checked against ``dataset.json``, so that a machine with an
accelerator needs only the table and the code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import config
from bonelib._files import write_json

ROOT = config.ROOT
STEPS = ("dataset", "table", "train", "ship", "predict", "coarse", "external", "metrics", "speed")


class Deadline:
    """Stop training at a wall-clock deadline (epoch granularity); None: never."""

    def __init__(self, seconds: float | None):
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - time.monotonic()

    def callback(self):
        import keras

        deadline = self

        class StopAtDeadline(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if deadline.left() <= 0:
                    self.model.stop_training = True

        return StopAtDeadline()


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def step_dataset(scale: str) -> None:
    from bonelib.dataset import build

    build(config.artefacts(scale).dataset, scale=scale, seed=config.SEED, replace=True)


def step_table(scale: str) -> None:
    import zarr

    from bonelib import crossval, folds, results
    from bonelib.dataset import fingerprint, load

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


def _images_from_store(scale: str, table: dict, kind: str) -> np.ndarray:
    from bonelib import cnn
    from bonelib.dataset import load

    samples = load(config.artefacts(scale).dataset)
    keys = np.char.add(np.char.add(samples.donor.astype(str), "-"), samples.level.astype(str))
    if not (np.array_equal(keys, table["key"]) and np.array_equal(samples.slice, table["slice"])):
        raise ValueError("the dataset store and samples.csv list different samples; run the table step again")
    return cnn.inputs(samples.images, samples.calibration, kind)


def _inputs_of_vertebra(item) -> tuple[str, dict]:
    # A worker process: keep JAX, if it is Keras' backend, off the accelerator the trainer uses.
    os.environ["JAX_PLATFORMS"] = "cpu"
    from bonelib import cnn

    key, volume, calibration, kinds = item
    return key, {kind: cnn.inputs(volume, calibration, kind) for kind in kinds}


def _images_from_seed(scale: str, table: dict, kinds: list[str]) -> dict[str, np.ndarray]:
    """The networks' inputs of every sample, regenerated from the seed and checked against ``dataset.json``."""
    from multiprocessing import get_context

    from bonelib import crossval

    recorded = json.loads((config.artefacts(scale).snapshot / "dataset.json").read_text())
    volumes = crossval.regenerate(scale, recorded["parameters"]["seed"], recorded["parameters"].get("cohort", "paper"))
    differing = {key: {"sum": int(volume.sum(dtype=np.int64)), "recorded_sum": recorded["grey_sums"][key]}
                 for key, (volume, _) in volumes.items()
                 if crossval.images_digest(volume) != recorded["images_sha256"][key]}
    if differing:
        # Another NumPy/SciPy may round a few voxels differently: say so, with the size of it.
        _log(f"WARNING: {len(differing)} of {len(volumes)} regenerated vertebrae differ from the dataset's: {differing}")
    else:
        _log(f"all {len(volumes)} regenerated vertebrae match the dataset's images bit for bit")
    with get_context("spawn").Pool() as pool:
        made = dict(pool.map(_inputs_of_vertebra, [(k, v, c, kinds) for k, (v, c) in volumes.items()], chunksize=1))
    return {kind: np.concatenate([made[key][kind][table["slice"][table["key"] == key]]
                                  for key in dict.fromkeys(table["key"].tolist())]) for kind in kinds}


def _training_range(table: dict, chosen: np.ndarray) -> dict:
    """The range of mean ρ_HA (mg HA/cm³) and BV/TV of the samples a network learnt from."""
    return {name: [float(table[name][chosen].min()), float(table[name][chosen].max())] for name in ("vbmd", "bv_tv")}


def step_train(scale: str, images: str = "store", budget: float | None = None, only: list[str] | None = None,
               run_budget: float | None = None) -> None:
    from bonelib import cnn, crossval, results

    artefacts = config.artefacts(scale)
    evaluation = config.EVALUATION[scale]
    table = results.read_table(artefacts.snapshot / "samples.csv")
    dataset = json.loads((artefacts.snapshot / "dataset.json").read_text())["fingerprint"]
    runs = [r for r in _runs(scale) if not only or r.name in only]
    # Under a time budget the most needed first: the improved folds (the shipped ensemble), its
    # random split, the paper's network on the paper's split, then its folds.
    runs.sort(key=lambda r: (r.model != "improved", r.model != "improved" and r.scheme == "donor-cv"))
    kinds = sorted({cnn.MODEL_INPUTS[r.model] for r in runs})
    deadline = Deadline(budget)
    started = time.monotonic()
    if images == "seed":
        inputs = _images_from_seed(scale, table, kinds)
    else:
        inputs = {kind: _images_from_store(scale, table, kind) for kind in kinds}
    _log(f"inputs ready in {time.monotonic() - started:.0f} s: {', '.join(f'{k} {v.shape}' for k, v in inputs.items())}")
    for run in runs:
        folder = artefacts.run(run.name)
        if (folder / "metrics.json").exists():
            recorded = json.loads((folder / "metrics.json").read_text())
            wanted = crossval.identity(run, dataset, evaluation.val_donors, config.SEED)
            if all(recorded.get(k) == v for k, v in wanted.items()):
                _log(f"{run.name}: up to date")
                continue
            shutil.rmtree(folder)
        if deadline.left() <= 0:
            _log(f"{run.name}: not started, the time budget is spent")
            continue
        started = time.monotonic()
        report = crossval.train_run(run, inputs[cnn.MODEL_INPUTS[run.model]], table, artefacts.run(run.name), dataset,
                                    evaluation.val_donors, config.SEED,
                                    callbacks=[deadline.callback(), Deadline(run_budget).callback()])
        write_json(artefacts.run(run.name) / "metrics.json", {**report, "machine": _machine()})
        if run.model == "improved":
            # The network as it ships (float16 weights): small enough to carry back from another machine.
            import keras

            from bonelib import pretrained

            training = crossval.parts(table, run, evaluation.val_donors, config.SEED) != 2
            pretrained.save({run.name: keras.saving.load_model(artefacts.run(run.name) / "model.keras")},
                            artefacts.run(run.name) / "network", _training_range(table, training))
        _log(f"{run.name}: {report['epochs_run']} epochs in {time.monotonic() - started:.0f} s, "
             f"test R² {report['r2']['value']:.3f}, RPE50 {report['rpe50']['value']:.3f}")


def _runs(scale: str) -> list:
    """The runs of a scale: :func:`bonelib.crossval.plan_runs`, keeping each network's ``schemes``."""
    from bonelib import crossval

    evaluation = config.EVALUATION[scale]
    options = {m: {k: v for k, v in o.items() if k != "schemes"} for m, o in evaluation.models.items()}
    schemes = {m: o.get("schemes", crossval.RUN_SCHEMES) for m, o in evaluation.models.items()}
    return [r for r in crossval.plan_runs(options, evaluation.folds) if r.scheme in schemes[r.model]]


def _finished(scale: str) -> list:
    """The runs of the scale that finished training (a run cut by a time budget counts, with its epochs)."""
    return [r for r in _runs(scale) if (config.artefacts(scale).run(r.name) / "metrics.json").exists()]


def models_folder(scale: str) -> Path:
    """Where a scale's ensemble ships (:attr:`config.Artefacts.models`)."""
    return config.artefacts(scale).models


def step_ship(scale: str) -> None:
    from bonelib import pretrained

    artefacts = config.artefacts(scale)
    finished = _finished(scale)
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
    from bonelib import cnn, crossval, evaluation, pretrained, results

    artefacts = config.artefacts(scale)
    table = results.read_table(artefacts.snapshot / "samples.csv")
    shipped = pretrained.load_pretrained(models_folder(scale)).models
    names = {"improved": "improved CNN", "paper": "paper's CNN"}
    rows: dict[str, list] = {"index": [], "model_name": [], "scheme_name": [], "fold": [], "E_pred": []}
    inputs = {}
    for run in _finished(scale):
        test = np.flatnonzero(crossval.parts(table, run, config.EVALUATION[scale].val_donors, config.SEED) == 2)
        if run.name in shipped:
            kind = cnn.MODEL_INPUTS[run.model]
            if kind not in inputs:
                inputs[kind] = _images_from_store(scale, table, kind)
            predicted = cnn.predict(shipped[run.name], inputs[kind][test])
        else:
            predicted = np.load(artefacts.run(run.name) / "test_predictions.npy")
        evaluation.append_predictions(rows, test, names[run.model], run.scheme, -1 if run.fold is None else run.fold,
                                      predicted)
        _log(f"predicted {run.name} ({len(test)} samples)")
    results.write_table(artefacts.snapshot / "cnn_predictions.csv", {k: np.asarray(v) for k, v in rows.items()})


def _coarse_row(item) -> list[float]:
    from bonelib.coarse import coarse_modulus
    from bonelib.label import density_map

    grey, calibration = item
    row = []
    for factor in (2, 4):
        modulus, seconds = coarse_modulus(density_map(grey, calibration), factor)
        row += [modulus, seconds]
    return row


def step_coarse(scale: str) -> None:
    from multiprocessing import get_context

    from tqdm import tqdm

    from bonelib import results
    from bonelib.dataset import load

    artefacts = config.artefacts(scale)
    samples = load(artefacts.dataset)
    items = [(image[..., 0], samples.calibration) for image in samples.images]
    with get_context("spawn").Pool() as pool:
        made = np.array(list(tqdm(pool.imap(_coarse_row, items, chunksize=16), total=len(items), desc="coarse FE")))
    results.write_table(artefacts.snapshot / "coarse.csv", {
        "E_coarse_2": made[:, 0], "seconds_2": made[:, 1], "E_coarse_4": made[:, 2], "seconds_4": made[:, 3]})


def step_external(scale: str) -> None:
    from bonelib import pretrained, results
    from bonelib.dataset import build, load

    if scale != "paper":
        _log("external: only at paper scale")
        return
    store = build(config.artefacts(scale).root / "external.zarr", scale="ci", seed=config.SEED + 1, replace=True)
    samples = load(store)
    mean, spread = pretrained.load_pretrained(models_folder(scale)).predict(samples.images[..., 0], samples.calibration)
    results.write_table(config.artefacts(scale).snapshot / "external.csv", {
        "donor": samples.donor.astype(str), "level": samples.level.astype(str), "slice": samples.slice,
        "E_eff": samples.E_eff, "vbmd": samples.vbmd, "bv_tv": samples.bv_tv, "E_pred": mean, "spread": spread})


def step_metrics(scale: str) -> None:
    from bonelib import evaluation, results

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


def step_speed(scale: str) -> None:
    from bonelib import cnn, speed
    from bonelib.dataset import load
    from bonelib.label import density_map

    test = load(config.artefacts(scale).dataset, "test")
    sample = density_map(test.images[0, ..., 0], test.calibration)
    networks = {
        "paper CNN": lambda shape: cnn.paper_model(shape, mean=300.0, variance=1e5),
        "improved CNN (8 views)": lambda shape: cnn.improved_model(shape, mean=1.0, variance=4.0),
    }
    speed.scaling(sample, config.SPEED_SIZES[scale], networks, repeats=config.SPEED_REPEATS[scale],
                  path=config.artefacts(scale).snapshot / "speed.json")


#: The bonelib sources each step's outputs depend on (beyond the upstream files).
STEP_CODE = {
    "table": ("folds.py", "results.py", "crossval.py"),
    "ship": ("pretrained.py", "cnn.py"),
    "predict": ("cnn.py", "pretrained.py", "crossval.py", "evaluation.py", "results.py"),
    "coarse": ("coarse.py", "label.py", "density.py", "fe"),
    "external": ("pretrained.py", "cnn.py", "dataset", "synth", "label.py"),
    "metrics": ("evaluation.py", "metrics.py", "baselines.py", "folds.py", "results.py"),
    "speed": ("speed.py", "cnn.py", "fe"),
}


def _upstream(scale: str, step: str) -> list[Path]:
    snapshot = config.artefacts(scale).snapshot
    runs = [config.artefacts(scale).run(r.name) / "metrics.json" for r in _finished(scale)]
    models = sorted(models_folder(scale).glob("*")) if models_folder(scale).exists() else []
    return {"table": [config.artefacts(scale).dataset / "zarr.json"],
            "ship": runs + [snapshot / "samples.csv"],
            "predict": runs + models + [snapshot / "samples.csv"],
            "coarse": [snapshot / "samples.csv"],
            "external": models,
            "metrics": [snapshot / name for name in ("samples.csv", "cnn_predictions.csv", "coarse.csv", "external.csv")],
            "speed": []}[step]


def _key(scale: str, step: str) -> str:
    """Hash of what a step's outputs depend on: its code, the settings it reads, the upstream files."""
    import hashlib

    from bonelib.dataset import code_fingerprint

    evaluation = config.EVALUATION[scale]
    settings = {"table": (evaluation.folds,), "ship": (), "predict": (evaluation.val_donors,), "coarse": (),
                "external": (), "metrics": (evaluation.val_donors,),
                "speed": (config.SPEED_SIZES[scale], config.SPEED_REPEATS[scale])}[step]
    digest = hashlib.sha256(code_fingerprint(STEP_CODE[step]).encode())
    digest.update(repr((config.SEED, *settings)).encode())
    for path in _upstream(scale, step):
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()[:16]


def _machine() -> dict:
    import platform
    import subprocess

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else None
    try:
        gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.strip() or None
    except OSError:
        gpu = None
    return {"host": platform.node(), "system": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "gpu": gpu,
            "python": platform.python_version()}


def _steps_file(scale: str) -> Path:
    return config.artefacts(scale).snapshot / "steps.json"


def run_step(scale: str, step: str, force: bool = False, **options) -> None:
    """Run one step unless its outputs are up to date; record its wall time and machine."""

    steps = json.loads(_steps_file(scale).read_text()) if _steps_file(scale).exists() else {}
    key = _key(scale, step) if step in STEP_CODE else None
    if key is not None and not force and steps.get(step, {}).get("key") == key:
        _log(f"step {step} ({scale}): up to date")
        return
    _log(f"step {step} ({scale})")
    started = time.time()
    if step == "train":
        step_train(scale, **options)
    else:
        globals()[f"step_{step}"](scale)
    key = _key(scale, step) if step in STEP_CODE else None
    steps = json.loads(_steps_file(scale).read_text()) if _steps_file(scale).exists() else {}
    steps[step] = {"key": key, "seconds": round(time.time() - started, 1),
                   "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": _machine()}
    config.artefacts(scale).snapshot.mkdir(parents=True, exist_ok=True)
    write_json(_steps_file(scale), steps)


def write_provenance(scale: str) -> None:
    """``provenance.json``: revision, fingerprints, versions, and each step's machine and wall time."""
    import subprocess
    from importlib import metadata

    from bonelib.dataset import code_fingerprint
    from bonelib.dataset.store import LABEL_CODE
    from bonelib.training import TRAINING_CODE

    snapshot = config.artefacts(scale).snapshot
    revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "bonelib"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip())
    versions = {}
    for package in ("bonelib", "numpy", "scipy", "keras", "tensorflow-cpu", "zarr", "dask", "scikit-sparse"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    write_json(snapshot / "provenance.json", {
        "scale": scale, "git_revision": revision, "uncommitted_bonelib_changes": dirty,
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code": {"labels": code_fingerprint(LABEL_CODE), "training": code_fingerprint(TRAINING_CODE)},
        "dataset": json.loads((snapshot / "dataset.json").read_text())["fingerprint"],
        "versions": versions, "steps": json.loads(_steps_file(scale).read_text())})


def markdown_table(scale: str) -> str:
    """The results table of the book, as Markdown (for the README)."""
    from bonelib import evaluation

    results = json.loads((config.artefacts(scale).snapshot / "metrics.json").read_text())
    header, rows = evaluation.table_rows(results, evaluation.run_labels(config.artefacts(scale).snapshot))
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
