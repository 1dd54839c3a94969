"""Leave-specimens-out evaluation of the 3D route on real bone.

The real specimens are split into folds; each fold's networks and laws learn from every
synthetic cube and the real cubes of the other specimens, and predict the cubes of the
held-out specimens, which they never saw. Pooled over the folds, every real cube is predicted
once by models blind to its specimen. Only cubes whose bone wraps the periodic cell and lies
in the cancellous range carry a label (:func:`usable`).

Each fold's predictions and network are written as soon as the fold ends, so a stopped run
resumes at the next fold. The predictions are the predictions table of both routes
(:mod:`bonelib.learn.tables`): one row per cube and model, ``index`` the cube's row in the
dataset's table (``cubes.csv``), evaluation :data:`SCHEME`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib._files import write_csv, write_json
from bonelib.cubes.network import WIDTHS
from bonelib.cubes.pretrained import write_index
from bonelib.learn import tables
from bonelib.versions import CUBE_LABELS, CUBE_TRAINING

#: The models of the comparison, as named in the predictions and metrics.
MODELS = ("power_law", "fabric_law", "cnn3d")
#: The evaluation's name in the predictions table.
SCHEME = "specimen-cv"
#: Axis of a cube → the transposition that brings it to array axis 0 (z: none). A cube turned
#: so that its y (or x) axis lies along axis 0 is a new training cube whose label along
#: axis 0 is the E_y (E_x) of the same FE solve: the scanner's blur is isotropic, so the turn
#: is exact.
AXES = {"z": (0, 1, 2), "y": (1, 0, 2), "x": (2, 1, 0)}


def usable(rows: Sequence[dict]) -> NDArray[np.bool_]:
    """Cubes with a label: bone that wraps the cell, BV/TV in the cancellous range, E_z > 0."""
    return np.array([bool(r["wraps"]) and bool(r["cancellous"]) and float(r["E_z"]) > 0 for r in rows])


def axis_views(grey: NDArray, rows: Sequence[dict], index: NDArray, axes: Sequence[str] = ("z",)):
    """The cubes ``index``, each turned so that each of ``axes`` lies along array axis 0 in turn.

    Returns
    -------
    cubes : numpy.ndarray
        (len(axes) · len(index), s, s, s) grey cubes, axis by axis.
    modulus : numpy.ndarray
        The FE modulus (MPa) along axis 0 of each turned cube: ``E_<axis>``.
    bv_tv, m : numpy.ndarray
        BV/TV from density and the gradient fabric eigenvalue along axis 0 (``m_<axis>``).
    """
    unknown = set(axes) - set(AXES)
    if unknown or not axes:
        raise ValueError(f"axes must be some of {tuple(AXES)}, got {tuple(axes)}")

    cubes = np.concatenate([np.transpose(grey[index], (0, *(1 + np.array(AXES[a])))) for a in axes])
    return (cubes, np.concatenate([_column(rows, f"E_{a}", index) for a in axes]),
            np.tile(_column(rows, "bv_tv_grey", index), len(axes)),
            np.concatenate([_column(rows, f"m_{a}", index) for a in axes]))


def _column(rows: Sequence[dict], name: str, index: NDArray) -> NDArray:
    """The values of ``name`` in the rows ``index``, as floats."""
    return np.array([float(rows[i][name]) for i in index])


def fold_predictions(grey: NDArray, rows: Sequence[dict], held_out: Sequence[str], epochs: int, seed: int,
                     sources: Sequence[str] = ("real", "synthetic"), base: str = "power_law", progress: bool = True,
                     axes: Sequence[str] = ("z",), extra: Mapping[str, tuple[NDArray, Sequence[dict]]] | None = None,
                     widths: Sequence[int] = WIDTHS, validate: Sequence[str] = ()):
    """Train on every usable cube of ``sources`` but the real ones of ``held_out`` (and
    ``validate``) specimens; predict those of ``held_out``.

    The real cubes of the ``validate`` specimens choose the network's best epoch
    (:func:`bonelib.cubes.network.train`); neither the laws nor the network learn from them.

    ``extra``: further training cubes, kind → (grey, rows), such as the cubes between and beside
    the tiles of the real volumes (:func:`bonelib.cubes.dataset.load` of kinds ``"between"`` and
    ``"beside"``); those of the held-out specimens are left out, and none is predicted.

    The laws are fitted first, on E_z; the network learns the ratio of the FE modulus to the
    ``base`` law's (a correction of the law from the image), so the 3D CNN's modulus is that
    law's times the network's ratio. It learns from each training cube along each of ``axes``
    (:func:`axis_views`: ``("z", "y", "x")`` triples its cubes at no FE cost) and predicts E_z;
    ``widths``: the network's filters per stage (default :data:`bonelib.cubes.network.WIDTHS`).

    Returns
    -------
    held : numpy.ndarray
        The held-out cubes: their rows in ``rows``, ascending.
    predicted : dict
        Each of :data:`MODELS` → its modulus (MPa) of each held-out cube.
    model : keras.Model
        The fold's trained 3D network.
    law : ZyssetCurnierLaw
        The fold's ``base`` law.
    history : dict
        The network's per-epoch ``loss`` (and ``val_loss``): the MAE of the log ratio to the law.
    """
    from bonelib.cubes import network as cnn3d
    from bonelib.imaging.scanner import CALIBRATION
    from bonelib.learn.laws import ZyssetCurnierLaw

    ok = usable(rows)
    real = np.array([r["source"] == "real" for r in rows])
    held = np.array([r["specimen"] in held_out for r in rows]) & real
    validating = np.array([r["specimen"] in validate for r in rows]) & real
    chosen = np.array([r["source"] in sources for r in rows])
    train, test = np.flatnonzero(ok & chosen & ~held & ~validating), np.flatnonzero(ok & held)
    check = np.flatnonzero(ok & validating)
    if not len(test):
        raise ValueError(f"no usable real cube of the specimens {list(held_out)}")
    if set(held_out) & set(validate) or (len(validate) and not len(check)):
        raise ValueError(f"the validation specimens {list(validate)} need usable real cubes, none of them held out")
    if base not in ("power_law", "fabric_law"):
        raise ValueError(f"base must be 'power_law' or 'fabric_law', got {base!r}")
    for more_grey, more_rows in (extra or {}).values():
        kept = np.flatnonzero(usable(more_rows) & np.array([r["source"] in sources and r["specimen"] not in held_out
                                                            and r["specimen"] not in validate for r in more_rows],
                                                           dtype=bool))
        train = np.concatenate([train, len(rows) + np.arange(len(kept))])
        grey, rows = np.concatenate([grey, more_grey[kept]]), [*rows, *(more_rows[i] for i in kept)]

    laws = {"power_law": ZyssetCurnierLaw(fabric=False), "fabric_law": ZyssetCurnierLaw()}
    for law in laws.values():
        law.fit(*(_column(rows, name, train) for name in ("bv_tv_grey", "E_z", "m_z")))
    predicted = {name: law.predict(_column(rows, "bv_tv_grey", test), _column(rows, "m_z", test))
                 for name, law in laws.items()}
    ratio = lambda index, along: _ratio(grey, rows, index, along, laws[base])
    model, history = cnn3d.train(*ratio(train, axes), validation=ratio(check, ("z",)) if len(check) else None,
                                 epochs=epochs, seed=seed, verbose=2 if progress else 0, widths=widths)
    predicted["cnn3d"] = predicted[base] * cnn3d.predict_modulus(model, cnn3d.cube_inputs(grey[test], CALIBRATION))
    return test, predicted, model, laws[base], history


def _ratio(grey: NDArray, rows: Sequence[dict], index: NDArray, axes: Sequence[str], law) -> tuple[NDArray, NDArray]:
    """The network's inputs of the cubes ``index`` along ``axes`` (:func:`axis_views`), and the
    ratio of their FE modulus to the ``law``'s: what the network learns."""
    from bonelib.cubes.network import cube_inputs
    from bonelib.imaging.scanner import CALIBRATION

    cubes, modulus, bv_tv, m = axis_views(grey, rows, index, axes)
    return cube_inputs(cubes, CALIBRATION), modulus / law.predict(bv_tv, m)


