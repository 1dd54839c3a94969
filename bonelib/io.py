"""Loading CT scans: TIFF stacks, DICOM series, Scanco AIM/ISQ, NRRD, NIfTI and NumPy files, on one path.

:func:`load_scan` returns the image as a NumPy array, (rows, cols) for one image and
(slices, rows, cols) for a stack, and the pixel size in mm when the file records it. It
only reads: nothing is written, and a bad input raises an error that names the file.

Volumes stored with their first index fastest (NRRD, NIfTI: ``volume[x, y, z]``) are
returned as ``(z, y, x)``, so that the stored slices ``[:, :, k]`` are the slices ``[k]``
of the returned stack, as in a TIFF stack or a DICOM series.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

TIFF_SUFFIXES = (".tif", ".tiff")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
NUMPY_SUFFIXES = (".npy", ".npz")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
SCANCO_SUFFIXES = (".aim", ".isq")
#: Keys looked for, in order, in an ``.npz`` archive.
NPZ_IMAGE_KEYS = ("volume", "image", "grey")
NPZ_VOXEL_KEY = "voxel_size_mm"


class ScanError(ValueError):
    """A scan that cannot be read: unreadable, empty, or with slices of mixed sizes."""


def _natural_key(path: Path) -> list:
    """Sort key that puts ``slice2`` before ``slice10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _check_image(array: NDArray, source: Path) -> NDArray:
    if array.size == 0:
        raise ScanError(f"{source}: the image is empty")
    if array.ndim not in (2, 3):
        raise ScanError(f"{source}: expected a 2D image or a 3D stack, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ScanError(f"{source}: grey values must be numeric, got dtype {array.dtype}")
    return array


def _stack(slices: list[NDArray], files: list[Path]) -> NDArray:
    """Stack 2D slices, naming the first file whose size differs from the first slice's."""
    for image, file in zip(slices, files):
        if image.ndim != 2:
            raise ScanError(f"{file}: expected one 2D slice per file, got shape {image.shape}")
        if image.shape != slices[0].shape:
            raise ScanError(
                f"{file}: slice of {image.shape[0]} × {image.shape[1]} px among slices of "
                f"{slices[0].shape[0]} × {slices[0].shape[1]} px ({files[0].name})"
            )
    return np.stack(slices)


def _read_numpy(path: Path) -> tuple[NDArray, float | None]:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            keys = [key for key in NPZ_IMAGE_KEYS if key in archive.files]
            arrays = [key for key in archive.files if key != NPZ_VOXEL_KEY]
            if keys:
                image = archive[keys[0]]
            elif len(arrays) == 1:
                image = archive[arrays[0]]
            else:
                raise ScanError(f"{path}: holds {sorted(archive.files)}; name the image one of {NPZ_IMAGE_KEYS}")
            voxel = float(archive[NPZ_VOXEL_KEY]) if NPZ_VOXEL_KEY in archive.files else None
            return image, voxel
    except ScanError:
        raise
    except Exception as error:
        raise ScanError(f"{path}: not a readable NumPy file ({error})") from error


def _read_nrrd(path: Path) -> tuple[NDArray, float | None]:
    """An NRRD volume as (z, y, x) and its in-plane spacing (mm, assumed the unit of the header)."""
    import nrrd

    try:
        image, header = nrrd.read(str(path), index_order="C")
    except Exception as error:
        raise ScanError(f"{path}: not a readable NRRD file ({error})") from error
    spacing = None
    if header.get("spacings") is not None:
        spacing = np.asarray(header["spacings"], dtype=float)[::-1]
    elif header.get("space directions") is not None:
        directions = np.asarray(header["space directions"], dtype=float)
        if np.all(np.isfinite(directions)):
            spacing = np.linalg.norm(directions, axis=1)[::-1]
    if spacing is not None and (spacing.size < 2 or not np.all(spacing > 0)):
        raise ScanError(f"{path}: the header's voxel spacing {spacing.tolist()} is not positive")
    return image, None if spacing is None else float(spacing[-1])


def _read_nifti(path: Path) -> tuple[NDArray, float | None]:
    """A NIfTI volume as (z, y, x) and its in-plane voxel size in mm (from the header's units)."""
    import nibabel

    try:
        image = nibabel.load(str(path))
        data = np.asarray(image.dataobj)
        zooms = image.header.get_zooms()
        unit = image.header.get_xyzt_units()[0]
    except Exception as error:
        raise ScanError(f"{path}: not a readable NIfTI file ({error})") from error
    if data.ndim not in (2, 3):
        raise ScanError(f"{path}: expected a 2D image or a 3D volume, got shape {data.shape}")
    if len(zooms) < 2 or not all(z > 0 for z in zooms[:2]):
        raise ScanError(f"{path}: the header's voxel size {zooms} is not positive")
    mm = {"mm": 1.0, "micron": 1e-3, "meter": 1e3}.get(unit)
    if mm is None:
        raise ScanError(f"{path}: the header gives no spatial unit ({unit!r}); set xyzt_units to mm")
    return np.ascontiguousarray(data.T), float(zooms[0]) * mm


def _read_scanco(path: Path) -> tuple[NDArray, float | None]:
    """A Scanco AIM or ISQ volume (slices first), rescaled by its header, and its in-plane voxel size (mm)."""
    try:
        import itk
    except ImportError as error:  # the optional reader
        raise ScanError(f"{path}: reading Scanco files needs itk-ioscanco (pip install itk-ioscanco)") from error
    try:
        image = itk.imread(str(path))
        data = itk.array_from_image(image)
        spacing = tuple(float(v) for v in image.GetSpacing())
        header = image.GetMetaDataDictionary()
        slope, intercept = (float(header[k]) if header.HasKey(k) else default
                            for k, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)))
    except Exception as error:
        raise ScanError(f"{path}: not a readable Scanco AIM/ISQ file ({error})") from error
    if not spacing or not all(v > 0 for v in spacing):
        raise ScanError(f"{path}: the header's voxel size {spacing} is not positive")
    if (slope, intercept) != (1.0, 0.0):
        data = data.astype(np.float32) * slope + intercept
    return data, spacing[0]


