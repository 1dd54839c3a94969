"""A synthetic cohort of HR-pQCT-like vertebral scans, shaped like Lu et al. 2023 (section 2.1).

No HR-pQCT data of human vertebrae is public, so the default data of the project is
generated here, deterministically from a seed.

Microarchitecture
-----------------
Elderly vertebral cancellous bone is a network of mostly vertical plates tied by thin
horizontal struts (Mosekilde 1988; Gong et al. 2005). We model it as the walls of a 3D
Voronoi tessellation whose cells are stretched along the superior–inferior axis (the slice
normal, axis 0) and whose walls are randomly removed (perforated), most of all the
horizontal ones:

* cell size 1.2–1.35 mm, so that the marrow spaces between walls match the trabecular
  separation of elderly vertebrae, Tb.Sp ≈ 0.8–1.2 mm (Hildebrand et al. 1999, J Bone Miner
  Res 14:1167);
* cell elongation along the axis 1.3–2.0, the range of the degree of anisotropy of vertebral
  cancellous bone (Hildebrand et al. 1999: DA ≈ 1.4–2.0);
* cell centres on a jittered box lattice: the jitter (``disorder``, 0.5–1 lattice spacing)
  sets how far a slice's network is from a square grid of walls, which carries in-plane
  load by stretching, towards an irregular foam, which carries it by bending; with the
  lattice's angle (±0.2 rad) it is drawn independently of the donor's bone quality;
* wall thickness 3.0–3.3 voxels (245–270 µm) including partial volume;
* walls removed at random (loss of connectivity) and small holes punched in plates, both
  drawn independently of the density-driven parameters;
* marrow density varying between donors (−90 to +60 mg HA/cm³): marrow fat shifts QCT
  densities without changing the bone.

How it was tuned: on 35 donors × 3 levels × 2 slices, the parameter ranges were adjusted
until the median FE modulus fell in 700–1400 MPa (paper: 988.7 MPa, Figure 4) and a linear
fit of the modulus on vBMD gave R² in 0.5–0.8 (paper: 0.65). The independent draws of
disorder, lattice angle and perforation are what keep density from explaining the
modulus: with an irregular foam for every donor (``disorder`` = 1) the R² was 0.81.

Its limit: the slices are denser than elderly vertebral cancellous bone. Their apparent
BV/TV (≈ 0.35–0.7 after the paper's smoothing) and vBMD (≈ 320–720 mg HA/cm³) are above
those of elderly vertebrae (BV/TV ≈ 0.06–0.2, Hildebrand et al. 1999; trabecular vBMD by
QCT mostly below 150 mg HA/cm³). This is a property of the paper's pipeline rather than a
free choice: the stiffest plane-stress arrangement for the averaged modulus, a square grid
of unperforated walls aligned with the image axes (:func:`grid_microarchitecture`), reaches
only ≈ 600–870 MPa at a vBMD near 150 mg HA/cm³ through the paper's smoothing, marrow
threshold and Eq. 1, so no cohort at elderly densities can have the paper's median.

A donor draws one latent bone-quality score, correlated with age, from which the
density-driven parameters follow with some independent scatter; the three levels of one
donor (T11, T12, L1) vary a little around the donor's values.

Scanner
-------
The true bone volume fraction of each voxel (partial volume, from the sub-voxel distance to
the wall) is scaled by the tissue mineral density, blurred by a Gaussian point-spread
function (XtremeCT: ≈ 130 µm FWHM, Boutroy et al. 2005, J Clin Endocrinol Metab 90:6508),
corrupted by Gaussian noise, and stored as integer grey values through an invented linear
calibration. The scanned object is a section of the vertebral body: cancellous bone inside
a cortical shell, so that the volume of interest must be found (:mod:`bonelib.voi`).
To keep generation to a few seconds, the body is smaller in-plane (21.5 × 20.5 mm) than a real
lumbar body (≈ 45 × 33 mm); ``body_mm`` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bonelib.density import Calibration

#: Isotropic voxel size of the HR-pQCT scans (mm).
VOXEL_SIZE_MM = 0.082
#: Side of a sample slice (px), 14.9 mm at 82 µm.
SLICE_PX = 182
#: Invented scanner calibration (mg HA/cm³ per grey unit, mg HA/cm³).
SCANNER_CALIBRATION = Calibration(slope=0.5, intercept=-300.0)
LEVELS = ("T11", "T12", "L1")
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
    tissue_density : float
        Tissue mineral density of bone (mg HA/cm³).
    marrow_density : float
        Density of marrow and of the fluid around the body (mg HA/cm³).
    cortex_mm : float
        Thickness of the cortical shell (mm).
    psf_sigma_voxels : float
        Standard deviation of the Gaussian point-spread function (voxels).
    noise_sd : float
        Standard deviation of the image noise (mg HA/cm³).
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
    calibration: Calibration = SCANNER_CALIBRATION
    voxel_size_mm: float = VOXEL_SIZE_MM
    _voi: object = field(default=None, repr=False)

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
    def voi(self):
        """The cancellous volume of interest, found by :func:`bonelib.voi.cancellous_voi`."""
        if self._voi is None:
            from bonelib.voi import cancellous_voi

            self._voi = cancellous_voi(self.body, voxel_size_mm=self.voxel_size_mm)
        return self._voi

    @property
    def volume(self) -> NDArray[np.int16]:
        """Grey values of the volume of interest, shape (slices, 182, 182)."""
        return self.voi.volume


def voronoi_walls(
    shape: tuple[int, int, int],
    cell_voxels: float,
    elongation: float,
    vertical_perforation: float,
    horizontal_perforation: float,
    rng: np.random.Generator,
    disorder: float = 1.0,
    angle: float = 0.0,
) -> NDArray[np.bool_]:
    """Mid-surfaces (one voxel thick) of the kept walls of an axially stretched Voronoi foam.

    The cell centres are the nodes of a box lattice (in-plane spacing ``cell_voxels``, axial
    spacing ``cell_voxels · elongation``), each moved by a uniform random offset of up to
    ``disorder / 2`` lattice spacings along every axis, and the lattice is turned in-plane
    by ``angle``. ``disorder = 0`` gives box cells, whose walls cross a slice as a square
    grid (stretch-dominated in-plane); ``disorder ≥ 1`` gives an irregular foam whose
    sections are bending-dominated polygon networks.

    Parameters
    ----------
    shape : tuple of int
        (slices, rows, cols); axis 0 is the stretch axis.
    cell_voxels : float
        Mean in-plane cell size (voxels).
    elongation : float
        Axial stretch of the cells (≥ 1).
    vertical_perforation, horizontal_perforation : float
        Probability that a wall parallel, respectively perpendicular, to axis 0 is removed.
    rng : numpy.random.Generator
        Source of randomness.
    disorder : float
        Random displacement of the cell centres (lattice spacings, ≥ 0).
    angle : float
        In-plane rotation of the lattice about the centre of the volume (radians).
    """
    if disorder < 0:
        raise ValueError(f"disorder must be non-negative, got {disorder}")
    spacing = np.array([cell_voxels * elongation, cell_voxels, cell_voxels])
    centre = (np.array(shape) - 1) / 2
    # Lattice nodes over a box that covers the volume whatever the rotation.
    reach = np.array([shape[0] / 2, *(np.hypot(shape[1], shape[2]) / 2,) * 2]) + spacing
    axes = [np.arange(-np.ceil(r / d), np.ceil(r / d) + 1) * d for r, d in zip(reach, spacing)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    nodes += disorder * spacing * rng.uniform(-0.5, 0.5, size=nodes.shape)
    c, s = np.cos(angle), np.sin(angle)
    nodes[:, 1:] = nodes[:, 1:] @ np.array([[c, s], [-s, c]])
    index = np.rint(nodes + centre).astype(np.int64)
    index = index[np.all((index >= 0) & (index < np.array(shape)), axis=1)]
    flat = np.unique(np.ravel_multi_index(index.T, shape))
    seeds = np.zeros(shape, dtype=np.int32)
    seeds.flat[flat] = np.arange(1, flat.size + 1, dtype=np.int32)
    # Nearest seed in a metric that shrinks axial distances: cells elongate along axis 0.
    nearest = ndimage.distance_transform_edt(
        seeds == 0, sampling=(1.0 / elongation, 1.0, 1.0), return_distances=False, return_indices=True
    )
    cells = seeds[tuple(nearest)]
    del nearest
    # A wall between cells a and b is removed when frac(r_a + r_b) falls below its
    # perforation probability: symmetric in (a, b) and uniformly distributed.
    draw = rng.random(flat.size + 1).astype(np.float32)
    walls = np.zeros(shape, dtype=bool)
    for axis in range(3):
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        a, b = cells[tuple(lower)], cells[tuple(upper)]
        u = np.mod(draw[a] + draw[b], 1.0)
        removed = horizontal_perforation if axis == 0 else vertical_perforation
        walls[tuple(lower)] |= (a != b) & (u >= removed)
    return walls


def plate_holes(shape: tuple[int, int, int], fraction: float, rng: np.random.Generator,
                size_voxels: float = 2.5) -> NDArray[np.bool_]:
    """Blobs covering ``fraction`` of the volume, ≈ 2·size_voxels across: a smoothed random field cut."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), size_voxels, mode="wrap")
    return field > np.quantile(field[:: 4, :: 4, :: 4], 1.0 - fraction)


