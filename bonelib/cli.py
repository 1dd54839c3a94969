"""The ``bonelib`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bonelib import __version__

# Only light imports here: `bonelib --help` should not load SciPy, Zarr or TensorFlow.
from bonelib._cli_args import (
    SCAN_FORMATS,
    add_voxel_size,
    calibration_argument,
    read_scan,
)
from bonelib.constants import COHORT_NAMES, LEVELS, SCHEMES, SLICE_PX, VOXEL_SIZE_MM


def _homogenise(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from bonelib.slices.label import label

    image, voxel, calibration = read_scan(args.image, args.voxel_size_mm, args.calibration)
    if args.cube or args.platens:
        return _homogenise_cube(image, calibration, voxel, args)
    slices = image[None] if image.ndim == 2 else image
    rows = []
    start = time.perf_counter()
    for index, grey in enumerate(tqdm(slices, desc="homogenise", unit="slice", disable=len(slices) == 1 or None)):
        result = label(grey, calibration, voxel_size_mm=voxel, solver=args.solver)
        rows.append({"slice": index, "E_eff": result.E_eff, "nu_eff": result.nu_eff, "C": result.C.tolist(),
                     "E_x": result.E_x, "E_y": result.E_y, "G_xy": result.G_xy})
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"image": str(args.image), "voxel_size_mm": voxel, "seconds": seconds, "slices": rows}))
        return 0
    print(f"{'slice':>5} {'E_eff MPa':>11} {'nu_eff':>7} {'C11':>10} {'C22':>10} {'C12':>10} {'C33':>10} {'C13':>9} {'C23':>9}")
    for row in rows:
        C = row["C"]
        print(f"{row['slice']:>5} {row['E_eff']:>11.4g} {row['nu_eff']:>7.4f} {C[0][0]:>10.4g} {C[1][1]:>10.4g} "
              f"{C[0][1]:>10.4g} {C[2][2]:>10.4g} {C[0][2]:>9.3g} {C[1][2]:>9.3g}")
    print(f"{len(rows)} slice(s) in {seconds:.2f} s ({seconds / len(rows):.3f} s per slice); C in MPa, Voigt (xx, yy, xy)")
    return 0


def _homogenise_cube(image: np.ndarray, calibration, voxel: float, args: argparse.Namespace) -> int:
    import time

    from bonelib.cubes.placement import cube_materials
    from bonelib.fe import homogenise_3d
    from bonelib.fe.platens import compression_test

    if image.ndim != 3:
        raise ValueError(f"--cube and --platens need a 3D volume, got shape {image.shape}")
    if args.fields is not None and not args.cube:
        raise ValueError("--fields needs --cube (the fields of the periodic load cases)")
    start = time.perf_counter()
    E, nu = cube_materials(image, calibration)
    result = {"image": str(args.image), "shape": list(image.shape), "voxel_size_mm": voxel,
              "size_mm": [round(n * voxel, 3) for n in image.shape]}
    periodic = None
    if args.cube:
        periodic = homogenise_3d(E, nu, voxel, solver=args.solver, fields=args.fields is not None)
        if args.fields is not None:
            from bonelib.fe.export import write_fields

            result["fields"] = str(write_fields(args.fields, E, periodic.fields, voxel))
        result |= {"C": periodic.C.tolist(), "E": periodic.E.tolist(), "G": periodic.G.tolist(),
                   "wraps": periodic.wraps.tolist(), "marrow": periodic.marrow, "bone_kept": periodic.bone_kept}
    platens = compression_test(E, nu, axis=0, solver=args.solver)
    bonded = compression_test(E, nu, axis=0, solver=args.solver, platens="bonded")
    result |= {"E_platens_axis0": platens.E_apparent, "E_bonded_platens_axis0": bonded.E_apparent,
               "platen_dofs": bonded.dofs, "solver": bonded.solver, "seconds": time.perf_counter() - start}
    if args.json:
        print(json.dumps(result))
        return 0
    if periodic is not None:
        print("C (MPa), Voigt (xx, yy, zz, yz, xz, xy); x, y, z along array axes 2, 1, 0:")
        for row in periodic.C:
            print(" ".join(f"{value:>11.4g}" for value in row))
        print(f"E_x, E_y, E_z = {', '.join(f'{e:.4g}' for e in periodic.E)} MPa (periodic, uniaxial stress)")
        print(f"bone wraps along x, y, z: {', '.join('yes' if w else 'no' for w in periodic.wraps)}; marrow "
              f"{periodic.marrow}; {periodic.bone_kept:.1%} of the bone meshed")
    if "fields" in result:
        print(f"fields of the six load cases written to {result['fields']} (VTK, for ParaView)")
    size = " × ".join(f"{n * voxel:.2f}" for n in image.shape)
    print(f"between platens along axis 0 ({size} mm at {voxel * 1000:.1f} µm): {platens.E_apparent:.4g} MPa "
          f"frictionless, {bonded.E_apparent:.4g} MPa bonded ({bonded.dofs:,} DOF, {bonded.solver}); "
          f"{result['seconds']:.1f} s")
    return 0


def _dataset_build(args: argparse.Namespace) -> int:
    import time

    from bonelib.slices.dataset import build

    if args.scans is not None and args.calibration is None:
        raise ValueError("--scans needs --calibration SLOPE,INTERCEPT")
    start = time.perf_counter()
    path = build(args.out, scale=args.scale, seed=args.seed, scheduler=args.scheduler, scans=args.scans,
                 calibration=args.calibration, scheme=args.scheme, n_workers=args.workers, cohort=args.cohort,
                 voxel_size_mm=args.voxel_size_mm)
    print(f"dataset ready: {path} ({time.perf_counter() - start:.0f} s)")
    return 0


def _dataset_describe(args: argparse.Namespace) -> int:
    from bonelib.slices.dataset import describe

    summary = describe(args.path)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"{summary['path']}: {summary['samples']} samples from {summary['donors']} donors")
    for scheme, counts in summary["split_counts"].items():
        print(f"  {scheme:>6} split: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    paper = summary["paper"]
    print(f"  {'':<20} {'min':>9} {'q25':>9} {'median':>9} {'q75':>9} {'max':>9}   paper")
    for name, q in summary["fields"].items():
        compared = f"median {paper['E_eff_median']}" if name == "E_eff" else ""
        print(f"  {name + ' (' + q['unit'] + ')':<20} "
              + " ".join(f"{q[k]:>9.4g}" for k in ("min", "q25", "median", "q75", "max")) + f"   {compared}")
    fit = summary["vbmd_fit"]
    print(f"  linear fit E_eff = {fit['slope']:.3g} · vbmd + {fit['intercept']:.3g}: R² = {fit['r2']:.3f} "
          f"(paper: {paper['vbmd_r2']})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from bonelib.slices.train import train

    try:
        result = train(args.model, args.data, args.out, epochs=args.epochs, batch_size=args.batch_size,
                       seed=args.seed, scheme=args.scheme, verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the best model so far is in {args.out / 'model.keras'}; "
              "run the same command again to resume", file=sys.stderr)
        return 130
    print(f"test ({result['test_samples']} samples): R² {result['r2']['value']:.3f}, slope {result['slope']['value']:.3f}, "
          f"MAE {result['mae']['value']:.1f} MPa, RPE50 {result['rpe50']['value']:.3f}, "
          f"RPE95 {result['rpe95']['value']:.3f}; training {result['training_seconds']:.0f} s; "
          f"written to {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from bonelib.io import load_scan

    image, voxel = load_scan(args.scan)
    summary = {
        "path": str(args.scan),
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "voxel_size_mm": voxel,
        "min": float(image.min()),
        "median": float(np.median(image)),
        "max": float(image.max()),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>14}: {value}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from bonelib._files import atomic_path
    from bonelib.synth import COHORTS

    if args.donor < 1:
        raise ValueError(f"--donor counts from 1, got {args.donor}")
    if args.level not in LEVELS:
        raise ValueError(f"--level must be one of {', '.join(LEVELS)}, got {args.level!r}")
    spec = COHORTS[args.cohort](n_donors=args.donor, seed=args.seed)[LEVELS.index(args.level) - len(LEVELS)]
    scanned = spec.scan(n_slices=args.slices)
    # The realistic cohort is generated as its volume of interest only.
    whole = args.voi or args.cohort == "realistic"
    image = scanned.volume if whole else scanned.body
    with atomic_path(args.out) as temporary:
        np.savez_compressed(temporary, volume=image, voxel_size_mm=VOXEL_SIZE_MM,
                            calibration=np.array([scanned.calibration.slope, scanned.calibration.intercept]))
    print(f"wrote {args.out}: {args.cohort} cohort, donor {spec.donor} (age {spec.age}), {spec.level}, "
          f"{'VOI' if whole else 'body section'} {image.shape}, calibration "
          f"{scanned.calibration.slope},{scanned.calibration.intercept}")
    return 0


def _voi(args: argparse.Namespace) -> int:
    from bonelib._files import atomic_path
    from bonelib.imaging.voi import cancellous_voi

    image, voxel, _ = read_scan(args.scan, args.voxel_size_mm, calibrated=False)
    voi = cancellous_voi(image, size=args.size, margin_mm=args.margin, voxel_size_mm=voxel)
    with atomic_path(args.out) as temporary:
        np.savez_compressed(temporary, volume=voi.volume, voxel_size_mm=voxel, origin=np.array(voi.origin))
    print(f"wrote {args.out}: {voi.volume.shape} from row {voi.origin[0]}, col {voi.origin[1]}")
    return 0


def _realism(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bonelib.synth import realism
    from bonelib.text import significant

    real = realism.measure_all(tqdm(realism.real_volumes(args.subset), desc="real ROIs", unit="ROI"), args.sections)
    synthetic = realism.measure_all(tqdm(realism.realistic_volumes(args.n, args.seed), total=args.n,
                                         desc="realistic cubes", unit="cube"), args.sections)
    rows = realism.compare(real, synthetic)
    if args.json:
        print(json.dumps({"real_cubes": len(real["3d"]), "realistic_cubes": len(synthetic["3d"]), "rows": rows}))
        return 0 if all(r["passes"] for r in rows) else 1
    print(f"{len(real['3d'])} real ROIs against {len(synthetic['3d'])} realistic cubes: median (10th–90th percentile)")
    print(f"{'measure':<32} {'real':>26} {'realistic':>26} {'deviation':>10}  accepted")
    for row in rows:
        cells = [f"{significant(m)} ({significant(lo)}–{significant(hi)})"
                 for m, lo, hi in (row["real"], row["synthetic"])]
        print(f"{row['measure']:<32} {cells[0]:>26} {cells[1]:>26} {row['deviation']:>+10.1%}  "
              f"{'yes' if row['passes'] else 'NO'}")
    print("accepted" if all(r["passes"] for r in rows) else "NOT accepted")
    return 0 if all(r["passes"] for r in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bonelib`` command."""
    parser = argparse.ArgumentParser(
        prog="bonelib",
        description="Effective elastic modulus of cancellous bone from CT images (after Lu et al. 2023).",
    )
    parser.add_argument("--version", action="version", version=f"bonelib {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help=f"describe a scan ({SCAN_FORMATS})")
    info.add_argument("scan", type=Path, help="scan file or folder")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_info)

    synth = commands.add_parser("synth", help="write one synthetic vertebral scan to an .npz file")
    synth.add_argument("--donor", type=int, default=1, help="donor number, 1-based (default 1)")
    synth.add_argument("--level", default=LEVELS[0], help=f"spinal level: {', '.join(LEVELS)} (default {LEVELS[0]})")
    synth.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    synth.add_argument("--slices", type=int, default=104, help="axial slices (default 104)")
    synth.add_argument("--voi", action="store_true", help=f"write the {SLICE_PX} px cancellous VOI, not the body section")
    synth.add_argument("--cohort", choices=COHORT_NAMES, default="paper",
                       help="paper-shaped (a body section) or realistic (rod-plate bone, its VOI only) (default paper)")
    synth.add_argument("--out", type=Path, required=True, help="output .npz path")
    synth.set_defaults(run=_synth)

    fe = commands.add_parser(
        "homogenise",
        help="effective modulus of a 2D image, of each slice of a stack, or of a 3D cube (periodic FE)",
        description="Smoothing, calibration to mg HA/cm³, Eq. 1 tissue modulus, periodic Q4 plane-stress "
        "homogenisation; prints C (MPa), E_eff and nu_eff for each 2D slice.",
    )
    fe.add_argument("image", type=Path, help=f"image or stack: {SCAN_FORMATS}")
    fe.add_argument("--calibration", type=calibration_argument, metavar="SLOPE,INTERCEPT",
                    help="grey → mg HA/cm³ (default: stored in .npz files written by `bonelib synth`)")
    add_voxel_size(fe)
    fe.add_argument("--solver", choices=("auto", "cholmod", "superlu", "mg"), default="auto",
                    help="sparse direct backend, or (3D) the multigrid CG; auto: the fastest that fits in memory")
    tests = fe.add_mutually_exclusive_group()
    tests.add_argument("--cube", action="store_true",
                       help="a 3D volume as one periodic cell: hexahedral FE, the 6 × 6 C, moduli along each axis, "
                       "and the modulus between platens along axis 0")
    fe.add_argument("--fields", type=Path, metavar="FILE.vtu",
                    help="with --cube: write the von Mises stress, strain-energy density and stress of each bone "
                         "voxel under each unit load case for ParaView (VTK)")
    tests.add_argument("--platens", action="store_true",
                       help="a whole 3D volume between platens along axis 0 only (frictionless and bonded), at its "
                       "own voxel size: its apparent modulus, for volumes whose bone does not wrap around")
    fe.add_argument("--json", action="store_true", help="print one JSON object")
    fe.set_defaults(run=_homogenise)

    dataset = commands.add_parser("dataset", help="build or describe a labelled dataset (Zarr)")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    build = dataset_commands.add_parser(
        "build", help="label the synthetic cohort (or your scans) with the FE ground truth; resumable",
        description=f"Generate (or load) every vertebra, crop its VOI, label each {SLICE_PX} × {SLICE_PX} slice by periodic FE, "
        "and write a Zarr store, one vertebra at a time. Interrupted builds resume with the same command.")
    build.add_argument("--out", type=Path, required=True, help="output store, e.g. data/paper.zarr")
    build.add_argument("--scale", choices=("ci", "paper"), default="ci",
                       help="ci: 6 donors, 288 slices; paper: 35 donors, 10,896 slices (default ci)")
    build.add_argument("--seed", type=int, default=0, help="seed of the cohort and the splits (default 0)")
    build.add_argument("--cohort", choices=COHORT_NAMES, default="paper",
                       help="synthetic cohort: paper (shaped to the paper's statistics) or realistic "
                       "(rod-plate bone matched to real vertebrae) (default paper)")
    build.add_argument("--scheme", choices=SCHEMES, default="donor",
                       help="split scheme used by default when loading; both are stored (default donor)")
    build.add_argument("--scans", type=Path, help="folder of your own scans, one stack per vertebra named DONOR-LEVEL; --scale then sets only how many donors are held out")
    build.add_argument("--calibration", type=calibration_argument, metavar="SLOPE,INTERCEPT", help="grey → mg HA/cm³ of --scans")
    add_voxel_size(build)
    build.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786), or 'synchronous'; "
                       "default: a local cluster, one worker per core")
    build.add_argument("--workers", type=int, help="workers of the local cluster (default: one per core)")
    build.set_defaults(run=_dataset_build)
    describe = dataset_commands.add_parser("describe", help="statistics of a dataset against the paper's")
    describe.add_argument("path", type=Path, help="dataset store")
    describe.add_argument("--json", action="store_true", help="print one JSON object")
    describe.set_defaults(run=_dataset_describe)

    training = commands.add_parser("train", help="train a CNN on a dataset; resumable",
                                   description="Train the paper's CNN or the improved one on the train split, "
                                   "keep the best model by validation loss, and report test metrics. "
                                   "Ctrl-C keeps the best model; the same command resumes.")
    training.add_argument("--model", choices=("paper", "improved"), required=True, help="which network")
    training.add_argument("--data", type=Path, required=True, help="dataset store (bonelib dataset build)")
    training.add_argument("--epochs", type=int, required=True, help="total epochs (paper: 200)")
    training.add_argument("--out", type=Path, required=True, help="output folder (model.keras, history.csv, metrics.json)")
    training.add_argument("--batch-size", type=int, default=128, help="samples per batch (default 128, as the paper)")
    training.add_argument("--scheme", choices=SCHEMES, help="split scheme (default: the dataset's)")
    training.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    training.set_defaults(run=_train)

    from bonelib.cli_predict import add_predict

    add_predict(commands)

    realism = commands.add_parser(
        "realism", help="compare the realistic cohort's morphometry with real vertebral bone (acceptance)",
        description="3D morphometry of each volume at the micro-CT voxel size, and connectivity of its transverse "
        "sections scanned to 82 µm, for the real FDA L1 ROIs and cubes of the realistic cohort; each measure passes "
        "when the medians lie within 15 % (percolation rates within 0.15) and the 10–90 % ranges overlap. "
        "Exit status 1 when a measure fails. Takes about 15 s per volume.")
    realism.add_argument("--n", type=int, default=30, help="realistic cubes (default 30)")
    realism.add_argument("--subset", choices=("shipped", "all"), default="shipped",
                         help="real ROIs: the 30 shipped, or all (downloads the rest; default shipped)")
    realism.add_argument("--sections", type=int, default=6, help="transverse sections per volume (default 6)")
    realism.add_argument("--seed", type=int, default=0, help="seed of the realistic cohort (default 0)")
    realism.add_argument("--json", action="store_true", help="print one JSON object")
    realism.set_defaults(run=_realism)

    voi = commands.add_parser("voi", help="crop the cancellous volume of interest from a vertebral scan")
    voi.add_argument("scan", type=Path, help="scan file or folder, axial slices along the first axis")
    voi.add_argument("--size", type=int, default=SLICE_PX, help=f"side of the square crop in px (default {SLICE_PX})")
    voi.add_argument("--margin", type=float, default=1.0, help="band kept under the body surface, mm (default 1.0)")
    add_voxel_size(voi)
    voi.add_argument("--out", type=Path, required=True, help="output .npz path")
    voi.set_defaults(run=_voi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors in the input, and a volume too large for memory, print one line
    and exit with status 2."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, FileNotFoundError, MemoryError) as error:
        print(f"bonelib {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
