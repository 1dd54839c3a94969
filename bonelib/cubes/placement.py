"""Bone cubes for the 3D route: where to cut them from a volume, and their moduli.

A cube should hold cancellous bone only: one that catches the cortical shell or an endplate
(locally near-solid) or empty space outside the vertebral body (locally near-empty) does not
describe the trabecular network. :func:`place_cubes` tiles a volume with cubes and flags
those whose bone volume fraction lies outside :data:`CANCELLOUS_BV_TV`; :func:`cube_moduli`
gives the periodic and the platen moduli of one cube, the two answers the literature mixes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bonelib.fe import homogenise_3d, tissue_maps
from bonelib.fe.materials import TISSUE_MODULUS, TISSUE_POISSON
from bonelib.fe.platens import compression_test

#: BV/TV range of a cube of vertebral cancellous bone; outside it a cube is flagged.
CANCELLOUS_BV_TV = (0.03, 0.45)


@dataclass(frozen=True)
class Cube:
    """One cube cut from a volume.

    Attributes
    ----------
    origin : tuple of int
        Index of its first voxel in the volume (axis 0, 1, 2).
    side : int
        Side in voxels.
    bv_tv : float
        Its bone volume fraction.
    cancellous : bool
        Its BV/TV lies in :data:`CANCELLOUS_BV_TV` (no shell, no empty space).
    """

    origin: tuple[int, int, int]
    side: int
    bv_tv: float
    cancellous: bool

    def of(self, volume: NDArray) -> NDArray:
        """The cube's voxels of ``volume``."""
        return volume[tuple(slice(o, o + self.side) for o in self.origin)]


#: Where a volume's cubes lie: its ``tiles`` (:func:`tile_origins`), the cubes shifted from them
#: by half a side along two or three axes (``between``, :func:`between_origins`) or along one
#: (``beside``, :func:`beside_origins`).
KINDS = ("tiles", "between", "beside")


def place_cubes(bone: NDArray[np.bool_], side: int, kind: str = "tiles") -> list[Cube]:
    """The cubes of ``side`` voxels of one of the :data:`KINDS` in a 3D bone volume: its tiles,
    non-overlapping and centred in it, or the cubes half a side from them.

    Every cube is returned, flagged (``cancellous``) by its BV/TV; choose among them with
    ``[c for c in cubes if c.cancellous]``.

    Examples
    --------
    >>> import numpy as np
    >>> bone = np.zeros((100, 100, 100), bool); bone[::4] = True
    >>> cubes = place_cubes(bone, 40)
    >>> len(cubes), cubes[0].origin, cubes[0].cancellous
    (8, (10, 10, 10), True)
    >>> len(place_cubes(bone, 40, "between")), len(place_cubes(bone, 40, "beside"))
    (7, 12)
    """
    origins = {"tiles": tile_origins, "between": between_origins, "beside": beside_origins}
    if kind not in origins:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    bone = np.asarray(bone, dtype=bool)
    cubes = []
    for origin in origins[kind](bone.shape, side):
        fraction = float(bone[tuple(slice(o, o + side) for o in origin)].mean())
        cubes.append(Cube(origin, side, fraction, CANCELLOUS_BV_TV[0] <= fraction <= CANCELLOUS_BV_TV[1]))
    return cubes


