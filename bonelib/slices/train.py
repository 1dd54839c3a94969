"""Training a CNN on a labelled dataset, resumable, with its history and test metrics.

``train`` writes into ``out`` (the training loop of both routes, :func:`bonelib.learn.train.fit`):

- ``model.keras``: the best model so far (lowest validation loss), usable at any moment;
- ``history.csv``: per-epoch training and validation loss and MAE (MPa), Figure 6;
- ``backup/``: the state to resume an interrupted run (removed when training ends);
- ``run.json``: what the run is (model, epochs, scheme, batch, seed, and the dataset's
  fingerprint and the training version, :mod:`bonelib.versions`); a resumed or reused run must match it;
- ``metrics.json``: R², slope, MAE, RPE percentiles with bootstrap intervals on the test split,
  with the training time and the run's identity;
- ``test_predictions.npy``: the best model's predictions of the test samples (MPa), in order.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib._files import atomic_path
from bonelib.learn import metrics
from bonelib.learn import train as learn_train
from bonelib.slices.dataset import load


def _identity(model_name: str, data: str | Path, epochs: int, options: dict) -> dict:
    """What makes a run the run it is: model, epochs, scheme, batch, seed, dataset, training version."""
    from bonelib.slices.dataset import fingerprint
    from bonelib.versions import SLICE_TRAINING

    return {"model": model_name, "epochs": epochs, "scheme": options.get("scheme") or "dataset default",
            "batch_size": options.get("batch_size", 128), "training_seed": options.get("seed", 0),
            "dataset": fingerprint(data), "training_version": SLICE_TRAINING}


def train(model_name: str, data: str | Path, out: str | Path, epochs: int, batch_size: int = 128, seed: int = 0,
          scheme: str | None = None, verbose: int = 2, callbacks: list | None = None, patience: int | None = None) -> dict:
    """Train ``"paper"`` or ``"improved"`` on the train split, validate, test; resume if ``out`` holds a run.

    Parameters
    ----------
    model_name : {"paper", "improved"}
        Which network (:mod:`bonelib.slices.network`).
    data : path
        Dataset store (:func:`bonelib.slices.dataset.build`).
    out : path
        Output folder.
    epochs : int
        Total epochs (a resumed run continues up to this number).
    batch_size : int
        Samples per batch (paper: 128).
    seed : int
        Seed of weights, shuffling and augmentation.
    scheme : {"donor", "random"}, optional
        Split scheme; default: the dataset's.
    verbose : int
        Keras verbosity: 1 a progress bar, 2 a line per epoch.
    callbacks : list, optional
        Further Keras callbacks, run after the built-in ones.
    patience : int, optional
        Stop when the validation loss has not improved for this many epochs.

    Returns
    -------
    dict
        The test metrics (also in ``metrics.json``).
    """
    from bonelib.slices import network as cnn
    if model_name not in cnn.MODELS:
        raise ValueError(f"model must be one of {sorted(cnn.MODELS)}, got {model_name!r}")
    identity = _identity(model_name, data, epochs, {"scheme": scheme, "batch_size": batch_size, "seed": seed})
    splits = {name: load(data, name, scheme) for name in ("train", "val", "test")}
    kind = cnn.MODEL_INPUTS[model_name]
    x = {name: cnn.inputs(s.images, s.calibration, kind) for name, s in splits.items()}
    y = {name: s.E_eff for name, s in splits.items()}
    return fit(model_name, x, y, out, epochs, identity, batch_size=batch_size, seed=seed, verbose=verbose,
               callbacks=callbacks, patience=patience)


def fit(model_name: str, x: dict[str, NDArray], y: dict[str, NDArray], out: str | Path, epochs: int, identity: dict,
        batch_size: int = 128, seed: int = 0, verbose: int = 2, callbacks: list | None = None,
        patience: int | None = None) -> dict:
    """Train a network on arrays already made (``x``: inputs of :func:`bonelib.slices.network.inputs`,
    ``y``: E_eff in MPa, each a dict with ``"train"``, ``"val"`` and ``"test"``); resume if
    ``out`` holds an unfinished run of the same ``identity``.

    :func:`train` calls it with a dataset's splits; the reproduction pipeline with the
    folds of a cross-validation. ``identity`` (what makes the run: see :func:`train`) is
    written to ``run.json`` and ``metrics.json``; the other parameters are those of
    :func:`train`.
    """
    import keras

    from bonelib.slices import network as cnn
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    for split in ("train", "val", "test"):
        if split not in x or split not in y or len(x[split]) != len(y[split]) or not len(y[split]):
            raise ValueError(f"x and y need non-empty {split!r} parts of equal length")
    out = Path(out)
    if (out / "metrics.json").exists():
        raise ValueError(f"{out} holds a finished run; choose another output folder")
    started_as = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else None
    if started_as is not None and started_as != identity:
        raise ValueError(f"{out} holds an unfinished run of another kind ({_difference(started_as, identity)}); "
                         "choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "run.json") as temporary:
        temporary.write_text(json.dumps(identity, indent=1))
    keras.utils.set_random_seed(seed)
    y = {name: np.asarray(values, dtype=np.float32) for name, values in y.items()}
    kwargs = {"mean": float(x["train"].mean()), "variance": float(x["train"].var())}
    if model_name == "improved":
        kwargs.update(seed=seed, decay_steps=epochs * -(-len(y["train"]) // batch_size),
                      kind=cnn.MODEL_INPUTS[model_name])
    model = cnn.MODELS[model_name](**kwargs)

    seconds = learn_train.fit(model, x["train"], y["train"], out, epochs, out / "model.keras",
                              validation=(x["val"], y["val"]), batch_size=batch_size, seed=seed, patience=patience,
                              callbacks=callbacks, verbose=verbose)

    best = keras.saving.load_model(out / "model.keras")
    started = time.perf_counter()
    predicted = cnn.predict(best, x["test"])
    per_sample = (time.perf_counter() - started) / len(predicted)
    with atomic_path(out / "test_predictions.npy") as temporary, open(temporary, "wb") as handle:
        np.save(handle, predicted)
    return metrics.report(predicted, y["test"], path=out / "metrics.json", **identity,
                          training_seconds=seconds, seconds_per_prediction=per_sample, test_samples=len(predicted),
                          epochs_run=len(learn_train.history(out)["epoch"]))


def trained(model_name: str, data: str | Path, out: str | Path, epochs: int, replace: bool = False,
            **options) -> dict:
    """The test metrics of a finished run in ``out``, training (or resuming) it first if needed.

    A finished run is reused only if it is the run asked for: same model, epochs, scheme,
    batch size and seed, trained on this very dataset (its fingerprint) by training code of
    the same version (:data:`bonelib.versions.SLICE_TRAINING`). Otherwise this refuses, so a book or script never reports a run it did not ask for,
    nor one trained on a dataset that has since been rebuilt.

    Parameters
    ----------
    model_name, data, out, epochs
        As in :func:`train`.
    replace : bool
        Delete a run of another kind found in ``out`` (finished or not) and train the one
        asked for, instead of refusing; only a folder holding a bonelib run is deleted.
    **options
        Further arguments of :func:`train` (``batch_size``, ``seed``, ``scheme``, ``verbose``).
    """
    out = Path(out)
    asked = _identity(model_name, data, epochs, options)
    recorded = out / ("metrics.json" if (out / "metrics.json").exists() else "run.json")
    if recorded.exists():
        stored = json.loads(recorded.read_text())
        stored = {key: stored.get(key) for key in asked}
        if stored != asked:
            if not replace:
                kind = "finished" if recorded.name == "metrics.json" else "unfinished"
                raise ValueError(f"{out} holds another {kind} run ({_difference(stored, asked)}); choose another folder")
            shutil.rmtree(out)
    if (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())
    return train(model_name, data, out, epochs, **options)


def _difference(stored: dict, asked: dict) -> str:
    return ", ".join(f"{key} {stored.get(key)!r} where {value!r} was asked" for key, value in asked.items()
                     if stored.get(key) != value)
