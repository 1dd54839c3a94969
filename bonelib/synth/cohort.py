"""The synthetic cohort: donors, ages, levels and the microarchitecture of each vertebra.

Elderly vertebral cancellous bone is a network of mostly vertical plates tied by thin
horizontal struts (Mosekilde 1988; Gong et al. 2005). Each vertebra is the wall network of
an axially stretched, perforated Voronoi foam (:mod:`bonelib.synth.generators`):

* cell size 1.2–1.35 mm, for the marrow spaces of elderly vertebrae, Tb.Sp ≈ 0.8–1.2 mm
  (Hildebrand et al. 1999, J Bone Miner Res 14:1167);
* cell elongation 1.3–2.0, the degree of anisotropy of vertebral bone (ibid.: DA ≈ 1.4–2.0);
* cell centres on a jittered box lattice (``disorder`` 0.5–1, angle ±0.2 rad), drawn
  independently of bone quality: how far a slice is from a stretch-dominated square grid;
* wall thickness 3.0–3.3 voxels (245–270 µm), partial volume included;
* walls removed and plates holed at random, independently of density;
* marrow density −90 to +60 mg HA/cm³ between donors (marrow fat shifts QCT densities).

A donor draws one latent bone-quality score, correlated with age, from which the
density-driven parameters follow with scatter; the three levels of one donor (T11, T12,
L1) vary a little around the donor's values. The ranges were tuned so that the median FE
modulus and the R² of the modulus on vBMD match the paper (the book's dataset chapter
tells how). The cost: slices denser than elderly bone (apparent BV/TV ≈ 0.35–0.7), which the
paper's pipeline forces (:func:`bonelib.synth.grid_microarchitecture`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator, Sequence

import numpy as np

from bonelib.constants import LEVELS
from bonelib.synth.vertebra import BODY_MM, Microarchitecture, Vertebra, VertebraSpec


def donor_microarchitecture(quality: float, rng: np.random.Generator) -> Microarchitecture:
    """Microarchitecture of a donor from a latent bone-quality score (0 poor … 1 good).

    Wall thickness, cell size and tissue density follow the score; the loss of connectivity
    (perforated walls) is drawn independently of it, so that density explains only part of
    the stiffness, as in real bone, and so is the density of the marrow.
    """
    q = float(np.clip(quality, 0.0, 1.0))

    def scatter(low: float, high: float, sd: float = 0.08) -> float:
        """Value between low and high set by q, with independent scatter."""
        t = np.clip(q + rng.normal(0.0, sd), 0.0, 1.0)
        return float(low + t * (high - low))

    return Microarchitecture(
        cell_mm=scatter(1.35, 1.2),
        disorder=float(rng.uniform(0.5, 1.0)),
        lattice_angle=float(rng.uniform(-0.2, 0.2)),
        elongation=scatter(2.0, 1.3, sd=0.2),
        wall_voxels=scatter(3.0, 3.3),
        vertical_perforation=float(0.25 * rng.beta(1.2, 3.0)),
        horizontal_perforation=scatter(0.9, 0.6),
        tissue_density=scatter(1050.0, 1250.0, sd=0.5),
        # Marrow fat varies between elderly donors and shifts the measured density of the
        # marrow, a known confounder of QCT densitometry, without changing the bone.
        marrow_density=float(rng.uniform(-90.0, 60.0)),
        plate_holes=float(rng.uniform(0.0, 0.06)),
    )


def level_microarchitecture(donor: Microarchitecture, rng: np.random.Generator) -> Microarchitecture:
    """A spinal level of a donor: the donor's parameters with a few per cent of scatter."""

    def jitter(value: float, relative: float = 0.04, low: float = 0.0, high: float = np.inf) -> float:
        return float(np.clip(value * (1 + rng.normal(0.0, relative)), low, high))

    return replace(
        donor,
        cell_mm=jitter(donor.cell_mm),
        elongation=jitter(donor.elongation, low=1.0),
        wall_voxels=jitter(donor.wall_voxels),
        vertical_perforation=jitter(donor.vertical_perforation, 0.1, high=0.95),
        horizontal_perforation=jitter(donor.horizontal_perforation, 0.03, high=0.98),
        plate_holes=jitter(donor.plate_holes, 0.1, high=0.9),
        tissue_density=jitter(donor.tissue_density, 0.02),
    )


def plan(n_donors: int = 35, levels: Sequence[str] = LEVELS, seed: int = 0) -> list[VertebraSpec]:
    """Donors, ages, levels, seeds and microarchitecture of a synthetic cohort (cheap).

    Donors are female, aged 65–90 with a mean near 81 (the paper: 81.3 ± 7.2). Older
    donors tend to have poorer bone (thinner, more perforated, wider-spaced walls).
    Donor ``k`` is the same whatever ``n_donors`` is, so a cohort can be extended.

    Parameters
    ----------
    n_donors : int
        Number of donors (paper: 35).
    levels : sequence of str
        Spinal levels scanned per donor (paper: T11, T12, L1).
    seed : int
        Seed of the whole cohort.
    """
    if n_donors < 1:
        raise ValueError(f"n_donors must be at least 1, got {n_donors}")
    if not levels:
        raise ValueError("levels is empty")
    specs = []
    for index, donor_seed in enumerate(np.random.SeedSequence(seed).spawn(n_donors)):
        rng = np.random.default_rng(donor_seed)
        age = 65.0 + 25.0 * rng.beta(1.87, 1.0)
        # Quality falls with age, with as much scatter again between donors of one age.
        quality = float(np.clip(0.5 - (age - 81.0) / 25.0 + rng.normal(0.0, 0.2), 0.0, 1.0))
        donor = donor_microarchitecture(quality, rng)
        for level, level_seed in zip(levels, donor_seed.spawn(len(levels))):
            level_rng = np.random.default_rng(level_seed)
            micro = level_microarchitecture(donor, level_rng)
            specs.append(VertebraSpec(donor=f"D{index + 1:02d}", age=round(age, 1), level=level,
                                      seed=int(level_rng.integers(2**31)), microarchitecture=micro))
    return specs


def cohort(
    n_donors: int = 35,
    levels: Sequence[str] = LEVELS,
    seed: int = 0,
    n_slices: int = 104,
    body_mm: tuple[float, float] = BODY_MM,
) -> Iterator[Vertebra]:
    """Yield the scanned vertebrae of a synthetic cohort, one record per donor and level.

    Parameters
    ----------
    n_donors, levels, seed
        As in :func:`plan`.
    n_slices : int
        Axial slices per vertebra (paper: ≈ 104).
    body_mm : tuple of float
        In-plane size of the scanned body section (mm).

    Yields
    ------
    Vertebra
        Generated lazily, a few seconds each; ``vertebra.spec`` has donor, age, level and
        seed, ``vertebra.body`` the section, ``vertebra.volume`` the 182 px cancellous VOI.
    """
    for spec in plan(n_donors, levels, seed):
        yield spec.scan(n_slices=n_slices, body_mm=body_mm)


def well_connected(specs: Sequence[VertebraSpec]) -> VertebraSpec:
    """The vertebra of ``specs`` with the fewest perforated vertical walls: a clear example slice."""
    if not specs:
        raise ValueError("specs is empty")
    return min(specs, key=lambda s: s.microarchitecture.vertical_perforation)