def leave_specimens_out(out: str | Path, grey: NDArray, rows: Sequence[dict], n_folds: int = 5, epochs: int = 30,
                        seed: int = 0, sources: Sequence[str] = ("real", "synthetic"), base: str = "power_law",
                        models: str | Path | None = None, progress: bool = True, axes: Sequence[str] = ("z",),
                        extra: Mapping[str, tuple[NDArray, Sequence[dict]]] | None = None,
                        widths: Sequence[int] = WIDTHS, val_specimens: int = 1) -> Path:
    """Run the evaluation into ``out`` (resuming its folds if they were made with the same
    settings, recorded in ``settings.json``): ``folds/fold<k>.csv`` (and the fold's fabric
    law, ``folds/fold<k>-law.json``, and its network's training loss per epoch,
    ``folds/fold<k>-history.csv``), ``predictions.csv`` and ``metrics.json``. The specimens
    are split into folds as the 2D route splits donors (:func:`bonelib.learn.folds.donor_folds`,
    a specimen being a donor), and in each fold ``val_specimens`` specimens of the other folds
    choose the network's best epoch (:func:`bonelib.learn.folds.fold_split`). The laws and
    networks learn from the cubes of ``sources`` (real cubes of the other specimens, synthetic
    cubes, and the ``extra`` cubes of the training specimens, kind → (grey, rows)), the networks (``widths`` filters
    per stage) as corrections of the ``base`` law, along ``axes`` (:func:`fold_predictions`); the fold networks go to
    ``models`` (default ``out/models``), with their ``ensemble.json``: the ensemble that
    :func:`bonelib.cubes.pretrained.load_pretrained` reads.

    The metrics (:func:`bonelib.learn.metrics.report`) pool all held-out real cubes, with
    bootstrap intervals that resample whole specimens.
    """
    from bonelib.cubes import network as cnn3d
    from bonelib.learn.folds import TEST, VAL, donor_folds, fold_split
    from bonelib.learn.weights import save_weights

    out = Path(out)
    models = Path(models) if models is not None else out / "models"
    models.mkdir(parents=True, exist_ok=True)
    real = np.array(sorted({r["specimen"] for r in rows if r["source"] == "real"}))
    fold_of = donor_folds(real, n_folds, seed)
    parts = [fold_split(real, fold_of, k, val_specimens, seed) for k in range(n_folds)]
    folds = [real[part == TEST].tolist() for part in parts]
    validation = [real[part == VAL].tolist() for part in parts]
    extra = dict(extra or {})
    settings = {"n_folds": n_folds, "val_specimens": val_specimens, "epochs": epochs, "seed": seed,
                "sources": list(sources), "base": base, "axes": list(axes),
                "extra": {kind: len(more_rows) for kind, (_, more_rows) in extra.items()}, "widths": list(widths),
                "architecture": cnn3d.ARCHITECTURE, "training": CUBE_TRAINING, "cube_labels": CUBE_LABELS}
    if (out / "folds").exists() and _read_json(out / "settings.json") != settings:
        # Folds of other settings (or of unknown ones) are not resumed: they are trained again.
        shutil.rmtree(out / "folds")
        for k in range(n_folds):
            (models / f"fold{k}.npz").unlink(missing_ok=True)
    write_json(out / "settings.json", settings)
    for k, held_out in enumerate(folds):
        target = out / "folds" / f"fold{k}.csv"
        law_file = out / "folds" / f"fold{k}-law.json"
        if target.exists() and law_file.exists() and (models / f"fold{k}.npz").exists():
            continue
        held, predicted, model, law, history = fold_predictions(grey, rows, held_out, epochs, seed + k, sources,
                                                                base, progress, axes, extra, widths, validation[k])
        write_csv(out / "folds" / f"fold{k}-history.csv",
                  [{key: (int(v) if key == "epoch" else float(v)) for key, v in zip(history, values)}
                   for values in zip(*history.values())])
        save_weights(model, models / f"fold{k}.npz")
        write_json(law_file, {"fabric": law.fabric, "E0": law.E0, "k": law.k, "l": law.l})
        columns: dict[str, list] = {name: [] for name in tables.PREDICTION_COLUMNS}
        for name in MODELS:
            tables.append_predictions(columns, held, name, SCHEME, k, predicted[name])
        tables.write_table(target, {name: np.asarray(values) for name, values in columns.items()})
    vbmd = [float(r["vbmd"]) for r, ok in zip(rows, usable(rows)) if ok and r["source"] in sources]
    laws = {f"fold{k}": json.loads((out / "folds" / f"fold{k}-law.json").read_text()) for k in range(n_folds)}
    write_index(models, [f"fold{k}" for k in range(n_folds)], int(grey.shape[1]),
                {"vbmd": [min(vbmd), max(vbmd)]}, laws=laws, folds=folds, validation=validation, epochs=epochs,
                seed=seed, sources=list(sources), base=base, axes=list(axes), kinds=["tiles", *extra],
                widths=settings["widths"])
    parts = [tables.read_table(out / "folds" / f"fold{k}.csv") for k in range(n_folds)]
    pooled = {name: np.concatenate([part[name] for part in parts]) for name in tables.PREDICTION_COLUMNS}
    tables.write_table(out / "predictions.csv", pooled)
    write_json(out / "metrics.json", summarise(pooled, rows, seed))
    return out / "metrics.json"


