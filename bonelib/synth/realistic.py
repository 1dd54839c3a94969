"""A realistic synthetic cohort: rod–plate cancellous bone like real elderly vertebrae.

Elderly vertebral cancellous bone is a sparse network of plates and rods running along the
superior–inferior axis, tied by thinner horizontal struts; with age, plates perforate into
rods and horizontal struts are lost (Mosekilde 1988; Gong et al. 2005). The model builds it
on a Voronoi tessellation whose cells are stretched along axis 0 (superior–inferior):

* vertical plates: a random share of the cell walls parallel to axis 0, the rest perforated
  away;
* vertical rods: every cell edge (where three cells meet) that runs along axis 0;
* horizontal struts: the other cell edges, a random share of them lost, thinner.

The volume is binary at a micro-CT voxel size (the real ROIs' 51.3 µm by default) and
reaches the FE route through the same scanner model as real bone
(:func:`bonelib.imaging.scanner.scan`). Its parameter ranges were chosen so that its 3D and 2D
morphometry match the shipped real ROIs (:mod:`bonelib.data`); ``bonelib realistic check``
prints the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib.constants import LEVELS, SLICE_PX, VOXEL_SIZE_MM
from bonelib.imaging.density import Calibration
from bonelib.imaging.scanner import scan

#: Voxel size at which the realistic bone is generated (mm): the real ROIs' micro-CT.
MICRO_CT_MM = 0.0513


@dataclass(frozen=True)
class RodPlate:
    """Parameters of one rod–plate bone volume.

    Attributes
    ----------
    cell_mm : float
        In-plane spacing of the cells (mm): the spacing of the trabeculae.
    elongation : float
        Ratio of the cells' superior–inferior to in-plane size.
    disorder : float
        Random displacement of the cell centres from a box lattice (lattice spacings).
    plate_fraction : float
        Share of the vertical cell walls kept as plates (about).
    plate_clustering : float
        Share of the plates that belong to plate-rich cells, all of whose vertical walls are
        kept (0: plates scattered at random; 1: all in plate-rich cells).
    plate_mm : float
        Plate thickness (mm).
    vertical_rod_mm, horizontal_rod_mm : float
        Diameters of the vertical rods and of the horizontal struts (mm).
    horizontal_loss : float
        Share of the horizontal struts lost.
    """

    cell_mm: float = 0.97
    elongation: float = 1.45
    disorder: float = 1.0
    plate_fraction: float = 0.32
    plate_clustering: float = 0.2
    plate_mm: float = 0.12
    vertical_rod_mm: float = 0.16
    horizontal_rod_mm: float = 0.13
    horizontal_loss: float = 0.1


#: The cohort's central parameters (the defaults of :class:`RodPlate`), tuned by hand against the
#: 30 shipped real ROIs with :mod:`bonelib.synth.realism` (``bonelib realism`` prints the comparison).
CENTRAL = RodPlate()


def _cells(shape: tuple[int, int, int], spacing_voxels: NDArray, disorder: float,
           rng: np.random.Generator) -> NDArray[np.int32]:
    """Label of the nearest cell centre of each voxel (centres on a jittered box lattice)."""
    axes = [np.arange(-1, np.ceil(n / d) + 2) * d for n, d in zip(shape, spacing_voxels)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    nodes += disorder * spacing_voxels * rng.uniform(-0.5, 0.5, size=nodes.shape)
    index = np.rint(nodes).astype(np.int64)
    index = index[np.all((index >= 0) & (index < np.array(shape)), axis=1)]
    flat = np.unique(np.ravel_multi_index(index.T, shape))
    seeds = np.zeros(shape, dtype=np.int32)
    seeds.flat[flat] = np.arange(1, flat.size + 1, dtype=np.int32)
    stretch = spacing_voxels[0] / spacing_voxels[1]
    nearest = ndimage.distance_transform_edt(seeds == 0, sampling=(1 / stretch, 1.0, 1.0), return_distances=False,
                                             return_indices=True)
    return seeds[tuple(nearest)]


def _thicken(midline: NDArray[np.bool_], diameter_voxels: float) -> NDArray[np.bool_]:
    """Voxels within half a diameter of a mid-surface or mid-line."""
    if not midline.any():
        return midline
    return ndimage.distance_transform_edt(~midline) <= diameter_voxels / 2


def rod_plate_bone(architecture: RodPlate, shape: tuple[int, int, int], voxel_size_mm: float,
                   rng: np.random.Generator) -> NDArray[np.bool_]:
    """A binary rod–plate bone volume, axis 0 superior–inferior.

    Parameters
    ----------
    architecture : RodPlate
        Its parameters (mm).
    shape : tuple of int
        (slices, rows, cols) voxels.
    voxel_size_mm : float
        Isotropic voxel size (mm).
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same volume.
    """
    a = architecture
    if not voxel_size_mm > 0 or min(shape) < 2:
        raise ValueError(f"need a positive voxel size and a volume of at least 2 voxels a side, got {voxel_size_mm} "
                         f"mm and {shape}")
    spacing = np.array([a.cell_mm * a.elongation, a.cell_mm, a.cell_mm]) / voxel_size_mm
    cells = _cells(shape, spacing, a.disorder, rng)
    kept, lost, rich = (rng.random(int(cells.max()) + 1) for _ in range(3))
    # The next voxel's cell along each axis (the last voxel compares with itself: no wall at a face).
    after = [np.take(cells, np.minimum(np.arange(n) + 1, n - 1), axis=axis) for axis, n in enumerate(shape)]
    plates = np.zeros(shape, dtype=bool)
    clustered = 1 - np.sqrt(1 - a.plate_clustering * a.plate_fraction)  # share of plate-rich cells
    for axis in (1, 2):  # walls between neighbours across axis 1 or 2 are vertical
        wall = np.mod(kept[cells] + kept[after[axis]], 1.0)  # one uniform draw per wall, symmetric
        in_rich = np.minimum(rich[cells], rich[after[axis]]) < clustered
        plates |= (cells != after[axis]) & ((wall < (1 - a.plate_clustering) * a.plate_fraction) | in_rich)
    vertical = (after[1] != cells) & (after[2] != cells) & (after[1] != after[2])
    horizontal = np.zeros(shape, dtype=bool)
    for axis in (1, 2):
        horizontal |= (after[0] != cells) & (after[axis] != cells) & (after[0] != after[axis])
    horizontal &= lost[cells] >= a.horizontal_loss
    return (_thicken(plates, a.plate_mm / voxel_size_mm) | _thicken(vertical, a.vertical_rod_mm / voxel_size_mm)
            | _thicken(horizontal, a.horizontal_rod_mm / voxel_size_mm))


@dataclass(frozen=True)
class RealisticSpec:
    """One vertebra of the realistic cohort, before it is generated.

    Attributes
    ----------
    donor, level : str
        Donor id (``"R07"``) and spinal level.
    age : float
        Donor age (years).
    seed : int
        Seed of this vertebra's generator.
    microarchitecture : RodPlate
        Its rod–plate parameters.
    """

    donor: str
    age: float
    level: str
    seed: int
    microarchitecture: RodPlate

    def bone(self, shape: tuple[int, int, int], voxel_size_mm: float = MICRO_CT_MM) -> NDArray[np.bool_]:
        """The binary bone volume (axis 0 superior–inferior) at a micro-CT voxel size."""
        return rod_plate_bone(self.microarchitecture, shape, voxel_size_mm, np.random.default_rng(self.seed))

    def scan(self, n_slices: int = 104, side_px: int = SLICE_PX) -> "ScannedCube":
        """The HR-pQCT-like VOI (n_slices, side, side) at 82 µm, through :func:`bonelib.imaging.scanner.scan`."""
        if n_slices < 1 or side_px < 1:
            raise ValueError(f"n_slices and side_px must be at least 1, got {n_slices} and {side_px}")
        extent = (n_slices * VOXEL_SIZE_MM, side_px * VOXEL_SIZE_MM, side_px * VOXEL_SIZE_MM)
        shape = tuple(int(np.ceil(e / MICRO_CT_MM)) + 1 for e in extent)
        grey, calibration = scan(self.bone(shape), MICRO_CT_MM, seed=self.seed)
        return ScannedCube(volume=grey[:n_slices, :side_px, :side_px], calibration=calibration)


@dataclass(frozen=True)
class ScannedCube:
    """A scanned volume of interest: int16 grey values (slices, rows, cols) and their calibration."""

    volume: NDArray[np.int16]
    calibration: Calibration


def realistic_plan(n_donors: int = 35, levels: Sequence[str] = LEVELS, seed: int = 0) -> list[RealisticSpec]:
    """Donors, levels, seeds and rod–plate parameters of the realistic cohort (cheap).

    Each donor draws a bone-quality score (falling with age, as in :func:`bonelib.synth.plan`);
    poorer bone has fewer plates, thinner rods, more lost struts and wider spacing, around the
    central values of :data:`CENTRAL`; the levels of a donor scatter a few per cent around it.
    Donor ``k`` is the same whatever ``n_donors`` is.
    """
    if n_donors < 1:
        raise ValueError(f"n_donors must be at least 1, got {n_donors}")
    if not levels:
        raise ValueError("levels is empty")
    specs = []
    for index, donor_seed in enumerate(np.random.SeedSequence([seed, 2]).spawn(n_donors)):
        rng = np.random.default_rng(donor_seed)
        age = 65.0 + 25.0 * rng.beta(1.87, 1.0)
        quality = float(np.clip(0.5 - (age - 81.0) / 25.0 + rng.normal(0.0, 0.2), 0.0, 1.0))
        for level, level_seed in zip(levels, donor_seed.spawn(len(levels))):
            level_rng = np.random.default_rng(level_seed)

            def scatter(value: float, low: float, high: float, sd: float = 0.04) -> float:
                """``value`` scaled between low and high by the quality, with a level's scatter."""
                return float(value * (low + (high - low) * quality) * (1 + level_rng.normal(0.0, sd)))

            c = CENTRAL
            micro = RodPlate(
                cell_mm=scatter(c.cell_mm, 1.08, 0.92),
                elongation=scatter(c.elongation, 1.0, 1.0, sd=0.05),
                disorder=c.disorder,
                plate_fraction=min(scatter(c.plate_fraction, 0.6, 1.4, sd=0.1), 0.9),
                plate_clustering=c.plate_clustering,
                plate_mm=scatter(c.plate_mm, 0.9, 1.1),
                vertical_rod_mm=scatter(c.vertical_rod_mm, 0.9, 1.1),
                horizontal_rod_mm=scatter(c.horizontal_rod_mm, 0.9, 1.1),
                horizontal_loss=float(np.clip(c.horizontal_loss + 0.2 * (0.5 - quality) + level_rng.normal(0, 0.03),
                                              0.0, 0.9)),
            )
            specs.append(RealisticSpec(donor=f"R{index + 1:02d}", age=round(age, 1), level=level,
                                       seed=int(level_rng.integers(2**31)), microarchitecture=micro))
    return specs
