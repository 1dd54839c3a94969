"""``bonelib predict``: E_eff of each slice of a scan, with the ensemble's spread and warnings."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bonelib.constants import SLICE_PX


def _networks(path: Path | None):
    """The shipped ensemble (None), an ensemble folder, a run folder or a ``.keras`` file, as an Ensemble."""
    from bonelib.slices import pretrained
    if path is None or (path / "ensemble.json").exists():
        return pretrained.load_pretrained(path)
    import keras

    model_file = path / "model.keras" if path.is_dir() else path
    if not model_file.exists():
        raise ValueError(f"{model_file}: no trained model here (an ensemble folder, a folder of `bonelib train`, "
                         "or a .keras file)")
    return pretrained.SliceEnsemble({model_file.stem: keras.saving.load_model(model_file)}, None, {})


def _predict(args: argparse.Namespace) -> int:
    from bonelib._cli_args import _stored_calibration
    from bonelib.io import load_scan
    from bonelib.slices import network as cnn

    image, _ = load_scan(args.scan)
    calibration = args.calibration or _stored_calibration(args.scan)
    if calibration is None:
        raise ValueError("give --calibration SLOPE,INTERCEPT (use 1,0 if the values are mg HA/cm³ already)")
    if args.route == "3d":
        return _predict_3d(args, image, calibration)
    slices = image[None] if image.ndim == 2 else image
    ensemble = _networks(args.model)
    if args.own_size:
        origin = np.array([(k, 0, 0) for k in range(len(slices))])
        ensemble = ensemble.resized(slices.shape[1:])
    else:
        mode = "crop" if args.crop else "tile" if args.tile else None
        try:
            slices, origin = cnn.fit_to_input(slices, mode=mode)
        except ValueError as error:
            raise ValueError(f"{error} (--crop, --tile or --own-size)" if mode is None else str(error)) from error
    start = time.perf_counter()
    moduli, spread = ensemble.predict(slices, calibration)
    seconds = time.perf_counter() - start
    warnings = ensemble.check(slices, calibration)
    if args.json:
        print(json.dumps({"scan": str(args.scan), "model": str(args.model or "shipped ensemble"),
                          "networks": len(ensemble.models), "seconds": seconds, "E_eff": moduli.tolist(),
                          "spread": spread.tolist(), "origin": origin.tolist(), "warnings": warnings}))
        return 0
    print(f"{'slice':>5} {'row':>5} {'col':>5} {'E_eff MPa':>11} {'± MPa':>8}  warnings")
    for (index, row, col), value, sd, reasons in zip(origin, moduli, spread, warnings):
        print(f"{index:>5} {row:>5} {col:>5} {value:>11.4g} {sd:>8.2g}  {'; '.join(reasons) or '-'}")
    flagged = sum(bool(r) for r in warnings)
    print(f"{len(moduli)} image(s) by {len(ensemble.models)} network(s) in {seconds:.2f} s "
          f"({seconds / len(moduli) * 1000:.1f} ms each); ± is the spread of the networks")
    if flagged:
        print(f"warning: {flagged} of {len(moduli)} image(s) lie outside what the networks were trained on: "
              "their moduli are not to be trusted")
    return 0


def _predict_3d(args: argparse.Namespace, volume: np.ndarray, calibration) -> int:
    """The 3D route: E_z of each cube that tiles the volume, by the 3D ensemble."""
    from bonelib.cubes import pretrained as pretrained3d
    from bonelib.cubes.placement import tile_origins

    if args.crop or args.tile or args.own_size:
        raise ValueError("--crop, --tile and --own-size belong to the 2D route; the 3D route tiles the volume in cubes")
    ensemble = pretrained3d.load_pretrained(args.model)
    side = ensemble.side
    if volume.ndim != 3 or min(volume.shape) < side:
        raise ValueError(f"the 3D route needs a 3D volume at least {side} voxels (of 82 µm) a side, superior–inferior "
                         f"along axis 0; got shape {volume.shape}")
    origins = tile_origins(volume.shape, side)
    cubes = np.stack([volume[tuple(slice(o, o + side) for o in origin)] for origin in origins])
    start = time.perf_counter()
    moduli, spread = ensemble.predict(cubes, calibration)
    seconds = time.perf_counter() - start
    warnings = ensemble.check(cubes, calibration)
    if args.json:
        print(json.dumps({"scan": str(args.scan), "route": "3d", "model": str(args.model or "shipped 3D ensemble"),
                          "networks": len(ensemble.models), "seconds": seconds, "E_z": moduli.tolist(),
                          "spread": spread.tolist(), "origin": [list(o) for o in origins], "warnings": warnings}))
        return 0
    print(f"{'slice':>5} {'row':>5} {'col':>5} {'E_z MPa':>11} {'± MPa':>8}  warnings")
    for (index, row, col), value, sd, reasons in zip(origins, moduli, spread, warnings):
        print(f"{index:>5} {row:>5} {col:>5} {value:>11.4g} {sd:>8.2g}  {'; '.join(reasons) or '-'}")
    print(f"{len(moduli)} cube(s) of {side}³ voxels by {len(ensemble.models)} network(s) in {seconds:.2f} s; E_z is the "
          "superior–inferior (axis 0) periodic modulus; ± is the spread of the networks")
    flagged = sum(bool(r) for r in warnings)
    if flagged:
        print(f"warning: {flagged} of {len(moduli)} cube(s) lie outside what the networks were trained on: "
              "their moduli are not to be trusted")
    return 0


def add_predict(commands) -> None:
    """Add the ``predict`` command to the sub-parsers of ``bonelib``."""
    from bonelib._cli_args import _calibration

    prediction = commands.add_parser(
        "predict", help="E_eff of a 2D image or of each slice of a stack by the shipped CNN ensemble; "
                                "with --route 3d, E_z of each cube of a volume by the 3D ensemble",
        description="Predicts the effective modulus (MPa) of each 182 × 182 px image with the shipped ensemble "
        "(the improved CNN of each cross-validation fold, trained at paper scale): the mean of the networks, "
        "their spread, and a warning when an image lies outside what they were trained on (mean ρ_HA or BV/TV "
        "out of range, or bone that does not wrap around the cell). With --route 3d the volume (82 µm voxels, "
        "superior–inferior along axis 0) is tiled in 50³ cubes and the 3D ensemble (the 3D network of each "
        "leave-specimens-out fold) predicts each cube's superior–inferior modulus, with the networks' spread "
        "and a warning when its mean ρ_HA lies outside the training range.")
    prediction.add_argument("scan", type=Path, help="image or stack: TIFF, DICOM folder, .npy/.npz, NRRD, NIfTI, AIM")
    prediction.add_argument("--model", type=Path,
                            help="an ensemble folder, a folder written by `bonelib train`, or a .keras file "
                                 "(default: the shipped ensemble)")
    prediction.add_argument("--calibration", type=_calibration, metavar="SLOPE,INTERCEPT",
                            help="grey → mg HA/cm³ (default: stored in .npz files written by `bonelib synth`)")
    fitting = prediction.add_mutually_exclusive_group()
    fitting.add_argument("--crop", action="store_true", help=f"take the central {SLICE_PX} × {SLICE_PX} px of larger slices")
    fitting.add_argument("--tile", action="store_true",
                         help=f"cut larger slices into {SLICE_PX} × {SLICE_PX} px tiles (a centred grid) and predict each")
    fitting.add_argument("--own-size", action="store_true",
                         help="predict each slice whole, at its own size, as a periodic cell (the improved network is "
                              "fully convolutional; not for the paper's network)")
    prediction.add_argument("--route", choices=("2d", "3d"), default="2d",
                            help="2d (default): each slice by the 2D ensemble; 3d: the volume (82 µm voxels, "
                                 "superior–inferior along axis 0) cut into cubes, each by the 3D ensemble, which "
                                 "predicts the superior–inferior modulus E_z of the cube's micro-structure")
    prediction.add_argument("--json", action="store_true", help="print one JSON object")
    prediction.set_defaults(run=_predict)
