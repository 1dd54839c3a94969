"""The Zarr store of a dataset: writing one vertebra, opening, loading, describing, provenance.

Layout::

    DATASET.zarr/            root attributes: format, fingerprint, parameters, provenance
      vertebrae/D01-T11/     one group per vertebra, written whole or not at all,
                             one array per field of :data:`bonelib.slices.dataset.schema.FIELDS`

A vertebra's group is written under a temporary name and renamed into place when complete,
so a build killed at any moment resumes with no duplicate and no missing sample.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib import reference
from bonelib.constants import SLICE_PX
from bonelib.imaging.density import Calibration
from bonelib.slices.dataset.schema import (
    FIELDS,
    FORMAT_VERSION,
    LABELS,
    SCHEMES,
    SPLITS,
    Samples,
    field,
)
from bonelib.slices.dataset.sources import Task
from bonelib.versions import package_versions


def parameters_fingerprint(parameters: dict) -> str:
    """Hash of a build's parameters (label version included): the identity of a dataset.

    >>> parameters_fingerprint({"scale": "paper", "seed": 0, "cohort": "paper", "format": 2, "label_version": 1})
    'bf94b20c833acd69'
    """
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:16]


def write_vertebra(task: Task, vertebrae: str | Path) -> dict:
    """Label every slice of one vertebra and write its group atomically; return a summary.

    Runs on a Dask worker. Writes ``vertebrae/<key>`` under a temporary name first and renames
    it into place only once complete.
    """
    import zarr

    from bonelib.slices.label import slice_record

    source = task.source
    volume, calibration = source.volume()
    n = volume.shape[0]
    records = [slice_record(grey, calibration) for grey in volume]
    arrays = {name: np.array([r[name] for r in records], dtype=field(name).dtype) for name in LABELS}
    arrays["slice"] = np.arange(n, dtype=np.int32)
    arrays["split_donor"] = np.full(n, task.split_donor, dtype=np.int8)
    arrays["split_random"] = np.asarray(task.split_random, dtype=np.int8)

    final = Path(vertebrae) / source.key
    temporary = Path(vertebrae) / f".partial-{source.key}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    group = zarr.open_group(str(temporary), mode="w")
    group.create_array("images", data=volume, chunks=(1, SLICE_PX, SLICE_PX))
    for name, values in arrays.items():
        group.create_array(name, data=values)
    group.attrs.update({"donor": source.donor, "level": source.level,
                        "calibration": [calibration.slope, calibration.intercept], **source.attrs()})
    os.replace(temporary, final)
    return {"key": source.key, "samples": n}


def provenance() -> dict:
    """Package versions, git revision and time of a build."""
    versions = package_versions(("bonelib", "numpy", "scipy", "scikit-image", "zarr", "dask", "cvxopt"))
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                  cwd=Path(__file__).parent, timeout=10).stdout.strip() or None
    except OSError:
        revision = None
    return {"versions": versions, "git_revision": revision, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def open_store(path: str | Path) -> tuple[Path, dict]:
    """The path and root attributes of a complete store, or an error that says what is wrong."""
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dataset")
    try:
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception as error:
        raise ValueError(f"{path}: not a bonelib dataset ({error})") from error
    if attrs.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a bonelib dataset of format {FORMAT_VERSION} (rebuild it)")
    if not attrs.get("complete"):
        finished = sum((path / "vertebrae" / k).exists() for k in attrs["vertebrae"])
        raise ValueError(f"{path}: incomplete build ({finished} of {len(attrs['vertebrae'])} vertebrae); run the build again")
    return path, attrs


def fingerprint(path: str | Path) -> str:
    """The identity of a complete store: the hash of its parameters, label version included."""
    return open_store(path)[1]["fingerprint"]


def load(path: str | Path, split: str | None = None, scheme: str | None = None, images: bool = True) -> Samples:
    """Read one split of a dataset (or all of it) into memory.

    Parameters
    ----------
    path : path
        The store written by :func:`bonelib.slices.dataset.build`.
    split : {"train", "val", "test"} or None
        None reads every sample.
    scheme : {"donor", "random"} or None
        Which split scheme; None takes the one chosen at build time.
    images : bool
        Read the images (False: labels and descriptors only, much faster).

    Returns
    -------
    Samples
        One array per field (images as (N, 182, 182, 1) float32), donors, levels, calibration.
    """
    import zarr

    path, attrs = open_store(path)
    scheme = scheme or attrs["default_scheme"]
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    stored = [f.name for f in FIELDS if f.kind in ("label", "index")]
    parts: dict[str, list] = {name: [] for name in ("images", *stored, "donor", "level")}
    calibration = None
    for key in attrs["vertebrae"]:
        group = zarr.open_group(str(path / "vertebrae" / key), mode="r")
        code = group[f"split_{scheme}"][:]
        keep = np.ones(code.shape, bool) if split is None else code == SPLITS.index(split)
        if not keep.any():
            continue
        calibration = calibration or Calibration(*group.attrs["calibration"])
        for name in stored:
            parts[name].append(group[name][:][keep])
        if images:
            parts["images"].append(group["images"][:][keep].astype(np.float32)[..., None])
        parts["donor"].append(np.full(keep.sum(), group.attrs["donor"]))
        parts["level"].append(np.full(keep.sum(), group.attrs["level"]))
    if calibration is None:
        raise ValueError(f"{path}: the {scheme} scheme has no {split} samples")
    joined = {k: np.concatenate(v) for k, v in parts.items() if v}
    if not images:
        joined["images"] = np.empty((len(joined["E_eff"]), 0, 0, 1), np.float32)
    meta = {"fingerprint": attrs["fingerprint"], "parameters": attrs["parameters"], "scheme": scheme, "split": split}
    return Samples(calibration=calibration, meta=meta, **joined)


def _quantiles(values: NDArray) -> dict:
    q = np.nanpercentile(values, [0, 25, 50, 75, 100])
    return dict(zip(("min", "q25", "median", "q75", "max"), map(float, q)))


def describe(path: str | Path) -> dict:
    """Summary statistics of a dataset, against the paper's where it gives them.

    Returns sample counts per split and scheme, the distribution (min, quartiles, max) of
    every scalar label field with its unit, and the R² of a linear fit of E_eff on vBMD.
    """
    path, attrs = open_store(path)
    everything = load(path, images=False)
    counts = {scheme: {s: len(load(path, s, scheme, images=False)) for s in SPLITS} for scheme in SCHEMES}
    E, vbmd = everything.E_eff, everything.vbmd
    slope, intercept = np.polyfit(vbmd, E, 1)
    r2 = 1 - (E - (slope * vbmd + intercept)).var() / E.var()
    return {
        "path": str(path),
        "parameters": attrs["parameters"],
        "samples": len(everything),
        "donors": int(len(set(everything.donor))),
        "split_counts": counts,
        "fields": {f.name: {"unit": f.unit, "description": f.description, **_quantiles(getattr(everything, f.name))}
                   for f in FIELDS if f.kind == "label" and f.shape == ()},
        "vbmd_fit": {"r2": float(r2), "slope": float(slope), "intercept": float(intercept)},
        "paper": {"E_eff_median": reference.E_EFF_MEDIAN_MPA, "vbmd_r2": reference.VBMD_R2,
                  "counts": reference.SPLIT_COUNTS},
    }
