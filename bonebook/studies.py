"""The studies of real bone that two chapters show, computed once into small result files.

The chapters only read these files and draw:

``slice_fe``   chapter "Periodic homogenisation": the 2D solver against exact results
               (homogeneous cell, bone–marrow laminates), a slice under periodic shifts, turns
               and flips, the Voigt and Reuss bounds, mesh refinement and the fields of one
               slice (``results/<scale>/slice_fe/``);
``density_reading`` chapter "From grey values to a heterogeneous FE model": Eq. 1's intercept
               read in mg/cm³ or in g/cm³, on synthetic slices and real sections
               (``results/<scale>/density_reading/``);
``own_scan``   chapter "Your own scan": a shipped ROI through the ``bonelib`` command line
               (``results/<scale>/own_scan/``);
``real_bone``  chapter "Real vertebral bone": the paper's 2D route on sections of the shipped
               real ROIs, against the synthetic cohorts, and the shipped 2D networks on
               them (``results/<scale>/real_bone/``);
``cube_fe``    chapter "Beyond 2D": load paths in real sections and cubes, the 3D solver's
               verification, periodic and platen moduli of real cubes, marrow, a stress
               field, the laws fitted on synthetic cubes tried on real ones, and the cost of
               a 3D label and of a 3D prediction (``results/<scale>/cubes3d/fe/``; it reads
               the 3D dataset's table and ensemble, so it runs after them).

Each writes a ``study.json`` last, with what made it (settings, versions, seconds, machine),
so a folder with one is complete.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bonebook import config
from bonebook.pipeline import log, machine
from bonelib._files import atomic_path, write_json

#: Versions of the two studies, bumped by hand when what they write changes.
STUDY_VERSIONS = {"slice_fe": 2, "real_bone": 1, "cube_fe": 1, "density_reading": 1, "own_scan": 4, "solver_scaling": 2}
#: How much too steep the calibration is that the own-scan study reads its scan with, as another
#: scanner's calibration would be (:func:`own_scan`).
MISCALIBRATION = 1.3
#: Side (voxels of 82 µm, 3.3 mm) of the real cubes of the 3D FE study.
CUBE_SIDE = 40


def real_bone_folder(scale: str) -> Path:
    """``results/<scale>/real_bone``."""
    return config.artefacts(scale).snapshot / "real_bone"


def slice_fe_folder(scale: str) -> Path:
    """``results/<scale>/slice_fe``."""
    return config.artefacts(scale).snapshot / "slice_fe"


def density_reading_folder(scale: str) -> Path:
    """``results/<scale>/density_reading``."""
    return config.artefacts(scale).snapshot / "density_reading"


def own_scan_folder(scale: str) -> Path:
    """``results/<scale>/own_scan``."""
    return config.artefacts(scale).snapshot / "own_scan"


def solver_scaling_folder(scale: str) -> Path:
    """``results/<scale>/solver_scaling``."""
    return config.artefacts(scale).snapshot / "solver_scaling"


def cube_fe_folder(scale: str) -> Path:
    """``results/<scale>/cubes3d/fe``."""
    return config.artefacts(scale).snapshot / "cubes3d" / "fe"


def identity(study: str, scale: str, settings: dict) -> dict:
    """What makes a study the study it is: its version, scale, seed and settings, the versions
    of the library code it runs (the 2D route's for ``real_bone``, the 3D route's for
    ``cube_fe``) and digests of the files it reads: the shipped 2D ensemble's index and domain
    (which its checks read) for ``real_bone``, both ensembles' for ``own_scan``, the 3D dataset's
    table and the 3D ensemble's index for ``cube_fe`` (none for ``solver_scaling``, which reads
    neither)."""
    from bonelib import versions
    made = {"study": study, "version": STUDY_VERSIONS[study], "scale": scale, "seed": config.SEED,
            "settings": settings}
    artefacts = config.artefacts(scale)
    if study == "real_bone":
        return {**made, "code": versions.slice_route(),
                "inputs": {"ensemble.json": _digest(artefacts.models / "ensemble.json"),
                           "domain.json": _digest(artefacts.models / "domain.json")}}
    if study in ("density_reading", "slice_fe"):
        return {**made, "code": versions.slice_route()}
    if study == "own_scan":
        return {**made, "code": {**versions.slice_route(), "cube_labels": versions.CUBE_LABELS,
                                 "cube_network": versions.CUBE_NETWORK},
                "inputs": {"ensemble.json": _digest(artefacts.models / "ensemble.json"),
                           "domain.json": _digest(artefacts.models / "domain.json"),
                           "ensemble3d.json": _digest(artefacts.models_3d / "ensemble.json"),
                           "domain3d.json": _digest(artefacts.models_3d / "domain.json")}}
    code = {"cube_labels": versions.CUBE_LABELS, "cube_network": versions.CUBE_NETWORK}
    if study == "solver_scaling":  # platen tests of a shipped ROI: it reads no dataset and no network
        return {**made, "code": code}
    inputs = {"cubes.csv": _digest(artefacts.snapshot / "cubes3d" / "cubes.csv"),
              "ensemble.json": _digest(artefacts.models_3d / "ensemble.json")}
    return {**made, "code": code, "inputs": inputs}


def _digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes (first 16 hex digits), None when it is missing."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def up_to_date(folder: Path, made: dict) -> bool:
    """Whether ``folder`` holds a complete study of identity ``made`` (:func:`identity`)."""
    record = folder / "study.json"
    return record.exists() and json.loads(record.read_text())["identity"] == made


def _study(name: str, settings_of: Callable[[str], dict], folder_of: Callable[[str], Path]):
    """Make ``compute(scale, settings, folder) -> summary`` the study ``name``, run as
    ``name(scale, force=False) -> folder``: skipped when its folder holds a study of the same
    identity (:func:`identity`; unless ``force``), else computed into its folder, whose
    ``study.json`` is removed first and written last (identity, seconds, machine, ``summary``),
    so that a folder with one is complete."""

    def decorate(compute: Callable[[str, dict, Path], dict]) -> Callable[..., Path]:
        @functools.wraps(compute, assigned=("__module__", "__name__", "__qualname__", "__doc__"))
        def run(scale: str, force: bool = False) -> Path:
            settings, folder = settings_of(scale), folder_of(scale)
            made = identity(name, scale, settings)
            if not force and up_to_date(folder, made):
                log(f"{name} ({scale}): up to date")
                return folder
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "study.json").unlink(missing_ok=True)
            began = time.time()
            summary = compute(scale, settings, folder)
            write_json(folder / "study.json", {"identity": made, "seconds": round(time.time() - began, 1),
                                               "machine": machine(), **summary})
            log(f"{name} ({scale}): done in {time.time() - began:.0f} s")
            return folder

        del run.__wrapped__  # its signature is run's: (scale, force=False)
        return run

    return decorate


def _progress(items, what: str, unit: str = "volume"):
    """``items`` with a progress bar on standard error (what is being done, how many, how long)."""
    from tqdm import tqdm

    return tqdm(items, desc=what, unit=unit, leave=False)


def _write_frame(path: Path, records: list[dict]) -> None:
    import pandas as pd

    with atomic_path(path) as temporary:
        pd.DataFrame(records).to_csv(temporary, index=False)


def read_table(path: Path):
    """A table of a study (or the 3D dataset's ``cubes.csv``) as a pandas DataFrame, with the
    specimens as text (``04665``, not 4665) and no warning as an empty text."""
    import pandas as pd

    table = pd.read_csv(path, dtype={"specimen": str, "warnings": str})
    return table.fillna({"warnings": ""}) if "warnings" in table else table


def _write_arrays(path: Path, **arrays) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def chosen_rois(count: int) -> list:
    """``count`` of the shipped real ROIs, evenly spread over the collection's order (by specimen)."""
    from bonelib import data
    shipped = list(data.fda_l1_rois())
    return [shipped[k] for k in np.linspace(0, len(shipped) - 1, count).round().astype(int)]


@_study("real_bone", lambda scale: config.REAL_BONE[scale], real_bone_folder)
def real_bone(scale: str, settings: dict, folder: Path) -> dict:
    """The chapter on real bone: realism, morphometry, the 2D route on real sections, the shipped networks."""
    from bonelib import synth
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.imaging import scanner
    from bonelib.morphometry import volume as morphometry3d
    from bonelib.morphometry.planar import section_measures
    from bonelib.slices import pretrained
    from bonelib.slices.label import density_map, label, label_density
    from bonelib.slices.sections import cut, fe_bone, section_rows
    from bonelib.synth import realism

    rois = chosen_rois(settings["rois"])
    scans = {roi.roi: scanner.scan(roi.bone, roi.voxel_size_mm, seed=roi.roi) for roi in _progress(rois, "scanning ROIs")}
    side = next(iter(scans.values()))[0].shape[0]
    specs = synth.plan(n_donors=35, seed=config.SEED)[:: 105 // settings["synthetic"]][: settings["synthetic"]]
    synthetic = {}
    for spec in _progress(specs, "paper-shaped volumes"):
        vertebra = spec.scan(n_slices=side)
        start = (vertebra.volume.shape[1] - side) // 2
        synthetic[f"{spec.donor}-{spec.level}"] = (vertebra.volume[:, start:start + side, start:start + side],
                                                   vertebra.calibration)
    realistic = list(_progress(realism.realistic_volumes(settings["synthetic"], seed=config.SEED), "realistic volumes"))
    log(f"real_bone ({scale}): {len(rois)} real ROIs, {len(synthetic)} paper-shaped and {len(realistic)} "
        "realistic volumes scanned")

    # Real and synthetic sections side by side (mg HA/cm³, rounded to 1 for display).
    roi = rois[0]
    grey, calibration = scans[roi.roi]
    key, (paper_grey, paper_calibration) = next(iter(synthetic.items()))
    realistic_grey, realistic_calibration = scanner.scan(realistic[0][0], realistic[0][1], seed=realistic[0][2])
    middle = side // 2
    panels = {f"real, transverse ({roi.specimen})": (grey[middle], calibration),
              f"real, longitudinal ({roi.specimen})": (grey[:, middle], calibration),
              "realistic synthetic, transverse": (realistic_grey[middle], realistic_calibration),
              f"paper-shaped synthetic ({key})": (paper_grey[middle], paper_calibration)}
    _write_arrays(folder / "panels.npz", titles=np.array(list(panels)),
                  images=np.stack([np.round(c.slope * image + c.intercept).astype(np.int16)
                                   for image, c in panels.values()]))

    # Morphometry of real and realistic bone, and the acceptance comparison.
    real = realism.measure_all(((r.bone, r.voxel_size_mm, r.roi) for r in _progress(rois, "morphometry, real")),
                               settings["sections"])
    measured = realism.measure_all(_progress(realistic, "morphometry, realistic"), settings["sections"])
    write_json(folder / "realism.json", {"real_volumes": len(rois), "realistic_volumes": len(realistic),
                                         "rows": realism.compare(real, measured)})
    log(f"real_bone ({scale}): morphometry")
    phases = [{"source": "real", **morphometry3d.describe(fe_bone(*scans[r.roi]), VOXEL_SIZE_MM)} for r in rois]
    phases += [{"source": "paper-shaped", **morphometry3d.describe(fe_bone(*cube), VOXEL_SIZE_MM)}
               for cube in synthetic.values()]
    _write_frame(folder / "morphometry_fe_phase.csv", phases)

    # The paper's 2D route on sections.
    records = []
    for r in _progress(rois, "sections"):
        records += section_rows(*scans[r.roi], VOXEL_SIZE_MM, settings["sections"], source="real, 82 µm",
                                specimen=r.specimen)
        native, native_calibration = scanner.scan(r.bone, r.voxel_size_mm, seed=r.roi, to_mm=r.voxel_size_mm)
        records += section_rows(native, native_calibration, r.voxel_size_mm, settings["sections"],
                                source="real, 51 µm", specimen=r.specimen)
    records += [{**row, "source": "realistic, 82 µm"} for row in measured["2d"]]
    for name, (grey, calibration) in synthetic.items():
        records += [row for row in section_rows(grey, calibration, VOXEL_SIZE_MM, settings["sections"],
                                                source="paper-shaped, 82 µm", specimen=name)
                    if row["orientation"] == "transverse"]
    _write_frame(folder / "sections.csv", records)
    log(f"real_bone ({scale}): {len(records)} sections labelled")

    # Real transverse sections cropped to centred squares.
    rows = []
    for width in (side // 2, 3 * side // 4, side):
        start = (side - width) // 2
        for r in rois:
            grey, calibration = scans[r.roi]
            for index, section in cut(grey, "transverse", settings["sections"]):
                rho_ha = density_map(section[start:start + width, start:start + width], calibration)
                measures = section_measures(rho_ha, VOXEL_SIZE_MM)
                rows.append({"width_px": width, "specimen": r.specimen, "roi": r.roi, "index": index,
                             "E_eff": label_density(rho_ha).E_eff,
                             "percolates": bool(measures["percolates_x"] or measures["percolates_y"])})
    _write_frame(folder / "section_size.csv", rows)

    # The shipped networks on real transverse sections.
    shipped = pretrained.load_pretrained(config.artefacts(scale).models)
    rows, resized = [], {}
    for r in rois:
        grey, calibration = scans[r.roi]
        for index, section in cut(grey, "transverse", settings["sections"]):
            ensemble = resized.setdefault(section.shape, shipped.resized(section.shape))
            mean, spread = ensemble.predict(section[None], calibration)
            reasons = ensemble.check(section[None], calibration)[0]
            rows.append({"specimen": r.specimen, "roi": r.roi, "index": index, "E_fe": label(section, calibration).E_eff,
                         "E_pred": float(mean[0]), "spread": float(spread[0]), "warnings": "; ".join(reasons)})
    _write_frame(folder / "shipped_networks.csv", rows)
    return {"side_px": side, "specimens": len({r.specimen for r in rois}),
            "rois": [r.roi for r in rois]}


@_study("slice_fe", lambda scale: config.SLICE_FE[scale], slice_fe_folder)
def slice_fe(scale: str, settings: dict, folder: Path) -> dict:
    """The 2D solver checked, on what chapter 3 shows: a homogeneous cell and bone–marrow
    laminates against their exact stiffness (``laminates.csv``), a slice of the synthetic cohort
    under periodic shifts, turns and flips (``symmetries.csv``), its Voigt and Reuss bounds
    (``bounds.csv``), each pixel split into 1, 2 and 4 elements a side on the slices of
    ``refinement_slices`` vertebrae from the best- to the worst-connected, this one first
    (``refinement.csv``, on the central ``refinement_side``² pixels; all of them without) and its
    von Mises stress and strain-energy density under a unit macro-strain along x (``fields.npz``,
    MPa)."""
    from bonelib import synth
    from bonelib.fe import homogenise
    from bonelib.fe.analytic import isotropic, laminate, reuss_bound, voigt_bound
    from bonelib.fe.solvers import available
    from bonelib.imaging import scanner
    from bonelib.imaging.density import MARROW_MODULUS, MARROW_POISSON, material_maps
    from bonelib.slices.label import density_map, label

    tissue, nu_tissue, layers = 12_000.0, 0.3, settings["layers"]
    homogeneous = homogenise(np.full((16, 16), tissue), np.full((16, 16), nu_tissue)).C
    records = []
    for bone_rows in range(1, layers):
        layer = (np.arange(layers) < bone_rows)[:, None] * np.ones((layers, 6), bool)
        fe = homogenise(np.where(layer, tissue, MARROW_MODULUS), np.where(layer, nu_tissue, MARROW_POISSON)).C
        exact = laminate([tissue, MARROW_MODULUS], [nu_tissue, MARROW_POISSON], [bone_rows, layers - bone_rows])
        nonzero = exact != 0
        records.append({"fraction": bone_rows / layers, "C11_fe": fe[0, 0], "C11": exact[0, 0], "C22_fe": fe[1, 1],
                        "C22": exact[1, 1], "error": float(np.max(np.abs(fe - exact)[nonzero] / np.abs(exact[nonzero])))})
    _write_frame(folder / "laminates.csv", records)

    specs = synth.plan(n_donors=35, seed=config.SEED)
    example = synth.well_connected(specs)
    grey = example.scan(n_slices=8).volume[4]
    E, nu = material_maps(density_map(grey, scanner.CALIBRATION))
    reference = homogenise(E, nu)
    transforms = {"shift (40, 97)": lambda a: np.roll(a, (40, 97), (0, 1)), "rotate 90°": np.rot90,
                  "flip rows": lambda a: np.flip(a, 0), "flip columns": lambda a: np.flip(a, 1),
                  "transpose": np.transpose}
    _write_frame(folder / "symmetries.csv", [{"transform": "none", "E_eff": reference.E_eff, "nu_eff": reference.nu_eff}]
                 + [{"transform": name, "E_eff": (h := homogenise(f(E), f(nu))).E_eff, "nu_eff": h.nu_eff}
                    for name, f in transforms.items()])
    bounds = {"Reuss": reuss_bound(E, nu), "FE": reference.C, "Voigt": voigt_bound(E, nu)}
    _write_frame(folder / "bounds.csv", [{"estimate": name, "C11": C[0, 0], "C22": C[1, 1], "C12": C[0, 1], "C33": C[2, 2]}
                                         for name, C in bounds.items()])
    # One element per pixel on the slice of several vertebrae, from the best- to the worst-connected
    # (quantiles of vertical perforation; the first is the example slice above).
    side = settings["refinement_side"] or len(E)
    crop = tuple(slice((n - side) // 2, (n - side) // 2 + side) for n in E.shape)
    cohort = sorted(specs, key=lambda s: s.microarchitecture.vertical_perforation)
    picks = [cohort[round(q * (len(cohort) - 1))] for q in np.linspace(0, 1, settings["refinement_slices"])]
    refined = []
    for spec in _progress(picks, "refined slices", "slice"):
        maps = (E, nu) if spec is example else material_maps(density_map(spec.scan(n_slices=8).volume[4],
                                                                          scanner.CALIBRATION))
        E_slice, nu_slice = (m[crop] for m in maps)
        refined += [{"donor": spec.donor, "level": spec.level,
                     "vertical_perforation": spec.microarchitecture.vertical_perforation,
                     "elements_per_pixel_side": k, "side_px": side,
                     "E_eff": homogenise(np.kron(E_slice, np.ones((k, k))), np.kron(nu_slice, np.ones((k, k)))).E_eff}
                    for k in (1, 2, 4)]
    _write_frame(folder / "refinement.csv", refined)
    fields = label(grey, scanner.CALIBRATION, fields=True).fields["xx"]
    with atomic_path(folder / "fields.npz") as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, von_mises=fields.von_mises.astype(np.float32),
                            strain_energy_density=fields.strain_energy_density.astype(np.float32))
    return {"homogeneous_error": float(np.abs(homogeneous - isotropic(tissue, nu_tissue)).max() / tissue),
            "solver": available(2)[0], "side_px": len(E)}


@_study("density_reading", lambda scale: config.DENSITY_READING[scale], density_reading_folder)
def density_reading(scale: str, settings: dict, folder: Path) -> dict:
    """Eq. 1's intercept read in mg/cm³ (as printed) or in g/cm³ (as in the relation it cites):
    the bone fraction (ρ_ash ≥ 400 mg/cm³) and the effective modulus of slices of the scale's
    synthetic dataset and of real transverse sections at 82 µm, under both readings
    (``slices.csv``)."""
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.fe import homogenise
    from bonelib.imaging import scanner
    from bonelib.imaging.density import (
        ASH_INTERCEPT_READINGS,
        MARROW_MODULUS,
        material_maps,
    )
    from bonelib.slices.dataset import plan_synthetic
    from bonelib.slices.label import density_map
    from bonelib.slices.sections import cut

    def row(source: str, specimen: str, index: int, rho_ha: np.ndarray) -> dict:
        out = {"source": source, "specimen": specimen, "index": index}
        for unit, intercept in ASH_INTERCEPT_READINGS.items():
            E, nu = material_maps(rho_ha, intercept=intercept)
            key = unit.split("/")[0]  # columns ..._mg and ..._g
            out[f"bone_fraction_{key}"] = float(np.mean(E > MARROW_MODULUS))
            out[f"E_eff_{key}"] = homogenise(E, nu, VOXEL_SIZE_MM).E_eff
        return out

    tasks, _ = plan_synthetic(scale, config.SEED)
    records = []
    for task in _progress(tasks[: settings["vertebrae"]], "synthetic vertebrae"):
        volume, calibration = task.source.volume()
        for index in np.linspace(0, len(volume) - 1, settings["slices"]).round().astype(int):
            records.append(row("synthetic", task.source.key, int(index), density_map(volume[index], calibration)))
    for roi in _progress(chosen_rois(settings["rois"]), "real ROIs"):
        grey, calibration = scanner.scan(roi.bone, roi.voxel_size_mm, seed=roi.roi)
        index, section = next(iter(cut(grey, "transverse", 1)))
        records.append(row("real, 82 µm", roi.specimen, int(index), density_map(section, calibration)))
    _write_frame(folder / "slices.csv", records)
    return {"readings": ASH_INTERCEPT_READINGS}


def _refusal(arguments: list[str]) -> str:
    """Run ``bonelib ARGUMENTS`` as a user would, expecting a refusal; return its message."""
    import contextlib
    import io

    from bonelib.cli import main

    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        status = main(arguments)
    if status != 2:
        raise RuntimeError(f"bonelib {' '.join(arguments)} exited with {status}, not with a refusal")
    return said.getvalue().strip()


def _command(arguments: list[str]) -> dict:
    """Run ``bonelib ARGUMENTS --json`` as a user would and return what it printed."""
    import contextlib
    import io

    from bonelib.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main([*arguments, "--json"])
    if status != 0:
        raise RuntimeError(f"bonelib {' '.join(arguments)} exited with {status}")
    return json.loads(printed.getvalue().strip().splitlines()[-1])


@_study("own_scan", lambda scale: config.OWN_SCAN[scale], own_scan_folder)
def own_scan(scale: str, settings: dict, folder: Path) -> dict:
    """The own-scan chapter: a shipped real ROI, scanned to an HR-pQCT-like grey volume and
    written as NRRD with its voxel size, run through the ``bonelib`` command line as a user
    would: ``info``, the 2D route on every transverse slice, the 3D route on its cubes (with
    their conformal intervals and the whole volume's E_z), the FE (periodic and both platen tests)
    of the first ``cubes`` of those cubes whose bone wraps, and the whole volume between platens.
    Beside it, what a user meets with other scans: the same volume as ``.npy`` without voxel size
    (refused), the ROI as a micro-CT scan at its own voxel size (resampled and blurred), and the
    scan read with a calibration :data:`MISCALIBRATION` times too steep (which cubes are flagged, and why);
    ``section.npz``: the grey section (superior–inferior, y) through the centres of the first column of cubes."""
    import tempfile

    import nrrd

    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.cubes.dataset import label_cube
    from bonelib.cubes.placement import cube_materials
    from bonelib.fe.homogenise_3d import elements_of
    from bonelib.imaging import scanner

    roi = chosen_rois(1)[0]
    grey, calibration = scanner.scan(roi.bone, roi.voxel_size_mm, seed=roi.roi)
    grey = np.round(grey).astype(np.int16)
    bone = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5  # the micro-structure at 82 µm
    calibration_text = f"{calibration.slope!r},{calibration.intercept!r}"
    models = config.artefacts(scale)
    with tempfile.TemporaryDirectory(prefix="own-scan-") as work:
        scan = Path(work) / "scan.nrrd"
        # (x, y, z) spacing in the header; the array is (z, y, x), superior–inferior along axis 0
        nrrd.write(str(scan), grey, {"spacings": [VOXEL_SIZE_MM] * 3}, index_order="C")
        info = _command(["info", str(scan)])
        slices = _command(["predict", str(scan), "--calibration", calibration_text, "--own-size",
                           "--model", str(models.models)])
        cubes = _command(["predict", str(scan), "--calibration", calibration_text, "--route", "3d",
                          "--model", str(models.models_3d)])
        whole = None
        if settings.get("whole", True):  # minutes: the paper scale's
            whole = _command(["homogenise", str(scan), "--platens", "--calibration", calibration_text])
        np.save(Path(work) / "scan.npy", grey)  # a file that records no voxel size
        refusal = _refusal(["predict", str(Path(work) / "scan.npy"), "--calibration", calibration_text, "--route", "3d",
                            "--model", str(models.models_3d)])
        # the ROI as a micro-CT scan at its own voxel size: its bone at tissue density in marrow
        micro_ct = Path(work) / "micro_ct.nrrd"
        scanner_model = scanner.Scanner()
        density = np.where(roi.bone, scanner_model.tissue_density, scanner_model.marrow_density)
        nrrd.write(str(micro_ct), np.round(calibration.grey_of(density)).astype(np.int16),
                   {"spacings": [roi.voxel_size_mm] * 3}, index_order="C")
        resampled = _command(["predict", str(micro_ct), "--calibration", calibration_text, "--route", "3d",
                              "--modality", "micro-ct", "--model", str(models.models_3d)])
        # the scan read with another scanner's calibration: its mean density may still look familiar
        misread = _command(["predict", str(scan), "--calibration",
                            f"{calibration.slope * MISCALIBRATION!r},{calibration.intercept!r}", "--route", "3d",
                            "--model", str(models.models_3d)])
        fe = {}
        side = json.loads((models.models_3d / "ensemble.json").read_text())["side"]
        for k, origin in enumerate(cubes["origin"]):
            if len(fe) == settings["cubes"]:
                break
            cube = grey[tuple(slice(o, o + side) for o in origin)]
            # FE of the cubes whose bone wraps around the cell; one that does not keeps its marrow,
            # a problem many times larger (bonelib.fe.homogenise_3d)
            if elements_of(cube_materials(cube, calibration)[0], "drop")[2] != "dropped":
                continue
            np.save(Path(work) / "cube.npy", cube)
            fe[k] = _command(["homogenise", str(Path(work) / "cube.npy"), "--cube", "--calibration", calibration_text,
                              "--voxel-size-mm", str(VOXEL_SIZE_MM)])
            # what the 3D network learnt: the FE label of the micro-CT bone at 82 µm, known here only
            # because this scan was made from a micro-CT ROI
            fe[k]["E_z_microstructure"] = label_cube(bone[tuple(slice(o, o + side) for o in origin)])["E_z"]
    info["path"] = "scan.nrrd"
    _write_frame(folder / "slices.csv", [{"slice": o[0], "E_eff": e, "spread": s, "warnings": "; ".join(w)}
                                         for o, e, s, w in zip(slices["origin"], slices["E_eff"], slices["spread"],
                                                               slices["warnings"])])
    rows = []
    micro_ct_moduli = dict(zip(map(tuple, resampled["origin"]), resampled["E_z"]))
    for k, (origin, e, s, w) in enumerate(zip(cubes["origin"], cubes["E_z"], cubes["spread"], cubes["warnings"])):
        row = {"z": origin[0], "y": origin[1], "x": origin[2], "E_z_network": e, "spread": s,
               "low": cubes["low"][k], "high": cubes["high"][k],
               "E_z_network_micro_ct": micro_ct_moduli.get(tuple(origin), np.nan), "warnings": "; ".join(w)}
        if k in fe:
            row |= {"E_z_microstructure": fe[k]["E_z_microstructure"], "E_z_periodic": fe[k]["E"][2],
                    "E_frictionless": fe[k]["E_platens_axis0"],
                    "E_bonded": fe[k]["E_bonded_platens_axis0"], "wraps": all(fe[k]["wraps"]),
                    "fe_seconds": fe[k]["seconds"]}
        rows.append(row)
    _write_frame(folder / "cubes.csv", rows)
    through = cubes["origin"][0][2] + side // 2  # a longitudinal section through the first column of cubes
    _write_arrays(folder / "section.npz", grey=grey[:, :, through], x=np.array(through),
                  calibration=np.array([calibration.slope, calibration.intercept]))
    return {"roi": {"specimen": roi.specimen, "roi": roi.roi, "voxel_size_mm": roi.voxel_size_mm},
            "calibration": [calibration.slope, calibration.intercept], "info": info,
            "seconds_2d": slices["seconds"], "seconds_3d": cubes["seconds"], "networks_2d": slices["networks"],
            "networks_3d": cubes["networks"], "level": cubes["level"], "volume": cubes["volume"],
            "whole": whole and {key: whole[key] for key in ("E_platens_axis0", "E_bonded_platens_axis0", "platen_dofs",
                                                         "solver", "seconds", "size_mm")},
            "refusal": refusal.replace(str(Path(work)) + "/", ""),
            "micro_ct": {"voxel_size_mm": roi.voxel_size_mm, "grid": resampled["grid"], "cubes": len(resampled["E_z"]),
                      "volume": resampled["volume"]},
            "miscalibrated": _misread_summary(cubes, misread)}


def _misread_summary(cubes: dict, misread: dict) -> dict:
    """How the 3D route answered a scan read with a calibration :data:`MISCALIBRATION` times too
    steep: how many cubes it flagged, by which reason, and its moduli against the right reading's."""
    warnings = misread["warnings"]
    return {"slope_factor": MISCALIBRATION, "cubes": len(warnings), "flagged": sum(bool(w) for w in warnings),
            "by_histogram": sum(any("percentile of ρ_HA" in r for r in w) for w in warnings),
            "by_mean_density": sum(any(r.startswith("mean ρ_HA") for r in w) for w in warnings),
            "flagged_before": sum(bool(w) for w in cubes["warnings"]),
            "median_modulus_ratio": float(np.median(np.array(misread["E_z"]) / np.array(cubes["E_z"])))}


#: One bonded platen test in a fresh process (its peak memory is its own, or ParOSol's process's):
#: a central n³ cube of the first shipped ROI at its native voxel size, tissue 10 GPa, ν 0.3.
_PLATEN_RUN = r"""
import json, resource, sys, time
from bonelib import data
from bonelib.fe import compression_test, tissue_maps

size, solver = int(sys.argv[1]), sys.argv[2]
roi = next(data.fda_l1_rois())
whole = roi.bone[1:-1, 1:-1, 1:-1]  # the ROI's 199³ of bone, without its empty frame of one voxel
bone = whole[tuple(slice((n - size) // 2, (n - size) // 2 + size) for n in whole.shape)]
E, nu = tissue_maps(bone)
began = time.perf_counter()
try:
    if solver == "parosol":
        result = compression_test(E, nu, platens="bonded", engine="parosol", voxel_size_mm=roi.voxel_size_mm)
    else:
        result = compression_test(E, nu, platens="bonded", solver=solver)
except MemoryError as refusal:
    print(json.dumps({"refused": str(refusal)}))
    sys.exit()
print(json.dumps({"seconds": time.perf_counter() - began, "E": result.E_apparent, "dofs": result.dofs,
                  "peak_gb": max(resource.getrusage(who).ru_maxrss for who in
                                 (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024 ** 2,
                  "voxel_size_mm": roi.voxel_size_mm}))
"""


def measure_platen_test(size: int, solver: str) -> dict:
    """Seconds, peak memory (GB), DOFs and modulus (MPa) of a bonded platen test of the central
    ``size``³ cube (at most 199³: the whole ROI, whose outer layer of voxels is empty) of the first
    shipped ROI at its native voxel size, by ``solver`` (a
    :mod:`bonelib.fe.solvers` backend, or ``"parosol"``), single-threaded in a fresh process;
    ``{"refused": message}`` when the memory guard refuses it."""
    import os
    import subprocess
    import sys

    one_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    output = subprocess.run([sys.executable, "-c", _PLATEN_RUN, str(size), solver], check=True,
                            capture_output=True, text=True, env=os.environ | one_thread).stdout
    return json.loads(output.strip().splitlines()[-1])


@_study("solver_scaling", lambda scale: config.SOLVER_SCALING[scale], solver_scaling_folder)
def solver_scaling(scale: str, settings: dict, folder: Path) -> dict:
    """Time and memory of each installed 3D solver (and ParOSol, where installed) against the
    problem's size: bonded platen tests of growing central cubes of a shipped ROI
    (:func:`measure_platen_test`), the sizes of :data:`bonebook.config.SOLVER_SCALING`."""
    from bonelib.fe import parosol
    from bonelib.fe.solvers import available

    installed = available(3)
    try:
        parosol.interpreter()
        installed.append("parosol")
    except FileNotFoundError:
        pass  # optional (GPL-2.0): the chapter says it was absent
    runs = [(solver, size) for solver, sizes in settings.items() if solver in installed for size in sizes]
    records = []
    for solver, size in _progress(runs, "platen tests"):
        records.append({"solver": solver, "size": size} | measure_platen_test(size, solver))
    _write_frame(folder / "runs.csv", records)
    return {"installed": installed, "absent": sorted(set(settings) - set(installed))}


def _verification(rng: np.random.Generator) -> list[dict]:
    """The 3D solver against exact answers (each is also a test in ``tests/test_fe3d.py``)."""
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.fe import homogenise_3d, tissue_maps
    from bonelib.fe.analytic import laminate, plane_strain_homogenise, rotate_stiffness
    from bonelib.fe.hex8 import isotropic_matrix

    def relative(C, reference):
        return float(np.abs(C - reference).max() / np.abs(reference).max())

    checks = []
    C = homogenise_3d(np.full((3, 4, 5), 1000.0), np.full((3, 4, 5), 0.25), VOXEL_SIZE_MM).C
    checks.append(("homogeneous cube", "isotropic C", relative(C, isotropic_matrix(1000.0, 0.25))))
    layers, ratios = np.array([300.0, 1000.0, 1000.0, 700.0]), np.array([0.2, 0.3, 0.3, 0.25])
    for axis, name in ((0, "z"), (1, "y"), (2, "x")):
        shape, index = [3, 3, 3], [None, None, None]
        shape[axis], index[axis] = len(layers), slice(None)
        E = np.broadcast_to(layers[tuple(index)], shape).copy()
        nu = np.broadcast_to(ratios[tuple(index)], shape).copy()
        C = homogenise_3d(E, nu, VOXEL_SIZE_MM).C
        checks.append((f"laminate across {name}", "exact laminate",
                       relative(C, laminate(layers, ratios, np.ones(4), name, ndim=3))))
    porous = tissue_maps(rng.random((8, 8, 8)) < 0.6)
    C = homogenise_3d(*porous, VOXEL_SIZE_MM).C
    shifted = homogenise_3d(*(np.roll(a, (2, 3, 5), (0, 1, 2)) for a in porous), VOXEL_SIZE_MM).C
    checks.append(("random porous cube, shifted", "C unshifted", relative(shifted, C)))
    turned = homogenise_3d(*(np.rot90(a, 1, axes=(1, 2)) for a in porous), VOXEL_SIZE_MM).C
    R = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # the turn of np.rot90 in (x, y)
    checks.append(("the same, turned 90° about z", "C turned as a 4th-order tensor",
                   relative(turned, rotate_stiffness(C, R))))
    image = np.where(rng.random((9, 11)) < 0.6, 10_000.0, 800.0)
    C3 = homogenise_3d(np.repeat(image[None], 3, 0), np.full((3, 9, 11), 0.3), VOXEL_SIZE_MM).C
    checks.append(("2D image extruded along z", "2D plane-strain C (in-plane entries)",
                   relative(C3[np.ix_([0, 1, 5], [0, 1, 5])], plane_strain_homogenise(image, np.full((9, 11), 0.3)).C)))
    return [{"cell": cell, "reference": reference, "relative_difference": value} for cell, reference, value in checks]


def _law_transfer(cubes_csv: Path) -> dict:
    """Real and synthetic cubes of equal BV/TV, and the laws fitted on synthetic cubes tried on real ones."""
    from bonelib.cubes import evaluate as cube_evaluation
    from bonelib.learn.laws import ZyssetCurnierLaw
    from bonelib.learn.metrics import r_squared, relative_prediction_error

    table = read_table(cubes_csv)
    usable = np.asarray(cube_evaluation.usable([{**row, "E_z": 0.0 if np.isnan(row["E_z"]) else row["E_z"]}
                                                for row in table.to_dict("records")]))
    real, synthetic = table[usable & (table.source == "real")], table[usable & (table.source == "synthetic")]
    bands = []
    for low, high in ((0.08, 0.12), (0.12, 0.16), (0.16, 0.20)):
        in_real = real[(low <= real.bv_tv) & (real.bv_tv < high)]
        in_synthetic = synthetic[(low <= synthetic.bv_tv) & (synthetic.bv_tv < high)]
        if len(in_real) and len(in_synthetic):
            bands.append({"low": low, "high": high, "real_E_z": float(in_real.E_z.median()), "real_cubes": len(in_real),
                          "synthetic_E_z": float(in_synthetic.E_z.median()), "synthetic_cubes": len(in_synthetic)})
    laws = []
    for fabric in (False, True):
        law = ZyssetCurnierLaw(fabric=fabric).fit(synthetic.bv_tv_grey.to_numpy(), synthetic.E_z.to_numpy(), synthetic.m_z.to_numpy())
        predicted = law.predict(real.bv_tv_grey.to_numpy(), real.m_z.to_numpy())
        laws.append({"law": "fabric" if fabric else "BV/TV power", "r2": float(r_squared(predicted, real.E_z.to_numpy())),
                     "rpe50": float(np.median(relative_prediction_error(predicted, real.E_z.to_numpy())))})
    counts = {source: {"cubes": int((table.source == source).sum()), "labelled": int((usable & (table.source == source)).sum()),
                       "specimens": int(table.specimen[table.source == source].nunique())}
              for source in ("real", "synthetic")}
    return {"bands": bands, "laws": laws, "counts": counts}


@_study("cube_fe", lambda scale: {"rois": config.REAL_BONE[scale]["rois"], "side": CUBE_SIDE}, cube_fe_folder)
def cube_fe(scale: str, settings: dict, folder: Path) -> dict:
    """The chapter "Beyond 2D": load paths, verification, real-cube moduli, marrow, stress, laws, cost."""
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.cubes import dataset as cube_dataset
    from bonelib.cubes import placement as cubes
    from bonelib.cubes import pretrained as pretrained3d
    from bonelib.fe import homogenise_3d, tissue_maps
    from bonelib.imaging import scanner
    from bonelib.morphometry.connectivity import percolation

    rois = chosen_rois(settings["rois"])
    # The real bone on the HR-pQCT grid: the micro-CT segmentation averaged over 82 µm voxels
    # (the scanner model's partial volume), bone where the fraction is at least one half.
    bone = {roi.roi: scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5 for roi in rois}
    side = CUBE_SIDE

    rows = [{"specimen": roi.specimen, "roi": roi.roi, **row} for roi in rois
            for row in cubes.percolation_rows(bone[roi.roi], side)]
    _write_frame(folder / "percolation.csv", [{**{k: v for k, v in row.items() if k != "origin"},
                                               **dict(zip(("origin_z", "origin_y", "origin_x"), row["origin"]))}
                                              for row in rows])
    _write_frame(folder / "verification.csv", _verification(np.random.default_rng(config.SEED)))
    log(f"cube_fe ({scale}): percolation and verification")

    chosen = {}
    for roi in rois:
        origin = cubes.central_wrapping_origin([r for r in rows if r["roi"] == roi.roi], bone[roi.roi].shape, side)
        chosen[roi.roi] = bone[roi.roi][tuple(slice(o, o + side) for o in origin)]
    moduli = []
    for roi in _progress(rois, "real cubes"):
        start = time.perf_counter()
        values = cubes.cube_moduli(chosen[roi.roi], VOXEL_SIZE_MM)
        moduli.append({"specimen": roi.specimen, "roi": roi.roi, **values, "seconds": time.perf_counter() - start})
    _write_frame(folder / "real_cubes.csv", moduli)
    log(f"cube_fe ({scale}): {len(moduli)} real cubes")

    small = next(c for c in (cube[a:a + 24, b:b + 24, d:d + 24] for cube in chosen.values()
                             for a in (0, 16) for b in (0, 16) for d in (0, 16)) if percolation(c).all())
    marrow = {}
    for option in ("drop", "keep"):
        start = time.perf_counter()
        E = homogenise_3d(*tissue_maps(small), VOXEL_SIZE_MM, marrow=option).E
        marrow[option] = {"E_xyz": [float(e) for e in E], "seconds": time.perf_counter() - start}

    cube = chosen[rois[0].roi]
    fields = homogenise_3d(*tissue_maps(cube), VOXEL_SIZE_MM, fields=True).fields["zz"]
    stress = np.where(cube, fields.von_mises, np.nan).astype(np.float32)
    _write_arrays(folder / "stress.npz", transverse=stress[side // 2], longitudinal=stress[:, side // 2],
                  p99=np.float32(np.nanpercentile(stress, 99)))

    laws = _law_transfer(config.artefacts(scale).snapshot / "cubes3d" / "cubes.csv")

    ensemble = pretrained3d.load_pretrained(config.artefacts(scale).models_3d)
    roi = rois[0]
    grey_volume, calibration = scanner.scan(roi.bone, roi.voxel_size_mm, seed=config.SEED)
    bone_volume = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5
    origins = cubes.tile_origins(grey_volume.shape, ensemble.side)
    grey_cubes = np.stack([grey_volume[tuple(slice(o, o + ensemble.side) for o in origin)] for origin in origins])
    start = time.perf_counter()
    ensemble.predict(grey_cubes, calibration)
    network_seconds = (time.perf_counter() - start) / len(grey_cubes)
    wrapping = next(bone_volume[tuple(slice(o, o + ensemble.side) for o in origin)] for origin in origins
                    if percolation(bone_volume[tuple(slice(o, o + ensemble.side) for o in origin)]).all())
    start = time.perf_counter()
    cube_dataset.label_cube(wrapping)
    cost = {"side": ensemble.side, "networks": len(ensemble.models), "fe_label_seconds": time.perf_counter() - start,
            "network_seconds_per_cube": network_seconds}
    write_json(folder / "results.json", {"marrow": marrow, "laws": laws, "cost": cost, "solvers": _solvers()})
    return {"specimens": len({r.specimen for r in rois}), "rois": [r.roi for r in rois]}


def _solvers() -> list[str]:
    """The 3D sparse solvers installed on the machine that made the study."""
    from bonelib.fe import solvers

    return list(solvers.available(3))
