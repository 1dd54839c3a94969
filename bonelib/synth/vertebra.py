"""One synthetic vertebra: its microarchitecture, its scan, and the section a slice cuts from it.

The scanned object is a section of the vertebral body: cancellous bone inside a cortical
shell, so that the volume of interest must be found (:mod:`bonelib.imaging.voi`). To keep
generation to a few seconds, the body is smaller in-plane (21.5 × 20.5 mm) than a real
lumbar body (≈ 45 × 33 mm); ``body_mm`` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging.density import Calibration
from bonelib.imaging.scanner import CALIBRATION, Scanner
from bonelib.imaging.voi import VolumeOfInterest, cancellous_voi
from bonelib.synth.generators import (
    body_mask,
    plate_holes,
    voronoi_walls,
    wall_fraction,
)

#: In-plane size of the scanned body section (mm): antero-posterior × lateral. With the
#: outline rotated by up to 0.1 rad it always holds the 182 px VOI 1 mm clear of its surface.
BODY_MM = (21.5, 20.5)


@dataclass(frozen=True)
class Microarchitecture:
    """Parameters of one vertebra's synthetic cancellous bone and of its scan.

    Attributes
    ----------
    cell_mm : float
        In-plane size of the Voronoi cells (mm).
    disorder : float
        Random displacement of the cell centres from a box lattice (lattice spacings);
        0 gives a square grid of walls in each slice, ≥ 1 an irregular foam.
    lattice_angle : float
        In-plane rotation of the lattice from the image axes (radians).
    elongation : float
        Ratio of the cells' axial to in-plane size.
    wall_voxels : float
        Wall thickness (voxels of 82 µm), partial volume included.
    vertical_perforation, horizontal_perforation : float
        Fraction of walls removed among those roughly parallel and perpendicular to the axis.
    plate_holes : float
        Fraction of the remaining wall area punched out by small holes (≈ 0.3–0.5 mm).
    tissue_density, marrow_density, psf_sigma_voxels, noise_sd : float
        The scan's parameters (:class:`bonelib.imaging.scanner.Scanner`): mg HA/cm³, mg HA/cm³,
        voxels, mg HA/cm³.
    cortex_mm : float
        Thickness of the cortical shell (mm).
    """

    cell_mm: float = 0.95
    disorder: float = 1.0
    lattice_angle: float = 0.0
    elongation: float = 1.6
    wall_voxels: float = 2.0
    vertical_perforation: float = 0.3
    horizontal_perforation: float = 0.8
    plate_holes: float = 0.0
    tissue_density: float = 1050.0
    marrow_density: float = -20.0
    cortex_mm: float = 0.45
    psf_sigma_voxels: float = 0.65
    noise_sd: float = 50.0

    def scanner(self, calibration: Calibration = CALIBRATION) -> Scanner:
        """The scanner model with this vertebra's tissue and marrow densities, blur and noise."""
        return Scanner(tissue_density=self.tissue_density, marrow_density=self.marrow_density,
                       psf_sigma_voxels=self.psf_sigma_voxels, noise_sd=self.noise_sd, calibration=calibration)


@dataclass(frozen=True)
class VertebraSpec:
    """Everything that defines one synthetic vertebra, before it is generated.

    Attributes
    ----------
    donor : str
        Donor id, e.g. ``"D07"``.
    age : float
        Donor age (years).
    level : str
        Spinal level (``"T11"``, ``"T12"`` or ``"L1"``).
    seed : int
        Seed of this vertebra's generator.
    microarchitecture : Microarchitecture
        Bone and scanner parameters.
    """

    donor: str
    age: float
    level: str
    seed: int
    microarchitecture: Microarchitecture

    def scan(self, n_slices: int = 104, body_mm: tuple[float, float] = BODY_MM) -> "Vertebra":
        """Generate the scan (a few seconds); see :func:`scan_vertebra`."""
        body = scan_vertebra(self.microarchitecture, self.seed, n_slices=n_slices, body_mm=body_mm)
        return Vertebra(spec=self, body=body)


@dataclass
class Vertebra:
    """One scanned vertebra of the synthetic cohort.

    Attributes
    ----------
    spec : VertebraSpec
        Donor, level, seed and parameters it was generated from.
    body : numpy.ndarray
        int16 grey values of the scanned section, shape (slices, rows, cols); axis 0 is the
        superior–inferior axis.
    calibration : Calibration
        Maps grey values to mg HA/cm³.
    voxel_size_mm : float
        Isotropic voxel size (mm).
    """

    spec: VertebraSpec
    body: NDArray[np.int16]
    calibration: Calibration = CALIBRATION
    voxel_size_mm: float = VOXEL_SIZE_MM
    _voi: VolumeOfInterest | None = field(default=None, repr=False)

    @property
    def donor(self) -> str:
        """Donor id, e.g. ``"D07"``."""
        return self.spec.donor

    @property
    def age(self) -> float:
        """Donor age (years)."""
        return self.spec.age

    @property
    def level(self) -> str:
        """Spinal level."""
        return self.spec.level

    @property
    def seed(self) -> int:
        """Seed of this vertebra's generator."""
        return self.spec.seed

    @property
    def voi(self) -> VolumeOfInterest:
        """The cancellous volume of interest, found by :func:`bonelib.imaging.voi.cancellous_voi`."""
        if self._voi is None:
            self._voi = cancellous_voi(self.body, voxel_size_mm=self.voxel_size_mm)
        return self._voi

    @property
    def volume(self) -> NDArray[np.int16]:
        """Grey values of the volume of interest, shape (slices, 182, 182)."""
        return self.voi.volume


