"""The labelled dataset: CT slices and their FE effective moduli (paper sections 2.1 and 2.3).

:func:`label` is the one definition of a sample's label, used by the build and by anyone
checking it. :func:`build` turns the synthetic cohort (or a folder of the user's scans)
into a Zarr store, one group per vertebra; :func:`load` reads one split of it back.

Layout of a store::

    DATASET.zarr/            root attributes: parameters, split, versions, git revision
      vertebrae/D01-T11/     one group per vertebra, written whole or not at all
        images               (n, 182, 182) grey values, int16 or float32
        E_eff, nu_eff        (n,) effective modulus (MPa) and Poisson's ratio
        C                    (n, 3, 3) effective stiffness (MPa)
        bmd, bv_tv, tb_th    (n,) mean ρ_HA (mg HA/cm³), BV/TV, Tb.Th (mm)
        slice                (n,) slice index in the vertebra's volume of interest
        split_donor          (n,) 0 train, 1 validation, 2 test, by donor
        split_random         (n,) the same, drawn at random over all slices (as the paper)

Each vertebra is computed by one task, written under a temporary name and renamed into
place when complete, so a build killed at any moment resumes where it stopped, with no
duplicate and no missing sample.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib import reference
from bonelib._checks import finite_array
from bonelib.density import Calibration, material_maps, smooth, to_vbmd
from bonelib.fe import Homogenisation, homogenise
from bonelib.morphometry import slice_descriptors
from bonelib.synth import SLICE_PX, VOXEL_SIZE_MM, VertebraSpec, plan

SPLITS = ("train", "val", "test")
SCHEMES = ("donor", "random")
FORMAT_VERSION = 1


def label(
    grey: ArrayLike,
    calibration: Calibration,
    voxel_size_mm: float = VOXEL_SIZE_MM,
    fields: bool = False,
    solver: str = "auto",
) -> Homogenisation:
    """Effective plane-stress properties of one 2D CT slice, the paper's FE route.

    Gaussian smoothing (σ = 1.2, support 2, periodic edges) → ρ_HA through the scanner
    calibration → E (Eq. 1) and ν per pixel → periodic Q4 homogenisation (Eq. 2–5).
    Smoothing with periodic edges matches the periodic cell of the FE model, so the label
    is exactly invariant under periodic shifts, flips and 90° rotations of the image.

    Parameters
    ----------
    grey : array_like
        2D grey values (rows, cols).
    calibration : Calibration
        Grey value → mg HA/cm³.
    voxel_size_mm : float
        Pixel size (mm).
    fields : bool
        Also compute the strain and stress fields.
    solver : str
        FE backend (see :func:`bonelib.fe.homogenise`).

    Returns
    -------
    Homogenisation
        ``C`` (MPa), ``E_eff`` (MPa), ``nu_eff`` and, if asked, ``fields``.
    """
    return label_density(density_map(grey, calibration), voxel_size_mm, fields, solver)


def label_density(
    rho_ha: ArrayLike,
    voxel_size_mm: float = VOXEL_SIZE_MM,
    fields: bool = False,
    solver: str = "auto",
) -> Homogenisation:
    """The FE half of :func:`label`: Eq. 1 materials and periodic homogenisation of a ρ_HA map.

    Parameters
    ----------
    rho_ha : array_like
        2D mineral density after smoothing (mg HA/cm³), as :func:`density_map` returns it.
    voxel_size_mm, fields, solver
        As in :func:`label`.
    """
    E, nu = material_maps(rho_ha)
    return homogenise(E, nu, voxel_size=voxel_size_mm, fields=fields, solver=solver)


def density_map(grey: ArrayLike, calibration: Calibration) -> NDArray:
    """ρ_HA (mg HA/cm³) of a 2D slice as the FE model sees it: smoothed with periodic edges.

    Computed in float64 whatever the input dtype, so that a label does not depend on how
    the grey values were stored.
    """
    grey = finite_array(grey, "grey", ndim=2).astype(np.float64, copy=False)
    return to_vbmd(smooth(grey, edges="periodic"), calibration)


@dataclass(frozen=True)
class Scale:
    """Size of a synthetic dataset build.

    Attributes
    ----------
    n_donors : int
        Donors of the cohort (three levels each).
    samples : int
        Total number of slices; spread over the vertebrae as evenly as possible.
    test_donors, val_donors : int
        Donors held out for testing and for validation in the donor split.
    random_counts : tuple of int or None
        (train, val, test) sizes of the random split; None: the sizes of the donor split.
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


