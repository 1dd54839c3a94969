"""One training loop for both routes' networks: Keras ``fit``, validation, the best epoch kept.

:func:`fit` trains a compiled network and writes into a folder:

- the best network so far (lowest validation loss, or training loss without validation), at
  the checkpoint path the caller names (a whole ``.keras`` model or ``.weights.h5`` weights);
- ``history.csv``: per-epoch losses and metrics, training and validation;
- ``backup/``: the state to resume an interrupted run (removed when training ends).

Both routes' networks use batch normalisation, whose running statistics (used at inference)
lag behind the weights while they change; :func:`recalibrate_batch_norm` re-estimates them
with the current weights ("precise BN") after the last batch of every epoch, so that
validation, the choice of the best epoch and the saved network all use statistics that match
the weights.
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

#: Images per batch of the precise batch-norm pass after each epoch, and its most batches.
RECALIBRATION_BATCH_SIZE, RECALIBRATION_MAX_BATCHES = 128, 20


def recalibration_batches(images: int) -> int:
    """Batches of the precise batch-norm pass on ``images`` training images: enough to cover
    them once, at most :data:`RECALIBRATION_MAX_BATCHES` (more would only repeat images).

    >>> recalibration_batches(300), recalibration_batches(8000)
    (3, 20)
    """
    return min(RECALIBRATION_MAX_BATCHES, -(-images // RECALIBRATION_BATCH_SIZE))


def recalibrate_batch_norm(model, images: NDArray, batches: int = 20, batch_size: int = 128, seed: int = 0) -> None:
    """Set every batch-normalisation layer's running statistics to the mean over ``batches`` batches.

    Runs the model in training mode on random batches of ``images`` with the weights fixed;
    the k-th batch enters the running averages with weight 1/k, so that they end as the plain
    mean of the batch means and variances of the current weights.

    Parameters
    ----------
    model : keras.Model
        A model with :class:`keras.layers.BatchNormalization` layers (others are left alone).
    images : numpy.ndarray
        Training inputs (N, …, 1): slices or cubes.
    batches, batch_size : int
        How many batches, of how many images.
    seed : int
        Seed of the choice of batches.
    """
    from keras import layers

    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return
    momenta = [layer.momentum for layer in norms]
    rng = np.random.default_rng(seed)
    try:
        for k in range(batches):
            for layer in norms:
                layer.momentum = k / (k + 1)
            chosen = np.sort(rng.choice(len(images), min(batch_size, len(images)), replace=False))
            model(images[chosen], training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def precise_batch_norm(images: NDArray, seed: int, limit: int | None = None):
    """A Keras callback that re-estimates batch-norm statistics after the last batch of each
    epoch (:func:`recalibration_batches` batches of :data:`RECALIBRATION_BATCH_SIZE` for the
    ``images``, or ``limit`` of them), before validation and checkpoints."""
    import keras

    covered = len(images) if limit is None else min(limit, len(images))
    batch_size, batches = RECALIBRATION_BATCH_SIZE, recalibration_batches(covered)

    class PreciseBatchNorm(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == self.params["steps"]:
                recalibrate_batch_norm(self.model, images, batches, batch_size, seed=seed * 100_003 + self.epoch)

    return PreciseBatchNorm()


def fit(model, x: NDArray, y: NDArray, out: str | Path, epochs: int, checkpoint: str | Path,
        validation: tuple[NDArray, NDArray] | None = None, batch_size: int = 128, seed: int = 0,
        patience: int | None = None, callbacks: list | None = None, verbose: int = 2,
        recalibration: int | None = None) -> float:
    """Train a compiled Keras ``model`` on inputs ``x`` and targets ``y``; resume a run that
    ``out`` holds; return the seconds it trained.

    Parameters
    ----------
    model : keras.Model
        The network, compiled with its optimiser and loss.
    x, y : numpy.ndarray
        Training inputs (N, …, 1) and targets (N,), in the units the loss expects.
    out : path
        Folder of ``history.csv`` and ``backup/``.
    epochs : int
        Total epochs (a resumed run continues up to this number).
    checkpoint : path
        Where the best network so far goes: ``*.weights.h5`` its weights, otherwise the whole
        model (``*.keras``).
    validation : (inputs, targets), optional
        Samples that choose the best epoch (and stop the run with ``patience``); without them
        the training loss chooses.
    batch_size : int
        Samples per batch.
    seed : int
        Seed of the precise batch-norm batches (shuffling and augmentation follow Keras's seed,
        :func:`keras.utils.set_random_seed`).
    patience : int, optional
        Stop when the monitored loss has not improved for this many epochs.
    callbacks : list, optional
        Further Keras callbacks, run after the built-in ones.
    verbose : int
        Keras verbosity: 0 silent, 1 a progress bar, 2 a line per epoch.
    recalibration : int, optional
        Images of the precise batch-norm pass after each epoch (default: enough batches to cover
        the training images once, :func:`recalibration_batches`).
    """
    import keras

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
    if len(x) != len(y) or not len(y):
        raise ValueError(f"need as many targets as inputs, at least one: got {len(x)} inputs, {len(y)} targets")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    monitor = "val_loss" if validation is not None else "loss"
    stopping = [keras.callbacks.EarlyStopping(monitor, patience=patience)] if patience else []
    every = [
        precise_batch_norm(x, seed, recalibration),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor, save_best_only=True,
                                        save_weights_only=str(checkpoint).endswith(".weights.h5")),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        *stopping,
        *(callbacks or []),
    ]
    start = time.perf_counter()
    model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=batch_size, shuffle=True,
              callbacks=every, verbose=verbose)
    seconds = time.perf_counter() - start
    shutil.rmtree(out / "backup", ignore_errors=True)
    return seconds


def history(out: str | Path) -> dict[str, NDArray]:
    """Per-epoch columns of a run's ``history.csv`` (``epoch``, ``loss``, ``mae``, ``val_loss``, ``val_mae``...).

    The validation columns that Keras leaves empty (``NA``) in a run without validation are left out."""
    with open(Path(out) / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{out}: the history is empty")
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]
            if any(row[key] != "NA" for row in rows)}
