"""``bonelib predict``: E_eff of each slice of a scan, with the ensemble's spread and warnings."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bonelib.constants import MICRO_CT_BELOW_MM, MODALITIES, SLICE_PX
from bonelib.text import significant


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


def _on_network_grid(args: argparse.Namespace):
    """The scan's grey values (or densities) on the networks' 82 µm grid, their calibration, the
    scan's voxel size and what was done to bring it there (:mod:`bonelib.imaging.grid`)."""
    from bonelib._cli_args import read_scan
    from bonelib.imaging.density import Calibration, to_vbmd
    from bonelib.imaging.grid import to_network_grid

    image, voxel, calibration = read_scan(args.scan, args.voxel_size_mm, args.calibration)
    density, notes = to_network_grid(to_vbmd(image, calibration), voxel, args.modality)
    if notes:  # densities now: the identity calibration
        return density, Calibration(1.0, 0.0), voxel, notes
    return image, calibration, voxel, notes


def _with_scan_reasons(warnings: list[list[str]], voxel: float) -> list[list[str]]:
    """Each input's reasons to distrust it, with those of the whole scan (its voxel size)."""
    from bonelib.imaging.grid import coarser_than_network

    reason = coarser_than_network(voxel)
    return [([reason] if reason else []) + found for found in warnings]


def _intervals(ensemble, moduli: np.ndarray) -> dict:
    """``low``, ``high`` (MPa) and ``level`` of the ensemble's conformal interval around each
    prediction (:mod:`bonelib.learn.conformal`); None where the ensemble has none."""
    bounds = ensemble.bounds(moduli)
    if bounds is None:
        return {"low": None, "high": None, "level": None}
    return {"low": bounds[0].tolist(), "high": bounds[1].tolist(), "level": ensemble.interval.level}


def _print_rows(notes: list[str], name: str, origins, moduli: np.ndarray, spread: np.ndarray, interval: dict,
                warnings: list[list[str]]) -> None:
    """The table of a prediction: what was done to the scan, then one row per image or cube."""
    for note in notes:
        print(f"note: {note}")
    print(f"{'slice':>5} {'row':>5} {'col':>5} {name + ' MPa':>11} {'± MPa':>8} {'interval MPa':>15}  warnings")
    for k, ((index, row, col), value, sd, reasons) in enumerate(zip(origins, moduli, spread, warnings)):
        cell = (f"{significant(interval['low'][k], 4)}–{significant(interval['high'][k], 4)}"
                if interval["low"] is not None else "-")
        print(f"{index:>5} {row:>5} {col:>5} {significant(value, 4):>11} {significant(sd, 2):>8} {cell:>15}  "
              f"{'; '.join(reasons) or '-'}")


def _interval_words(interval: dict) -> str:
    if interval["level"] is None:
        return "no calibrated interval for these networks"
    return (f"the interval holds the FE modulus for {interval['level']:.0%} of bone the networks did not see "
            "(conformal, calibrated on held-out bone)")


def _predict(args: argparse.Namespace) -> int:
    # The scan is read and checked before TensorFlow is loaded, so that a bad input fails at once.
    image, calibration, voxel, notes = _on_network_grid(args)
    if args.route == "3d":
        return _predict_3d(args, image, calibration, voxel, notes)
    from bonelib.slices import network as cnn

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
    warnings = _with_scan_reasons(ensemble.check(slices, calibration), voxel)
    interval = _intervals(ensemble, moduli)
    if args.json:
        print(json.dumps({"scan": str(args.scan), "model": str(args.model or "shipped ensemble"),
                          "voxel_size_mm": voxel, "grid": notes,
                          "networks": len(ensemble.models), "seconds": seconds, "E_eff": moduli.tolist(),
                          "spread": spread.tolist(), **interval, "origin": origin.tolist(), "warnings": warnings}))
        return 0
    _print_rows(notes, "E_eff", origin, moduli, spread, interval, warnings)
    flagged = sum(bool(r) for r in warnings)
    print(f"{len(moduli)} image(s) by {len(ensemble.models)} network(s) in {seconds:.2f} s "
          f"({seconds / len(moduli) * 1000:.1f} ms each); ± is the spread of the networks; {_interval_words(interval)}")
    if flagged:
        print(f"warning: {flagged} of {len(moduli)} image(s) lie outside what the networks were trained on: "
              "their moduli are not to be trusted")
    return 0


