"""The book's settings, in one place: seed, sizes per scale, the evaluation, artefact names.

Read by the pipeline, by :mod:`bonebook.execute` and by every notebook
(``from bonebook import config``). Importing it also quiets TensorFlow's start-up messages in
the notebooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
#: Where the notebooks are executed (papermill) and re-run (nbval).
GENERATED = ROOT / "book" / "generated"
#: The scales a book can be built at.
SCALES = ("ci", "paper")
#: Seed of every cohort, split, network and bootstrap of the book.
SEED = 0
#: Slices of the example vertebra of the first chapter.
EXAMPLE_SLICES = {"ci": 24, "paper": 104}
#: The studies of real bone (``bonebook/studies.py``, run by the pipeline, read by the chapters on
#: real bone and on 3D): how many of the shipped ROIs they use (spread over the specimens),
#: sections per orientation and volume, and volumes of each synthetic cohort. At paper scale
#: all 30 shipped ROIs (about 15 min on 2 cores); the ci scale keeps it to a minute or two.
REAL_BONE = {"ci": {"rois": 5, "sections": 2, "synthetic": 2},
             "paper": {"rois": 30, "sections": 2, "synthetic": 30}}
#: The 2D solver's checks (``bonebook.studies.slice_fe``): the laminates' layers, the side
#: (pixels) of the central crop of a slice refined into 2 × 2 and 4 × 4 elements (None: all of it),
#: and the vertebrae whose slice is refined (at paper scale about 45 s each with CHOLMOD).
SLICE_FE = {"ci": {"layers": 20, "refinement_side": 91, "refinement_slices": 2},
            "paper": {"layers": 20, "refinement_side": None, "refinement_slices": 6}}
#: The study of Eq. 1's intercept (``bonebook.studies.density_reading``): vertebrae of the
#: scale's synthetic dataset and slices of each, and shipped real ROIs (one transverse section each).
DENSITY_READING = {"ci": {"vertebrae": 2, "slices": 3, "rois": 3},
                   "paper": {"vertebrae": 6, "slices": 8, "rois": 10}}
#: The own-scan chapter (``bonebook.studies.own_scan``): a shipped real ROI scanned as HR-pQCT and
#: run through the ``bonelib`` command line; ``cubes`` of its 3D cubes get FE as well.
OWN_SCAN = {"ci": {"cubes": 1, "whole": False}, "paper": {"cubes": 8}}  # whole: FE of the whole volume (default yes)
#: The solvers' scaling (``bonebook.studies.solver_scaling``): bonded platen tests of central
#: n³ cubes of a shipped ROI at its native 51 µm, the sizes each solver runs (those installed).
SOLVER_SCALING = {"ci": {"cholmod": [24, 32], "superlu": [24, 32], "mg": [24, 32], "parosol": [24]},
                  "paper": {"cholmod": [40, 60, 80, 100, 130], "superlu": [40, 60, 80, 100],
                            "mg": [40, 60, 80, 100, 130, 160, 199], "parosol": [40, 60, 80]}}
#: The 3D route (``bonebook/reproduce_3d.py``): real ROIs (the first ``real`` of ``subset``, None:
#: all; "all" is the 115 shell-free ROIs of the collection, fetched once) and realistic
#: vertebrae cut into cubes, folds of real specimens held out (and ``val_specimens`` of the other
#: folds that choose each network's best epoch, as the 2D route's validation donors; none at ci
#: scale, whose six ROIs come from two specimens), the 3D network's epochs and
#: the sources its laws and network learn from (real cubes of the training specimens only:
#: adding the synthetic cubes made every model worse on real bone, as the chapter shows), the
#: law whose ratio to the FE modulus the network learns, and the axes of each training cube it
#: learns along (``bonelib.cubes.evaluate.axis_views``; ("z", "y", "x") triples the cubes but
#: did not help, as the chapter says), whether the cubes between the tiles of the real
#: volumes (``bonelib.cubes.placement.between_origins``) and beside them (``beside_origins``:
#: every other position of the half-side lattice) are labelled, the kinds of cube the networks
#: learn from (``learn``; every kind but the tiles is for training only, never predicted), and the
#: network's filters per stage (``bonelib.cubes.network.cube_model``; twice the default's lowered
#: the held-out RPE50 from 0.153 to 0.129).
CUBES_3D = {"ci": {"real": 6, "subset": "shipped", "synthetic": 4, "folds": 2, "val_specimens": 0, "epochs": 2,
                   "sources": ("real",), "base": "power_law", "axes": ("z",), "between": True, "beside": True,
                   "learn": ("tiles", "between", "beside"), "widths": (16, 32, 48)},
            "paper": {"real": None, "subset": "all", "synthetic": 105, "folds": 5, "val_specimens": 1,
                      "epochs": 40, "sources": ("real",), "base": "power_law", "axes": ("z",), "between": True,
                      "beside": True,
                      "learn": ("tiles", "between", "beside"), "widths": (16, 32, 48)}}
#: Image sides (px) and repeats of the speed chapter.
SPEED_SIZES = {"ci": [91, 182, 364], "paper": [91, 182, 364, 728]}
SPEED_REPEATS = {"ci": 1, "paper": 3}


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of a scale's reproduction (``make reproduce``): donor-level
    cross-validation and the paper's random split, for each network.

    Attributes
    ----------
    folds : int
        Folds of the donor-level cross-validation.
    val_donors : int
        Donors of the training folds that validate instead (choice of the best epoch).
    models : dict
        Network → keyword arguments of :class:`bonelib.slices.crossval.Run` (epochs, batch size,
        patience of the early stop on the validation loss).
    """

    folds: int
    val_donors: int
    models: dict