def body_mask(shape: tuple[int, int], semi_axes_px: tuple[float, float], centre: tuple[float, float],
              angle: float, exponent: float = 4.0) -> NDArray[np.bool_]:
    """In-plane outline of the vertebral body: a rotated superellipse (2D boolean mask).

    Parameters
    ----------
    shape : tuple of int
        (rows, cols) of the field of view.
    semi_axes_px : tuple of float
        Semi-axes (rows, cols) in pixels.
    centre : tuple of float
        Centre (row, col) in pixels.
    angle : float
        Rotation (radians).
    exponent : float
        Superellipse exponent; 2 is an ellipse, larger is squarer like a vertebral body.
    """
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    y, x = rows - centre[0], cols - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * y - s * x, s * y + c * x
    return (np.abs(u / semi_axes_px[0]) ** exponent + np.abs(v / semi_axes_px[1]) ** exponent) <= 1.0


def scan_vertebra(
    micro: Microarchitecture,
    seed: int,
    n_slices: int = 104,
    body_mm: tuple[float, float] = BODY_MM,
    calibration: Calibration = SCANNER_CALIBRATION,
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
    # Partial volume: bone fraction from the distance to the wall's mid-surface, so that
    # a wall of thickness t voxels puts t voxels of bone across it.
    distance = ndimage.distance_transform_edt(~walls).astype(np.float32)
    del walls
    fraction = np.clip(micro.wall_voxels / 2 + 0.5 - distance, 0.0, 1.0)
    del distance
    fraction *= outline
    fraction[:, shell] = 1.0

    density = micro.marrow_density + fraction * (micro.tissue_density - micro.marrow_density)
    del fraction
    density = ndimage.gaussian_filter(density, micro.psf_sigma_voxels, mode="nearest")[pad : pad + n_slices]
    density += rng.normal(0.0, micro.noise_sd, size=density.shape).astype(np.float32)
    grey = np.rint(calibration.grey_of(density))
    info = np.iinfo(np.int16)
    return np.clip(grey, info.min, info.max).astype(np.int16)


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