def held_out(predictions: Mapping[str, NDArray], rows: Sequence[dict], model: str) -> dict[str, NDArray]:
    """One model's held-out predictions beside their cubes' FE modulus and specimen.

    Parameters
    ----------
    predictions : mapping
        A predictions table of this evaluation (:func:`read_predictions`).
    rows : sequence of dict
        The dataset's table the ``index`` column points into (``cubes.csv``,
        :func:`bonelib.cubes.dataset.typed_rows`).
    model : str
        One of :data:`MODELS`.

    Returns
    -------
    dict
        ``E_pred`` and ``E_z`` (MPa), ``specimen``, ``volume``, ``cube`` and ``fold`` of each
        held-out cube, in the table's order (fold by fold).
    """
    chosen = (predictions["model_name"] == model) & (predictions["scheme_name"] == SCHEME)
    if not chosen.any():
        raise ValueError(f"no predictions of {model!r} in the table (models: "
                         f"{', '.join(sorted(set(predictions['model_name'])))})")
    index = predictions["index"][chosen]
    return {"E_pred": predictions["E_pred"][chosen], "E_z": _column(rows, "E_z", index),
            "specimen": np.array([str(rows[i]["specimen"]) for i in index]),
            "volume": np.array([str(rows[i]["volume"]) for i in index]),
            "cube": np.array([int(rows[i]["cube"]) for i in index]), "fold": predictions["fold"][chosen]}


def summarise(predictions: Mapping[str, NDArray], rows: Sequence[dict], seed: int = 0) -> dict:
    """Metrics of every model (:func:`bonelib.learn.metrics.report`) pooled over the held-out
    cubes, with intervals that resample whole specimens, and the number of specimens.

    ``predictions``: a predictions table of this evaluation; ``rows``: the dataset's table its
    ``index`` points into (:func:`held_out`)."""
    from bonelib.learn.metrics import report

    metrics = {}
    for name in MODELS:
        cubes = held_out(predictions, rows, name)
        metrics[name] = report(cubes["E_pred"], cubes["E_z"], seed=seed, groups=cubes["specimen"].tolist())
    return metrics | {"specimens": len(set(cubes["specimen"]))}


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def read_predictions(folder: str | Path) -> tuple[dict[str, NDArray], dict]:
    """The predictions table (:mod:`bonelib.learn.tables`) and the metrics of an evaluation folder."""
    folder = Path(folder)
    return tables.read_table(folder / "predictions.csv"), json.loads((folder / "metrics.json").read_text())
