"""The ``bonelib`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bonelib import __version__


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
    from bonelib.synth import LEVELS, plan

    if args.donor < 1:
        raise ValueError(f"--donor counts from 1, got {args.donor}")
    if args.level not in LEVELS:
        raise ValueError(f"--level must be one of {', '.join(LEVELS)}, got {args.level!r}")
    spec = plan(n_donors=args.donor, seed=args.seed)[LEVELS.index(args.level) - len(LEVELS)]
    vertebra = spec.scan(n_slices=args.slices)
    image = vertebra.volume if args.voi else vertebra.body
    with atomic_path(args.out) as temporary:
        np.savez_compressed(temporary, volume=image, voxel_size_mm=vertebra.voxel_size_mm,
                            calibration=np.array([vertebra.calibration.slope, vertebra.calibration.intercept]))
    print(f"wrote {args.out}: donor {spec.donor} (age {spec.age}), {spec.level}, "
          f"{'VOI' if args.voi else 'body section'} {image.shape}, calibration "
          f"{vertebra.calibration.slope},{vertebra.calibration.intercept}")
    return 0


def _voi(args: argparse.Namespace) -> int:
    from bonelib._files import atomic_path
    from bonelib.io import load_scan
    from bonelib.voi import cancellous_voi

    image, voxel = load_scan(args.scan)
    voxel = voxel if voxel is not None else args.voxel_size
    voi = cancellous_voi(image, size=args.size, margin_mm=args.margin, voxel_size_mm=voxel)
    with atomic_path(args.out) as temporary:
        np.savez_compressed(temporary, volume=voi.volume, voxel_size_mm=voxel, origin=np.array(voi.origin))
    print(f"wrote {args.out}: {voi.volume.shape} from row {voi.origin[0]}, col {voi.origin[1]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bonelib`` command."""
    parser = argparse.ArgumentParser(
        prog="bonelib",
        description="Effective elastic modulus of cancellous bone from CT images (after Lu et al. 2023).",
    )
    parser.add_argument("--version", action="version", version=f"bonelib {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="describe a scan (TIFF, DICOM folder, .npy/.npz)")
    info.add_argument("scan", type=Path, help="scan file or folder")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_info)

    synth = commands.add_parser("synth", help="write one synthetic vertebral scan to an .npz file")
    synth.add_argument("--donor", type=int, default=1, help="donor number, 1-based (default 1)")
    synth.add_argument("--level", default="T11", help="spinal level: T11, T12 or L1 (default T11)")
    synth.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    synth.add_argument("--slices", type=int, default=104, help="axial slices (default 104)")
    synth.add_argument("--voi", action="store_true", help="write the 182 px cancellous VOI, not the body section")
    synth.add_argument("--out", type=Path, required=True, help="output .npz path")
    synth.set_defaults(run=_synth)

    voi = commands.add_parser("voi", help="crop the cancellous volume of interest from a vertebral scan")
    voi.add_argument("scan", type=Path, help="scan file or folder, axial slices along the first axis")
    voi.add_argument("--size", type=int, default=182, help="side of the square crop in px (default 182)")
    voi.add_argument("--margin", type=float, default=1.0, help="band kept under the body surface, mm (default 1.0)")
    voi.add_argument("--voxel-size", type=float, default=0.082,
                     help="pixel size in mm when the file does not record it (default 0.082)")
    voi.add_argument("--out", type=Path, required=True, help="output .npz path")
    voi.set_defaults(run=_voi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors in the input print one line and exit with status 2."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"bonelib {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