def scan_vertebra(
    micro: Microarchitecture,
    seed: int,
    n_slices: int = 104,
    body_mm: tuple[float, float] = BODY_MM,
    calibration: Calibration = CALIBRATION,
) -> NDArray[np.int16]:
    """Generate and 'scan' one vertebral-body section: int16 grey values (slices, rows, cols).

    Parameters
    ----------
    micro : Microarchitecture
        Bone and scanner parameters.
    seed : int
        Seed; the same seed and parameters give the same volume bit for bit.
    n_slices : int
        Number of axial slices.
    body_mm : tuple of float
        In-plane size of the body (mm): rows (antero-posterior) × cols (lateral).
    calibration : Calibration
        Linear calibration used to store densities as grey values.
    """
    if n_slices < 1:
        raise ValueError(f"n_slices must be at least 1, got {n_slices}")
    rng = np.random.default_rng(seed)
    semi = (body_mm[0] / VOXEL_SIZE_MM / 2, body_mm[1] / VOXEL_SIZE_MM / 2)
    margin = 12
    plane = (int(2 * max(semi) + 2 * margin),) * 2
    centre = tuple(p / 2 + rng.uniform(-margin / 2, margin / 2) for p in plane)
    outline = body_mask(plane, semi, centre, angle=rng.uniform(-0.1, 0.1))
    cortex_px = micro.cortex_mm / VOXEL_SIZE_MM
    inside = ndimage.distance_transform_edt(outline)
    shell = outline & (inside <= cortex_px)

    # Pad the slab by one cell height at each end and crop after the blur: slices near the
    # ends of a slab see cells cut by its boundary, so without padding the structure of a
    # slice would depend on how many slices are generated.
    pad = int(np.ceil(micro.cell_mm / VOXEL_SIZE_MM * micro.elongation))
    shape = (n_slices + 2 * pad, *plane)
    walls = voronoi_walls(shape, micro.cell_mm / VOXEL_SIZE_MM, micro.elongation,
                          micro.vertical_perforation, micro.horizontal_perforation, rng,
                          disorder=micro.disorder, angle=micro.lattice_angle)
    if micro.plate_holes > 0:
        walls &= ~plate_holes(shape, micro.plate_holes, rng)
    fraction = wall_fraction(walls, micro.wall_voxels)
    del walls
    fraction *= outline
    fraction[:, shell] = 1.0
    return micro.scanner(calibration).image(fraction, rng, keep=slice(pad, pad + n_slices))


def section(micro: Microarchitecture, seed: int, n_slices: int = 3) -> NDArray[np.int16]:
    """The cancellous VOI (n_slices, 182, 182) of a short scan of one microarchitecture.

    For studies of a microarchitecture on its own (no cohort, no donor); grey values in the
    synthetic scanner's :data:`bonelib.imaging.scanner.CALIBRATION`.
    """
    return cancellous_voi(scan_vertebra(micro, seed, n_slices=n_slices), voxel_size_mm=VOXEL_SIZE_MM).volume


def grid_microarchitecture(vbmd: float, wall_voxels: float, tissue_density: float = 1200.0,
                           marrow_density: float = 0.0) -> Microarchitecture:
    """The stiffest in-plane arrangement of a given vBMD: a square grid of unperforated walls.

    Cells are boxes aligned with the image axes (``disorder`` = 0), none of the walls seen in a
    slice is removed, and the walls parallel to the slice are all removed, so that a slice
    cuts two families of straight walls that carry the loads xx and yy by stretching. The
    spacing is set so that the true bone area fraction, 1 − (1 − t/L)², gives the requested
    vBMD; the scan has no noise.

    Parameters
    ----------
    vbmd : float
        Target mean density of the slice (mg HA/cm³), between the marrow and tissue densities.
    wall_voxels : float
        Wall thickness t (voxels of 82 µm).
    tissue_density, marrow_density : float
        Densities of bone tissue and of marrow (mg HA/cm³).
    """
    fraction = (vbmd - marrow_density) / (tissue_density - marrow_density)
    if not 0 < fraction < 1:
        raise ValueError(f"vbmd must lie between the marrow ({marrow_density}) and tissue "
                         f"({tissue_density}) densities, got {vbmd}")
    if not wall_voxels > 0:
        raise ValueError(f"wall_voxels must be positive, got {wall_voxels}")
    spacing_voxels = wall_voxels / (1 - np.sqrt(1 - fraction))
    return Microarchitecture(cell_mm=float(spacing_voxels * VOXEL_SIZE_MM), disorder=0.0, elongation=1.5,
                             wall_voxels=wall_voxels, vertical_perforation=0.0, horizontal_perforation=1.0,
                             tissue_density=tissue_density, marrow_density=marrow_density, noise_sd=0.0)