#: The evaluation per scale. At paper scale, the paper's network as the paper trained it
#: (batch 128, MAE, up to 200 epochs, stopping once the validation loss has not improved
#: for 20 epochs); on the paper's random split it ran on a GPU until the time budget ended
#: it, and its donor-level folds had 60 CPU minutes in all (``--run-budget 600``: 3 epochs
#: each), so they show how far it gets, not where it converges. The improved network: 20
#: epochs per run.
EVALUATION = {
    "ci": Evaluation(folds=3, val_donors=1, models={
        "improved": {"epochs": 10, "batch_size": 32},
        "paper": {"epochs": 3, "batch_size": 32, "schemes": ("random",)}}),
    "paper": Evaluation(folds=5, val_donors=4, models={
        "improved": {"epochs": 20, "batch_size": 64},
        "paper": {"epochs": 200, "batch_size": 128, "patience": 20}}),
}


@dataclass(frozen=True)
class Artefacts:
    """Where a scale's expensive outputs live: written once, read by later chapters.

    Attributes
    ----------
    root : pathlib.Path
        ``artefacts/<scale>`` in the repository.
    """

    root: Path

    @property
    def dataset(self) -> Path:
        """The labelled dataset (Zarr store)."""
        return self.root / "dataset.zarr"

    def run(self, name: str) -> Path:
        """The folder of training run ``name`` (:attr:`bonelib.slices.crossval.Run.name`)."""
        return self.root / "runs" / name

    @property
    def snapshot(self) -> Path:
        """``results/<scale>``: the small result files of ``make reproduce`` (committed at paper scale)."""
        return ROOT / "results" / self.root.name

    def shipped_runs(self) -> list[dict]:
        """The records (``metrics.json``) of the training runs shipped into the results folder."""
        import json

        return [json.loads(path.read_text()) for path in sorted(self.snapshot.glob("runs/*/metrics.json"))]

    @property
    def models(self) -> Path:
        """The shipped ensemble of the scale: in the package at paper scale, beside the results otherwise."""
        return ROOT / "bonelib" / "data" / "models" if self.root.name == "paper" else self.snapshot / "models"

    @property
    def models_3d(self) -> Path:
        """The 3D ensemble of the scale: in the package at paper scale, beside the 3D results otherwise."""
        return ROOT / "bonelib" / "data" / "models3d" if self.root.name == "paper" else self.snapshot / "cubes3d" / "models"


def artefacts(scale: str) -> Artefacts:
    """The artefacts of a scale (``"ci"`` or ``"paper"``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return Artefacts(ROOT / "artefacts" / scale)
