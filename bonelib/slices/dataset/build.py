"""Building a dataset: plan the vertebrae, label them on Dask (or in this process), resume after a stop."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bonelib.imaging.density import Calibration
from bonelib.slices.dataset.schema import FORMAT_VERSION, SCHEMES
from bonelib.slices.dataset.sources import (
    SCALES,
    Scale,
    Task,
    plan_tasks,
    scan_sources,
    synthetic_sources,
)
from bonelib.slices.dataset.store import (
    parameters_fingerprint,
    provenance,
    write_vertebra,
)
from bonelib.tasks import run_tasks
from bonelib.versions import SLICE_LABELS


def _identity(parameters: dict) -> dict:
    """A build's parameters with the store format and the label version of this code."""
    return {**parameters, "format": FORMAT_VERSION, "label_version": SLICE_LABELS}


def plan_synthetic(scale: str | Scale, seed: int, cohort: str = "paper") -> tuple[list[Task], dict]:
    """The vertebrae a synthetic dataset holds and the parameters that identify it.

    Both are what :func:`build` plans, so a dataset's vertebrae can be regenerated from its
    seed and checked without the store (:func:`bonelib.slices.crossval.regenerate`).

    >>> tasks, parameters = plan_synthetic("ci", seed=0)
    >>> len(tasks), sorted(parameters)
    (18, ['cohort', 'format', 'label_version', 'scale', 'seed'])
    """
    chosen = SCALES[scale] if isinstance(scale, str) else scale
    rng = np.random.default_rng([seed, 1])
    tasks = plan_tasks(synthetic_sources(chosen, seed, rng, cohort), chosen, rng)
    return tasks, _identity({"scale": scale if isinstance(scale, str) else asdict(chosen), "seed": seed,
                             "cohort": cohort})


def _prepare(out: Path, parameters: dict, tasks: list[Task], replace: bool):
    """Open or create the store; refuse (or, with ``replace``, rebuild) one that holds another dataset."""
    import zarr

    fingerprint = parameters_fingerprint(parameters)
    if out.exists():
        try:
            root = zarr.open_group(str(out), mode="r+")
            stored, theirs = root.attrs.get("fingerprint"), root.attrs.get("parameters")
        except Exception:
            stored, theirs = None, None
        if stored == fingerprint:
            return root
        if not (replace and stored is not None):
            raise ValueError(
                f"{out} exists and holds a different dataset ({'parameters ' + str(theirs) if stored else 'not a bonelib dataset'});"
                " choose another output path or delete it"
            )
        shutil.rmtree(out)
    root = zarr.open_group(str(out), mode="w")
    root.attrs.update({"format": FORMAT_VERSION, "fingerprint": fingerprint, "parameters": parameters,
                       "vertebrae": [t.source.key for t in tasks], "complete": False})
    (out / "vertebrae").mkdir()
    return root


def build(
    out: str | Path,
    scale: str | Scale = "ci",
    seed: int = 0,
    scheduler: str | None = None,
    scans: str | Path | None = None,
    calibration: Calibration | None = None,
    scheme: str = "donor",
    n_workers: int | None = None,
    progress: bool = True,
    replace: bool = False,
    cohort: str = "paper",
    voxel_size_mm: float | None = None,
) -> Path:
    """Build (or resume) a labelled dataset in a Zarr store.

    Parameters
    ----------
    out : path
        The ``.zarr`` store to create or resume.
    scale : {"ci", "paper"} or Scale
        ``"paper"``: 35 donors × T11/T12/L1, 10,896 slices; ``"ci"``: 6 donors, 288 slices.
        With ``scans``, only its held-out donor counts apply.
    seed : int
        Seed of the cohort and of the splits; the same seed gives bit-identical stores.
    scheduler : str, optional
        None: a local Dask cluster with one single-threaded worker per core;
        ``"synchronous"``: no Dask, in this process; an address such as
        ``"tcp://host:8786"``: an existing Dask cluster whose workers see ``out``.
    scans : path, optional
        Folder of the user's scans (one TIFF/DICOM/NumPy stack per vertebra, named
        ``DONOR-LEVEL``) to label instead of the synthetic cohort; needs ``calibration``.
    calibration : Calibration, optional
        Grey value → mg HA/cm³ of ``scans``.
    scheme : {"donor", "random"}
        The split scheme that :func:`~bonelib.slices.dataset.load` uses by default; both are stored.
    n_workers : int, optional
        Workers of the local cluster (default: the number of cores).
    progress : bool
        Show a progress bar (samples).
    replace : bool
        Rebuild a store that holds another bonelib dataset (other parameters, or labels made
        by other code) instead of refusing it. A folder that is not a bonelib dataset is
        never deleted.
    cohort : {"paper", "realistic"}
        Which synthetic cohort (:data:`bonelib.synth.COHORTS`): the paper-shaped one, or the
        rod–plate one that matches real vertebral bone.
    voxel_size_mm : float, optional
        Voxel size (mm) of ``scans``, for scans whose files do not record it (and replacing what
        they record); a scan whose voxel size is known neither way is refused. Scans at another
        voxel size than 82 µm are brought to it (:func:`bonelib.imaging.grid.to_network_grid`).

    Returns
    -------
    pathlib.Path
        The store.
    """
    out = Path(out)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if scans is not None:
        if calibration is None:
            raise ValueError("scans need a calibration (grey value → mg HA/cm³)")
        chosen = SCALES[scale] if isinstance(scale, str) else scale
        rng = np.random.default_rng([seed, 1])
        tasks = plan_tasks(scan_sources(scans, calibration, voxel_size_mm), chosen, rng)
        parameters = _identity({"scans": str(Path(scans).resolve()),
                                "calibration": [calibration.slope, calibration.intercept],
                                "voxel_size_mm": voxel_size_mm,
                                "held_out": [chosen.test_donors, chosen.val_donors], "seed": seed})
    else:
        tasks, parameters = plan_synthetic(scale, seed, cohort)
    root = _prepare(out, parameters, tasks, replace)
    vertebrae = out / "vertebrae"
    for stale in vertebrae.glob(".partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    todo = [t for t in tasks if not (vertebrae / t.source.key).exists()]
    total = sum(t.source.n_slices for t in tasks)
    run_tasks(write_vertebra, [(t, str(vertebrae)) for t in todo], scheduler=scheduler, n_workers=n_workers,
              progress=progress, weights=[t.source.n_slices for t in todo], count=lambda r: r["samples"],
              total=total, initial=total - sum(t.source.n_slices for t in todo), desc="labelling", unit="sample")
    root.attrs.update({"complete": True, "default_scheme": scheme, "samples": total, **provenance()})
    return out
