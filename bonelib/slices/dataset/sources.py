"""Where a dataset's vertebrae come from, and how they are split.

Two sources behind one interface (:class:`Source`): the synthetic cohort
(:class:`SyntheticVertebra`) and the user's own scans (:class:`ScanVertebra`). Both are
planned into :class:`Task` records by one split path (:func:`plan_tasks`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from numpy.typing import NDArray

from bonelib import reference
from bonelib.constants import SLICE_PX, VOXEL_SIZE_MM
from bonelib.imaging.density import Calibration
from bonelib.slices.dataset.schema import SPLITS
from bonelib.synth import COHORTS, RealisticSpec, VertebraSpec


@dataclass(frozen=True)
class Scale:
    """Size of a dataset build.

    Attributes
    ----------
    n_donors : int
        Donors of the synthetic cohort (three levels each); user scans bring their own.
    samples : int
        Total number of synthetic slices, spread over the vertebrae as evenly as possible;
        user scans give every slice of their VOI.
    test_donors, val_donors : int
        Donors held out for testing and for validation in the donor scheme.
    random_counts : tuple of int or None
        (train, val, test) sizes of the random scheme; None: the sizes of the donor scheme.
    """

    n_donors: int
    samples: int
    test_donors: int
    val_donors: int
    random_counts: tuple[int, int, int] | None = None


SCALES = {
    "ci": Scale(n_donors=6, samples=288, test_donors=1, val_donors=1),
    "paper": Scale(n_donors=35, samples=10_896, test_donors=1, val_donors=8,
                   random_counts=tuple(reference.SPLIT_COUNTS[s] for s in SPLITS)),
}


class Source(Protocol):
    """One vertebra to label: its names, its size and how to get its grey values."""

    key: str
    donor: str
    level: str
    n_slices: int

    def volume(self) -> tuple[NDArray, Calibration]:
        """Grey values of the VOI (n_slices, 182, 182) and their calibration."""

    def attrs(self) -> dict:
        """What the store records of the source (JSON)."""


@dataclass(frozen=True)
class SyntheticVertebra:
    """A vertebra of a synthetic cohort (paper-shaped or realistic), scanned with ``n_slices`` slices."""

    spec: VertebraSpec | RealisticSpec
    n_slices: int

    @property
    def key(self) -> str:
        return f"{self.spec.donor}-{self.spec.level}"

    @property
    def donor(self) -> str:
        return self.spec.donor

    @property
    def level(self) -> str:
        return self.spec.level

    def volume(self) -> tuple[NDArray, Calibration]:
        vertebra = self.spec.scan(n_slices=self.n_slices)
        return vertebra.volume, vertebra.calibration

    def attrs(self) -> dict:
        return {"seed": self.spec.seed, "microarchitecture": asdict(self.spec.microarchitecture)}


@dataclass(frozen=True)
class ScanVertebra:
    """A user's scan of one vertebra (file or folder named ``DONOR-LEVEL``), with its calibration
    and voxel size (mm); ``n_slices`` on the 82 µm grid."""

    path: str
    calibration: Calibration
    n_slices: int
    voxel_size_mm: float = VOXEL_SIZE_MM

    @property
    def key(self) -> str:
        return Path(self.path).stem

    @property
    def donor(self) -> str:
        return self.key.split("-")[0]

    @property
    def level(self) -> str:
        return self.key[len(self.donor) + 1:] or "-"

    def volume(self) -> tuple[NDArray, Calibration]:
        """The scan's VOI on the 82 µm grid, and its calibration (the identity once resampled:
        the values are then densities, mg HA/cm³)."""
        from bonelib.imaging.density import to_vbmd
        from bonelib.imaging.grid import to_network_grid
        from bonelib.imaging.voi import cancellous_voi
        from bonelib.io import load_scan

        image, calibration = load_scan(self.path)[0], self.calibration
        density, notes = to_network_grid(to_vbmd(image, calibration), self.voxel_size_mm)
        if notes:
            image, calibration = density, Calibration(1.0, 0.0)
        volume = image if image.shape[1:] == (SLICE_PX, SLICE_PX) else cancellous_voi(
            image, voxel_size_mm=VOXEL_SIZE_MM).volume
        return volume, calibration

    def attrs(self) -> dict:
        return {"scan": self.path}


@dataclass(frozen=True)
class Task:
    """A source with its parts in the two split schemes: 0 train, 1 validation, 2 test."""

    source: Source
    split_donor: int
    split_random: tuple[int, ...]


def synthetic_sources(scale: Scale, seed: int, rng: np.random.Generator, cohort: str = "paper") -> list[SyntheticVertebra]:
    """The ``cohort`` (a name of :data:`bonelib.synth.COHORTS`) at ``scale``, slices per vertebra
    differing by at most one (order drawn by ``rng``)."""
    if cohort not in COHORTS:
        raise ValueError(f"cohort must be one of {tuple(COHORTS)}, got {cohort!r}")
    specs = COHORTS[cohort](n_donors=scale.n_donors, seed=seed)
    counts = np.full(len(specs), scale.samples // len(specs))
    counts[rng.permutation(len(specs))[: scale.samples % len(specs)]] += 1
    return [SyntheticVertebra(spec, int(n)) for spec, n in zip(specs, counts)]


def scan_sources(folder: str | Path, calibration: Calibration, voxel_size_mm: float | None = None) -> list[ScanVertebra]:
    """One source per scan (file or sub-folder) of ``folder``; each is read once for its voxel size
    (the header's, or ``voxel_size_mm``; refused when neither says) and its slices at 82 µm."""
    from bonelib.imaging.grid import voxel_size
    from bonelib.io import load_scan

    folder = Path(folder)
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise ValueError(f"{folder}: no scans in this folder")
    sources = []
    for entry in entries:
        image, header = load_scan(entry)
        voxel = voxel_size(header, voxel_size_mm, entry)
        shape = [int(np.floor(n * voxel / VOXEL_SIZE_MM + 1e-9)) for n in image.shape]  # on the 82 µm grid
        if image.ndim != 3 or min(shape[1:]) < SLICE_PX:
            raise ValueError(f"{entry}: need a stack of slices of at least {SLICE_PX} × {SLICE_PX} px of 82 µm "
                             f"({SLICE_PX * VOXEL_SIZE_MM:.1f} mm), got {image.shape} voxels of {voxel * 1000:.1f} µm")
        sources.append(ScanVertebra(str(entry), calibration, shape[0], voxel))
    return sources


def _donor_split(donors: Sequence[str], test: int, val: int, rng: np.random.Generator) -> dict[str, int]:
    """Assign whole donors to train (0), validation (1) and test (2)."""
    if test + val >= len(set(donors)):
        raise ValueError(f"{len(set(donors))} donors cannot hold {test} test and {val} validation donors "
                         "and a training set")
    order = list(rng.permutation(sorted(set(donors))))
    return {d: 2 if i < test else 1 if i < test + val else 0 for i, d in enumerate(order)}


def _random_split(counts: Sequence[int], sizes: Sequence[int], rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Assign every slice at random to train/val/test with the given sizes; one tuple per vertebra."""
    total = int(np.sum(counts))
    if sum(sizes) != total:
        raise ValueError(f"random split sizes {tuple(sizes)} do not add up to the {total} samples")
    labels = np.repeat(np.arange(3, dtype=np.int8), sizes)[rng.permutation(total)]
    bounds = np.cumsum([0, *counts])
    return [tuple(int(v) for v in labels[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def plan_tasks(sources: Sequence[Source], scale: Scale, rng: np.random.Generator) -> list[Task]:
    """Split ``sources`` in both schemes: whole donors held out, and slices drawn at random.

    The random scheme has ``scale.random_counts`` if given, else the sizes of the donor scheme.
    """
    donor_of = _donor_split([s.donor for s in sources], scale.test_donors, scale.val_donors, rng)
    donor_split = [donor_of[s.donor] for s in sources]
    counts = [s.n_slices for s in sources]
    sizes = scale.random_counts or [sum(n for n, d in zip(counts, donor_split) if d == k) for k in range(3)]
    random_split = _random_split(counts, sizes, rng)
    return [Task(s, d, r) for s, d, r in zip(sources, donor_split, random_split)]
