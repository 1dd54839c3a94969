"""Real human vertebral cancellous bone: the FDA L1 micro-CT regions of interest.

130 binary micro-CT volumes (201³ voxels of 51.3 µm, a cube of 10.3 mm) of the cancellous bone
of cadaveric human L1 vertebrae, 13 from each of 10 specimens, from the micro-CT collection
of the US FDA (CDRH/OSEL/DIDSR) as redistributed in the public repository
`qiancao/BoneBox <https://github.com/qiancao/BoneBox>`_ (commit ``3024b412``, folder
``data/rois/``; BSD 3-Clause licence, Copyright (c) 2021, Qian Cao). Bone was segmented
upstream with the isodata threshold.

Thirty of them, three per specimen (the quartiles of each specimen's BV/TV among the
ROIs that hold no cortical shell or endplate), ship with bonelib, so that the book and the
tests run with no network, as :mod:`skimage.data` does. The others are fetched on request
with :mod:`pooch` from the upstream repository at that commit and checked against their
SHA-256 before use; a download that does not match is refused and nothing of it is kept.

Examples
--------
>>> from bonelib import data
>>> roi = next(data.fda_l1_rois())
>>> roi.specimen, roi.bone.shape, roi.voxel_size_mm, roi.axis
('04665', (201, 201, 201), 0.0513, 0)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

#: The upstream repository and the commit the files are taken from.
UPSTREAM = "https://raw.githubusercontent.com/qiancao/BoneBox/3024b412b99bcc4bf5333416b8625dcd71dfddb3/data/rois/"
#: The files that ship with bonelib, and the registry of all 130 (sha256, BV/TV, shell flag).
SHIPPED = Path(__file__).parent / "fda_l1"
#: Voxel size of the scans (mm): 51.3 µm as stated for the collection (the upstream code rounds to 50 µm).
VOXEL_SIZE_MM = 0.0513
#: Axis of the returned volumes along the superior–inferior (principal trabecular) direction.
AXIS = 0


@dataclass(frozen=True)
class RegionOfInterest:
    """One micro-CT region of interest of real vertebral cancellous bone.

    Attributes
    ----------
    specimen : str
        Specimen (donor) id, e.g. ``"04665"``.
    roi : int
        ROI number within the collection.
    bone : numpy.ndarray
        3D boolean volume, True where bone; axis :data:`AXIS` (0) runs superior–inferior,
        so ``bone[k]`` is a transverse section, the plane HR-pQCT scans.
    voxel_size_mm : float
        Isotropic voxel size (mm).
    axis : int
        The principal (superior–inferior) axis of ``bone``.
    bv_tv : float
        Bone volume fraction of the ROI (dimensionless).
    shell : bool
        The ROI catches cortical shell or endplate (a near-solid slab, or flagged upstream):
        not pure cancellous bone.
    """

    specimen: str
    roi: int
    bone: NDArray[np.bool_]
    voxel_size_mm: float
    axis: int
    bv_tv: float
    shell: bool


def registry() -> list[dict]:
    """Every ROI of the collection: ``file``, ``specimen``, ``roi``, ``bv_tv``, ``delta_z``,
    ``shell``, ``sha256``, ``shipped``.

    ``delta_z`` is an FE displacement along the principal axis computed upstream under an
    undocumented load case: a rank-order stiffness proxy only.
    """
    with open(SHIPPED / "registry.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(roi=int(row["roi"]), bv_tv=float(row["bv_tv"]), delta_z=float(row["delta_z"]),
                   shell=row["shell"] == "1", shipped=row["shipped"] == "1")
    return rows


def fetch(name: str, base_url: str = UPSTREAM, cache: str | Path | None = None) -> Path:
    """The local path of one ROI file: the shipped copy, or a checked download (:func:`download`).

    Parameters
    ----------
    name : str
        File name, e.g. ``"isodata_04665_roi_13.nrrd"``.
    base_url, cache
        As in :func:`download`, for the files that do not ship.
    """
    if _row(name)["shipped"]:
        return SHIPPED / name
    return download(name, base_url, cache)


def download(name: str, base_url: str = UPSTREAM, cache: str | Path | None = None) -> Path:
    """Download one ROI file into ``cache`` (once) and check it against its registered SHA-256.

    Parameters
    ----------
    name : str
        File name, e.g. ``"isodata_04665_roi_13.nrrd"``.
    base_url : str
        Where the files are served (default: the upstream repository at the pinned commit).
    cache : path, optional
        Download folder (default: the user cache, ``pooch.os_cache("bonelib")``).

    Raises
    ------
    KeyError
        If ``name`` is not a file of the collection.
    ValueError
        If the download does not match its registered SHA-256: it is deleted, and nothing
        is left in ``cache``.
    """
    import pooch

    row = _row(name)
    fetcher = pooch.create(path=cache or pooch.os_cache("bonelib"), base_url=base_url,
                           registry={name: f"sha256:{row['sha256']}"})
    return Path(fetcher.fetch(name, progressbar=False))


def _row(name: str) -> dict:
    for row in registry():
        if row["file"] == name:
            return row
    raise KeyError(f"{name!r} is not a file of the FDA L1 collection")


def read(path: str | Path) -> NDArray[np.bool_]:
    """The bone of one ROI file: a boolean volume, superior–inferior along axis 0."""
    from bonelib.io import load_scan

    image, _ = load_scan(path)
    if image.ndim != 3:
        raise ValueError(f"{path}: expected a 3D ROI, got shape {image.shape}")
    return image > 0


def fda_l1_rois(subset: str = "shipped", specimens: Sequence[str] | None = None, shell: bool = False,
                **fetch_options) -> Iterator[RegionOfInterest]:
    """Yield the ROIs of the FDA L1 collection, read one at a time.

    Parameters
    ----------
    subset : {"shipped", "all"}
        The 30 ROIs that ship with bonelib (no network), or all 130 (the others are
        downloaded once, with checksums).
    specimens : sequence of str, optional
        Only these specimens.
    shell : bool
        Also yield the ROIs that catch cortical shell or endplate.
    **fetch_options
        ``base_url`` and ``cache`` of :func:`fetch`.
    """
    if subset not in ("shipped", "all"):
        raise ValueError(f"subset must be 'shipped' or 'all', got {subset!r}")
    for row in registry():
        if (subset == "shipped" and not row["shipped"]) or (row["shell"] and not shell):
            continue
        if specimens is not None and row["specimen"] not in specimens:
            continue
        bone = read(fetch(row["file"], **fetch_options))
        yield RegionOfInterest(specimen=row["specimen"], roi=row["roi"], bone=bone, voxel_size_mm=VOXEL_SIZE_MM,
                               axis=AXIS, bv_tv=float(bone.mean()), shell=row["shell"])
