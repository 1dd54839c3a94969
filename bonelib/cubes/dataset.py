"""The 3D dataset: cubes of real and realistic synthetic bone, their HR-pQCT-like grey values
and their 3D micro-FE labels.

Every source of bone goes the same way:

1. a binary micro-CT volume (a shipped real ROI of :mod:`bonelib.data`, or a vertebra of the
   realistic cohort, :func:`bonelib.synth.realistic.realistic_plan`, generated at the same
   51.3 µm);
2. the HR-pQCT-like grey volume at 82 µm through the scanner model (:func:`bonelib.imaging.scanner.scan`:
   partial volume, blur, noise), which is what a network sees;
3. the bone's micro-structure on the same 82 µm grid (voxels at least half bone), cut into
   cubes of :data:`SIDE` voxels (:func:`bonelib.cubes.placement.place_cubes`);
4. each cube's label: the periodic homogenisation of its micro-structure (tissue 10 GPa,
   ν 0.3, marrow dropped, :func:`bonelib.fe.homogenise_3d`), the full C (MPa), the
   axial and shear moduli, and its 3D morphometry; and the densitometric and fabric
   measures an HR-pQCT reader takes from the grey cube (for the baselines).

A cube whose bone does not wrap the periodic cell along all three axes cannot be homogenised
without its marrow (see :func:`bonelib.fe.homogenise_3d`); it is kept in the table with
``wraps`` False and no moduli, so that how many were lost is on record.

:func:`build` runs the volumes on Dask's process scheduler, one file per volume written
atomically, so a stopped build resumes where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from bonelib._files import atomic_path, write_csv, write_json
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.synth.realistic import MICRO_CT_MM, RealisticSpec
from bonelib.tasks import run_tasks
from bonelib.versions import CUBE_LABELS

#: Side of a cube (voxels of 82 µm): 4.1 mm, the smallest side whose moduli were within
#: ±11 % of 5 mm cubes on real bone (issue 16's planning; 3.3 mm cubes were not).
SIDE = 50
#: Voigt order of the stiffness entries in the table (engineering shear).
VOIGT = ("xx", "yy", "zz", "yz", "xz", "xy")


@dataclass(frozen=True)
class Volume:
    """One bone volume of the 3D dataset, before it is scanned and labelled.

    Attributes
    ----------
    name : str
        Unique name (``"real-04665-16"``, ``"synthetic-R07-L1"``); the file it is written to.
    source : {"real", "synthetic"}
        Real micro-CT or the realistic synthetic cohort.
    specimen : str
        The specimen (real) or donor (synthetic): the unit held out together.
    seed : int
        Seed of the scanner noise.
    file, cache : str, optional
        A real ROI's file in :mod:`bonelib.data` and the folder it is fetched into if it does not ship.
    spec : RealisticSpec, optional
        A synthetic vertebra's parameters and generator seed.
    """

    name: str
    source: str
    specimen: str
    seed: int
    file: str | None = None
    cache: str | None = None
    spec: RealisticSpec | None = None

    def micro_ct(self) -> tuple[NDArray[np.bool_], float]:
        """The binary bone volume (axis 0 superior–inferior) and its voxel size (mm).

        A synthetic vertebra is generated as a cube of two :data:`SIDE` s at 82 µm."""
        if self.spec is None:
            from bonelib import data
            return data.read(data.fetch(self.file, cache=self.cache)), data.VOXEL_SIZE_MM
        shape = (math.ceil(2 * SIDE * VOXEL_SIZE_MM / MICRO_CT_MM) + 1,) * 3
        return self.spec.bone(shape), MICRO_CT_MM


def volumes(real: int | None = None, synthetic: int = 105, seed: int = 0, subset: str = "shipped",
            cache: str | Path | None = None) -> list[Volume]:
    """The volumes of a 3D dataset.

    Parameters
    ----------
    real : int, optional
        The first ``real`` ROIs of ``subset`` that hold no cortical shell (default: all).
    synthetic : int
        The first vertebrae of the realistic cohort (105 = 35 donors × 3 levels).
    seed : int
        Seed of the scanner noise (each ROI's own, whatever the selection) and of the cohort.
    subset : {"shipped", "all"}
        The 30 ROIs that ship with bonelib, or all 130 of the collection (115 without shell),
        fetched once into ``cache`` (:func:`bonelib.data.fetch`).
    """
    from bonelib import data
    from bonelib.synth.realistic import realistic_plan

    if subset not in ("shipped", "all"):
        raise ValueError(f"subset must be 'shipped' or 'all', got {subset!r}")
    rows = [r for r in data.registry() if (r["shipped"] or subset == "all") and not r["shell"]][:real]
    out = [Volume(f"real-{r['specimen']}-{r['roi']}", "real", r["specimen"],
                  int(np.random.SeedSequence([seed, 16, r["roi"]]).generate_state(1)[0]), file=r["file"],
                  cache=None if cache is None else str(cache)) for r in rows]
    specs = realistic_plan(seed=seed)
    if not 0 <= synthetic <= len(specs):
        raise ValueError(f"synthetic must lie in 0 … {len(specs)}, got {synthetic}")
    out += [Volume(f"synthetic-{s.donor}-{s.level}", "synthetic", s.donor, s.seed, spec=s) for s in specs[:synthetic]]
    return out


def grey_measures(rho: NDArray) -> dict[str, float]:
    """What an HR-pQCT reader takes from a grey cube of ρ_HA (mg HA/cm³).

    Returns
    -------
    dict
        ``vbmd`` (mg HA/cm³); ``bv_tv_grey``: BV/TV from density, (vBMD − ρ_marrow)/(ρ_tissue −
        ρ_marrow) with the scanner's densities (as XtremeCT's BV/TV = vBMD/1200, but exact for
        the scanner model, which conserves bone mass); ``m_x``, ``m_y``, ``m_z``: the diagonal
        of the gradient fabric tensor along array axes 2, 1, 0 (sum 3; > 1 where the bone runs
        along the axis, see :func:`bonelib.morphometry.volume.gradient_fabric`).
    """
    from bonelib.imaging.scanner import Scanner
    from bonelib.morphometry.volume import gradient_fabric

    scanner = Scanner()
    vbmd = float(np.mean(rho))
    fabric = np.diag(gradient_fabric(rho))
    return {"vbmd": vbmd,
            "bv_tv_grey": (vbmd - scanner.marrow_density) / (scanner.tissue_density - scanner.marrow_density),
            "m_x": float(fabric[2]), "m_y": float(fabric[1]), "m_z": float(fabric[0])}


def label_cube(bone: NDArray[np.bool_]) -> dict[str, float | bool]:
    """The 3D FE and morphometry label of one binary cube at 82 µm.

    Returns
    -------
    dict
        ``wraps``, ``bone_kept``; ``C_ij`` (upper triangle, MPa, :data:`VOIGT` order),
        ``E_x``, ``E_y``, ``E_z`` and ``G_yz``, ``G_xz``, ``G_xy`` (MPa; z is array axis 0,
        superior–inferior), NaN when the bone does not wrap; and :func:`bonelib.morphometry.volume.describe`.
    """
    from bonelib.fe import homogenise_3d, tissue_maps
    from bonelib.fe.materials import TISSUE_MODULUS, TISSUE_POISSON
    from bonelib.morphometry.connectivity import percolation
    from bonelib.morphometry.volume import describe

    row: dict = {f"C_{i + 1}{j + 1}": math.nan for i in range(6) for j in range(i, 6)}
    row |= {k: math.nan for k in ("E_x", "E_y", "E_z", "G_yz", "G_xz", "G_xy", "bone_kept")}
    row["wraps"] = bool(bone.any() and percolation(bone).all())
    if row["wraps"]:
        fit = homogenise_3d(*tissue_maps(bone, TISSUE_MODULUS, TISSUE_POISSON), VOXEL_SIZE_MM)
        row |= {f"C_{i + 1}{j + 1}": float(fit.C[i, j]) for i in range(6) for j in range(i, 6)}
        row |= dict(zip(("E_x", "E_y", "E_z"), map(float, fit.E))) | dict(zip(("G_yz", "G_xz", "G_xy"), map(float, fit.G)))
        row |= {"wraps": bool(fit.wraps.all()), "bone_kept": fit.bone_kept}
    return row | describe(bone, VOXEL_SIZE_MM)


def scanned(volume: Volume):
    """A volume as the 3D dataset sees it: its HR-pQCT-like grey volume at 82 µm (the scanner
    model with the volume's own seed), the scanner's calibration, and its bone on the same grid
    (voxels at least half bone). The same volume gives the same grey values every time, so a
    dataset's cubes can be regenerated from its table."""
    from bonelib.imaging.scanner import resample, scan

    micro, voxel_size_mm = volume.micro_ct()
    grey, calibration = scan(micro, voxel_size_mm, seed=volume.seed)
    return grey, calibration, resample(micro, voxel_size_mm) >= 0.5


def label_volume(volume: Volume, side: int = SIDE, kind: str = "tiles") -> tuple[NDArray[np.int16], list[dict]]:
    """Scan one volume, cut it into cubes of one of :data:`bonelib.cubes.placement.KINDS` (its
    tiles, or the cubes half a side from them: :func:`bonelib.cubes.placement.place_cubes`) and
    label each.

    Returns
    -------
    grey : numpy.ndarray
        int16 grey cubes (cubes, side, side, side) of the scanner's calibration.
    rows : list of dict
        One per cube: ``volume``, ``source``, ``specimen``, ``cube``, ``origin`` (voxels),
        ``cancellous``, :func:`grey_measures` and :func:`label_cube`.
    """
    from bonelib.cubes.placement import place_cubes
    from bonelib.imaging.density import to_vbmd

    grey, calibration, bone = scanned(volume)
    cubes, rows = place_cubes(bone, side, kind), []
    for index, cube in enumerate(cubes):
        rows.append({"volume": volume.name, "source": volume.source, "specimen": volume.specimen, "cube": index,
                     "origin": "-".join(map(str, cube.origin)), "cancellous": cube.cancellous}
                    | grey_measures(to_vbmd(cube.of(grey), calibration))
                    | label_cube(cube.of(bone)))
    return np.stack([cube.of(grey) for cube in cubes]), rows


def write_volume(volume: Volume, folder: str | Path, side: int = SIDE, kind: str = "tiles",
                 labelled: Sequence[dict] | None = None) -> Path:
    """Label one volume (:func:`label_volume`) into ``folder/<name>.npz`` (grey cubes and the
    rows as JSON), atomically; skip it when the file exists.

    With ``labelled``, the volume's rows of a table this label version wrote before (``cubes.csv``
    of a committed snapshot, read back by :func:`typed_rows`), its grey cubes are regenerated from
    its seed (:func:`scanned`) and its rows reused instead of solved again; each regenerated cube
    must give its row's mean density, else nothing is written."""
    import json

    target = Path(folder) / f"{volume.name}.npz"
    if target.exists():
        return target
    if labelled is None:
        grey, rows = label_volume(volume, side, kind)
    else:
        rows = list(labelled)
        grey, _ = regenerated(volume, rows, side, kind, every=True)
    with atomic_path(target) as temporary:
        np.savez_compressed(temporary, grey=grey, rows=np.array(json.dumps(rows)))
    return target


def regenerated(volume: Volume, rows: Sequence[dict], side: int = SIDE, kind: str = "tiles", every: bool = False,
                scan: tuple | None = None) -> tuple[NDArray[np.int16], object]:
    """The grey cubes of a volume's labelled ``rows`` of one kind (:data:`bonelib.cubes.placement.KINDS`),
    regenerated from its seed, and the scanner's calibration.

    ``scan``: the volume's :func:`scanned` result, when it is at hand. Each cube must give its
    row's mean density (``vbmd``), and with ``every`` the rows must be all the volume's cubes of
    that kind, in order; else ValueError."""
    from bonelib.cubes.placement import place_cubes
    from bonelib.imaging.density import to_vbmd

    grey, calibration, bone = scan if scan is not None else scanned(volume)
    cubes = place_cubes(bone, side, kind)
    indices = [int(row["cube"]) for row in rows]
    if (every and indices != list(range(len(cubes)))) or not all(0 <= k < len(cubes) for k in indices):
        raise ValueError(f"{volume.name}: the labelled rows are not {'all ' if every else ''}its {kind} cubes")
    out = np.stack([cubes[k].of(grey) for k in indices])
    for cube, row in zip(out, rows):
        if not np.isclose(to_vbmd(cube, calibration).mean(), row["vbmd"], rtol=1e-9):
            raise ValueError(f"{volume.name} cube {row['cube']}: regenerated with another density than labelled")
    return out, calibration


#: Each kind of cube (:data:`bonelib.cubes.placement.KINDS`): its folder of volume files and its table.
STORED = {"tiles": ("volumes", "cubes.csv"), "between": ("between", "between.csv"), "beside": ("beside", "beside.csv")}
#: Text columns of a table of labelled cubes (the others hold booleans, integers and floats).
TEXT_COLUMNS = ("volume", "source", "specimen", "origin")


def typed_rows(path: str | Path) -> list[dict]:
    """The rows of a table of labelled cubes (``cubes.csv``) as :func:`label_volume` made them:
    text, booleans, the cube's index and numbers, so that writing them again gives the same file."""
    import csv

    def typed(name: str, value: str):
        if name in TEXT_COLUMNS:
            return value
        if value in ("True", "False"):
            return value == "True"
        # an integer was written without a point; a float's repr always has one (or e, nan, inf)
        return int(value) if value.lstrip("-").isdigit() else float(value)

    with open(path, newline="") as handle:
        return [{name: typed(name, value) for name, value in row.items()} for row in csv.DictReader(handle)]


def build(out: str | Path, selection: Sequence[Volume], workers: int = 2, side: int = SIDE,
          progress: bool = True, kinds: Sequence[str] = ("tiles",), scheduler: str | None = None,
          labelled: dict[str, Sequence[dict]] | None = None) -> Path:
    """Build (or resume) a 3D dataset in ``out``: the tiles of every volume, one file per volume in
    ``volumes/``, then ``cubes.csv``; each further kind of ``kinds`` (``between``, ``beside``:
    :data:`bonelib.cubes.placement.KINDS`), cut from each real volume, in its own folder and table
    (:data:`STORED`): more training cubes of the real specimens.

    Volumes run as the 2D build's vertebrae do (:func:`bonelib.tasks.run_tasks`): on a Dask
    distributed ``scheduler`` (``tcp://host:8786``, whose workers see ``out``), else on a local
    cluster of ``workers`` one-thread processes, or in this process with ``workers=1``; those
    already written are skipped, so a stopped build resumes. A folder labelled by
    another cube label version (:data:`bonelib.versions.CUBE_LABELS`) is refused. Each cube's direct solve
    takes about 1–10 s and up to 1.6 GB at 50³ (``benchmarks/bench_fe3d.py``). ``labelled``: kind →
    rows of a table this label version wrote before (:func:`typed_rows`); a volume whose cubes it
    holds is regenerated from its seed instead of solved again (:func:`write_volume`).

    Returns
    -------
    pathlib.Path
        ``out/cubes.csv``, one row per cube (see :func:`label_volume`).
    """
    import json

    if not selection:
        raise ValueError("no volumes to build")
    unknown = set(kinds) - set(STORED)
    if "tiles" not in kinds or unknown:
        raise ValueError(f"kinds must hold 'tiles' and only {tuple(STORED)}, got {tuple(kinds)}")
    out = Path(out)
    if (out / "parameters.json").exists():
        made_by = json.loads((out / "parameters.json").read_text()).get("label_version")
        if made_by != CUBE_LABELS:
            raise ValueError(f"{out} holds cubes labelled by cube label version {made_by}, this bonelib labels them "
                             f"with version {CUBE_LABELS}: delete it or build into another folder")
    real = [v for v in selection if v.source == "real"]
    chosen = {kind: selection if kind == "tiles" else real for kind in STORED if kind in kinds}
    write_json(out / "parameters.json", {"side": side, "voxel_size_mm": VOXEL_SIZE_MM, "label_version": CUBE_LABELS,
                                         "volumes": [v.name for v in selection],
                                         **{kind: [v.name for v in real] for kind in chosen if kind != "tiles"}})
    known = {kind: _by_volume(rows) for kind, rows in (labelled or {}).items()}
    todo = [(v, out / STORED[kind][0], side, kind, known.get(kind, {}).get(v.name))
            for kind, volumes in chosen.items() for v in volumes if not (out / STORED[kind][0] / f"{v.name}.npz").exists()]
    for kind in chosen:
        (out / STORED[kind][0]).mkdir(parents=True, exist_ok=True)
    if todo:
        print(f"3D labels: {len(todo)} volume files of {sum(map(len, chosen.values()))} to write, "
              f"{sum(task[-1] is not None for task in todo)} of them regenerated from their labelled rows")
        run_tasks(write_volume, todo, scheduler="synchronous" if workers == 1 and scheduler is None else scheduler,
                  n_workers=workers, progress=progress, desc="3D labels", unit="volume")
    for kind in chosen:
        if kind != "tiles":
            write_csv(out / STORED[kind][1], load_rows(out, kind))
    return write_csv(out / "cubes.csv", load_rows(out))


def _by_volume(rows: Sequence[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["volume"], []).append(row)
    return grouped


def load_volume(path: str | Path) -> tuple[NDArray[np.int16], list[dict]]:
    """The grey cubes and label rows of one volume file written by :func:`write_volume`."""
    import json

    with np.load(path) as archive:
        return archive["grey"], json.loads(str(archive["rows"]))


def _volume_files(out: Path, kind: str) -> list[Path]:
    """The volume files of a built dataset's cubes of ``kind``, in the order of its table."""
    import json

    if kind not in STORED:
        raise ValueError(f"kind must be one of {tuple(STORED)}, got {kind!r}")
    parameters = json.loads((out / "parameters.json").read_text())
    names = parameters["volumes"] if kind == "tiles" else parameters.get(kind, [])
    if not names:
        raise ValueError(f"{out} holds no cubes of kind {kind!r}: build it with that kind")
    return [out / STORED[kind][0] / f"{name}.npz" for name in names]


def load(out: str | Path, kind: str = "tiles") -> tuple[NDArray[np.int16], list[dict]]:
    """All grey cubes (cubes, side, side, side) and rows of a built dataset's cubes of ``kind``,
    in the order of its table (:data:`STORED`: the tiles' ``cubes.csv``, ``between.csv``, ``beside.csv``)."""
    parts = [load_volume(path) for path in _volume_files(Path(out), kind)]
    return np.concatenate([g for g, _ in parts]), [row for _, rows in parts for row in rows]


def load_rows(out: str | Path, kind: str = "tiles") -> list[dict]:
    """The rows of :func:`load` alone, without decompressing a grey cube."""
    import json

    rows = []
    for path in _volume_files(Path(out), kind):
        with np.load(path) as archive:
            rows += json.loads(str(archive["rows"]))
    return rows