def _tiff_pixel_size(tif) -> float | None:
    """Pixel size (mm) from a TIFF's resolution tags, if they give a physical unit."""
    page = tif.pages[0]
    tags = page.tags
    if "XResolution" not in tags:
        return None
    numerator, denominator = tags["XResolution"].value
    if numerator == 0:
        return None
    per_unit = numerator / denominator
    unit = tags["ResolutionUnit"].value if "ResolutionUnit" in tags else 2
    mm_per_unit = {2: 25.4, 3: 10.0}.get(int(unit))
    if mm_per_unit is None and tif.imagej_metadata:
        mm_per_unit = {"mm": 1.0, "um": 1e-3, "µm": 1e-3, "micron": 1e-3}.get(tif.imagej_metadata.get("unit"))
    return None if mm_per_unit is None else mm_per_unit / per_unit


def _read_tiff(path: Path) -> tuple[NDArray, float | None]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return tif.asarray(), _tiff_pixel_size(tif)
    except Exception as error:
        raise ScanError(f"{path}: not a readable TIFF file ({error})") from error


def _read_tiff_folder(files: list[Path]) -> tuple[NDArray, float | None]:
    slices, voxel = [], None
    for file in files:
        image, size = _read_tiff(file)
        slices.append(_check_image(image, file))
        voxel = voxel if voxel is not None else size
    return _stack(slices, files), voxel


