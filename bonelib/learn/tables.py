"""Small result files of a reproduction: the per-sample table and the predictions table.

Both are plain CSV with a header, floats written with 17 significant digits so that they read
back bit for bit. The per-sample table (``samples.csv``, one row per sample) holds every label
and descriptor of the dataset with the sample's place in each evaluation; the predictions
table, the same for both routes (the 2D slices' ``predictions.csv``, the 3D cubes'
``cubes3d/predictions.csv``), holds each model's out-of-sample predictions, one row per
prediction (:data:`PREDICTION_COLUMNS`): ``index`` (the sample's row in its per-sample table:
``samples.csv``, or the 3D route's ``cubes.csv``), ``model_name``, ``scheme_name`` (the
evaluation), ``fold`` (−1 for a single split) and ``E_pred`` (MPa).

Columns of ``samples.csv`` (units):

- ``key`` (``DONOR-LEVEL``), ``donor``, ``level``, ``slice`` (index in the vertebra's VOI);
- ``E_eff`` (MPa), ``nu_eff`` (-), ``C_11`` … ``C_33`` (MPa, the nine entries of the
  stiffness in Voigt order xx, yy, xy, as the FE solve gives them: symmetric to round-off);
- ``vbmd`` (mg HA/cm³), ``bv_tv`` (-), ``tb_th`` (mm), ``fabric_1``, ``fabric_2`` (-);
- ``split_donor``, ``split_random`` (0 train, 1 validation, 2 test) and ``fold`` (the
  donor's fold of the cross-validation, :mod:`bonelib.learn.folds`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib._files import atomic_path

#: Entries of the 3 × 3 stiffness stored in the table.
C_ENTRIES = tuple((i, j) for i in range(3) for j in range(3))
#: Text columns; every other column is numeric.
TEXT = ("key", "donor", "level")
#: Integer columns.
INTEGERS = ("index", "slice", "split_donor", "split_random", "fold")
#: The columns of a predictions table.
PREDICTION_COLUMNS = ("index", "model_name", "scheme_name", "fold", "E_pred")


def append_predictions(rows: dict[str, list], index: NDArray, model: str, scheme: str, fold: int,
                       predicted: NDArray) -> None:
    """Add one model's predictions (MPa) of the samples ``index`` to the columns ``rows``
    (:data:`PREDICTION_COLUMNS`, each a list; start from ``{name: [] for name in PREDICTION_COLUMNS}``)."""
    rows["index"] += list(map(int, index))
    rows["model_name"] += [model] * len(index)
    rows["scheme_name"] += [scheme] * len(index)
    rows["fold"] += [int(fold)] * len(index)
    rows["E_pred"] += list(map(float, predicted))


def write_table(path: str | Path, columns: dict[str, NDArray]) -> Path:
    """Write equal-length columns as CSV, atomically; floats with 17 significant digits."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    path = Path(path)
    names = list(columns)
    cells = [[_cell(value) for value in columns[name]] for name in names]
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*cells))
    return path


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def read_table(path: str | Path) -> dict[str, NDArray]:
    """Columns of a table written by :func:`write_table` (text as str, integers as int64, others float64)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such table")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ValueError(f"{path}: the table is empty")
    header, body = rows[0], rows[1:]
    columns = {}
    for i, name in enumerate(header):
        values = [row[i] for row in body]
        if name in TEXT or name.endswith("_name"):
            columns[name] = np.array(values, dtype=str)
        elif name in INTEGERS:
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = np.array(values, dtype=np.float64)
    return columns


def sample_table(store: str | Path, fold_of: dict[str, int]) -> dict[str, NDArray]:
    """The per-sample table of every sample of a dataset store.

    Parameters
    ----------
    store : path
        Dataset store (:func:`bonelib.slices.dataset.build`).
    fold_of : dict
        Donor → fold (:func:`bonelib.learn.folds.donor_folds`).
    """
    from bonelib.slices.dataset import SCHEMES, SPLITS, load

    samples = load(store, images=False)
    keys = np.char.add(np.char.add(samples.donor.astype(str), "-"), samples.level.astype(str))
    position = {(key, int(index)): i for i, (key, index) in enumerate(zip(keys, samples.slice))}
    codes = {scheme: np.full(len(keys), -1, dtype=np.int64) for scheme in SCHEMES}
    for scheme in SCHEMES:
        for code, split in enumerate(SPLITS):
            part = load(store, split, scheme, images=False)
            for donor, level, index in zip(part.donor.astype(str), part.level.astype(str), part.slice):
                codes[scheme][position[(f"{donor}-{level}", int(index))]] = code
    columns = {"key": keys,
               "donor": samples.donor.astype(str), "level": samples.level.astype(str), "slice": samples.slice,
               "E_eff": samples.E_eff, "nu_eff": samples.nu_eff}
    for i, j in C_ENTRIES:
        columns[f"C_{i + 1}{j + 1}"] = samples.C[:, i, j]
    columns.update(vbmd=samples.vbmd, bv_tv=samples.bv_tv, tb_th=samples.tb_th,
                   fabric_1=samples.fabric[:, 0], fabric_2=samples.fabric[:, 1],
                   split_donor=codes["donor"], split_random=codes["random"],
                   fold=np.array([fold_of[d] for d in samples.donor.astype(str)], dtype=np.int64))
    return columns


def stiffness(table: dict[str, NDArray]) -> NDArray:
    """(N, 3, 3) stiffness matrices (MPa) of a per-sample table."""
    C = np.empty((len(table["E_eff"]), 3, 3))
    for i, j in C_ENTRIES:
        C[:, i, j] = table[f"C_{i + 1}{j + 1}"]
    return C
