"""The book's settings, in one place: seed, sizes per scale, training runs, artefact names.

Read by ``book/execute.py`` and by every notebook (``import config``; the book's folder is
on the kernels' ``PYTHONPATH``, set by ``execute.py`` and by the root ``conftest.py``).
Importing it also quiets TensorFlow's start-up messages in the notebooks.
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
#: The real-bone chapter: how many of the 30 shipped ROIs it uses (spread over the
#: specimens), sections per orientation and volume, and cubes of each synthetic cohort.
REAL_BONE = {"ci": {"rois": 5, "sections": 2, "synthetic": 2},
             "paper": {"rois": 30, "sections": 6, "synthetic": 30}}
#: Image sides (px) and repeats of the speed chapter.
SPEED_SIZES = {"ci": [91, 182, 364], "paper": [91, 182, 364, 728]}
SPEED_REPEATS = {"ci": 1, "paper": 3}


@dataclass(frozen=True)
class Run:
    """One training run of the book: which network, on which split scheme, for how long."""

    model: str
    scheme: str
    epochs: int
    batch_size: int


#: The book's runs per scale. At ci scale, tiny; at paper scale, what this 2-core CPU
#: affords: the improved model in ≤ 60 min, the paper's network for 5 of its 200 epochs
#: (≈ 3 min each here; 200 would take about 10 hours).
RUNS = {
    "ci": {"improved-donor": Run("improved", "donor", 15, 32), "improved-random": Run("improved", "random", 15, 32),
           "paper-donor": Run("paper", "donor", 10, 32)},
    "paper": {"improved-donor": Run("improved", "donor", 30, 128),
              "improved-random": Run("improved", "random", 30, 128),
              "paper-donor": Run("paper", "donor", 5, 128)},
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
        """The folder of training run ``name`` of :data:`RUNS`."""
        return self.root / "runs" / name

    @property
    def results(self) -> Path:
        """Every model's test metrics (JSON)."""
        return self.root / "results.json"

    @property
    def speed(self) -> Path:
        """The timings of the speed chapter (JSON)."""
        return self.root / "speed.json"


def artefacts(scale: str) -> Artefacts:
    """The artefacts of a scale (``"ci"`` or ``"paper"``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return Artefacts(ROOT / "artefacts" / scale)