def _predict_3d(args: argparse.Namespace, volume: np.ndarray, calibration, voxel: float, notes: list[str]) -> int:
    """The 3D route: E_z of each cube that tiles the volume, by the 3D ensemble."""
    from bonelib.constants import VOXEL_SIZE_MM
    from bonelib.cubes import pretrained as pretrained3d
    from bonelib.cubes.placement import tile_origins, volume_modulus

    if args.crop or args.tile or args.own_size:
        raise ValueError("--crop, --tile and --own-size belong to the 2D route; the 3D route tiles the volume in cubes")
    ensemble = pretrained3d.load_pretrained(args.model)
    side = ensemble.side
    if volume.ndim != 3:
        raise ValueError(f"the 3D route needs a 3D volume (superior–inferior along axis 0); got shape {volume.shape}")
    if min(volume.shape) < side:
        size = " × ".join(f"{n * VOXEL_SIZE_MM:.1f}" for n in volume.shape)
        raise ValueError(f"the volume is {size} mm ({' × '.join(map(str, volume.shape))} voxels of 82 µm"
                         f"{', resampled from ' + f'{voxel * 1000:.1f} µm' if notes else ''}): smaller than one cube "
                         f"of the 3D route, {side * VOXEL_SIZE_MM:.1f} mm ({side}³ voxels of 82 µm) a side")
    origins = tile_origins(volume.shape, side)
    cubes = np.stack([volume[tuple(slice(o, o + side) for o in origin)] for origin in origins])
    start = time.perf_counter()
    moduli, spread = ensemble.predict(cubes, calibration)
    seconds = time.perf_counter() - start
    warnings = _with_scan_reasons(ensemble.check(cubes, calibration), voxel)
    interval = _intervals(ensemble, moduli)
    whole = volume_modulus(origins, moduli) | {"flagged_cubes": sum(bool(r) for r in warnings)}
    if args.json:
        print(json.dumps({"scan": str(args.scan), "route": "3d", "model": str(args.model or "shipped 3D ensemble"),
                          "voxel_size_mm": voxel, "grid": notes,
                          "networks": len(ensemble.models), "seconds": seconds, "E_z": moduli.tolist(),
                          "spread": spread.tolist(), **interval, "origin": [list(o) for o in origins],
                          "warnings": warnings, "volume": whole}))
        return 0
    _print_rows(notes, "E_z", origins, moduli, spread, interval, warnings)
    print(f"{len(moduli)} cube(s) of {side}³ voxels by {len(ensemble.models)} network(s) in {seconds:.2f} s; E_z is the "
          f"superior–inferior (axis 0) periodic modulus; ± is the spread of the networks; {_interval_words(interval)}")
    print(f"the tiled volume's E_z: {significant(whole['E_z'], 4)} MPa (each layer of cubes side by side, their mean; "
          f"the {whole['layers']} layer(s) one upon another, the harmonic mean), between Reuss "
          f"{significant(whole['reuss'], 4)} and Voigt {significant(whole['voigt'], 4)} MPa; FE of the whole volume: "
          "bonelib homogenise SCAN --platens")
    flagged = sum(bool(r) for r in warnings)
    if flagged:
        print(f"warning: {flagged} of {len(moduli)} cube(s) lie outside what the networks were trained on: "
              "their moduli are not to be trusted")
    return 0


def add_predict(commands) -> None:
    """Add the ``predict`` command to the sub-parsers of ``bonelib``."""
    from bonelib._cli_args import SCAN_FORMATS, add_voxel_size, calibration_argument

    prediction = commands.add_parser(
        "predict", help="E_eff of a 2D image or of each slice of a stack by the shipped CNN ensemble; "
                                "with --route 3d, E_z of each cube of a volume by the 3D ensemble",
        description="Predicts the effective modulus (MPa) of each 182 × 182 px image with the shipped ensemble "
        "(the improved CNN of each cross-validation fold, trained at paper scale): the mean of the networks, "
        "their spread, a 90 % conformal interval, and a warning when an image lies outside what they were "
        "trained on (mean ρ_HA, BV/TV or the quantiles of its density histogram out of the training range, bone "
        "that does not wrap around the cell, voxels coarser than 82 µm). With --route 3d the volume "
        "(superior–inferior along axis 0) is tiled in 50³ cubes of 82 µm and the 3D ensemble (the 3D network of "
        "each leave-specimens-out fold) predicts each cube's superior–inferior modulus, with the networks' "
        "spread, the interval, the same warnings (and fabric along z) and the tiled volume's modulus.")
    prediction.add_argument("scan", type=Path, help=f"image or stack: {SCAN_FORMATS}")
    prediction.add_argument("--model", type=Path,
                            help="an ensemble folder, a folder written by `bonelib train`, or a .keras file "
                                 "(default: the shipped ensemble)")
    prediction.add_argument("--calibration", type=calibration_argument, metavar="SLOPE,INTERCEPT",
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
    add_voxel_size(prediction)
    prediction.add_argument("--modality", choices=MODALITIES, default="auto",
                            help="what made the scan: a scan at another voxel size than 82 µm is resampled to it, and "
                                 "a micro-CT scan also blurred by the HR-pQCT point spread (auto: micro-CT below "
                                 f"{MICRO_CT_BELOW_MM * 1000:.0f} µm voxels)")
    prediction.add_argument("--json", action="store_true", help="print one JSON object")
    prediction.set_defaults(run=_predict)