def tile_origins(shape: tuple[int, ...], side: int) -> list[tuple[int, int, int]]:
    """Origins of the non-overlapping cubes of ``side`` voxels that tile a 3D volume of ``shape``,
    as a grid centred in it (the margins left over split evenly)."""
    if len(shape) != 3:
        raise ValueError(f"expected a 3D volume, got shape {tuple(shape)}")
    if side < 2 or side > min(shape):
        raise ValueError(f"side must lie in 2 … {min(shape)} voxels, got {side}")
    counts = [n // side for n in shape]
    starts = [(n - c * side) // 2 for n, c in zip(shape, counts)]
    return [tuple(int(s + i * side) for s, i in zip(starts, index)) for index in np.ndindex(*counts)]


def half_stride_origins(shape: tuple[int, ...], side: int, shifted: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Origins on the half-side lattice of the tiles of :func:`tile_origins` that are shifted from
    the tiling by half a side along as many axes as one of ``shifted`` (1, 2 or 3)."""
    tiles = tile_origins(shape, side)
    axes = [sorted({origin[a] for origin in tiles}) for a in range(3)]
    halves = [[start + side // 2 for start in starts[:-1]] for starts in axes]
    choices = [[(value, False) for value in starts] + [(value, True) for value in moved]
               for starts, moved in zip(axes, halves)]
    return [tuple(int(value) for value, _ in choice) for choice in itertools.product(*choices)
            if sum(moved for _, moved in choice) in shifted]


def between_origins(shape: tuple[int, ...], side: int) -> list[tuple[int, int, int]]:
    """Origins of the cubes between the tiles of :func:`tile_origins`: shifted from the tiling by
    half a side along two or three axes.

    Such a cube shares at most a quarter of its volume with any one tile (one shifted along a
    single axis shares half with each of two, :func:`beside_origins`), so it is largely new
    bone, yet cut from the same scan: more training cubes of a specimen at the cost of their FE
    labels only. A volume of 2 × 2 × 2 tiles has 7 of them.

    Examples
    --------
    >>> between_origins((124, 124, 124), 50)[:2]
    [(12, 37, 37), (62, 37, 37)]
    >>> len(between_origins((124, 124, 124), 50)), len(between_origins((124, 124, 60), 50))
    (7, 1)
    """
    return half_stride_origins(shape, side, (2, 3))


def beside_origins(shape: tuple[int, ...], side: int) -> list[tuple[int, int, int]]:
    """Origins of the cubes beside the tiles of :func:`tile_origins`: shifted from the tiling by
    half a side along one axis, so that each shares half its volume with each of two tiles. With
    :func:`between_origins` and the tiles they make every cube position of the half-side lattice:
    a volume of 2 × 2 × 2 tiles has 12 of them (27 positions in all).

    >>> len(beside_origins((124, 124, 124), 50)), beside_origins((124, 124, 124), 50)[0]
    (12, (12, 12, 37))
    """
    return half_stride_origins(shape, side, (1,))


def cube_materials(grey: NDArray, calibration) -> tuple[NDArray, NDArray]:
    """E (MPa) and ν of a grey cube by the paper's route in 3D: the Scanco smoothing with periodic
    edges, the calibration to ρ_HA, Eq. 1 (:func:`bonelib.imaging.density.material_maps`)."""
    from bonelib.imaging.density import (
        check_calibration,
        material_maps,
        smooth,
        to_vbmd,
    )

    if np.ndim(grey) != 3:
        raise ValueError(f"grey must be a 3D cube, got shape {np.shape(grey)}")
    check_calibration(calibration)
    return material_maps(to_vbmd(smooth(np.asarray(grey, dtype=np.float64), edges="periodic"), calibration))


def cube_moduli(cube: NDArray[np.bool_], voxel_size_mm: float, axis: int = 0) -> dict[str, float]:
    """Periodic and platen moduli (MPa) of a segmented cube of tissue of :data:`bonelib.fe.materials.TISSUE_MODULUS`.

    Returns
    -------
    dict
        ``E_x``, ``E_y``, ``E_z`` (periodic, uniaxial stress along array axes 2, 1, 0),
        ``E_platens`` (compression between frictionless platens along ``axis``), ``bv_tv``,
        ``wraps`` (the bone wraps the periodic cell along all three axes) and ``bone_kept``.
    """
    E, nu = tissue_maps(cube, TISSUE_MODULUS, TISSUE_POISSON)
    periodic = homogenise_3d(E, nu, voxel_size_mm)
    platens = compression_test(E, nu, axis)
    return {"E_x": float(periodic.E[0]), "E_y": float(periodic.E[1]), "E_z": float(periodic.E[2]),
            "E_platens": platens.E_apparent, "bv_tv": float(np.mean(cube)), "wraps": bool(periodic.wraps.all()),
            "bone_kept": periodic.bone_kept}


def percolation_rows(bone: NDArray[np.bool_], side: int) -> list[dict]:
    """Whether each cancellous cube of a volume, and each of its transverse sections, carries load
    across its periodic cell.

    Returns
    -------
    list of dict
        One row per cube of :func:`place_cubes` that is ``cancellous``: ``origin``, ``bv_tv``,
        ``cube_wraps`` (its bone wraps along all three axes, so the 3D cell is load-bearing in
        every direction) and ``sections_wrap`` (share of its sections normal to axis 0 whose
        bone wraps along at least one in-plane axis, as the 2D route needs).
    """
    from bonelib.morphometry.connectivity import percolation

    rows = []
    for cube in place_cubes(bone, side):
        if not cube.cancellous:
            continue
        voxels = cube.of(bone)
        sections = [bool(percolation(section).any()) for section in voxels if section.any()]
        rows.append({"origin": cube.origin, "bv_tv": cube.bv_tv, "cube_wraps": bool(percolation(voxels).all()),
                     "sections_wrap": float(np.mean(sections)) if sections else 0.0})
    return rows


def central_wrapping_origin(rows: list[dict], shape: tuple[int, ...], side: int) -> tuple[int, int, int]:
    """The origin of the cube nearest the volume's centre among those whose bone wraps.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`percolation_rows` of one volume.
    shape : tuple of int
        The volume's shape (voxels).
    side : int
        The cubes' side (voxels).

    >>> central_wrapping_origin([{"origin": (0, 0, 0), "cube_wraps": True},
    ...                          {"origin": (40, 40, 40), "cube_wraps": True},
    ...                          {"origin": (45, 45, 45), "cube_wraps": False}], (125, 125, 125), 40)
    (40, 40, 40)
    """
    wrapping = [row["origin"] for row in rows if row["cube_wraps"]]
    if not wrapping:
        raise ValueError("no cube of the volume wraps along every axis")
    centre = (np.array(shape) - side) / 2
    return tuple(int(o) for o in min(wrapping, key=lambda origin: np.abs(np.array(origin) - centre).sum()))


def volume_modulus(origins: list[tuple[int, int, int]], moduli: NDArray) -> dict[str, float]:
    """E_z (MPa) of a tiled volume from its cubes' E_z: each layer of cubes along z side by side
    (in parallel: their mean, equal strain), the layers one upon another (in series: the harmonic
    mean, equal stress). The Voigt (mean of all) and Reuss (harmonic mean of all) bounds hold it.

    >>> volume_modulus([(0, 0, 0), (0, 0, 50), (50, 0, 0), (50, 0, 50)], np.array([100.0, 300.0, 200.0, 200.0]))
    {'E_z': 200.0, 'reuss': 171.42857142857142, 'voigt': 200.0, 'layers': 2}
    """
    moduli = np.asarray(moduli, dtype=float)
    z = np.array([origin[0] for origin in origins])
    layers = [moduli[z == level].mean() for level in np.unique(z)]
    return {"E_z": float(len(layers) / np.sum(1.0 / np.array(layers))),
            "reuss": float(len(moduli) / np.sum(1.0 / moduli)), "voigt": float(moduli.mean()), "layers": len(layers)}