def _read_dicom_folder(files: list[Path]) -> tuple[NDArray, float | None]:
    import pydicom

    datasets = []
    for file in files:
        try:
            dataset = pydicom.dcmread(file)
            pixels = dataset.pixel_array
        except Exception as error:
            raise ScanError(f"{file}: not a readable DICOM image ({error})") from error
        datasets.append((dataset, pixels, file))

    def position(item) -> float:
        dataset = item[0]
        if "ImagePositionPatient" in dataset:
            return float(dataset.ImagePositionPatient[2])
        return float(getattr(dataset, "InstanceNumber", 0))

    datasets.sort(key=position)
    slices = [
        pixels.astype(np.float32) * float(getattr(ds, "RescaleSlope", 1.0)) + float(getattr(ds, "RescaleIntercept", 0.0))
        for ds, pixels, _ in datasets
    ]
    first = datasets[0][0]
    voxel = float(first.PixelSpacing[0]) if "PixelSpacing" in first else None
    return _stack(slices, [file for _, _, file in datasets]), voxel


def _is_dicom(file: Path) -> bool:
    if file.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(file, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _read_folder(folder: Path) -> tuple[NDArray, float | None]:
    files = sorted((f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")), key=_natural_key)
    tiffs = [f for f in files if f.suffix.lower() in TIFF_SUFFIXES]
    dicoms = [f for f in files if f not in tiffs and _is_dicom(f)]
    if tiffs and dicoms:
        raise ScanError(f"{folder}: holds both TIFF and DICOM files; keep one series per folder")
    if dicoms:
        return _read_dicom_folder(dicoms)
    if tiffs:
        return _read_tiff_folder(tiffs)
    raise ScanError(f"{folder}: no TIFF or DICOM files in this folder")


def load_scan(path: str | Path) -> tuple[NDArray, float | None]:
    """Load a CT image or stack from a TIFF, a DICOM series, or a NumPy file.

    Parameters
    ----------
    path : str or pathlib.Path
        One of: a (multi-page) TIFF file; a folder of single-slice TIFF files (read in
        natural name order); a folder holding one DICOM series (sorted by slice position,
        ``RescaleSlope``/``RescaleIntercept`` applied); an NRRD file (``.nrrd``, voxel size
        from ``spacings`` or ``space directions``, taken as mm); a NIfTI file (``.nii``,
        ``.nii.gz``, voxel size from the header in its stated unit); a Scanco ``.aim`` or ``.isq``
        file (read by itk-ioscanco; voxel size in mm and the header's ``RescaleSlope``/
        ``RescaleIntercept`` applied, as for DICOM); a ``.npy`` file; a ``.npz`` archive
        with the image under ``volume``, ``image`` or ``grey`` (or as its only array) and,
        optionally, ``voxel_size_mm``.

    Returns
    -------
    image : numpy.ndarray
        (rows, cols) for one image, (slices, rows, cols) for a stack.
    voxel_size_mm : float or None
        In-plane pixel size (mm) if the file records it, else None.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ScanError
        If the input is unreadable, empty, not 2D/3D, non-numeric, mixes slice sizes or
        file types; the message names the offending file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        image, voxel = _read_folder(path)
    elif path.suffix.lower() in TIFF_SUFFIXES:
        image, voxel = _read_tiff(path)
    elif path.suffix.lower() in NUMPY_SUFFIXES:
        image, voxel = _read_numpy(path)
    elif path.suffix.lower() in NRRD_SUFFIXES:
        image, voxel = _read_nrrd(path)
    elif path.name.lower().endswith(NIFTI_SUFFIXES):
        image, voxel = _read_nifti(path)
    elif path.suffix.lower() in SCANCO_SUFFIXES:
        image, voxel = _read_scanco(path)
    elif _is_dicom(path):
        image, voxel = _read_dicom_folder([path])
        image = image[0]
    else:
        raise ScanError(f"{path}: unknown format; expected .tif/.tiff, .nrrd, .nii/.nii.gz, Scanco .aim/.isq, "
                        ".npy/.npz, DICOM, "
                        "or a folder of TIFF or DICOM slices")
    return _check_image(image, path), voxel
