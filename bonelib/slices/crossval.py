"""The evaluation runs of a reproduction: the paper's random split and donor-level cross-validation.

A :class:`Run` is one network trained on one partition of the per-sample table
(:mod:`bonelib.learn.tables`): the random split as the paper ran it, or fold ``f`` of the
donor-level cross-validation (:mod:`bonelib.learn.folds`). :func:`train_run` trains it from the
input images; the images come from a dataset store or, without one, are regenerated from
the seed (:func:`regenerate`): a machine that trains needs only the table and the code.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib.learn.folds import fold_split

#: Schemes of a run: the paper's random split, or a fold of the donor-level cross-validation.
RUN_SCHEMES = ("random", "donor-cv")


@dataclass(frozen=True)
class Run:
    """One training run of a reproduction.

    Attributes
    ----------
    model : {"paper", "improved"}
        Which network (:mod:`bonelib.slices.network`).
    scheme : {"random", "donor-cv"}
        The paper's random split, or donor-level cross-validation.
    fold : int or None
        The tested fold of ``"donor-cv"``; None for ``"random"``.
    epochs : int
        Most epochs.
    batch_size : int
        Samples per batch.
    patience : int or None
        Stop once the validation loss has not improved for this many epochs.
    """

    model: str
    scheme: str
    fold: int | None
    epochs: int
    batch_size: int = 128
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.scheme not in RUN_SCHEMES:
            raise ValueError(f"scheme must be one of {RUN_SCHEMES}, got {self.scheme!r}")
        if (self.fold is None) != (self.scheme == "random"):
            raise ValueError("a donor-cv run needs a fold; a random run has none")

    @property
    def name(self) -> str:
        """``MODEL-random`` or ``MODEL-foldF``: the run's folder name."""
        return f"{self.model}-random" if self.fold is None else f"{self.model}-fold{self.fold}"


def plan_runs(models: dict[str, dict], folds: int) -> list[Run]:
    """Every run of a reproduction: per network, each fold, then the random split.

    Parameters
    ----------
    models : dict
        Network name → keyword arguments of :class:`Run` (``epochs``, ``batch_size``, ``patience``).
    folds : int
        Folds of the donor-level cross-validation.
    """
    return [run for model, options in models.items() for run in
            [*(Run(model, "donor-cv", fold, **options) for fold in range(folds)), Run(model, "random", None, **options)]]


def parts(table: dict[str, NDArray], run: Run, val_donors: int, seed: int = 0) -> NDArray:
    """Each sample's part in ``run`` (0 train, 1 validation, 2 test) from the per-sample table."""
    if run.scheme == "random":
        return np.asarray(table["split_random"], dtype=np.int8)
    fold_of = dict(zip(table["donor"].tolist(), table["fold"].tolist()))
    return fold_split(table["donor"], fold_of, run.fold, val_donors, seed)


def identity(run: Run, dataset: str, val_donors: int, seed: int = 0) -> dict:
    """What makes a run the run it is (``run.json``): the run, its seed, the dataset and the training version."""
    from bonelib.versions import SLICE_TRAINING

    return {**asdict(run), "val_donors": val_donors if run.scheme == "donor-cv" else None,
            "training_seed": seed, "dataset": dataset, "training_version": SLICE_TRAINING}


def train_run(run: Run, images: NDArray, table: dict[str, NDArray], out: str | Path, dataset: str,
              val_donors: int, seed: int = 0, verbose: int = 2, callbacks: list | None = None) -> dict:
    """Train one run and return its test metrics (see :func:`bonelib.slices.train.fit`).

    Parameters
    ----------
    run : Run
        The run.
    images : numpy.ndarray
        (N, 182, 182, 1) inputs of the run's network (:func:`bonelib.slices.network.inputs` with
        ``cnn.MODEL_INPUTS[run.model]``), in the order of ``table``.
    table : dict
        The per-sample table (:func:`bonelib.learn.tables.read_table`).
    out : path
        The run's folder.
    dataset : str
        The dataset's fingerprint, recorded in the run's identity.
    val_donors : int
        Validation donors of a cross-validation fold.
    seed : int
        Seed of the weights, the shuffling and the validation donors.
    verbose : int
        Keras verbosity.
    callbacks : list, optional
        Further Keras callbacks.
    """
    from bonelib.slices.train import fit

    if len(images) != len(table["E_eff"]):
        raise ValueError(f"{len(images)} images for a table of {len(table['E_eff'])} samples")
    codes = parts(table, run, val_donors, seed)
    x = {name: images[codes == code] for code, name in enumerate(("train", "val", "test"))}
    y = {name: table["E_eff"][codes == code] for code, name in enumerate(("train", "val", "test"))}
    return fit(run.model, x, y, out, run.epochs, identity(run, dataset, val_donors, seed), batch_size=run.batch_size,
               seed=seed, verbose=verbose, callbacks=callbacks, patience=run.patience)


def synthetic_tasks(scale: str, seed: int, cohort: str = "paper") -> tuple[list, str]:
    """The planned vertebrae of a synthetic dataset, as :func:`bonelib.slices.dataset.build` plans them,
    and the fingerprint the build gives the dataset."""
    from bonelib.slices.dataset import plan_synthetic
    from bonelib.slices.dataset.store import parameters_fingerprint

    tasks, parameters = plan_synthetic(scale, seed, cohort)
    return tasks, parameters_fingerprint(parameters)


def images_digest(volume: NDArray) -> str:
    """SHA-256 of a grey-value volume's dtype, shape and bytes: checks a regenerated vertebra."""
    volume = np.ascontiguousarray(volume)
    digest = hashlib.sha256(f"{volume.dtype.str}{volume.shape}".encode())
    digest.update(volume.tobytes())
    return digest.hexdigest()


def _scan(task) -> tuple[str, NDArray, tuple[float, float]]:
    volume, calibration = task.source.volume()
    return task.source.key, volume, (calibration.slope, calibration.intercept)


def regenerate(scale: str, seed: int, cohort: str = "paper", processes: int | None = None) -> dict:
    """The grey values of every vertebra of a synthetic dataset, regenerated from its seed.

    Returns
    -------
    dict
        Vertebra key → (grey volume (n, 182, 182), Calibration).
    """
    from multiprocessing import get_context

    from bonelib.imaging.density import Calibration

    tasks, _ = synthetic_tasks(scale, seed, cohort)
    with get_context("spawn").Pool(processes) as pool:
        scanned = pool.map(_scan, tasks, chunksize=1)
    return {key: (volume, Calibration(*calibration)) for key, volume, calibration in scanned}