@dataclass(frozen=True)
class Task:
    """One vertebra to label: where its grey values come from and where its samples go."""

    key: str
    donor: str
    level: str
    n_slices: int
    split_donor: int
    split_random: tuple[int, ...]
    spec: VertebraSpec | None = None
    scan: str | None = None
    calibration: tuple[float, float] | None = None


def _slice_counts(n_vertebrae: int, total: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Slices per vertebra summing to ``total``, differing by at most one, order drawn at random."""
    counts = np.full(n_vertebrae, total // n_vertebrae)
    counts[rng.permutation(n_vertebrae)[: total % n_vertebrae]] += 1
    return counts


def _donor_split(donors: Sequence[str], test: int, val: int, rng: np.random.Generator) -> dict[str, int]:
    """Assign whole donors to train (0), validation (1) and test (2)."""
    if test + val >= len(donors):
        raise ValueError(f"{len(donors)} donors cannot hold {test} test and {val} validation donors and a training set")
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


def _synthetic_tasks(scale: Scale, seed: int) -> list[Task]:
    specs = plan(n_donors=scale.n_donors, seed=seed)
    rng = np.random.default_rng([seed, 1])
    counts = _slice_counts(len(specs), scale.samples, rng)
    donor_of = _donor_split([s.donor for s in specs], scale.test_donors, scale.val_donors, rng)
    donor_split = [donor_of[s.donor] for s in specs]
    sizes = scale.random_counts or [int(sum(c for c, d in zip(counts, donor_split) if d == k)) for k in range(3)]
    random_split = _random_split(counts, sizes, rng)
    return [
        Task(key=f"{s.donor}-{s.level}", donor=s.donor, level=s.level, n_slices=int(n), split_donor=d,
             split_random=r, spec=s)
        for s, n, d, r in zip(specs, counts, donor_split, random_split)
    ]


def _scan_tasks(folder: Path, calibration: Calibration, seed: int, test: int, val: int) -> list[Task]:
    """One task per scan (file or sub-folder) of ``folder``; the name's stem is the donor id."""
    from bonelib.io import load_scan

    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise ValueError(f"{folder}: no scans in this folder")
    sizes = []
    for entry in entries:
        image, _ = load_scan(entry)
        if image.ndim != 3 or min(image.shape[1:]) < SLICE_PX:
            raise ValueError(f"{entry}: need a stack of slices of at least {SLICE_PX} × {SLICE_PX} px, got {image.shape}")
        sizes.append(image.shape[0])
    rng = np.random.default_rng([seed, 1])
    donors = [p.stem.split("-")[0] for p in entries]
    donor_of = _donor_split(donors, test, val, rng)
    split = [donor_of[d] for d in donors]
    random_split = _random_split(sizes, [sum(n for n, s in zip(sizes, split) if s == k) for k in range(3)], rng)
    return [
        Task(key=p.stem, donor=d, level=p.stem[len(d) + 1:] or "-", n_slices=n, split_donor=s, split_random=r,
             scan=str(p), calibration=(calibration.slope, calibration.intercept))
        for p, d, n, s, r in zip(entries, donors, sizes, split, random_split)
    ]


def _volume(task: Task) -> tuple[NDArray, Calibration]:
    """Grey values (n_slices, 182, 182) of a task's volume of interest, and their calibration."""
    if task.spec is not None:
        vertebra = task.spec.scan(n_slices=task.n_slices)
        return vertebra.volume, vertebra.calibration
    from bonelib.io import load_scan
    from bonelib.voi import cancellous_voi

    image, voxel = load_scan(task.scan)
    volume = image if image.shape[1:] == (SLICE_PX, SLICE_PX) else cancellous_voi(
        image, voxel_size_mm=voxel or VOXEL_SIZE_MM).volume
    return volume, Calibration(*task.calibration)


def label_vertebra(task: Task, vertebrae: str) -> dict:
    """Label every slice of one vertebra and write its group atomically; return a summary.

    Runs on a Dask worker. Writes ``vertebrae/<key>`` under a temporary name first and renames
    it into place only once complete.
    """
    import zarr

    volume, calibration = _volume(task)
    n = volume.shape[0]
    results = {name: np.empty(n) for name in ("E_eff", "nu_eff", "bmd", "bv_tv", "tb_th")}
    results["C"] = np.empty((n, 3, 3))
    for index, grey in enumerate(volume):
        rho_ha = density_map(grey, calibration)  # the first half of label(), computed once
        result = label_density(rho_ha)
        results["E_eff"][index], results["nu_eff"][index] = result.E_eff, result.nu_eff
        results["C"][index] = result.C
        for name, value in slice_descriptors(rho_ha, VOXEL_SIZE_MM).items():
            results[name][index] = value

    final = Path(vertebrae) / task.key
    temporary = Path(vertebrae) / f".partial-{task.key}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    group = zarr.open_group(str(temporary), mode="w")
    group.create_array("images", data=volume, chunks=(1, SLICE_PX, SLICE_PX))
    for name, values in results.items():
        group.create_array(name, data=values)
    group.create_array("slice", data=np.arange(n, dtype=np.int32))
    group.create_array("split_donor", data=np.full(n, task.split_donor, dtype=np.int8))
    group.create_array("split_random", data=np.asarray(task.split_random, dtype=np.int8))
    group.attrs.update({"donor": task.donor, "level": task.level, "calibration": [calibration.slope, calibration.intercept],
                        "seed": task.spec.seed if task.spec else None, "scan": task.scan,
                        "microarchitecture": asdict(task.spec.microarchitecture) if task.spec else None})
    os.replace(temporary, final)
    return {"key": task.key, "samples": n}


def _provenance() -> dict:
    """Package versions, git revision and time of the build."""
    versions = {}
    for package in ("bonelib", "numpy", "scipy", "scikit-image", "zarr", "dask", "scikit-sparse"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                  cwd=Path(__file__).parent, timeout=10).stdout.strip() or None
    except OSError:
        revision = None
    return {"versions": versions, "git_revision": revision, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


#: Modules whose code decides the images and labels; a change to any of them makes a new dataset.
LABEL_CODE = ("synth.py", "voi.py", "density.py", "morphometry.py", "dataset.py", "fe")


def code_fingerprint() -> str:
    """Hash of the bonelib sources that generate and label the samples."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for name in LABEL_CODE:
        for source in sorted((package / name).rglob("*.py")) if (package / name).is_dir() else [package / name]:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(parameters: dict) -> str:
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:16]


def _prepare(out: Path, parameters: dict, tasks: list[Task], replace: bool):
    """Open or create the store; refuse (or, with ``replace``, rebuild) one that holds another dataset."""
    import zarr

    fingerprint = _fingerprint(parameters)
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
                       "vertebrae": [t.key for t in tasks], "complete": False})
    (out / "vertebrae").mkdir()
    return root


def build(
    out: str | Path,
    scale: str | Scale = "ci",
    seed: int = 0,
    scheduler: str | None = None,
    scans: str | Path | None = None,
    calibration: Calibration | None = None,
    split: str = "donor",
    n_workers: int | None = None,
    progress: bool = True,
    replace: bool = False,
) -> Path:
    """Build (or resume) a labelled dataset in a Zarr store.

    Parameters
    ----------
    out : path
        The ``.zarr`` store to create or resume.
    scale : {"ci", "paper"} or Scale
        ``"paper"``: 35 donors × T11/T12/L1, 10,896 slices; ``"ci"``: 6 donors, 288 slices.
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
    split : {"donor", "random"}
        The split that :func:`load` returns by default; both are stored.
    n_workers : int, optional
        Workers of the local cluster (default: the number of cores).
    progress : bool
        Show a progress bar (samples).
    replace : bool
        Rebuild a store that holds another bonelib dataset (other parameters, or labels made
        by other code) instead of refusing it. A folder that is not a bonelib dataset is
        never deleted.

    Returns
    -------
    pathlib.Path
        The store.
    """
    out = Path(out)
    if split not in SCHEMES:
        raise ValueError(f"split must be one of {SCHEMES}, got {split!r}")
    if scans is not None:
        if calibration is None:
            raise ValueError("scans need a calibration (grey value → mg HA/cm³)")
        tasks = _scan_tasks(Path(scans), calibration, seed, test=1, val=1)
        parameters = {"scans": str(Path(scans).resolve()), "calibration": [calibration.slope, calibration.intercept],
                      "seed": seed}
    else:
        chosen = SCALES[scale] if isinstance(scale, str) else scale
        tasks = _synthetic_tasks(chosen, seed)
        parameters = {"scale": scale if isinstance(scale, str) else asdict(chosen), "seed": seed}
    parameters.update(format=FORMAT_VERSION, code=code_fingerprint())
    root = _prepare(out, parameters, tasks, replace)
    vertebrae = out / "vertebrae"
    for stale in vertebrae.glob(".partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    todo = [t for t in tasks if not (vertebrae / t.key).exists()]
    _run(todo, str(vertebrae), scheduler, n_workers, progress, total=sum(t.n_slices for t in tasks))
    root.attrs.update({"complete": True, "default_split": split, "samples": sum(t.n_slices for t in tasks),
                       **_provenance()})
    return out


def _run(tasks: list[Task], vertebrae: str, scheduler: str | None, n_workers: int | None, progress: bool,
         total: int) -> None:
    """Label the tasks, in this process or on Dask, with a progress bar counting samples."""
    from tqdm import tqdm

    done = total - sum(t.n_slices for t in tasks)
    with tqdm(total=total, initial=done, unit="sample", desc="labelling", disable=not progress) as bar:
        if scheduler == "synchronous":
            for task in tasks:
                bar.update(label_vertebra(task, vertebrae)["samples"])
            return
        from dask.distributed import Client, LocalCluster, as_completed

        if scheduler is None:
            cluster = LocalCluster(n_workers=n_workers or os.cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=":0",
                                   env={v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
        try:
            # Longest tasks first keeps the workers busy to the end.
            futures = [client.submit(label_vertebra, t, vertebrae, key=f"label-{t.key}", pure=False)
                       for t in sorted(tasks, key=lambda t: -t.n_slices)]
            for future in as_completed(futures):
                bar.update(future.result()["samples"])
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


@dataclass
class Samples:
    """One split of a dataset, in memory.

    Attributes
    ----------
    images : numpy.ndarray
        (N, 182, 182, 1) float32 grey values.
    E_eff, nu_eff, bmd, bv_tv, tb_th : numpy.ndarray
        (N,) effective modulus (MPa), Poisson's ratio, mean ρ_HA (mg HA/cm³), BV/TV, Tb.Th (mm).
    C : numpy.ndarray
        (N, 3, 3) effective stiffness (MPa).
    donor, level : numpy.ndarray
        (N,) donor ids and spinal levels.
    slice : numpy.ndarray
        (N,) slice index in its vertebra.
    calibration : Calibration
        Grey value → mg HA/cm³ (the first vertebra's; synthetic cohorts share one).
    """

    images: NDArray[np.float32]
    E_eff: NDArray
    nu_eff: NDArray
    C: NDArray
    bmd: NDArray
    bv_tv: NDArray
    tb_th: NDArray
    donor: NDArray
    level: NDArray
    slice: NDArray
    calibration: Calibration

    def __len__(self) -> int:
        return len(self.E_eff)


def _open(path: str | Path):
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dataset")
    try:
        root = zarr.open_group(str(path), mode="r")
        attrs = dict(root.attrs)
    except Exception as error:
        raise ValueError(f"{path}: not a bonelib dataset ({error})") from error
    if attrs.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a bonelib dataset of format {FORMAT_VERSION}")
    if not attrs.get("complete"):
        finished = sum((path / "vertebrae" / k).exists() for k in attrs["vertebrae"])
        raise ValueError(f"{path}: incomplete build ({finished} of {len(attrs['vertebrae'])} vertebrae); run the build again")
    return path, attrs


def load(path: str | Path, split: str | None = None, scheme: str | None = None, images: bool = True) -> Samples:
    """Read one split of a dataset (or all of it) into memory.

    Parameters
    ----------
    path : path
        The store written by :func:`build`.
    split : {"train", "val", "test"} or None
        None reads every sample.
    scheme : {"donor", "random"} or None
        Which split; None takes the one chosen at build time.
    images : bool
        Read the images (False: labels and descriptors only, much faster).
    """
    import zarr

    path, attrs = _open(path)
    scheme = scheme or attrs.get("default_split", "donor")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    parts: dict[str, list] = {k: [] for k in ("images", "E_eff", "nu_eff", "C", "bmd", "bv_tv", "tb_th", "donor",
                                              "level", "slice")}
    calibration = None
    for key in attrs["vertebrae"]:
        group = zarr.open_group(str(path / "vertebrae" / key), mode="r")
        keep = np.ones(group["E_eff"].shape[0], bool) if split is None else \
            group[f"split_{scheme}"][:] == SPLITS.index(split)
        if not keep.any():
            continue
        calibration = calibration or Calibration(*group.attrs["calibration"])
        for name in ("E_eff", "nu_eff", "C", "bmd", "bv_tv", "tb_th", "slice"):
            parts[name].append(group[name][:][keep])
        if images:
            parts["images"].append(group["images"][:][keep].astype(np.float32)[..., None])
        parts["donor"].append(np.full(keep.sum(), group.attrs["donor"]))
        parts["level"].append(np.full(keep.sum(), group.attrs["level"]))
    if calibration is None:
        raise ValueError(f"{path}: the {scheme} split has no {split} samples")
    joined = {k: np.concatenate(v) for k, v in parts.items() if v}
    if not images:
        joined["images"] = np.empty((len(joined["E_eff"]), 0, 0, 1), np.float32)
    return Samples(calibration=calibration, **joined)


def describe(path: str | Path) -> dict:
    """Summary statistics of a dataset, against the paper's where it gives them.

    Returns sample counts per split and scheme, the distribution of E_eff (median, quartiles,
    range), the R² of a linear fit of E_eff on mean vBMD, and the distributions of BV/TV,
    vBMD and Tb.Th.
    """
    path, attrs = _open(path)
    everything = load(path, images=False)
    counts = {scheme: {s: len(load(path, s, scheme, images=False)) for s in SPLITS} for scheme in SCHEMES}
    E, bmd = everything.E_eff, everything.bmd
    slope, intercept = np.polyfit(bmd, E, 1)
    residual = E - (slope * bmd + intercept)
    r2 = 1 - residual.var() / E.var()

    def quantiles(values: NDArray) -> dict:
        q = np.nanpercentile(values, [0, 25, 50, 75, 100])
        return dict(zip(("min", "q25", "median", "q75", "max"), map(float, q)))

    return {
        "path": str(path),
        "parameters": attrs["parameters"],
        "samples": len(everything),
        "donors": int(len(set(everything.donor))),
        "split_counts": counts,
        "E_eff": quantiles(E),
        "bmd_fit": {"r2": float(r2), "slope": float(slope), "intercept": float(intercept)},
        "bv_tv": quantiles(everything.bv_tv),
        "bmd": quantiles(bmd),
        "tb_th_mm": quantiles(everything.tb_th),
        "paper": {"E_eff_median": reference.E_EFF_MEDIAN_MPA, "bmd_r2": reference.BMD_R2,
                  "counts": reference.SPLIT_COUNTS},
    }
